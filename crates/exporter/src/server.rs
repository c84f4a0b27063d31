//! The HTTP side: `/metrics`, `/`, `/-/healthy`, one shared collection.
//!
//! Collections run on one thread of their own, only when a scrape wants
//! one (so an idle exporter reads nothing). A scrape takes the latest
//! collection if it is younger than `min_interval`; otherwise it asks for
//! a new one and waits for it until its own deadline (the scraper's
//! `X-Prometheus-Scrape-Timeout-Seconds`, less a margin): concurrent
//! scrapes wait for the same collection, and a collection that is slow
//! (a host full of hung processes) is answered with the last one, its age
//! and the timeouts counted, never with a scrape timeout. Every read of a
//! collection is under the engine's deadline, so the collection thread
//! itself never hangs either.
//!
//! Connections are served by tokio: a slow or stalled client holds only
//! its own connection (headers must arrive within [`HEADER_TIMEOUT`]).

use crate::blocked::{self, Tracker};
use crate::exposition::{self, Health};
use crate::groups::{Aggregator, Group};
use crate::log::Logger;
use crate::rules::Rules;
use crate::webconfig::WebConfig;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use procscope_model::collect::{Collector, Snapshot, Want};
use procscope_read::{ProcRoot, Session};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The scrape deadline when the scraper does not say (Prometheus' default
/// scrape timeout).
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many connections at once; more are closed as they come,
/// so that clients that never read cannot take every fd.
pub const MAX_CONNECTIONS: usize = 256;

/// A connection lives at most this long (Prometheus reconnects; a client
/// that stopped reading is cut off).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// Password checks (bcrypt) running at once.
const CHECKS: usize = 2;

/// How the exporter runs.
#[derive(Debug)]
pub struct Options {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// TLS and basic auth.
    pub web: Option<WebConfig>,
    /// Grouping rules.
    pub rules: Rules,
    /// A collection younger than this answers a scrape without a new one.
    pub min_interval: Duration,
    /// What to collect.
    pub want: Want,
    /// The read session (deadline, stuck budget).
    pub session: Session,
    /// The proc root.
    pub root: ProcRoot,
    /// Where log lines go.
    pub log: Logger,
}

/// One collection, folded and ready to be written.
struct Served {
    snap: Snapshot,
    groups: BTreeMap<String, Group>,
    blocked: BTreeMap<blocked::Key, blocked::Count>,
    zombies: BTreeMap<String, u64>,
    taken: Instant,
}

#[derive(Default)]
struct HubState {
    latest: Option<Arc<Served>>,
    generation: u64,
    wanted: bool,
    stopping: bool,
    health: Health,
}

/// Where scrapes meet the collection thread.
pub struct Hub {
    state: Mutex<HubState>,
    fresh: Condvar,
    want: Condvar,
}

fn lock(m: &Mutex<HubState>) -> std::sync::MutexGuard<'_, HubState> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Hub {
    fn new() -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(HubState::default()),
            fresh: Condvar::new(),
            want: Condvar::new(),
        })
    }

    /// The exposition for one scrape: a collection younger than
    /// `min_interval`, else a fresh one if it comes before `deadline`,
    /// else the latest there is (`None`: no collection has finished).
    fn scrape(
        &self,
        format: exposition::Format,
        min_interval: Duration,
        deadline: Instant,
    ) -> Option<Vec<u8>> {
        let mut st = lock(&self.state);
        let young = st
            .latest
            .as_ref()
            .is_some_and(|s| s.taken.elapsed() < min_interval);
        let mut stale = false;
        if !young {
            let seen = st.generation;
            st.wanted = true;
            self.want.notify_one();
            while st.generation == seen && !st.stopping {
                let now = Instant::now();
                if now >= deadline {
                    stale = true;
                    break;
                }
                st = match self.fresh.wait_timeout(st, deadline - now) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
        }
        st.health.scrapes += 1;
        if stale {
            st.health.stale_scrapes += 1;
        }
        let Some(s) = st.latest.clone() else {
            // No collection finished yet: an empty exposition would look
            // like a healthy empty host.
            return None;
        };
        let mut health = st.health.clone();
        drop(st);
        health.snapshot_age_seconds = s.taken.elapsed().as_secs_f64();
        Some(exposition::encode(
            format, &s.snap, &s.groups, &s.blocked, &s.zombies, &health,
        ))
    }

    /// Asks the collection thread to stop.
    pub fn stop(&self) {
        lock(&self.state).stopping = true;
        self.want.notify_all();
        self.fresh.notify_all();
    }
}

