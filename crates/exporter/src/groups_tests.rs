use super::*;
use procscope_model::bytes::Bytes;
use procscope_model::collect::{IoCounters, Proc};

fn proc(pid: i32, comm: &str, utime: u64, read_bytes: u64) -> Proc {
    Proc {
        pid,
        start_ticks: 100,
        ppid: 1,
        pgrp: pid,
        tty_nr: 0,
        comm: Bytes(comm.as_bytes().to_vec()),
        state: 'S',
        kernel_thread: false,
        threads: 2,
        thread_states: StateCounts {
            sleeping: 1,
            disk_sleep: 1,
            ..StateCounts::default()
        },
        utime_ticks: utime,
        stime_ticks: 0,
        minflt: 0,
        majflt: 0,
        nice: 0,
        priority: 20,
        vsz_bytes: 0,
        rss_bytes: 1000,
        swap_bytes: None,
        pss_bytes: None,
        uid: None,
        ctxsw_voluntary: None,
        ctxsw_involuntary: None,
        io: Some(IoCounters {
            read_bytes,
            ..IoCounters::default()
        }),
        fds: Some(10),
        fd_limit: Some(100),
        exe: None,
        cmdline: None,
        cmdline_truncated: false,
        cgroup: None,
        wchan: None,
        missing: Vec::new(),
    }
}

fn snap(processes: Vec<Proc>) -> Snapshot {
    Snapshot {
        boot_ms: 0,
        unix_ms: 0,
        ticks_per_second: 100,
        boot_time_unix: 1_700_000_000,
        host: None,
        processes: processes.into_iter().map(std::sync::Arc::new).collect(),
        users: Default::default(),
        unreadable: Vec::new(),
        reads: Default::default(),
        took_us: 0,
    }
}

/// A dead process's CPU time stays in its group's counter.
#[test]
fn counters_never_go_backwards() {
    let mut a = Aggregator::new(Rules::default());
    let g = a.update(&snap(vec![
        proc(1, "web", 100, 10),
        proc(2, "web", 300, 20),
    ]));
    assert_eq!(g["web"].counters.cpu_user, 4.0);
    assert_eq!(g["web"].counters.read_bytes, 30);
    assert_eq!(g["web"].processes.sleeping, 2);
    assert_eq!(g["web"].threads.disk_sleep, 2);
    assert_eq!(g["web"].fds, 20);
    assert_eq!(g["web"].fd_limit_ratio_max, 0.1);
    // PID 2 exits, PID 1 runs another second, PID 3 starts.
    let g = a.update(&snap(vec![proc(1, "web", 200, 15), proc(3, "web", 50, 0)]));
    assert_eq!(g["web"].counters.cpu_user, 4.0 + 1.0 + 0.5);
    assert_eq!(g["web"].counters.read_bytes, 35);
    assert_eq!(g["web"].processes.sleeping, 2);
    // Everyone gone: the group keeps its series and its counters.
    let g = a.update(&snap(vec![]));
    assert_eq!(g["web"].counters.cpu_user, 5.5);
    assert_eq!(g["web"].processes.total(), 0);
}

/// At most max_groups series; admitted groups keep their place; the rest
/// are `other`.
#[test]
fn the_cap_folds_the_rest_into_other() {
    let mut r = Rules::default();
    r.max_groups = 3;
    let mut a = Aggregator::new(r);
    let g = a.update(&snap(vec![
        proc(1, "a", 0, 0),
        proc(2, "a", 0, 0),
        proc(3, "b", 0, 0),
        proc(4, "c", 0, 0),
        proc(5, "d", 0, 0),
    ]));
    assert_eq!(g.keys().collect::<Vec<_>>(), vec!["a", "b", "other"]);
    assert_eq!(g["other"].processes.total(), 2);
    // d grows bigger than b: b keeps its place all the same.
    let g = a.update(&snap(vec![
        proc(3, "b", 0, 0),
        proc(5, "d", 0, 0),
        proc(6, "d", 0, 0),
        proc(7, "d", 0, 0),
    ]));
    assert_eq!(g.keys().collect::<Vec<_>>(), vec!["a", "b", "other"]);
    assert_eq!(g["other"].processes.total(), 3);
    assert_eq!(a.assigned()[&6], "other");
}

/// A process that could not be read for a collection or two (fds ran out)
/// does not count its whole life again when it is read again.
#[test]
fn an_unreadable_spell_does_not_double_count() {
    let mut a = Aggregator::new(Rules::default());
    a.update(&snap(vec![proc(1, "web", 500, 0)]));
    a.update(&snap(vec![]));
    let g = a.update(&snap(vec![proc(1, "web", 600, 0)]));
    assert_eq!(g["web"].counters.cpu_user, 6.0);
}
