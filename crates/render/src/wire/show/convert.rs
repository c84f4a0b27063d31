//! From the model's dossier to the wire's.

use super::*;
use crate::wire::common::{opt_bytes, or_error};
use procscope_model::dossier::{
    self as d, cgroup, files, identity, limits, memory, mounts, namespaces, program, security,
    signals, state,
};

fn b(x: &procscope_model::bytes::Bytes) -> Bytes {
    Bytes::from(x)
}

fn named(n: &identity::NamedId) -> NamedId {
    NamedId {
        id: n.id,
        name: opt_bytes(n.name.as_ref()),
    }
}

fn id_set(s: &identity::IdSet) -> IdSet {
    IdSet {
        real: named(&s.real),
        effective: named(&s.effective),
        saved: named(&s.saved),
        filesystem: named(&s.filesystem),
    }
}

fn identity(x: &identity::Identity) -> Identity {
    Identity {
        pid: x.pid,
        parents: or_error(&x.parents, |v| {
            v.iter()
                .map(|a| Ancestor {
                    pid: a.pid,
                    comm: or_error(&a.comm, b),
                })
                .collect()
        }),
        session: or_error(&x.session, |v| *v),
        pgrp: or_error(&x.pgrp, |v| *v),
        tty_nr: or_error(&x.tty_nr, |v| *v),
        tty: or_error(&x.tty_nr, |v| crate::wire::ps::tty(*v)),
        ns_pids: or_error(&x.ns_pids, Clone::clone),
        uid: or_error(&x.uid, id_set),
        gid: or_error(&x.gid, id_set),
        groups: or_error(&x.groups, |v| v.iter().map(named).collect()),
        tracer_pid: or_error(&x.tracer_pid, |v| *v),
        start_time_unix: or_error(&x.start_time_unix, |v| *v),
        elapsed_secs: or_error(&x.elapsed_secs, |v| *v),
    }
}

fn program(p: &program::Program) -> Program {
    Program {
        exe: or_error(&p.exe, b),
        exe_on_disk: match p.exe_on_disk {
            program::OnDisk::Same => "same",
            program::OnDisk::Replaced => "replaced",
            program::OnDisk::Deleted => "deleted",
            program::OnDisk::Unknown => "unknown",
        }
        .into(),
        cwd: or_error(&p.cwd, b),
        root: or_error(&p.root, b),
        cmdline: or_error(&p.cmdline, |a| Args {
            args: a.args.iter().map(b).collect(),
            truncated: a.truncated,
        }),
    }
}

fn state(s: &state::State) -> State {
    State {
        sched: or_error(&s.sched, |x| Sched {
            state: x.state.to_string(),
            meaning: x.meaning.into(),
            threads: x.threads,
            user_ms: x.user_ms,
            system_ms: x.system_ms,
            nice: x.nice,
            priority: x.priority,
            policy: x.policy.clone(),
            rt_priority: x.rt_priority,
            last_cpu: x.last_cpu,
            minor_faults: x.minor_faults,
            major_faults: x.major_faults,
        }),
        wchan: or_error(&s.wchan, |w| opt_bytes(w.as_ref())),
        cpu_percent: s.cpu_percent,
        cpus_allowed: or_error(&s.cpus_allowed, b),
        mems_allowed: or_error(&s.mems_allowed, b),
        voluntary_switches: or_error(&s.voluntary_switches, |v| *v),
        involuntary_switches: or_error(&s.involuntary_switches, |v| *v),
        oom_score: or_error(&s.oom_score, |v| *v),
        oom_score_adj: or_error(&s.oom_score_adj, |v| *v),
    }
}

fn map_row(r: &memory::MapRow) -> MapRow {
    MapRow {
        start: r.start,
        size: r.size,
        perms: b(&r.perms),
        offset: r.offset,
        mapping: b(&r.mapping),
        rss: r.rss,
        pss: r.pss,
        dirty: r.dirty,
        swap: r.swap,
        count: r.count,
    }
}

fn memory(m: &memory::Memory) -> Memory {
    Memory {
        counters: or_error(&m.counters, |c| Counters {
            rss: c.rss,
            rss_anon: c.rss_anon,
            rss_file: c.rss_file,
            rss_shmem: c.rss_shmem,
            rss_peak: c.rss_peak,
            swap: c.swap,
            vsz: c.vsz,
            vsz_peak: c.vsz_peak,
            data: c.data,
            stack: c.stack,
            locked: c.locked,
            page_tables: c.page_tables,
        }),
        totals: or_error(&m.totals, |t| Totals {
            rss: t.rss,
            pss: t.pss,
            uss: t.uss,
            shared: t.shared,
            anonymous: t.anonymous,
            swap: t.swap,
            swap_pss: t.swap_pss,
        }),
        largest: or_error(&m.largest, |v| v.iter().map(map_row).collect()),
    }
}

fn files(f: &files::Files) -> OrError<Files> {
    or_error(&f.0, |s| Files {
        open: s.open,
        soft_limit: s.soft_limit,
        by_type: s.by_type.clone(),
        notable: s
            .notable
            .iter()
            .map(|n| Notable {
                fd: n.fd,
                why: n.why.into(),
                what: b(&n.what),
            })
            .collect(),
    })
}

fn io(x: &d::IoCounters) -> Io {
    Io {
        rchar: x.rchar,
        wchar: x.wchar,
        syscr: x.syscr,
        syscw: x.syscw,
        read_bytes: x.read_bytes,
        write_bytes: x.write_bytes,
        cancelled_write_bytes: x.cancelled_write_bytes,
    }
}

