//! One collection in the Prometheus text format, or OpenMetrics when the
//! scraper asks for it, written by `prometheus-client`'s encoders (which
//! escape label values: a process name like `x"} 1\nevil{a="` stays one
//! label value, never a forged series).

use crate::blocked;
use crate::groups::Group;
use procscope_model::collect::Snapshot;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::collections::BTreeMap;

/// The exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (what `promtool check metrics`
    /// reads, and the default).
    Text,
    /// OpenMetrics 1.0 text (`# EOF`, counters typed without `_total`).
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it is
    /// named there (Prometheus names it first), else the text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What the exporter says about itself.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Collections since start.
    pub collections: u64,
    /// Scrapes answered since start.
    pub scrapes: u64,
    /// Scrapes answered with an older collection because a fresh one did
    /// not finish within the scrape timeout.
    pub stale_scrapes: u64,
    /// Seconds since the collection served was taken.
    pub snapshot_age_seconds: f64,
}

/// One metric family being built.
#[derive(Debug)]
struct Fam {
    name: String,
    help: String,
    counter: bool,
    samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Fam {
    fn gauge(name: &str, help: &str) -> Fam {
        Fam {
            name: name.to_owned(),
            help: help.to_owned(),
            counter: false,
            samples: Vec::new(),
        }
    }

    /// A counter, named as it is exposed (`…_total`); the encoders add the
    /// suffix themselves.
    fn counter(name: &str, help: &str) -> Fam {
        Fam {
            name: name.strip_suffix("_total").unwrap_or(name).to_owned(),
            help: help.to_owned(),
            counter: true,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: &[(&str, &str)], v: f64) {
        self.samples.push((
            labels
                .iter()
                .map(|(k, val)| ((*k).to_owned(), label_value(val)))
                .collect(),
            v,
        ));
    }
}

/// Every family of one scrape, as `prometheus-client` asks for them.
#[derive(Debug)]
struct Families(Vec<Fam>);

impl prometheus_client::collector::Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let t = if f.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut me = encoder.encode_descriptor(&f.name, &f.help, None, t)?;
            for (labels, v) in &f.samples {
                let fe = me.encode_family(labels)?;
                if f.counter {
                    ConstCounter::new(*v).encode(fe)?;
                } else {
                    ConstGauge::new(*v).encode(fe)?;
                }
            }
        }
        Ok(())
    }
}

