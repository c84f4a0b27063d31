//! `procscope serve` as Prometheus and its users meet it: scraped by the
//! real Prometheus server, checked by promtool, behind TLS and basic auth,
//! next to hung processes and hostile names.

use crate::support::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound and released: good enough for a
/// test; the server fails loudly if it was taken meanwhile).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `procscope serve`, stopped with SIGTERM when dropped (and
/// checked to exit 0 promptly).
struct Serve {
    child: Option<Child>,
    port: u16,
}

impl Serve {
    fn start(extra: &[&str]) -> Serve {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(procscope())
            .args(["serve", "--web.listen-address", &addr])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It says where it listens once it does.
        let err = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let t = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(l) if l.contains("msg=listening") => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!("serve did not start: {e:?} after {:?}", t.elapsed());
                }
            }
        }
        Serve {
            child: Some(child),
            port,
        }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(st)) = c.try_wait() {
                if !std::thread::panicking() {
                    assert!(st.success(), "serve exited {st} after SIGTERM");
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        if !std::thread::panicking() {
            panic!("serve did not exit within 5 s of SIGTERM");
        }
    }
}

/// `curl` with `args`: (HTTP status, body, seconds taken).
fn curl(args: &[&str]) -> (u16, String, f64) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-o",
            "-",
            "-w",
            "\n%{http_code} %{time_total}",
        ])
        .args(args)
        .output()
        .expect("curl (scripts/test.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", ""));
    let mut it = tail.split_whitespace();
    let code = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let secs = it.next().and_then(|c| c.parse().ok()).unwrap_or(0.0);
    (code, body.to_owned(), secs)
}

fn scrape(s: &Serve) -> String {
    let (code, body, _) = curl(&[&s.url("http", "/metrics")]);
    assert_eq!(code, 200, "{body}");
    body
}

/// The sample value of the series `name{labels…}` (labels as written).
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// promtool (from Debian's prometheus package) accepts the exposition.
fn promtool_check(body: &str) {
    let mut c = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/test.sh installs the prometheus package)");
    use std::io::Write;
    c.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A known process's group, with its exact thread count, and names that
/// try to forge series stay one label value; promtool is content.
#[test]
fn groups_and_hostile_names_make_valid_exposition() {
    let name = b"psq-grp";
    let _t = start_kit(&["name", &hex(name), "4"]);
    let evil: &[u8] = b"x\"} 1\nevil{a=\"";
    let _e = start_kit(&["name", &hex(evil)]);
    let s = Serve::start(&["--collect.pss"]);
    let body = scrape(&s);
    promtool_check(&body);
    assert_eq!(
        value(
            &body,
            "procscope_group_threads{group=\"psq-grp\",state=\"sleeping\"}"
        ),
        Some(5.0),
        "{body}"
    );
    assert_eq!(
        value(
            &body,
            "procscope_group_processes{group=\"psq-grp\",state=\"sleeping\"}"
        ),
        Some(1.0)
    );
    // The hostile name is one escaped label value, not a new series.
    assert!(!body.lines().any(|l| l.starts_with("evil")), "{body}");
    assert!(
        body.contains(
            "procscope_group_processes{group=\"x\\\"} 1\\nevil{a=\\\"\",state=\"sleeping\"} 1"
        ),
        "{body}"
    );
    // PSS when asked for: a live process has some.
    assert!(
        value(
            &body,
            "procscope_group_proportional_memory_bytes{group=\"psq-grp\"}"
        )
        .is_some_and(|v| v > 0.0),
        "{body}"
    );
    // The exporter's own health is there.
    assert!(value(&body, "procscope_collections_total").is_some_and(|v| v >= 1.0));
    assert!(value(&body, "process_open_fds").is_some_and(|v| v > 0.0));
    // OpenMetrics when the scraper asks for it (Prometheus does, first).
    let (code, om, _) = curl(&[
        "-H",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        &s.url("http", "/metrics"),
    ]);
    assert_eq!(code, 200);
    assert!(om.trim_end().ends_with("# EOF"), "{om}");
    assert!(
        om.contains("# TYPE procscope_group_cpu_seconds counter\n"),
        "{om}"
    );
    assert!(!body.contains("# EOF"), "the text format has no EOF marker");
    let (code, index, _) = curl(&[&s.url("http", "/")]);
    assert!(code == 200 && index.contains("href=\"metrics\""), "{index}");
    assert_eq!(curl(&[&s.url("http", "/-/healthy")]).0, 200);
    assert_eq!(curl(&[&s.url("http", "/nope")]).0, 404);
    assert_eq!(curl(&["-X", "POST", &s.url("http", "/metrics")]).0, 405);
}

