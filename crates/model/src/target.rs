//! Finding the processes a command is about, and reading their command
//! line, environment and executable.

use crate::bytes::Bytes;
use crate::listing::{self, Request};
use crate::process::{CmdlineInfo, StatInfo};
use crate::select::Filter;
use procscope_read::guard::{self, Ctx, Session};
use procscope_read::{Failure, HostFiles, Outcome, ProcRoot};

/// A command's TARGET: a PID, or a regex on process names (like `ps PATTERN`).
#[derive(Debug, Clone)]
pub enum Target {
    /// One process.
    Pid(i32),
    /// Every process whose name (comm) matches.
    Pattern(regex::bytes::Regex),
}

impl Target {
    /// Parses a TARGET: all digits is a PID (never a pattern: `0` is an
    /// error, not "every name with a 0 in it"), anything else a regex.
    pub fn parse(s: &str) -> Result<Target, String> {
        if s.is_empty() {
            // An unset shell variable ("$PID") must not select everything.
            return Err("empty TARGET: give a PID or a pattern ('.' matches every name)".into());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<i32>() {
                Ok(p) if p > 0 => Ok(Target::Pid(p)),
                Ok(_) => Err(format!(
                    "`{s}` is not a PID: PIDs start at 1 (PID 0 is the kernel's idle task, which has no /proc entry)"
                )),
                Err(_) => Err(format!("`{s}` is not a PID: too large")),
            };
        }
        crate::select::compile(s, false, false)
            .map(Target::Pattern)
            .map_err(|e| format!("invalid pattern `{s}`: {e}"))
    }
}

/// The largest PID the kernel hands out (`/proc/sys/kernel/pid_max`; 2²²
/// when it cannot be read, the largest it can be set to).
pub fn pid_max(root: &ProcRoot) -> i32 {
    let mut b = Vec::new();
    root.read(c"sys/kernel/pid_max", &mut b, 64)
        .ok()
        .and_then(|_| procscope_parse::num::dec_i64(procscope_parse::num::trim(&b)))
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(1 << 22)
}

/// Resolves a target to PIDs (ascending), never including `exclude`.
pub fn resolve(
    root: &ProcRoot,
    target: &Target,
    exclude: i32,
    session: &Session,
) -> Outcome<Vec<i32>> {
    match target {
        Target::Pid(p) => Ok(vec![*p]),
        Target::Pattern(re) => {
            let req = Request {
                uid: false,
                cmdline: false,
                session: session.clone(),
                ..Request::default()
            };
            let rows = listing::list(root, &req)?.rows;
            let f = Filter {
                pattern: Some(re.clone()),
                exclude: vec![exclude],
                ..Filter::default()
            };
            Ok(f.apply(rows).into_iter().map(|r| r.pid).collect())
        }
    }
}

/// What to read about each process.
#[derive(Debug, Clone, Copy)]
pub struct TextRequest {
    /// Read `cmdline`.
    pub cmdline: bool,
    /// Read `environ`.
    pub environ: bool,
    /// Read `cwd` (a link; never followed).
    pub cwd: bool,
    /// Read `limits` and `cgroup` (for `repro`'s comment).
    pub context: bool,
    /// At most this many bytes of each file.
    pub cap: usize,
}

/// The files `repro` names in its comments.
#[derive(Debug, Clone)]
pub struct Context {
    /// `limits`.
    pub limits: Outcome<Vec<u8>>,
    /// `cgroup`.
    pub cgroup: Outcome<Vec<u8>>,
    /// Whether the file now at the executable's path is the one running.
    pub exe_on_disk: ExeOnDisk,
}

/// The executable's path on disk compared with the file the process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExeOnDisk {
    /// Same device and inode.
    Same,
    /// Another file is at that path now (the program was upgraded or rebuilt).
    Replaced,
    /// Nothing is at that path now.
    Missing,
    /// Could not tell (no mapping found, not permitted, timed out).
    Unknown,
}