/// A label value: any text, but a control character in a label makes
/// dashboards and alert messages lie about what they show, so those are
/// written as visible escapes (the encoder escapes `\`, `"` and newline
/// itself, after this).
fn label_value(v: &str) -> String {
    // Bidi overrides and invisible format characters reorder or hide
    // what a dashboard shows: escaped like controls.
    let hidden = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(u32::from(c), 0x061c | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff)
    };
    if v.chars().any(hidden) {
        v.chars()
            .map(|c| {
                if hidden(c) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        v.to_owned()
    }
}

/// Writes every metric of a collection in `format`.
pub fn encode(
    format: Format,
    snap: &Snapshot,
    groups: &BTreeMap<String, Group>,
    blocked: &BTreeMap<blocked::Key, blocked::Count>,
    zombies: &BTreeMap<String, u64>,
    health: &Health,
) -> Vec<u8> {
    let mut fams: Vec<Fam> = Vec::new();
    let mut procs = Fam::gauge(
        "procscope_group_processes",
        "Processes of the group by state (disk_sleep: a thread is in uninterruptible sleep).",
    );
    let mut threads = Fam::gauge("procscope_group_threads", "Threads of the group by state.");
    let mut cpu = Fam::counter(
        "procscope_group_cpu_seconds_total",
        "CPU time used by the group's processes since the exporter started (dead processes stay counted).",
    );
    let mut rss = Fam::gauge(
        "procscope_group_resident_memory_bytes",
        "Resident memory (VmRSS) of the group.",
    );
    let mut swap = Fam::gauge(
        "procscope_group_swap_bytes",
        "Swapped-out memory (VmSwap) of the group.",
    );
    let mut pss = Fam::gauge(
        "procscope_group_proportional_memory_bytes",
        "Proportional set size (Pss of smaps_rollup: shared pages divided among their users) of the group (with --collect.pss).",
    );
    let mut fds = Fam::gauge(
        "procscope_group_open_fds",
        "Open file descriptors of the group.",
    );
    let mut fd_ratio = Fam::gauge(
        "procscope_group_fd_limit_ratio_max",
        "The largest open-fds to soft-RLIMIT_NOFILE ratio among the group's processes (1: at the limit).",
    );
    let mut read_b = Fam::counter(
        "procscope_group_read_bytes_total",
        "Bytes read by the group: layer=storage from the block layer, layer=syscall passed to read calls.",
    );
    let mut write_b = Fam::counter(
        "procscope_group_write_bytes_total",
        "Bytes written by the group: layer=storage to the block layer, layer=syscall passed to write calls.",
    );
    let mut ctx = Fam::counter(
        "procscope_group_context_switches_total",
        "Context switches of the group's processes: voluntary (blocked) and involuntary (preempted).",
    );
    let mut faults = Fam::counter(
        "procscope_group_page_faults_total",
        "Page faults of the group's processes.",
    );
    let mut oldest = Fam::gauge(
        "procscope_group_oldest_start_time_seconds",
        "Start time of the group's oldest process, seconds since the epoch.",
    );
    let mut timed_out = Fam::gauge(
        "procscope_group_read_timeouts",
        "Processes of the group whose reads timed out in the last collection (a memory lock is stuck): their figures may be stale.",
    );
    for (name, g) in groups {
        let n = name.as_str();
        for (state, c) in g.processes.named() {
            procs.add(&[("group", n), ("state", state)], f64::from(c));
        }
        for (state, c) in g.threads.named() {
            threads.add(&[("group", n), ("state", state)], f64::from(c));
        }
        let c = &g.counters;
        cpu.add(&[("group", n), ("mode", "user")], c.cpu_user);
        cpu.add(&[("group", n), ("mode", "system")], c.cpu_system);
        rss.add(&[("group", n)], g.rss_bytes as f64);
        swap.add(&[("group", n)], g.swap_bytes as f64);
        if let Some(v) = g.pss_bytes {
            pss.add(&[("group", n)], v as f64);
        }
        fds.add(&[("group", n)], g.fds as f64);
        fd_ratio.add(&[("group", n)], g.fd_limit_ratio_max);
        read_b.add(&[("group", n), ("layer", "storage")], c.read_bytes as f64);
        read_b.add(&[("group", n), ("layer", "syscall")], c.rchar as f64);
        write_b.add(&[("group", n), ("layer", "storage")], c.write_bytes as f64);
        write_b.add(&[("group", n), ("layer", "syscall")], c.wchar as f64);
        ctx.add(
            &[("group", n), ("type", "voluntary")],
            c.ctxsw_voluntary as f64,
        );
        ctx.add(
            &[("group", n), ("type", "involuntary")],
            c.ctxsw_involuntary as f64,
        );
        faults.add(&[("group", n), ("type", "major")], c.majflt as f64);
        faults.add(&[("group", n), ("type", "minor")], c.minflt as f64);
        if g.processes.total() > 0 {
            oldest.add(&[("group", n)], g.oldest_start_unix);
        }
        timed_out.add(&[("group", n)], g.timed_out as f64);
    }
    fams.extend([
        procs, threads, cpu, rss, swap, pss, fds, fd_ratio, read_b, write_b, ctx, faults, oldest,
        timed_out,
    ]);

    let mut bt = Fam::gauge(
        "procscope_blocked_tasks",
        "Tasks in uninterruptible sleep (D) at two collections in a row, by likely cause and what they wait on (a mount point, a lock holder).",
    );
    let mut bs = Fam::gauge(
        "procscope_blocked_seconds_max",
        "The longest time any of these blocked tasks has not run, seconds.",
    );
    for (k, c) in blocked {
        let l = [
            ("cause", k.cause.as_str()),
            ("on", k.on.as_str()),
            ("group", k.group.as_str()),
        ];
        bt.add(&l, c.tasks as f64);
        bs.add(&l, c.max_seconds);
    }
    fams.extend([bt, bs]);
    let mut z = Fam::gauge(
        "procscope_zombies",
        "Zombie processes by the group of the parent that has not reaped them.",
    );
    for (parent, n) in zombies {
        z.add(&[("parent_group", parent)], *n as f64);
    }
    fams.push(z);

    // The exporter's own health.
    let r = &snap.reads;
    let mut own = vec![
        (
            Fam::gauge(
                "procscope_collect_duration_seconds",
                "How long the last collection took.",
            ),
            snap.took_us as f64 / 1e6,
        ),
        (
            Fam::gauge(
                "procscope_snapshot_age_seconds",
                "Age of the collection this scrape was answered from.",
            ),
            health.snapshot_age_seconds,
        ),
        (
            Fam::counter(
                "procscope_collections_total",
                "Collections since the exporter started.",
            ),
            health.collections as f64,
        ),
        (
            Fam::counter("procscope_scrapes_total", "Scrapes answered."),
            health.scrapes as f64,
        ),
        (
            Fam::counter(
                "procscope_stale_scrapes_total",
                "Scrapes answered from an older collection because a fresh one did not finish in time.",
            ),
            health.stale_scrapes as f64,
        ),
        (
            Fam::counter(
                "procscope_collect_reads_total",
                "Reads that may block (command lines, memory) started under the deadline.",
            ),
            r.reads as f64,
        ),
        (
            Fam::counter(
                "procscope_collect_timeouts_total",
                "Reads abandoned at the deadline (a process's memory lock is stuck).",
            ),
            r.timeouts as f64,
        ),
        (
            Fam::counter(
                "procscope_collect_quarantined_reads_total",
                "Reads answered at once because their process already has a read stuck.",
            ),
            r.quarantined as f64,
        ),
        (
            Fam::counter(
                "procscope_collect_skipped_reads_total",
                "Reads not attempted because the stuck-thread budget was spent.",
            ),
            r.skipped as f64,
        ),
        (
            Fam::gauge(
                "procscope_collect_stuck_reads",
                "Abandoned reads still outstanding (threads stuck in the kernel).",
            ),
            r.stuck_now as f64,
        ),
        (
            Fam::gauge(
                "procscope_collect_quarantined_processes",
                "Processes not read again until their stuck read returns.",
            ),
            r.quarantine.len() as f64,
        ),
        (
            Fam::gauge(
                "procscope_collect_unreadable_processes",
                "Processes that could not be looked into at all (denied).",
            ),
            snap.unreadable.len() as f64,
        ),
        (
            Fam::gauge("procscope_processes", "Processes on the host."),
            snap.processes.len() as f64,
        ),
    ];
    for (f, v) in &mut own {
        f.add(&[], *v);
    }
    fams.extend(own.into_iter().map(|(f, _)| f));
    let mut build = Fam::gauge("procscope_build_info", "procscope's version.");
    build.add(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    fams.push(build);
    fams.extend(process_metrics(snap));

    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(Families(
        fams.into_iter().filter(|f| !f.samples.is_empty()).collect(),
    )));
    let mut out = String::with_capacity(64 * 1024);
    // The encoders fail only when writing to the String fails: never.
    let _ = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    out.into_bytes()
}

/// The standard `process_*` metrics of the exporter itself, from its own
/// row in the collection (no extra reads).
fn process_metrics(snap: &Snapshot) -> Vec<Fam> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let Some(p) = snap.processes.iter().find(|p| p.pid == me) else {
        return Vec::new();
    };
    let hz = snap.ticks_per_second.max(1) as f64;
    let mut v = vec![
        (
            Fam::counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            ),
            p.cpu_ticks() as f64 / hz,
        ),
        (
            Fam::gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            ),
            p.rss_bytes as f64,
        ),
        (
            Fam::gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            ),
            p.vsz_bytes as f64,
        ),
        (
            Fam::gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            ),
            snap.boot_time_unix as f64 + p.start_ticks as f64 / hz,
        ),
    ];
    if let Some(n) = p.fds {
        v.push((
            Fam::gauge("process_open_fds", "Number of open file descriptors."),
            f64::from(n),
        ));
    }
    if let Some(l) = p.fd_limit {
        v.push((
            Fam::gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            ),
            l as f64,
        ));
    }
    v.into_iter()
        .map(|(mut f, x)| {
            f.add(&[], x);
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_carry_hidden_characters() {
        assert_eq!(label_value("plain \"q\" \\ n\n"), "plain \"q\" \\ n\n");
        assert_eq!(label_value("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert_eq!(label_value("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(label_value("zero\u{200b}width"), "zero\\u{200b}width");
    }
}