fn limit(l: &limits::LimitRow) -> Limit {
    Limit {
        resource: l.resource.clone(),
        name: l.name.clone(),
        soft: l.soft,
        hard: l.hard,
        unit: l.unit.clone(),
        usage: l.usage,
        usage_note: l.usage_note.map(String::from),
        near: l.near,
    }
}

fn cap_set(c: &security::CapSet) -> CapSet {
    CapSet {
        mask: c.mask.clone(),
        summary: c.summary.clone(),
        names: c.names.clone(),
    }
}

fn security(s: &security::Security) -> Security {
    Security {
        cap_last_cap: or_error(&s.cap_last_cap, |v| *v),
        effective: or_error(&s.effective, cap_set),
        permitted: or_error(&s.permitted, cap_set),
        inheritable: or_error(&s.inheritable, cap_set),
        bounding: or_error(&s.bounding, cap_set),
        ambient: or_error(&s.ambient, cap_set),
        no_new_privs: or_error(&s.no_new_privs, |v| *v),
        seccomp: or_error(&s.seccomp, |v| (*v).into()),
        seccomp_filters: or_error(&s.seccomp_filters, |v| *v),
        lsm_label: or_error(&s.lsm_label, b),
    }
}

fn signals(s: &signals::Signals) -> Signals {
    Signals {
        process: or_error(&s.process, |x| Sets {
            pending: x.pending.clone(),
            thread_pending: x.thread_pending.clone(),
            blocked: x.blocked.clone(),
            ignored: x.ignored.clone(),
            caught: x.caught.clone(),
            queued: x.queued,
        }),
        threads: or_error(&s.threads, |v| {
            v.iter()
                .map(|t| ThreadSignals {
                    tid: t.tid,
                    name: opt_bytes(t.name.as_ref()),
                    pending: t.pending.clone(),
                    blocked: t.blocked.clone(),
                })
                .collect()
        }),
    }
}

fn namespaces(t: &namespaces::Table) -> Namespaces {
    Namespaces {
        reference_pid: t.reference_pid,
        namespaces: t
            .namespaces
            .iter()
            .map(|n| Namespace {
                kind: n.kind.into(),
                inode: or_error(&n.inode, |v| *v),
                reference_inode: or_error(&n.reference_inode, |v| *v),
                differs: n.differs,
            })
            .collect(),
    }
}

fn cgroup(c: &cgroup::Cgroup) -> Cgroup {
    let o = &c.owner;
    let u = &c.usage;
    Cgroup {
        lines: or_error(&c.lines, |v| {
            v.iter()
                .map(|l| CgroupLine {
                    hierarchy: l.hierarchy,
                    controllers: b(&l.controllers),
                    path: b(&l.path),
                })
                .collect()
        }),
        path: opt_bytes(c.path.as_ref()),
        owner: Owner {
            runtime: o.runtime.map(String::from),
            container_id: o.container_id.clone(),
            monitor: o.monitor,
            pod_uid: o.pod_uid.clone(),
            qos_class: o.qos_class.map(String::from),
            unit: o.unit.clone(),
            slice: o.slice.clone(),
        },
        usage: Usage {
            memory_max: or_error(&u.memory_max, |v| *v),
            memory_current: or_error(&u.memory_current, |v| *v),
            cpu_max: or_error(&u.cpu_max, |v| {
                v.map(|q| CpuQuota {
                    quota_us: q.quota_us,
                    period_us: q.period_us,
                })
            }),
            pids_max: or_error(&u.pids_max, |v| *v),
            pids_current: or_error(&u.pids_current, |v| *v),
        },
    }
}

fn mount_rows(v: &[mounts::MountRow]) -> Vec<MountRow> {
    v.iter()
        .map(|m| MountRow {
            id: m.id,
            parent: m.parent,
            mount_point: b(&m.mount_point),
            root: b(&m.root),
            fs_type: b(&m.fs_type),
            source: b(&m.source),
            options: b(&m.options),
            super_options: b(&m.super_options),
            propagation: b(&m.propagation),
            only_here: m.only_here,
        })
        .collect()
}

fn mounts(m: &mounts::Mounts) -> Mounts {
    Mounts {
        reference_pid: m.reference_pid,
        same_namespace: m.same_namespace,
        mounts: or_error(&m.mounts, |v| mount_rows(v)),
        only_in_reference: or_error(&m.only_in_reference, |v| mount_rows(v)),
    }
}

impl From<&MDossier> for Dossier {
    fn from(x: &MDossier) -> Dossier {
        Dossier {
            pid: x.pid,
            comm: or_error(&x.comm, b),
            identity: x.identity.as_ref().map(identity),
            program: x.program.as_ref().map(program),
            state: x.state.as_ref().map(state),
            memory: x.memory.as_ref().map(memory),
            files: x.files.as_ref().map(files),
            io: x.io.as_ref().map(|o| or_error(o, io)),
            limits: x
                .limits
                .as_ref()
                .map(|o| or_error(o, |v| v.iter().map(limit).collect())),
            security: x.security.as_ref().map(security),
            signals: x.signals.as_ref().map(signals),
            namespaces: x.namespaces.as_ref().map(|o| or_error(o, namespaces)),
            cgroup: x.cgroup.as_ref().map(cgroup),
            maps: x
                .maps
                .as_ref()
                .map(|o| or_error(o, |v| v.iter().map(map_row).collect())),
            mounts: x.mounts.as_ref().map(mounts),
        }
    }
}