/// The real Prometheus server scrapes it: `up` is 1 and the series are
/// queryable through Prometheus' API.
#[test]
fn prometheus_scrapes_it() {
    let _t = start_kit(&["name", &hex(b"psq-prom"), "2"]);
    let s = Serve::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: procscope\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            s.port
        ),
    )
    .unwrap();
    let pport = free_port();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (scripts/test.sh installs the prometheus package)");
    let query = |q: &str| {
        let (code, body, _) = curl(&[
            "-G",
            &format!("http://127.0.0.1:{pport}/api/v1/query"),
            "--data-urlencode",
            &format!("query={q}"),
        ]);
        (code == 200)
            .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
            .flatten()
    };
    let first = |v: &serde_json::Value| -> Option<f64> {
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let t = Instant::now();
    let mut up = None;
    let mut threads = None;
    while t.elapsed() < Duration::from_secs(40) && (up != Some(1.0) || threads.is_none()) {
        std::thread::sleep(Duration::from_millis(500));
        up = query("up{job=\"procscope\"}").as_ref().and_then(first);
        threads = query("sum(procscope_group_threads{group=\"psq-prom\"})")
            .as_ref()
            .and_then(first);
    }
    let _ = prom.kill();
    let _ = prom.wait();
    assert_eq!(up, Some(1.0), "Prometheus never saw the target up");
    assert_eq!(threads, Some(3.0), "main thread and 2 more");
}

/// Basic auth from a web config (401 without, 401 wrong, 200 right) and
/// TLS with a self-signed certificate.
#[test]
fn tls_and_basic_auth_from_a_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let hash = bcrypt::hash("s3cret", 5).unwrap();
    std::fs::write(
        d.join("web.yml"),
        format!("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prom: '{hash}'\n"),
    )
    .unwrap();
    let web = d.join("web.yml");
    let s = Serve::start(&["--web.config.file", web.to_str().unwrap()]);
    let url = s.url("https", "/metrics");
    let ca = d.join("cert.pem");
    let ca = ca.to_str().unwrap();
    assert_eq!(curl(&["--cacert", ca, &url]).0, 401);
    assert_eq!(curl(&["--cacert", ca, "-u", "prom:wrong", &url]).0, 401);
    assert_eq!(curl(&["--cacert", ca, "-u", "nobody:s3cret", &url]).0, 401);
    let (code, body, _) = curl(&["--cacert", ca, "-u", "prom:s3cret", &url]);
    assert_eq!(code, 200);
    assert!(body.contains("procscope_processes "), "{body}");
    // Plain HTTP on the TLS port gets nothing.
    assert_ne!(curl(&[&s.url("http", "/metrics")]).0, 200);
}

/// A bad config is a usage error with the reason, before anything listens.
#[test]
fn bad_configs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, "basic_auth_users:\n  prom: plaintext\n").unwrap();
    let r = run(&["serve", "--web.config.file", web.to_str().unwrap()]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("bcrypt"), "{}", r.stderr);
    let cfg = dir.path().join("groups.yml");
    std::fs::write(&cfg, "process_names:\n  - cmdline: ['(']\n").unwrap();
    let r = run(&["serve", "--config.file", cfg.to_str().unwrap()]);
    assert_eq!(r.status, 2);
    assert!(r.stderr.contains("rule 1"), "{}", r.stderr);
}

