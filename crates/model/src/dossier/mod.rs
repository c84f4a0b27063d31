//! The whole process on one page: every section of `procscope show`, each
//! field a value or the reason it is missing.
//!
//! Every section is read from the process's directory handle. The reads
//! that can block on a hung process (`cmdline`, `smaps`, `maps`, and the
//! stat of the executable's path, which may be on a hung filesystem) run in
//! one deadline-guarded call, so a dossier of a hung process completes and
//! says which fields timed out.

pub mod cgroup;
pub mod files;
pub mod identity;
pub mod limits;
pub mod memory;
pub mod mounts;
pub mod namespaces;
pub mod program;
pub mod security;
pub mod signals;
pub mod state;

use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::process::{ser_opt_outcome, ser_outcome};
use procscope_parse::status::Status;
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot, Session, Target};
use serde::Serialize;
use std::time::{Duration, Instant};

/// A section of the dossier, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// PID, parents, session, users and groups, start time.
    Identity,
    /// Executable, cwd, root, command line.
    Program,
    /// Scheduler state, CPU, context switches, OOM score.
    State,
    /// RSS/PSS/USS/swap and the largest mappings.
    Memory,
    /// Open fds by type, notable ones.
    Files,
    /// I/O counters.
    Io,
    /// Resource limits with usage.
    Limits,
    /// Capabilities, no_new_privs, seccomp, LSM label.
    Security,
    /// Pending, blocked, ignored, caught signals.
    Signals,
    /// Namespaces compared with PID 1's.
    Namespaces,
    /// Control groups, the container or unit, cgroup limits.
    Cgroup,
    /// Every mapping (`procscope maps`; not in the default dossier).
    Maps,
    /// The mount table (`procscope mounts`; not in the default dossier).
    Mounts,
}

impl Section {
    /// The sections of `show`, in order.
    pub const DOSSIER: [Section; 11] = [
        Section::Identity,
        Section::Program,
        Section::State,
        Section::Memory,
        Section::Files,
        Section::Io,
        Section::Limits,
        Section::Security,
        Section::Signals,
        Section::Namespaces,
        Section::Cgroup,
    ];

    /// Every section, including the long ones.
    pub const ALL: [Section; 13] = [
        Section::Identity,
        Section::Program,
        Section::State,
        Section::Memory,
        Section::Files,
        Section::Io,
        Section::Limits,
        Section::Security,
        Section::Signals,
        Section::Namespaces,
        Section::Cgroup,
        Section::Maps,
        Section::Mounts,
    ];

    /// Its name (`--section NAME`, JSON key).
    pub fn name(self) -> &'static str {
        match self {
            Section::Identity => "identity",
            Section::Program => "program",
            Section::State => "state",
            Section::Memory => "memory",
            Section::Files => "files",
            Section::Io => "io",
            Section::Limits => "limits",
            Section::Security => "security",
            Section::Signals => "signals",
            Section::Namespaces => "namespaces",
            Section::Cgroup => "cgroup",
            Section::Maps => "maps",
            Section::Mounts => "mounts",
        }
    }

    /// Parses a name (also `ns`, `caps`, `mem`, `fds`).
    pub fn parse(s: &str) -> Option<Section> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "ns" => "namespaces",
            "caps" | "capabilities" => "security",
            "mem" => "memory",
            "fds" => "files",
            "cgroups" => "cgroup",
            "limit" => "limits",
            "signal" => "signals",
            other => other,
        };
        Section::ALL.into_iter().find(|x| x.name() == alias)
    }
}

/// What to read.
#[derive(Debug, Clone)]
pub struct Request {
    /// Sections to read (others stay `None`).
    pub sections: Vec<Section>,
    /// For [`Section::Maps`]: read `smaps` for RSS, PSS, dirty and swap per
    /// mapping (like `pmap -x`), not only `maps`.
    pub maps_detail: bool,
    /// How long to watch CPU time for the CPU % (zero: not measured).
    pub cpu_sample: Duration,
    /// The read session: deadline, stuck budget and quarantine for the
    /// reads that can block.
    pub session: Session,
}

