//! Model events to their wire form.

use super::*;
use crate::wire::common::{Bytes, ErrorBody, OrError, failed, or_error};
use crate::wire::fds::Fd;
use procscope_model::watch as m;

fn metric_name(m: m::Metric) -> &'static str {
    match m {
        m::Metric::Fds => "fds",
        m::Metric::Rss => "rss_bytes",
        m::Metric::Threads => "threads",
        m::Metric::Children => "children",
    }
}

fn error(f: &procscope_model::Failure) -> ErrorBody {
    match failed::<()>(f) {
        OrError::Error(e) => e.error,
        OrError::Value(()) => ErrorBody {
            reason: String::new(),
            need: None,
            after_ms: None,
            stuck: None,
            errno: None,
            message: String::new(),
        },
    }
}

impl From<&m::Leak> for Leak {
    fn from(l: &m::Leak) -> Leak {
        Leak {
            metric: metric_name(l.metric).into(),
            per_sec: l.per_sec,
            value: l.value,
            from: l.from,
            window_ms: l.window_ms,
            growing: l
                .growing
                .iter()
                .map(|(c, n, r)| ClassCount {
                    class: c.into(),
                    count: *n,
                    per_sec: Some(*r),
                })
                .collect(),
            limit: l.limit,
            limit_eta_secs: l.limit_eta_secs,
        }
    }
}

impl From<&m::Exit> for Exited {
    fn from(e: &m::Exit) -> Exited {
        Exited {
            wait_status: e.wait_status,
            exit_code: e.code(),
            signal: e.signal(),
            signal_name: e
                .signal()
                .and_then(|s| u32::try_from(s).ok())
                .map(procscope_parse::decode::signal_name),
            core_dumped: e.core_dumped(),
        }
    }
}

impl From<&m::Progress> for Progress {
    fn from(p: &m::Progress) -> Progress {
        Progress {
            fd: p.fd,
            path: Bytes::from(&p.path),
            direction: match p.direction {
                m::Direction::Read => "read",
                m::Direction::Write => "write",
                m::Direction::Moving => "moving",
            }
            .into(),
            pos: p.pos,
            size: or_error(&p.size, |s| *s),
            bytes_per_sec: p.per_sec,
            percent: p.percent,
            eta_secs: p.eta_secs,
        }
    }
}