/// Thousands of distinct names on a fixture host: at most max_groups
/// series per metric, the rest in `other`.
#[test]
fn the_cardinality_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proc");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("stat"),
        "cpu  1 0 1 10 0 0 0 0\nbtime 1700000000\n",
    )
    .unwrap();
    std::fs::write(root.join("uptime"), "100.00 50.00\n").unwrap();
    for pid in 100..3100 {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("stat"),
            format!(
                "{pid} (w{pid}) S 1 {pid} {pid} 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 50 1000 10 0\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("cmdline"), format!("worker\0--id={pid}\0")).unwrap();
    }
    let cfg = dir.path().join("groups.yml");
    std::fs::write(
        &cfg,
        "process_names:\n  - name: '{{.Matches.id}}'\n    cmdline: ['--id=(?P<id>\\d+)']\nmax_groups: 50\n",
    )
    .unwrap();
    let s = Serve::start(&[
        "--proc-root",
        root.to_str().unwrap(),
        "--config.file",
        cfg.to_str().unwrap(),
    ]);
    let body = scrape(&s);
    let groups: std::collections::BTreeSet<&str> = body
        .lines()
        .filter(|l| l.starts_with("procscope_group_processes{"))
        .filter_map(|l| l.split("group=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(groups.len(), 50, "{groups:?}");
    assert!(groups.contains("other"));
    assert_eq!(
        value(
            &body,
            "procscope_group_processes{group=\"other\",state=\"sleeping\"}"
        ),
        Some(3000.0 - 49.0)
    );
    promtool_check(&body);
}

/// A reader stuck in D on a hung FUSE file shows up under cause=fuse and
/// the mount; while a process's memory lock is stuck, scrapes stay fast
/// and count the timeout.
#[test]
fn hung_tasks_by_cause_and_fast_scrapes_next_to_a_memory_lock() {
    let fuse = HungFuse::mount();
    let hang = fuse.hang_file();
    let reader = start_kit(&["read-hang", hang.to_str().unwrap()]);
    assert!(wait_all_threads(reader.pid(), 'D', Duration::from_secs(5)));
    let s = Serve::start(&["--timeout", "300ms", "--collect.min-interval", "100ms"]);
    let mount = fuse.dir.path().to_str().unwrap().to_owned();
    let series = format!(
        "procscope_blocked_tasks{{cause=\"fuse\",on=\"{mount}\",group=\"procscope-testk\"}}"
    );
    // Blocked means "in D at two collections in a row".
    let mut seen = None;
    let t = Instant::now();
    while seen.is_none() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        seen = value(&scrape(&s), &series);
    }
    assert_eq!(seen, Some(1.0), "no {series}");
    drop(fuse);
    drop(reader);

    let fuse = HungFuse::mount();
    let target = start_kit(&["mem-hang", fuse.hang_file().to_str().unwrap()]);
    assert!(wait_all_threads(target.pid(), 'D', Duration::from_secs(5)));
    let mut slowest = 0.0f64;
    let mut last = String::new();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(150));
        let (code, body, secs) = curl(&[
            "-H",
            "X-Prometheus-Scrape-Timeout-Seconds: 2",
            &s.url("http", "/metrics"),
        ]);
        assert_eq!(code, 200);
        slowest = slowest.max(secs);
        last = body;
    }
    assert!(slowest < 2.0, "a scrape took {slowest} s");
    assert!(
        value(&last, "procscope_collect_timeouts_total").is_some_and(|v| v >= 1.0),
        "{last}"
    );
    assert!(
        value(&last, "procscope_collect_quarantined_processes").is_some_and(|v| v >= 1.0),
        "{last}"
    );
    assert!(
        last.lines()
            .any(|l| l.starts_with("procscope_blocked_tasks{cause=\"memory_lock")),
        "{last}"
    );
    // The daemon first: the stuck page fault only fails once its
    // connection is gone, and only then can the target die.
    drop(s);
    drop(fuse);
    drop(target);
}

/// The exporter's stdout/stderr manners: logfmt by default, JSON on ask.
#[test]
fn logs_are_logfmt_or_json() {
    let port = free_port();
    let mut c = Command::new(procscope())
        .args([
            "serve",
            "--log.format",
            "json",
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let st = c.wait().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["msg"], "listening");
    assert_eq!(v["address"], format!("127.0.0.1:{port}"));
    assert!(st.success());
}