impl Request {
    fn wants(&self, s: Section) -> bool {
        self.sections.contains(&s)
    }
}

/// One process's dossier. Sections not asked for are `None`.
#[derive(Debug, Clone, Serialize)]
pub struct Dossier {
    /// Process ID.
    pub pid: i32,
    /// Command name.
    #[serde(serialize_with = "ser_outcome")]
    pub comm: Outcome<Bytes>,
    /// Identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<identity::Identity>,
    /// Program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<program::Program>,
    /// State.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<state::State>,
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<memory::Memory>,
    /// Files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<files::Files>,
    /// I/O counters.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_outcome"
    )]
    pub io: Option<Outcome<IoCounters>>,
    /// Limits.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_outcome"
    )]
    pub limits: Option<Outcome<Vec<limits::LimitRow>>>,
    /// Security.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<security::Security>,
    /// Signals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<signals::Signals>,
    /// Namespaces.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_outcome"
    )]
    pub namespaces: Option<Outcome<namespaces::Table>>,
    /// Control groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<cgroup::Cgroup>,
    /// Every mapping.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_outcome"
    )]
    pub maps: Option<Outcome<Vec<memory::MapRow>>>,
    /// The mount table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<mounts::Mounts>,
}

/// `/proc/PID/io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IoCounters {
    /// Bytes read through read-like syscalls (cache hits included).
    pub rchar: Option<u64>,
    /// Bytes written through write-like syscalls.
    pub wchar: Option<u64>,
    /// Read-like syscalls.
    pub syscr: Option<u64>,
    /// Write-like syscalls.
    pub syscw: Option<u64>,
    /// Bytes fetched from storage.
    pub read_bytes: Option<u64>,
    /// Bytes sent to storage.
    pub write_bytes: Option<u64>,
    /// Dirtied bytes truncated before writeback.
    pub cancelled_write_bytes: Option<u64>,
}

/// A missing `status` line (an older kernel) as a failure.
pub(crate) fn have<T>(v: Option<T>, what: &str) -> Outcome<T> {
    v.ok_or_else(|| Failure::Unsupported {
        what: what.to_string(),
    })
}

/// What every section reads from: the open directory and the files more
/// than one section uses, each read once.
pub(crate) struct Source<'a> {
    pub root: &'a ProcRoot,
    pub dir: &'a ProcDir,
    pub clock: Clock,
    pub status: Outcome<Status>,
    pub stat: Outcome<crate::process::StatInfo>,
    pub raw_stat: Outcome<Vec<u8>>,
    /// The read session (for NSS lookups and guarded reads).
    pub session: &'a Session,
    /// Host-wide counts shared by every process of this run.
    pub shared: &'a limits::Shared,
}

impl Source<'_> {
    /// Reads a whole small file.
    pub fn file(&self, name: &std::ffi::CStr) -> Outcome<Vec<u8>> {
        let mut b = Vec::new();
        self.dir
            .read(name, &mut b, procscope_read::cap::RECORD)
            .map(|_| b)
    }

    /// A line of `status`: why `status` could not be read, or that this
    /// kernel does not print the line.
    pub fn line<T>(&self, what: &str, get: impl FnOnce(&Status) -> Option<T>) -> Outcome<T> {
        let s = self.status.as_ref().map_err(Clone::clone)?;
        have(get(s), &format!("status line {what}"))
    }

    /// `status`, or why not.
    pub fn status(&self) -> Outcome<&Status> {
        self.status.as_ref().map_err(Clone::clone)
    }
}

/// What the guarded (possibly blocking) reads return.
#[derive(Debug, Default)]
pub(crate) struct Risky {
    pub cmdline: Option<Outcome<crate::process::CmdlineInfo>>,
    pub smaps: Option<Outcome<Vec<u8>>>,
    pub maps: Option<Outcome<Vec<u8>>>,
    pub exe_on_disk: Option<crate::target::ExeOnDisk>,
}