/// Compares the mapping of the executable in `maps` (device and inode, as
/// the kernel recorded them when it was mapped) with what is at its path
/// now, on the host `host` belongs to (for a tree, its `.host/` copy; a
/// tree without one cannot tell). `link` is the `exe` link as read,
/// possibly ending in ` (deleted)` (then the running file was unlinked:
/// replaced if another file is at the path now, missing if nothing is).
/// Runs inside a guarded read: `maps` takes the memory lock, and the path
/// may be on a hung filesystem.
pub fn exe_on_disk(host: &HostFiles, maps: &[u8], link: &[u8]) -> ExeOnDisk {
    let mapped = maps.split(|&c| c == b'\n').find_map(|line| {
        let mut f = line.splitn(6, |&c| c == b' ');
        let (_, _, _, dev, ino) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
        if f.next()?.trim_ascii_start() != link {
            return None;
        }
        let (maj, min) = procscope_parse::num::split_once(dev, b':')?;
        let maj = procscope_parse::num::hex_u64(maj)?;
        let min = procscope_parse::num::hex_u64(min)?;
        let ino = procscope_parse::num::dec_u64(ino)?;
        Some((maj, min, ino))
    });
    let Some((maj, min, ino)) = mapped else {
        return ExeOnDisk::Unknown;
    };
    let (path, _) = exe_path(link);
    // A stat through FUSE, NFS or an automount can wait for ever, and
    // uninterruptibly: such a path is not looked at. (`link` differs from
    // `path` by a suffix of its last name only: one check covers both.)
    if host.may_hang(path) {
        return ExeOnDisk::Unknown;
    }
    let same = |p: &[u8]| -> Outcome<bool> {
        let st = host.stat(p)?;
        Ok(st.ino == ino && u64::from(st.dev.0) == maj && u64::from(st.dev.1) == min)
    };
    // A file really named "x (deleted)" that is still there: the same file.
    if same(link) == Ok(true) {
        return ExeOnDisk::Same;
    }
    match same(path) {
        Ok(true) => ExeOnDisk::Same,
        Ok(false) => ExeOnDisk::Replaced,
        Err(Failure::Absent { .. }) => ExeOnDisk::Missing,
        Err(_) => ExeOnDisk::Unknown,
    }
}

/// A process's identity, executable, command line and environment.
#[derive(Debug, Clone)]
pub struct ProcText {
    /// Process ID.
    pub pid: i32,
    /// `stat`, for the name, state and kernel-thread flag.
    pub stat: Outcome<StatInfo>,
    /// Effective UID, from `status`.
    pub uid: Option<u32>,
    /// The `exe` link's target (kernel threads have none).
    pub exe: Outcome<Bytes>,
    /// The `cwd` link's target, when asked.
    pub cwd: Option<Outcome<Bytes>>,
    /// `limits` and `cgroup` contents, when asked.
    pub context: Option<Context>,
    /// `cmdline`, when asked.
    pub cmdline: Option<Outcome<CmdlineInfo>>,
    /// `environ` (same layout as a command line: NUL-separated), when asked.
    pub environ: Option<Outcome<CmdlineInfo>>,
}