/// The collection thread: collects when a scrape wants it.
fn collect_loop(
    hub: Arc<Hub>,
    root: ProcRoot,
    session: Session,
    want: Want,
    rules: Rules,
    log: Logger,
) {
    let mut collector = Collector::new(root.clone(), session.clone(), want);
    let mut agg = Aggregator::new(rules);
    let mut tracker = Tracker::default();
    loop {
        {
            let mut st = lock(&hub.state);
            while !st.wanted && !st.stopping {
                st = match hub.want.wait(st) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
            }
            if st.stopping {
                return;
            }
            st.wanted = false;
        }
        let snap = match collector.collect() {
            Ok(s) => s,
            Err(f) => {
                log.error("collection failed", &[("err", &f.to_string())]);
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let groups = agg.update(&snap);
        let group_of = agg.assigned().clone();
        let blocked = tracker.update(&root, &session, &snap, |pid| {
            group_of.get(&pid).cloned().unwrap_or_default()
        });
        let mut zombies: BTreeMap<String, u64> = BTreeMap::new();
        for p in snap.processes.iter().filter(|p| p.state == 'Z') {
            let parent = group_of
                .get(&p.ppid)
                .cloned()
                .unwrap_or_else(|| p.ppid.to_string());
            *zombies.entry(parent).or_default() += 1;
        }
        let served = Arc::new(Served {
            snap,
            groups,
            blocked,
            zombies,
            taken: Instant::now(),
        });
        let mut st = lock(&hub.state);
        st.latest = Some(served);
        st.generation += 1;
        st.health.collections += 1;
        drop(st);
        hub.fresh.notify_all();
    }
}

/// The scrape deadline the scraper asked for (less half a second to
/// write the answer), or the default.
fn deadline_of(req: &Request<hyper::body::Incoming>) -> Instant {
    let asked = req
        .headers()
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| Duration::from_secs_f64(v.min(600.0)))
        .unwrap_or(DEFAULT_SCRAPE_TIMEOUT);
    let margin = Duration::from_millis(500).min(asked / 4);
    Instant::now() + asked.saturating_sub(margin)
}

const INDEX: &str = "<!DOCTYPE html>
<html><head><title>procscope exporter</title></head>
<body><h1>procscope exporter</h1>
<p>Processes grouped by rules, and tasks blocked in the kernel by cause.</p>
<ul><li><a href=\"metrics\">metrics</a></li><li><a href=\"-/healthy\">health</a></li></ul>
</body></html>
";

fn respond(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    hub: Arc<Hub>,
    web: Option<WebConfig>,
    checks: Arc<tokio::sync::Semaphore>,
    min_interval: Duration,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if let Some(auth) = web.as_ref().and_then(|w| w.auth.clone()) {
        let header = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        // A header seen before is answered at once; a new one costs a
        // bcrypt check (slow on purpose), done off the connection threads
        // and at most CHECKS at a time, so a flood of wrong passwords
        // queues behind itself and never in front of a scrape.
        let ok = match auth.cached(header.as_deref()) {
            Some(ok) => ok,
            None => {
                let Ok(_permit) = checks.acquire().await else {
                    return Ok(respond(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain; charset=utf-8",
                        "shutting down\n",
                    ));
                };
                tokio::task::spawn_blocking(move || auth.allows(header.as_deref()))
                    .await
                    .unwrap_or(false)
            }
        };
        if !ok {
            let mut r = respond(
                StatusCode::UNAUTHORIZED,
                "text/plain; charset=utf-8",
                "Unauthorized\n",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Basic realm=\"procscope\""),
            );
            return Ok(r);
        }
    }
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET only\n",
        ));
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            let deadline = deadline_of(&req);
            let format = exposition::Format::negotiate(
                req.headers()
                    .get(hyper::header::ACCEPT)
                    .and_then(|v| v.to_str().ok()),
            );
            let body =
                tokio::task::spawn_blocking(move || hub.scrape(format, min_interval, deadline))
                    .await
                    .ok()
                    .flatten();
            match body {
                Some(b) => respond(StatusCode::OK, format.content_type(), b),
                None => respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    "the first collection has not finished yet (a host full of hung processes?): try again\n",
                ),
            }
        }
        "/" => respond(StatusCode::OK, "text/html; charset=utf-8", INDEX),
        "/-/healthy" | "/-/ready" => respond(StatusCode::OK, "text/plain; charset=utf-8", "OK\n"),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Not found: try /metrics\n",
        ),
    })
}

