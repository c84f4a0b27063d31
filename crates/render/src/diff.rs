//! `procscope diff`: text lines and the JSON document from a
//! [`procscope_model::diff::Diff`].

use crate::escape::escape;
use crate::wire::common::Bytes;
use crate::wire::diff as wire;
use procscope_model::diff::{Diff, ProcState};
use procscope_model::fds::FdEntry;
use procscope_model::redact::Redactor;

/// How an environment value is shown: masked by the redaction rules
/// unless revealed.
fn env_value(r: Option<&Redactor>, key: &[u8], v: &[u8]) -> Vec<u8> {
    match r {
        Some(r) => r.value(key, v),
        None => v.to_vec(),
    }
}

fn fd_line(e: &FdEntry) -> String {
    format!(
        "fd {} {}: {}",
        e.fd,
        e.detail.type_name(),
        crate::fds::brief(e)
    )
}

fn proc_line(sign: char, p: &ProcState, what: &str) -> String {
    format!(
        "{sign} {} ({}) {} — {what}",
        p.pid,
        escape(&p.comm),
        p.state.letter()
    )
}

/// The text of a diff, one line per item (headed by the two sides'
/// names). `redact`: the rules environment values are masked with.
pub fn text(d: &Diff, a: &str, b: &str, redact: Option<&Redactor>) -> Vec<String> {
    let mut out = vec![format!("--- A: {a}"), format!("+++ B: {b}")];
    for p in &d.appeared {
        out.push(proc_line('+', p, "appeared"));
    }
    for p in &d.gone {
        out.push(proc_line('-', p, "gone"));
    }
    for c in &d.changed {
        out.push(format!("~ {} ({})", c.pid, escape(&c.comm)));
        if let Some(s) = &c.state {
            out.push(format!(
                "    state: {} ({}) → {} ({})",
                s.from.letter(),
                s.from.meaning(),
                s.to.letter(),
                s.to.meaning()
            ));
        }
        if let Some(t) = &c.threads {
            out.push(format!("    threads: {} → {}", t.from, t.to));
        }
        if let Some(r) = &c.rss_bytes {
            out.push(format!(
                "    rss: {} → {}",
                crate::units::size(r.from),
                crate::units::size(r.to)
            ));
        }
        if let Some(r) = &c.cpu_ms {
            out.push(format!(
                "    cpu time: {} → {}",
                crate::units::cpu_time(r.from),
                crate::units::cpu_time(r.to)
            ));
        }
        for e in &c.fds_opened {
            out.push(format!("    + {}", fd_line(e)));
        }
        for e in &c.fds_closed {
            out.push(format!("    - {}", fd_line(e)));
        }
        if !c.fds_opened.is_empty() || !c.fds_closed.is_empty() {
            out.push(format!(
                "    fds: {} opened, {} closed",
                c.fds_opened.len(),
                c.fds_closed.len()
            ));
        }
        for (tid, comm, wchan) in &c.new_blocked {
            out.push(format!(
                "    thread {tid} ({}) now blocked (D) in {}",
                escape(comm),
                if wchan.is_empty() || wchan.as_slice() == b"0" {
                    "?".into()
                } else {
                    escape(wchan)
                }
            ));
        }
        for (name, ch) in &c.limits {
            out.push(format!("    limit {name}: {} → {}", ch.from, ch.to));
        }
        for e in &c.env {
            let v = |x: &Option<Vec<u8>>| {
                x.as_ref().map_or_else(
                    || "(unset)".to_string(),
                    |v| escape(&env_value(redact, &e.key, v)).into_owned(),
                )
            };
            out.push(format!(
                "    env {}: {} → {}",
                escape(&e.key),
                v(&e.from),
                v(&e.to)
            ));
        }
    }
    out
}

fn wire_proc(p: &ProcState) -> wire::Process {
    wire::Process {
        pid: p.pid,
        start_ticks: p.start_ticks,
        comm: Bytes::new(&p.comm),
        state: p.state.letter().to_string(),
    }
}

fn wire_fd(e: &FdEntry) -> wire::Fd {
    wire::Fd {
        fd: e.fd,
        kind: e.detail.type_name().to_owned(),
        link: e.link.as_ref().ok().map(|l| Bytes::new(l.as_slice())),
        description: crate::fds::brief(e),
    }
}

/// The JSON document of a diff.
pub fn json(
    d: &Diff,
    a: wire::SideInfo,
    b: wire::SideInfo,
    redact: Option<&Redactor>,
) -> wire::Document {
    let ch = |f: String, t: String| wire::Change { from: f, to: t };
    wire::Document {
        procscope: crate::json::VERSION,
        kind: "diff".into(),
        a,
        b,
        appeared: d.appeared.iter().map(wire_proc).collect(),
        gone: d.gone.iter().map(wire_proc).collect(),
        changed: d
            .changed
            .iter()
            .map(|c| wire::Changed {
                pid: c.pid,
                comm: Bytes::new(&c.comm),
                state: c
                    .state
                    .as_ref()
                    .map(|s| ch(s.from.letter().to_string(), s.to.letter().to_string())),
                threads: c.threads.as_ref().map(|t| wire::Change {
                    from: t.from,
                    to: t.to,
                }),
                rss_bytes: c.rss_bytes.as_ref().map(|t| wire::Change {
                    from: t.from,
                    to: t.to,
                }),
                cpu_time_ms: c.cpu_ms.as_ref().map(|t| wire::Change {
                    from: t.from,
                    to: t.to,
                }),
                fds_opened: c.fds_opened.iter().map(wire_fd).collect(),
                fds_closed: c.fds_closed.iter().map(wire_fd).collect(),
                new_blocked_threads: c
                    .new_blocked
                    .iter()
                    .map(|(tid, comm, w)| wire::Blocked {
                        tid: *tid,
                        comm: Bytes::new(comm),
                        wchan: Bytes::new(w),
                    })
                    .collect(),
                limits: c
                    .limits
                    .iter()
                    .map(|(n, l)| wire::Limit {
                        name: n.clone(),
                        from: l.from.clone(),
                        to: l.to.clone(),
                    })
                    .collect(),
                env: c
                    .env
                    .iter()
                    .map(|e| wire::Env {
                        key: Bytes::new(&e.key),
                        from: e
                            .from
                            .as_ref()
                            .map(|v| Bytes::new(&env_value(redact, &e.key, v))),
                        to: e
                            .to
                            .as_ref()
                            .map(|v| Bytes::new(&env_value(redact, &e.key, v))),
                    })
                    .collect(),
            })
            .collect(),
    }
}
