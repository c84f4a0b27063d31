//! Leaks: what the estimator keeps of each sample, and the counts that
//! only grow over the window, named when found and again every
//! [`super::REPORT_EVERY_MS`] while they grow.

use super::{REPORT_EVERY_MS, Watcher};
use crate::watch::event::{Event, FdClass, Leak, Metric};
use crate::watch::trend::{self, Point};
use std::collections::BTreeMap;

/// A leak's reporting state.
#[derive(Debug, Clone, Default)]
pub(super) struct LeakState {
    active: bool,
    reported_at: u64,
    pub(super) last: Option<Leak>,
}

/// What the leak estimator keeps of each sample.
#[derive(Debug, Clone)]
pub(super) struct WindowPoint {
    at_ms: u64,
    fds: Option<u64>,
    rss: u64,
    threads: u64,
    children: Option<u64>,
    classes: BTreeMap<FdClass, u64>,
}

impl LeakState {
    /// The leak was named and has not ended.
    pub(super) fn is_active(&self) -> bool {
        self.active
    }
}

impl Watcher {
    pub(super) fn class_counts(&self) -> BTreeMap<FdClass, u64> {
        let mut m: BTreeMap<FdClass, u64> = BTreeMap::new();
        for (_, c) in self.known.values() {
            *m.entry(c.clone()).or_default() += 1;
        }
        m
    }

    pub(super) fn push_window(&mut self, at_ms: u64) {
        let s = &self.prev;
        let p = WindowPoint {
            at_ms,
            fds: s.fd_count(),
            // Anonymous memory when known: file-backed pages are cache.
            rss: s.anon_bytes.unwrap_or(s.rss_bytes),
            threads: s.threads,
            children: s.children,
            classes: self.class_counts(),
        };
        self.window.push_back(p);
        let span = self.opts.window_ms;
        while self.window.len() > 5
            && self
                .window
                .get(1)
                .is_some_and(|w| at_ms.saturating_sub(w.at_ms) >= span)
        {
            self.window.pop_front();
        }
    }

    /// Names counts that only grow over the window (again every
    /// [`REPORT_EVERY_MS`] while they do), and those that stopped.
    pub(super) fn leak_events(&mut self, at_ms: u64, out: &mut Vec<Event>) {
        for metric in [Metric::Fds, Metric::Rss, Metric::Threads, Metric::Children] {
            let pts: Vec<Point> = self
                .window
                .iter()
                .filter_map(|w| {
                    let v = match metric {
                        Metric::Fds => w.fds?,
                        Metric::Rss => w.rss,
                        Metric::Threads => w.threads,
                        Metric::Children => w.children?,
                    };
                    Some((w.at_ms, v as f64))
                })
                .collect();
            let Some(first) = pts.first().map(|p| p.1) else {
                continue;
            };
            let (tolerance, min_growth) = match metric {
                Metric::Fds => (0.0, 5.0),
                Metric::Threads | Metric::Children => (0.0, 3.0),
                Metric::Rss => (
                    (first * 0.01).max(256.0 * 1024.0),
                    (first * 0.02).max(1048576.0),
                ),
            };
            let Some(t) = trend::trend(&pts, tolerance) else {
                continue;
            };
            if t.is_leak(min_growth) {
                // The latest estimate is kept for the summary, reported or
                // not: it is over the whole window.
                let leak = self.describe_leak(metric, &t);
                let st = self.leaks.entry(metric).or_default();
                st.last = Some(leak.clone());
                if !st.active || at_ms.saturating_sub(st.reported_at) >= REPORT_EVERY_MS {
                    st.active = true;
                    st.reported_at = at_ms;
                    out.push(Event::Leak(leak));
                }
                continue;
            }
            let st = self.leaks.entry(metric).or_default();
            if st.active && !t.growing_now {
                st.active = false;
                out.push(Event::LeakEnded {
                    metric,
                    value: t.last as u64,
                });
            }
        }
    }

    pub(super) fn describe_leak(&self, metric: Metric, t: &trend::Trend) -> Leak {
        let window_ms = t.span_ms;
        let mut growing = Vec::new();
        if metric == Metric::Fds {
            if let (Some(a), Some(b)) = (self.window.front(), self.window.back()) {
                for (c, n) in &b.classes {
                    let before = a.classes.get(c).copied().unwrap_or(0);
                    if *n > before {
                        let d = n - before;
                        growing.push((c.clone(), d, d as f64 / (window_ms.max(1) as f64 / 1000.0)));
                    }
                }
            }
            growing.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        }
        let limit = (metric == Metric::Fds).then_some(self.fd_limit).flatten();
        Leak {
            metric,
            per_sec: t.per_sec,
            value: t.last as u64,
            from: t.first as u64,
            window_ms,
            growing,
            limit,
            limit_eta_secs: limit.and_then(|l| trend::eta_secs(t.last, l as f64, t.per_sec)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::Options;
    use procscope_read::{ProcRoot, Session};

    /// A watcher of this test process.
    fn watcher() -> Watcher {
        let root = ProcRoot::open("/proc").unwrap();
        let clock = crate::clock::Clock::read(&root).unwrap();
        Watcher::open(
            &root,
            &Session::default(),
            clock,
            root.own_pid(),
            0,
            Options::default(),
        )
        .unwrap()
    }

    /// The window fed synthetic samples whose resident memory grows by
    /// 2 MiB a second: the leaks named.
    fn rss_leaks(anon_grows: bool) -> Vec<Event> {
        let mut w = watcher();
        let mut out = Vec::new();
        for i in 0..8u64 {
            let at = i * 1000;
            let grown = (64 << 20) + i * (2 << 20);
            w.prev.at_ms = at;
            w.prev.rss_bytes = grown;
            w.prev.anon_bytes = Some(if anon_grows { grown } else { 32 << 20 });
            w.push_window(at);
            w.leak_events(at, &mut out);
        }
        out.retain(|e| matches!(e, Event::Leak(l) if l.metric == Metric::Rss));
        out
    }

    /// File-backed pages (a file read through `mmap`) grow VmRSS but are
    /// page cache: no leak. Anonymous memory growing the same is one.
    #[test]
    fn watch_file_backed_rss_growth_is_not_a_leak() {
        assert_eq!(rss_leaks(false), Vec::new());
        assert!(!rss_leaks(true).is_empty());
    }

    /// A leak that grew, then stopped: `LeakEnded` is said, and the
    /// summary does not list it with the rate it no longer has.
    #[test]
    fn watch_a_leak_that_ended_is_not_in_the_summary() {
        let mut w = watcher();
        let mut out = Vec::new();
        for i in 0..20u64 {
            let at = i * 1000;
            let v = (64 << 20) + i.min(8) * (2 << 20);
            w.prev.at_ms = at;
            w.prev.rss_bytes = v;
            w.prev.anon_bytes = Some(v);
            w.push_window(at);
            w.leak_events(at, &mut out);
        }
        assert!(
            out.iter()
                .any(|e| matches!(e, Event::Leak(l) if l.metric == Metric::Rss)),
            "{out:?}"
        );
        assert!(
            out.iter().any(|e| matches!(
                e,
                Event::LeakEnded {
                    metric: Metric::Rss,
                    ..
                }
            )),
            "{out:?}"
        );
        let end = w.finish();
        let Some(Event::Summary(s)) = end.last() else {
            panic!("{end:?}")
        };
        assert!(s.leaks.iter().all(|l| l.metric != Metric::Rss), "{s:?}");
    }
}