/// Runs the exporter until SIGTERM or SIGINT. Returns an error when a
/// listen address cannot be bound.
pub fn run(opts: Options) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .thread_name("procscope-http")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    rt.block_on(serve(opts))
}

async fn serve(opts: Options) -> Result<(), String> {
    let Options {
        listen,
        web,
        rules,
        min_interval,
        want,
        session,
        root,
        log,
    } = opts;
    // Signals first: a SIGTERM that comes as soon as we say we listen
    // (systemd stopping a unit it just started) must stop us cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    // The collector keeps a `stat` open per process and every connection
    // is an fd: the soft limit goes up to the hard one, as Go exporters do.
    procscope_read::fdroom::raise_soft_limit();
    let conns = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let checks = Arc::new(tokio::sync::Semaphore::new(CHECKS));
    let mut listeners = Vec::new();
    for a in &listen {
        let l = tokio::net::TcpListener::bind(a).await.map_err(|e| {
            format!("cannot listen on {a}: {e} (choose another with --web.listen-address)")
        })?;
        listeners.push(l);
    }
    let hub = Hub::new();
    let collector = {
        let (hub, root, session, log) = (hub.clone(), root.clone(), session.clone(), log);
        std::thread::Builder::new()
            .name("procscope-collect".into())
            .spawn(move || collect_loop(hub, root, session, want, rules, log))
            .map_err(|e| format!("cannot start the collection thread: {e}"))?
    };
    let tls = web
        .as_ref()
        .and_then(|w| w.tls.clone())
        .map(tokio_rustls::TlsAcceptor::from);
    for l in listeners {
        let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        log.info(
            "listening",
            &[
                ("address", &addr),
                ("tls", if tls.is_some() { "true" } else { "false" }),
                (
                    "auth",
                    if web.as_ref().is_some_and(|w| w.auth.is_some()) {
                        "basic"
                    } else {
                        "none"
                    },
                ),
            ],
        );
        let (hub, web, tls, conns, checks) = (
            hub.clone(),
            web.clone(),
            tls.clone(),
            conns.clone(),
            checks.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((stream, _peer)) = l.accept().await else {
                    // Out of fds, most likely: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Ok(permit) = conns.clone().try_acquire_owned() else {
                    // Too many at once: closed now rather than queued.
                    drop(stream);
                    continue;
                };
                let (hub, web, tls, checks) =
                    (hub.clone(), web.clone(), tls.clone(), checks.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let svc = hyper::service::service_fn(move |req| {
                        handle(req, hub.clone(), web.clone(), checks.clone(), min_interval)
                    });
                    let mut b = hyper::server::conn::http1::Builder::new();
                    b.timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT);
                    match tls {
                        Some(acc) => {
                            let Ok(Ok(s)) =
                                tokio::time::timeout(HEADER_TIMEOUT, acc.accept(stream)).await
                            else {
                                return;
                            };
                            let conn = b.serve_connection(hyper_util::rt::TokioIo::new(s), svc);
                            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
                        }
                        None => {
                            let conn =
                                b.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
                        }
                    }
                });
            }
        });
    }
    let sig = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log.info("shutting down", &[("signal", sig)]);
    hub.stop();
    // The collection thread finishes its collection (every read is under
    // the deadline) or is left to the process exit.
    drop(collector);
    Ok(())
}