/// The wire form of a model event about a process. `describe` is how the
/// text says an fd (`render::fds::describe`).
pub fn event(
    e: &m::Event,
    describe: &dyn Fn(&procscope_model::fds::FdEntry, bool) -> String,
) -> Event {
    match e {
        m::Event::Started(s) => Event::Started(Started {
            comm: Bytes::from(&s.comm),
            cmdline: or_error(&s.cmdline, |c| crate::wire::common::args(c.as_slice())),
            start_time_unix: s.start_unix,
            state: s.state.letter().to_string(),
            state_meaning: s.state.meaning().to_string(),
            threads: s.threads,
            rss_bytes: s.rss_bytes,
            fds: or_error(&s.fds, |v| {
                v.iter()
                    .map(|(c, n)| ClassCount {
                        class: c.into(),
                        count: *n,
                        per_sec: None,
                    })
                    .collect()
            }),
            fd_limit: s.fd_limit,
            appeared: s.appeared,
        }),
        m::Event::FdOpened {
            entry,
            class,
            searched,
        } => Event::FdOpened(FdChange {
            fd: entry.fd,
            class: class.into(),
            description: describe(entry, *searched),
            decoded: Fd::from(entry.as_ref()),
        }),
        m::Event::FdClosed { entry, class } => Event::FdClosed(FdChange {
            fd: entry.fd,
            class: class.into(),
            description: describe(entry, false),
            decoded: Fd::from(entry.as_ref()),
        }),
        m::Event::State { from, to } => Event::State(StateChange {
            from: from.letter().to_string(),
            to: to.letter().to_string(),
            to_meaning: to.meaning().to_string(),
        }),
        m::Event::Threads { from, to } => Event::Threads(Change {
            from: *from,
            to: *to,
        }),
        m::Event::Renamed { from, to } => Event::Renamed(Renamed {
            from: Bytes::from(from),
            to: Bytes::from(to),
        }),
        m::Event::Blocked(c) => Event::Blocked(Blocked {
            syscall_nr: c.nr,
            syscall: c.name.map(str::to_string),
            wchan: c.wchan.as_ref().map(Bytes::from),
        }),
        m::Event::Rates(r) => {
            let io = r.io_per_sec;
            Event::Rates(Rates {
                interval_ms: r.interval_ms,
                cpu_percent: r.cpu_percent,
                rss_bytes: r.rss_bytes,
                rss_change_bytes: r.rss_change,
                read_bytes_per_sec: io.map(|i| i.read),
                write_bytes_per_sec: io.map(|i| i.write),
                disk_read_bytes_per_sec: io.map(|i| i.disk_read),
                disk_write_bytes_per_sec: io.map(|i| i.disk_write),
                voluntary_switches_per_sec: r.ctxsw_per_sec.map(|c| c.0),
                involuntary_switches_per_sec: r.ctxsw_per_sec.map(|c| c.1),
                minor_faults_per_sec: r.faults_per_sec.0,
                major_faults_per_sec: r.faults_per_sec.1,
            })
        }
        m::Event::Leak(l) => Event::Leak(l.into()),
        m::Event::LeakEnded { metric, value } => Event::LeakEnded(LeakEnded {
            metric: metric_name(*metric).into(),
            value: *value,
        }),
        m::Event::Progress(p) => Event::Progress(p.into()),
        m::Event::Stalled(p) => Event::Stalled(p.into()),
        m::Event::FdRenamed { fd, from, to } => Event::FdRenamed(FdRenamed {
            fd: *fd,
            from: Bytes::from(from),
            to: Bytes::from(to),
        }),
        m::Event::PositionsStill { files } => {
            Event::PositionsStill(PositionsStill { files: *files })
        }
        m::Event::TimedOut { what, failure } => Event::TimedOut(TimedOut {
            what: what.iter().map(|w| w.to_string()).collect(),
            error: error(failure),
        }),
        m::Event::Unreadable { what, failure } => Event::Unreadable(Unreadable {
            what: what.to_string(),
            error: error(failure),
        }),
        m::Event::Exited(x) => Event::Exited(x.into()),
        m::Event::Summary(s) => Event::Summary(Summary {
            watched_ms: s.watched_ms,
            samples: s.samples,
            cpu_ms: s.cpu_ms,
            rss_bytes: Change {
                from: s.rss.0,
                to: s.rss.1,
            },
            rss_max_bytes: s.rss.2,
            fds: s.fds.map(|f| Change { from: f.0, to: f.1 }),
            fds_max: s.fds.map(|f| f.2),
            fds_opened: s.opened,
            fds_closed: s.closed,
            threads: Change {
                from: s.threads.0,
                to: s.threads.1,
            },
            read_bytes: s.io.map(|i| i.rchar),
            write_bytes: s.io.map(|i| i.wchar),
            disk_read_bytes: s.io.map(|i| i.read_bytes),
            disk_write_bytes: s.io.map(|i| i.write_bytes),
            voluntary_switches: s.ctxsw.map(|c| c.0),
            involuntary_switches: s.ctxsw.map(|c| c.1),
            leaks: s.leaks.iter().map(Leak::from).collect(),
            timeouts: s.timeouts,
            exit: s.exit.as_ref().map(Exited::from),
        }),
    }
}

/// The wire form of a notice about the watch.
pub fn notice(n: &m::Notice) -> Event {
    match n {
        m::Notice::Waiting => Event::Waiting(Empty {}),
        m::Notice::Capped { watching, matching } => Event::Capped(Capped {
            watching: *watching,
            matching: *matching,
        }),
        m::Notice::ListFailed(f) => Event::ListFailed(Failed { error: error(f) }),
    }
}

/// A line: the envelope around `event`.
pub fn line(unix_ms: i64, elapsed_ms: u64, pid: Option<i32>, event: Event) -> Line {
    Line {
        procscope: crate::json::VERSION,
        kind: "watch".into(),
        time: jiff::Timestamp::from_millisecond(unix_ms)
            .map(|t| format!("{t:.3}"))
            .unwrap_or_default(),
        elapsed_ms,
        pid,
        event,
    }
}
