//! What the scheduler says: state, CPU, priority, affinity, OOM score.

use super::Source;
use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::process::ser_outcome;
use procscope_parse::stat::Stat;
use procscope_read::{Failure, Outcome, ProcRoot};
use serde::Serialize;
use std::time::Instant;

/// Scheduling facts from `stat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sched {
    /// State letter.
    pub state: char,
    /// What it means.
    pub meaning: &'static str,
    /// Threads.
    pub threads: i64,
    /// User-mode CPU time, ms.
    pub user_ms: u64,
    /// Kernel-mode CPU time, ms.
    pub system_ms: u64,
    /// Nice value (-20..19).
    pub nice: i64,
    /// Kernel priority as `stat` prints it.
    pub priority: i64,
    /// Scheduling policy (`SCHED_OTHER`, …).
    pub policy: Option<String>,
    /// Real-time priority (0 for normal policies).
    pub rt_priority: Option<u64>,
    /// CPU it last ran on.
    pub last_cpu: Option<i64>,
    /// Minor page faults.
    pub minor_faults: u64,
    /// Major page faults (read from disk).
    pub major_faults: u64,
}

/// The state section.
#[derive(Debug, Clone, Serialize)]
pub struct State {
    /// From `stat`.
    #[serde(serialize_with = "ser_outcome")]
    pub sched: Outcome<Sched>,
    /// Where it sleeps in the kernel (`wchan`; none when running).
    #[serde(serialize_with = "ser_outcome")]
    pub wchan: Outcome<Option<Bytes>>,
    /// CPU use over the sample window, percent of one CPU.
    pub cpu_percent: Option<f64>,
    /// CPUs it may run on (`Cpus_allowed_list`).
    #[serde(serialize_with = "ser_outcome")]
    pub cpus_allowed: Outcome<Bytes>,
    /// Memory nodes it may use.
    #[serde(serialize_with = "ser_outcome")]
    pub mems_allowed: Outcome<Bytes>,
    /// Voluntary context switches (it slept).
    #[serde(serialize_with = "ser_outcome")]
    pub voluntary_switches: Outcome<u64>,
    /// Involuntary ones (it was preempted).
    #[serde(serialize_with = "ser_outcome")]
    pub involuntary_switches: Outcome<u64>,
    /// `oom_score` (0–1000+: who the OOM killer picks first).
    #[serde(serialize_with = "ser_outcome")]
    pub oom_score: Outcome<i64>,
    /// `oom_score_adj` (-1000 = never killed).
    #[serde(serialize_with = "ser_outcome")]
    pub oom_score_adj: Outcome<i64>,
}

pub(crate) fn read(src: &Source<'_>) -> State {
    let clock = src.clock;
    let sched = src.raw_stat.clone().and_then(|b| {
        let s = Stat::parse(&b).map_err(|e| Failure::malformed("stat", e))?;
        let state = src.stat.as_ref().map_or(s.state, |i| i.state);
        Ok(Sched {
            state: state.letter(),
            meaning: state.meaning(),
            threads: s.num_threads,
            user_ms: clock.ticks_to_ms(s.utime_ticks),
            system_ms: clock.ticks_to_ms(s.stime_ticks),
            nice: s.nice,
            priority: s.priority,
            policy: s.policy.map(procscope_parse::decode::sched_policy),
            rt_priority: s.rt_priority,
            last_cpu: s.processor,
            minor_faults: s.minflt,
            major_faults: s.majflt,
        })
    });
    let number = |name: &std::ffi::CStr, what: &str| {
        src.file(name).and_then(|b| {
            procscope_parse::num::dec_i64(procscope_parse::num::trim(&b))
                .ok_or_else(|| Failure::malformed(what, "not a number"))
        })
    };
    State {
        sched,
        wchan: src
            .file(c"wchan")
            .map(|b| procscope_parse::stack::wchan(&b).map(Bytes::from)),
        cpu_percent: None,
        cpus_allowed: src.line("Cpus_allowed_list", |s| {
            s.cpus_allowed_list.clone().map(Bytes)
        }),
        mems_allowed: src.line("Mems_allowed_list", |s| {
            s.mems_allowed_list.clone().map(Bytes)
        }),
        voluntary_switches: src.line("voluntary_ctxt_switches", |s| s.voluntary_ctxt_switches),
        involuntary_switches: src.line("nonvoluntary_ctxt_switches", |s| {
            s.nonvoluntary_ctxt_switches
        }),
        oom_score: number(c"oom_score", "oom_score"),
        oom_score_adj: number(c"oom_score_adj", "oom_score_adj"),
    }
}

/// CPU % of `pid` since `t0`, when it had used `ticks0` ticks.
pub(crate) fn cpu_percent(
    root: &ProcRoot,
    pid: i32,
    clock: &Clock,
    t0: Instant,
    ticks0: u64,
) -> Option<f64> {
    let dir = root.process(pid).ok()?;
    let mut b = Vec::with_capacity(1024);
    dir.read(c"stat", &mut b, 64 * 1024).ok()?;
    let s = Stat::parse(&b).ok()?;
    let ticks = s
        .utime_ticks
        .saturating_add(s.stime_ticks)
        .checked_sub(ticks0)?;
    let secs = t0.elapsed().as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // tick counts are far below 2^52
    let cpu = clock.ticks_to_ms(ticks) as f64 / 1000.0;
    Some((cpu / secs * 1000.0).round() / 10.0)
}