/// Reads the dossiers of `pids` (in order). A PID that does not exist
/// yields `Err(Gone)`. The CPU sample of all processes runs concurrently.
pub fn read(root: &ProcRoot, pids: &[i32], req: &Request) -> Outcome<Vec<Outcome<Dossier>>> {
    let clock = Clock::read(root)?;
    let started = Instant::now();
    let mut out = Vec::with_capacity(pids.len());
    let mut first_cpu = Vec::with_capacity(pids.len());
    let shared = limits::Shared::default();
    for &pid in pids {
        match read_one(root, pid, req, clock, &shared) {
            Ok((d, cpu)) => {
                out.push(Ok(d));
                first_cpu.push(cpu);
            }
            Err(f) => {
                out.push(Err(f));
                first_cpu.push(None);
            }
        }
    }
    if req.wants(Section::State) && !req.cpu_sample.is_zero() {
        if let Some(left) = req.cpu_sample.checked_sub(started.elapsed()) {
            std::thread::sleep(left);
        }
        for (d, cpu0) in out.iter_mut().zip(first_cpu) {
            let (Ok(d), Some((t0, ticks0))) = (d, cpu0) else {
                continue;
            };
            if let Some(st) = &mut d.state {
                st.cpu_percent = state::cpu_percent(root, d.pid, &clock, t0, ticks0);
            }
        }
    }
    Ok(out)
}

type CpuMark = Option<(Instant, u64)>;

fn read_one(
    root: &ProcRoot,
    pid: i32,
    req: &Request,
    clock: Clock,
    shared: &limits::Shared,
) -> Outcome<(Dossier, CpuMark)> {
    let dir = root.process(pid)?;
    let mut buf = Vec::with_capacity(4096);
    let raw_stat = dir.read(c"stat", &mut buf, 64 * 1024).map(|_| buf.clone());
    let cpu0 = raw_stat.as_ref().ok().and_then(|b| {
        let s = procscope_parse::stat::Stat::parse(b).ok()?;
        Some((Instant::now(), s.utime_ticks.saturating_add(s.stime_ticks)))
    });
    // One read each of `stat` and `status`: the CPU mark and the model
    // come from them.
    let mut stat = raw_stat.clone().and_then(|b| {
        procscope_parse::stat::Stat::parse(&b)
            .map(|s| crate::listing::stat_info(&s, &clock))
            .map_err(|e| Failure::malformed("stat", e))
    });
    if matches!(stat, Err(Failure::Gone)) {
        return Err(Failure::Gone);
    }
    let status = dir
        .read(c"status", &mut buf, procscope_read::cap::RECORD)
        .and_then(|_| Status::parse(&buf).map_err(|e| Failure::malformed("status", e)));
    // The process as a whole: every thread's state, RSS from status.
    if let Ok(st) = &mut stat {
        let rss = status.as_ref().ok().and_then(|s| s.vm_rss);
        crate::listing::whole_process(&dir, pid, &clock, &mut buf, st, rss);
    }
    let src = Source {
        root,
        dir: &dir,
        clock,
        status,
        stat,
        raw_stat,
        session: &req.session,
        shared,
    };
    let comm = src
        .stat
        .as_ref()
        .map(|s| s.comm.clone())
        .map_err(Clone::clone);
    let risky = read_risky(&src, req);
    let w = |s| req.wants(s);
    let (identity, program, state) = (
        w(Section::Identity).then(|| identity::read(&src)),
        w(Section::Program).then(|| program::read(&src, &risky)),
        w(Section::State).then(|| state::read(&src)),
    );
    let memory = w(Section::Memory).then(|| memory::read(&src, &risky));
    let lim = limits::read_raw(&src);
    let files = w(Section::Files).then(|| files::read(&src, &lim));
    let io = w(Section::Io).then(|| read_io(&src));
    let limits = w(Section::Limits).then(|| limits::read(&src, &lim));
    let security = w(Section::Security).then(|| security::read(&src));
    let signals = w(Section::Signals).then(|| signals::read(&src));
    let namespaces = w(Section::Namespaces).then(|| namespaces::read(&src));
    let cgroup = w(Section::Cgroup).then(|| cgroup::read(&src));
    let maps = w(Section::Maps).then(|| memory::map_rows(&risky, req.maps_detail));
    let mounts = w(Section::Mounts).then(|| mounts::read(&src));
    Ok((
        Dossier {
            pid,
            comm,
            identity,
            program,
            state,
            memory,
            files,
            io,
            limits,
            security,
            signals,
            namespaces,
            cgroup,
            maps,
            mounts,
        },
        cpu0,
    ))
}

