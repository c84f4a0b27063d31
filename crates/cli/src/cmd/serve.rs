//! `procscope serve`: the Prometheus exporter (see `procscope_exporter`).

use crate::cli::{Global, LogFormat, ServeArgs};
use crate::output::{Exit, UsageError};
use procscope_exporter::log::{Format, Logger};
use procscope_exporter::rules::Rules;
use procscope_exporter::server::{self, Options};
use procscope_exporter::webconfig::WebConfig;
use procscope_model::collect::Want;
use std::net::{SocketAddr, ToSocketAddrs};

/// Extra help for `procscope serve --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope serve                                    http://127.0.0.1:10071/metrics
  procscope serve --web.listen-address :10071        every interface
  procscope serve --config.file groups.yml --web.config.file web.yml

Metrics (all start with procscope_): per group, processes and threads by
state, CPU seconds by mode, resident and swap memory, open fds and the
largest fd-limit ratio, read/write bytes, context switches, page faults,
the oldest start time; procscope_blocked_tasks{cause,on,group} for tasks
in D at two collections in a row, by cause (fuse, nfs, file_lock,
memory_lock_holder, vfork, block_io…) and what they wait on (a mount, a
lock holder); procscope_zombies{parent_group}; and the exporter's own
health (procscope_collect_timeouts_total, _stuck_reads, _quarantined_*).

A scrape never hangs: every read is under --timeout, a process whose
memory lock is stuck is read once and quarantined, and a scrape answers
within its X-Prometheus-Scrape-Timeout-Seconds with the last collection.

Prometheus scrape_config:
  scrape_configs:
    - job_name: procscope
      static_configs:
        - targets: ['localhost:10071']

Alert rules:
  groups:
    - name: procscope
      rules:
        - alert: TasksBlocked
          expr: sum by (instance, cause, on) (procscope_blocked_tasks) > 0
          for: 5m
          annotations:
            summary: '{{ $value }} tasks stuck in D on {{ $labels.on }} ({{ $labels.cause }})'
        - alert: FdLimitNearlyExhausted
          expr: procscope_group_fd_limit_ratio_max > 0.9
          for: 10m
          annotations:
            summary: '{{ $labels.group }} uses {{ $value | humanizePercentage }} of its fd limit'

Exit status: 0 after SIGTERM or SIGINT, 2 on a bad flag or config.";

/// Parses `HOST:PORT` (`:PORT` means every interface).
fn listen_addr(s: &str) -> Result<Vec<SocketAddr>, String> {
    let s2 = if s.starts_with(':') {
        format!("[::]{s}")
    } else {
        s.to_owned()
    };
    s2.to_socket_addrs().map(|a| a.collect()).map_err(|e| {
        format!("--web.listen-address `{s}`: {e} (HOST:PORT, e.g. 127.0.0.1:10071 or :10071)")
    })
}

/// Runs `procscope serve`.
pub fn run(g: &Global, a: &ServeArgs) -> anyhow::Result<Exit> {
    // Prometheus stamps what it scrapes with the scrape's time: a
    // snapshot's processes served as they are now would be stored as the
    // host's present.
    if g.snapshot.is_some() {
        return Err(UsageError(
            "serve exports the live host; a snapshot holds one past moment (read it with any other command, e.g. procscope --snapshot FILE ps)".into(),
        )
        .into());
    }
    let log = Logger::new(match a.log_format {
        LogFormat::Logfmt => Format::Logfmt,
        LogFormat::Json => Format::Json,
    });
    let mut listen = Vec::new();
    for l in &a.listen {
        listen.extend(listen_addr(l).map_err(UsageError)?);
    }
    let web = match &a.web_config {
        Some(p) => {
            Some(WebConfig::load(p).map_err(|e| UsageError(format!("--web.config.file: {e}")))?)
        }
        None => None,
    };
    let rules = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| UsageError(format!("--config.file {}: {e}", p.display())))?;
            Rules::parse(&text)
                .map_err(|e| UsageError(format!("--config.file {}: {e}", p.display())))?
        }
        None => Rules::default(),
    };
    let root = crate::cmd::ps::open_root(g)?;
    server::run(Options {
        listen,
        web,
        rules,
        min_interval: a.min_interval,
        want: Want {
            pss: a.pss,
            ..Want::default()
        },
        session: g.session.clone(),
        root,
        log,
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(Exit::Success)
}