/// Reads `req` for every PID, in order. Vanished processes are reported
/// with `stat: Err(Gone)`, so that a PID the user named gets an answer.
pub fn read(
    root: &ProcRoot,
    pids: Vec<i32>,
    req: TextRequest,
    session: &Session,
) -> Outcome<Vec<ProcText>> {
    let clock = crate::clock::Clock::read(root)?;
    let root = root.clone();
    let host = root.host();
    type Risky = (
        Option<Outcome<CmdlineInfo>>,
        Option<Outcome<CmdlineInfo>>,
        ExeOnDisk,
    );
    let results = session.run(pids, move |pid: i32, ctx: &Ctx<ProcText, Risky>| {
        let dir = match root.process(pid) {
            Ok(d) => d,
            Err(e) => {
                ctx.checkpoint(ProcText {
                    pid,
                    stat: Err(e),
                    uid: None,
                    exe: Err(Failure::Gone),
                    cwd: None,
                    context: None,
                    cmdline: None,
                    environ: None,
                });
                return (None, None, ExeOnDisk::Unknown);
            }
        };
        let mut buf = Vec::with_capacity(4096);
        let (stat, uid, _) = crate::listing::read_process(&dir, pid, &clock, &mut buf, true);
        ctx.target(guard::Target {
            pid,
            start: stat.as_ref().ok().map(|s| s.start_ticks),
        });
        let uid = uid.ok();
        let exe = dir.readlink(c"exe").map(Bytes);
        let exe_link: Option<Vec<u8>> = exe.as_ref().ok().map(|e| e.0.clone());
        let cwd = req.cwd.then(|| dir.readlink(c"cwd").map(Bytes));
        let context = req.context.then(|| {
            let read = |name: &std::ffi::CStr| {
                let mut b = Vec::new();
                dir.read(name, &mut b, procscope_read::cap::RECORD)
                    .map(|_| b)
            };
            Context {
                limits: read(c"limits"),
                cgroup: read(c"cgroup"),
                exe_on_disk: ExeOnDisk::Unknown,
            }
        });
        ctx.checkpoint(ProcText {
            pid,
            stat,
            uid,
            exe,
            cwd,
            context,
            cmdline: None,
            environ: None,
        });
        // Both memory-lock reads in one guarded call: if the first hangs,
        // the second is never attempted (one outstanding read per process).
        // The executable comparison reads maps and stats a host path
        // (possibly on a hung filesystem): also inside the guard.
        let exe_now = exe_link.clone();
        let r = ctx.guarded(|| {
            let c = req.cmdline.then(|| read_file(&dir, c"cmdline", req.cap));
            let e = req.environ.then(|| read_file(&dir, c"environ", req.cap));
            let on_disk = match (&exe_now, req.context) {
                (Some(path), true) => read_file(&dir, c"maps", procscope_read::cap::MAPS)
                    .map_or(ExeOnDisk::Unknown, |m| exe_on_disk(&host, &m.raw, path)),
                _ => ExeOnDisk::Unknown,
            };
            Ok((c, e, on_disk))
        });
        match r {
            Ok(v) => v,
            Err(f) => (
                req.cmdline.then(|| Err(f.clone())),
                req.environ.then_some(Err(f)),
                ExeOnDisk::Unknown,
            ),
        }
    });
    let mut out = Vec::with_capacity(results.len());
    for f in results {
        let Some(mut t) = f.partial else { continue };
        match f.rest {
            Ok((c, e, on_disk)) => {
                t.cmdline = c;
                t.environ = e;
                if let Some(ctx) = &mut t.context {
                    ctx.exe_on_disk = on_disk;
                }
            }
            Err(fail) => {
                t.cmdline = req.cmdline.then(|| Err(fail.clone()));
                t.environ = req.environ.then_some(Err(fail));
            }
        }
        // Kernel threads have no memory: the kernel answers ESRCH for
        // their environ (proc_mem_open() finds no mm), which is not "gone".
        if t.stat.as_ref().is_ok_and(|s| s.kernel_thread) {
            for f in [&mut t.cmdline, &mut t.environ] {
                if matches!(f, Some(Err(Failure::Gone))) {
                    *f = Some(Ok(CmdlineInfo {
                        raw: Vec::new(),
                        truncated: false,
                    }));
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

fn read_file(
    dir: &procscope_read::ProcDir,
    name: &std::ffi::CStr,
    cap: usize,
) -> Outcome<CmdlineInfo> {
    let mut raw = Vec::new();
    let r = dir.read(name, &mut raw, cap)?;
    raw.shrink_to_fit();
    Ok(CmdlineInfo {
        raw,
        truncated: r.truncated,
    })
}

/// The last path component of `p`.
pub fn basename(p: &[u8]) -> &[u8] {
    p.rsplit(|&c| c == b'/').next().unwrap_or(p)
}

/// Parses a `readlink` of `exe` into the path and whether the kernel says
/// it was deleted (` (deleted)` suffix; ambiguous with a file really named
/// so, which callers say when it matters).
pub fn exe_path(link: &[u8]) -> (&[u8], bool) {
    match link.strip_suffix(b" (deleted)") {
        Some(p) => (p, true),
        None => (link, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_paths() {
        assert!(matches!(Target::parse("123"), Ok(Target::Pid(123))));
        assert!(matches!(Target::parse("ngin.x"), Ok(Target::Pattern(_))));
        // A number is always a PID: 0 is an error, not a pattern.
        assert!(Target::parse("0").is_err());
        assert!(Target::parse("99999999999").is_err());
        assert!(matches!(Target::parse("x0"), Ok(Target::Pattern(_))));
        assert!(Target::parse("(").is_err());
        assert_eq!(basename(b"/usr/bin/python3"), b"python3");
        assert_eq!(exe_path(b"/tmp/x (deleted)"), (&b"/tmp/x"[..], true));
        let live = ProcRoot::open("/proc").unwrap().host();
        // No mapping of that path: cannot tell.
        assert_eq!(
            exe_on_disk(&live, b"5-6 r-xp 0 fe:00 12 /bin/other\n", b"/bin/x"),
            ExeOnDisk::Unknown
        );
        // Mapped from an inode that is not at the path: replaced.
        let maps = b"5-6 r-xp 0 00:00 1 /proc/self/exe-does-not-matter\n";
        assert_eq!(
            exe_on_disk(&live, maps, b"/proc/self/exe-does-not-matter"),
            ExeOnDisk::Missing
        );
        assert_eq!(
            exe_on_disk(&live, b"5-6 r-xp 0 ff:ff 1 /\n", b"/"),
            ExeOnDisk::Replaced
        );
    }

    /// A tree compares the mapping with its own `.host/` copy of the path,
    /// never with the live host's file.
    #[test]
    fn a_tree_compares_the_executable_with_its_own_host_files() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let bare = ProcRoot::open(t.path()).unwrap().host();
        // /bin/sh exists on the live host; this tree cannot tell.
        let sh = std::fs::metadata("/bin/sh").unwrap();
        let live_maps = format!(
            "5-6 r-xp 0 {:02x}:{:02x} {} /bin/sh\n",
            rustix::fs::major(sh.dev()),
            rustix::fs::minor(sh.dev()),
            sh.ino()
        );
        assert_eq!(
            exe_on_disk(&bare, live_maps.as_bytes(), b"/bin/sh"),
            ExeOnDisk::Unknown
        );
        std::fs::create_dir_all(t.path().join(".host/usr/bin")).unwrap();
        let exe = t.path().join(".host/usr/bin/worker");
        std::fs::write(&exe, b"ELF").unwrap();
        let m = std::fs::metadata(&exe).unwrap();
        let (maj, min) = (rustix::fs::major(m.dev()), rustix::fs::minor(m.dev()));
        let host = ProcRoot::open(t.path()).unwrap().host();
        let maps = |ino: u64| format!("5-6 r-xp 0 {maj:02x}:{min:02x} {ino} /usr/bin/worker\n");
        assert_eq!(
            exe_on_disk(&host, maps(m.ino()).as_bytes(), b"/usr/bin/worker"),
            ExeOnDisk::Same
        );
        assert_eq!(
            exe_on_disk(&host, maps(m.ino() + 1).as_bytes(), b"/usr/bin/worker"),
            ExeOnDisk::Replaced
        );
        // The live host's /bin/sh is not this tree's.
        assert_eq!(
            exe_on_disk(&host, live_maps.as_bytes(), b"/bin/sh"),
            ExeOnDisk::Missing
        );
    }
}