fn read_io(src: &Source<'_>) -> Outcome<IoCounters> {
    let b = src.file(c"io")?;
    let io = procscope_parse::io::Io::parse(&b).map_err(|e| Failure::malformed("io", e))?;
    Ok(IoCounters {
        rchar: io.rchar,
        wchar: io.wchar,
        syscr: io.syscr,
        syscw: io.syscw,
        read_bytes: io.read_bytes,
        write_bytes: io.write_bytes,
        cancelled_write_bytes: io.cancelled_write_bytes,
    })
}

/// The reads that take the target's memory lock, in one guarded call: a
/// hung process costs one deadline, and what timed out says so.
fn read_risky(src: &Source<'_>, req: &Request) -> Risky {
    let want_cmdline = req.wants(Section::Program);
    let want_smaps = req.wants(Section::Memory) || (req.wants(Section::Maps) && req.maps_detail);
    let want_maps = req.wants(Section::Maps) && !req.maps_detail;
    // The path in `exe` is only meaningful here when the process sees the
    // same filesystem tree as procscope (same mount namespace, root `/`);
    // otherwise a lookup would find another file or none, so do not compare.
    let same_view = || {
        let own = src.root.process(src.root.own_pid()).ok()?;
        let ns = |d: &ProcDir| d.readlink(c"ns/mnt").ok();
        let root_is_slash = src.dir.readlink(c"root").ok()? == b"/";
        Some(root_is_slash && ns(src.dir)? == ns(&own)?)
    };
    let exe = if want_cmdline && same_view() == Some(true) {
        src.dir.readlink(c"exe").ok()
    } else {
        None
    };
    if !(want_cmdline || want_smaps || want_maps) {
        return Risky::default();
    }
    let dir = src.dir.clone();
    let host = src.root.host();
    let target = Target {
        pid: src.dir.pid(),
        start: src.stat.as_ref().ok().map(|s| s.start_ticks),
    };
    let r = req.session.once(Some(target), move || {
        let file = |name: &std::ffi::CStr, cap: usize| {
            let mut b = Vec::new();
            dir.read(name, &mut b, cap).map(|r| (b, r.truncated))
        };
        let cmdline = want_cmdline.then(|| {
            file(c"cmdline", procscope_read::cap::TEXT)
                .map(|(raw, truncated)| crate::process::CmdlineInfo { raw, truncated })
        });
        let smaps = want_smaps.then(|| file(c"smaps", procscope_read::cap::SMAPS).map(|(b, _)| b));
        let maps = (want_maps || (exe.is_some() && smaps.is_none()))
            .then(|| file(c"maps", procscope_read::cap::MAPS).map(|(b, _)| b));
        // smaps has the same mapping lines as maps.
        let mapping_lines = maps
            .as_ref()
            .or(smaps.as_ref())
            .and_then(|m| m.as_ref().ok());
        let exe_on_disk = match (&exe, mapping_lines) {
            (Some(link), Some(m)) => Some(crate::target::exe_on_disk(&host, m, link)),
            _ => None,
        };
        Ok(Risky {
            cmdline,
            smaps,
            maps: maps.filter(|_| want_maps),
            exe_on_disk,
        })
    });
    match r {
        Ok(r) => r,
        Err(f) => Risky {
            cmdline: want_cmdline.then(|| Err(f.clone())),
            smaps: want_smaps.then(|| Err(f.clone())),
            maps: want_maps.then(|| Err(f.clone())),
            exe_on_disk: None,
        },
    }
}
