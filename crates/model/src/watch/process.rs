//! The watch of one process: a [`Watcher`] takes a [`Sample`] each
//! interval, compares it with the last, and turns the difference into
//! [`Event`]s. It remembers, per identity (PID and start time), what it
//! decoded: fds are decoded once, when they appear, never all again; a
//! PID reused by another process ends the watch of the old one (its
//! directory handle then fails, and the start time differs).

use super::event::{
    Call, Direction, Event, Exit, FdClass, Leak, Metric, Progress, Started, Summary,
};
use super::sample::{self, Sample};
use super::trend::{self, Point};
use super::{Options, rates};
use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::fds::{self, Detail, FdEntry, FileKind, PeerScope};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::{Failure, FdStat, Outcome, ProcDir, ProcRoot, Session, Target};
use std::collections::{BTreeMap, VecDeque};

/// At most this many new fds are decoded per interval (the rest are
/// reported by their links): a process that opens thousands at once does
/// not make one interval read thousands of fdinfo files and sockets.
pub const DECODE_MAX: usize = 256;
/// The holders of new pipes' and sockets' other ends are looked for only
/// when at most this many appeared in the interval.
pub const PEERS_MAX: usize = 16;
/// At most this many regular files are followed for progress.
pub const FILES_MAX: usize = 256;
/// A leak still going on is named again this often.
pub const REPORT_EVERY_MS: u64 = 10_000;
/// The fd limit is read again this often (`prlimit` can change it).
const LIMIT_EVERY_MS: u64 = 10_000;

/// What the guarded call of an interval read: the leader's `syscall`
/// (when asleep), and the stats of files whose position moved.
type Slow = (Option<Outcome<Vec<u8>>>, Vec<(i32, Outcome<FdStat>)>);

/// A regular file followed for progress.
#[derive(Debug, Clone)]
struct FileTrack {
    path: Bytes,
    flags: u64,
    size: Result<u64, Failure>,
    /// The size at the previous stat (a file being written grows).
    prev_size: Option<u64>,
    /// `(at_ms, pos)` over the window.
    hist: VecDeque<(u64, u64)>,
    /// Samples in a row without a move, after it moved.
    still: u32,
    moving: bool,
}

/// A leak's reporting state.
#[derive(Debug, Clone, Default)]
struct LeakState {
    active: bool,
    reported_at: u64,
    last: Option<Leak>,
}

/// What the leak estimator keeps of each sample.
#[derive(Debug, Clone)]
struct WindowPoint {
    at_ms: u64,
    fds: Option<u64>,
    rss: u64,
    threads: u64,
    children: Option<u64>,
    classes: BTreeMap<FdClass, u64>,
}

/// The watch of one process.
#[derive(Debug)]
pub struct Watcher {
    root: ProcRoot,
    session: Session,
    dir: ProcDir,
    target: Target,
    clock: Clock,
    opts: Options,
    abi: Option<Abi>,
    first: Sample,
    prev: Sample,
    known: BTreeMap<i32, (FdEntry, FdClass)>,
    files: BTreeMap<i32, FileTrack>,
    window: VecDeque<WindowPoint>,
    leaks: BTreeMap<Metric, LeakState>,
    /// The state seen last, and the one reported.
    state_seen: TaskState,
    state_said: TaskState,
    call_seen: Option<Call>,
    call_said: Option<Call>,
    fd_limit: Option<u64>,
    limit_read_at: u64,
    samples: u64,
    opened: u64,
    closed: u64,
    rss_max: u64,
    fds_max: u64,
    timeouts: u64,
    /// The slow reads are timing out now (said once, until they answer).
    timing_out: bool,
    said_unreadable: Vec<&'static str>,
    done: bool,
    buf: Vec<u8>,
}

impl Watcher {
    /// Opens process `pid` and takes its first sample (no events yet: see
    /// [`Watcher::begin`]). Fails when it is not there.
    pub fn open(
        root: &ProcRoot,
        session: &Session,
        clock: Clock,
        pid: i32,
        at_ms: u64,
        opts: Options,
    ) -> Outcome<Watcher> {
        let dir = root.process(pid)?;
        let mut buf = Vec::with_capacity(4096);
        let first = sample::read(&dir, at_ms, &clock, &[], &mut buf)?;
        let target = Target {
            pid,
            start: Some(first.start_ticks),
        };
        Ok(Watcher {
            root: root.clone(),
            session: session.clone(),
            dir,
            target,
            clock,
            opts,
            abi: None,
            state_seen: first.state,
            state_said: first.state,
            prev: first.clone(),
            rss_max: first.rss_bytes,
            fds_max: first.fd_count().unwrap_or(0),
            first,
            known: BTreeMap::new(),
            files: BTreeMap::new(),
            window: VecDeque::new(),
            leaks: BTreeMap::new(),
            call_seen: None,
            call_said: None,
            fd_limit: None,
            limit_read_at: at_ms,
            samples: 1,
            opened: 0,
            closed: 0,
            timeouts: 0,
            timing_out: false,
            said_unreadable: Vec::new(),
            done: false,
            buf,
        })
    }

    /// The process's identity: PID and start time.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The watch of this process is over (it exited).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The first events: what the process is (its command line, read
    /// under the deadline), its fds by class, its limits. Every fd open
    /// now is decoded once here, so later intervals decode only new ones.
    pub fn begin(&mut self, appeared: bool) -> Vec<Event> {
        let mut out = Vec::new();
        let d = self.dir.clone();
        let ident = self.session.once(Some(self.target), move || {
            let mut b = Vec::new();
            let cmd = d
                .read(c"cmdline", &mut b, 64 * 1024)
                .map(|_| Bytes(std::mem::take(&mut b)));
            let mut h = Vec::new();
            let abi = d
                .read(c"exe", &mut h, 64)
                .ok()
                .and_then(|_| Abi::from_elf_header(&h));
            Ok((cmd, abi))
        });
        let cmdline = match ident {
            Ok((c, abi)) => {
                self.abi = abi;
                c
            }
            Err(f) => Err(f),
        };
        let cmd_failure = cmdline.as_ref().err().cloned();
        self.fd_limit = self.read_limit();
        let fds = match &self.first.fds {
            // A zombie has no files left: none, not "gone".
            Err(Failure::Gone) if self.first.exited() => Ok(Vec::new()),
            Ok(m) => {
                let all: Vec<(i32, Bytes)> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
                let at = self.first.at_ms;
                // No peers for what was open before: one fds-style read.
                for (e, class, _) in self.decode(&all, false) {
                    self.follow_file(&e, at);
                    self.known.insert(e.fd, (e, class));
                }
                Ok(self.class_counts().into_iter().collect())
            }
            Err(f) => Err(f.clone()),
        };
        let s = &self.first;
        out.push(Event::Started(Box::new(Started {
            comm: s.comm.clone(),
            cmdline,
            start_unix: self.clock.start_unix(s.start_ticks),
            state: s.state,
            threads: s.threads,
            rss_bytes: s.rss_bytes,
            fds,
            fd_limit: self.fd_limit,
            appeared,
        })));
        if let Some(f @ (Failure::TimedOut { .. } | Failure::Skipped { .. })) = cmd_failure {
            self.timeouts += 1;
            out.push(Event::TimedOut {
                what: vec!["cmdline"],
                failure: f,
            });
        }
        if let Err(f) = &self.first.fds {
            if !matches!(f, Failure::Gone) {
                self.said_unreadable.push("fds");
                out.push(Event::Unreadable {
                    what: "fds",
                    failure: f.clone(),
                });
            }
        }
        self.push_window(self.first.at_ms);
        if self.first.exited() {
            out.extend(self.end(Some(Exit {
                wait_status: self.first.exit_code,
            })));
        }
        out
    }

    /// One interval: a new sample compared with the last.
    pub fn step(&mut self, at_ms: u64) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        let pos_of: Vec<i32> = self.files.keys().copied().take(FILES_MAX).collect();
        let cur = match sample::read(&self.dir, at_ms, &self.clock, &pos_of, &mut self.buf) {
            Ok(s) if s.start_ticks == self.first.start_ticks => s,
            // Gone (reaped), or the handle now answers for another
            // process: its exit status cannot be known any more.
            _ => return self.end(Some(Exit { wait_status: None })),
        };
        self.samples += 1;
        if cur.exited() {
            let exit = Exit {
                wait_status: cur.exit_code,
            };
            self.prev = Sample {
                at_ms,
                state: cur.state,
                ..self.prev.clone()
            };
            return self.end(Some(exit));
        }
        let mut out = Vec::new();
        self.fd_changes(&cur, &mut out);
        self.changes(&cur, &mut out);
        self.slow(&cur, &mut out);
        out.push(Event::Rates(rates(&self.prev, &cur, &self.clock)));
        self.rss_max = self.rss_max.max(cur.rss_bytes);
        self.fds_max = self.fds_max.max(cur.fd_count().unwrap_or(0));
        if at_ms.saturating_sub(self.limit_read_at) >= LIMIT_EVERY_MS {
            self.fd_limit = self.read_limit().or(self.fd_limit);
            self.limit_read_at = at_ms;
        }
        self.prev = cur;
        self.push_window(at_ms);
        self.leak_events(at_ms, &mut out);
        out
    }

    /// Ends the watch now (interrupted, or its time is up): the summary.
    pub fn finish(&mut self) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.end(None)
    }

    fn end(&mut self, exit: Option<Exit>) -> Vec<Event> {
        self.done = true;
        let mut out = Vec::new();
        if let Some(e) = exit {
            out.push(Event::Exited(e));
        }
        let (f, l) = (&self.first, &self.prev);
        let io = match (&f.io, &l.io) {
            (Ok(a), Ok(b)) => Some(crate::collect::IoCounters {
                rchar: b.rchar.saturating_sub(a.rchar),
                wchar: b.wchar.saturating_sub(a.wchar),
                read_bytes: b.read_bytes.saturating_sub(a.read_bytes),
                write_bytes: b.write_bytes.saturating_sub(a.write_bytes),
                syscr: b.syscr.saturating_sub(a.syscr),
                syscw: b.syscw.saturating_sub(a.syscw),
            }),
            _ => None,
        };
        out.push(Event::Summary(Box::new(Summary {
            watched_ms: l.at_ms.saturating_sub(f.at_ms),
            samples: self.samples,
            cpu_ms: self
                .clock
                .ticks_to_ms(l.cpu_ticks.saturating_sub(f.cpu_ticks)),
            rss: (f.rss_bytes, l.rss_bytes, self.rss_max),
            fds: f
                .fd_count()
                .zip(l.fd_count())
                .map(|(a, b)| (a, b, self.fds_max.max(a).max(b))),
            threads: (f.threads, l.threads),
            io,
            ctxsw: f
                .ctxsw
                .zip(l.ctxsw)
                .map(|(a, b)| (b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
            opened: self.opened,
            closed: self.closed,
            leaks: self.leaks.values().filter_map(|s| s.last.clone()).collect(),
            timeouts: self.timeouts,
            exit,
        })));
        out
    }

    /// The soft limit on open files.
    fn read_limit(&mut self) -> Option<u64> {
        self.dir
            .read(c"limits", &mut self.buf, procscope_read::cap::RECORD)
            .ok()?;
        let l = procscope_parse::limits::Limits::parse(&self.buf).ok()?;
        match l.get(procscope_parse::limits::Resource::Nofile)?.soft {
            procscope_parse::limits::LimitValue::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Decodes `new` fds as `fds` does (at most [`DECODE_MAX`]; the rest by
    /// their links), with their files' stats and, when `peers` and few
    /// enough, the holders of their other ends.
    fn decode(&mut self, new: &[(i32, Bytes)], peers: bool) -> Vec<(FdEntry, FdClass, bool)> {
        let numbers: Vec<i32> = new.iter().take(DECODE_MAX).map(|(n, _)| *n).collect();
        let mut entries = if numbers.is_empty() {
            Vec::new()
        } else {
            fds::read(&self.dir, &numbers).unwrap_or_default()
        };
        let ends = entries
            .iter()
            .filter(|e| {
                matches!(
                    e.detail,
                    Detail::Socket { .. } | Detail::Pipe { .. } | Detail::Fifo { .. }
                )
            })
            .count();
        let scope = if peers && ends > 0 && ends <= PEERS_MAX {
            PeerScope::Near
        } else {
            PeerScope::None
        };
        let searched = if entries.is_empty() || !self.root.is_live() {
            false
        } else {
            fds::resolve_peers_with(
                &self.root,
                self.target.pid,
                &mut entries,
                &self.session,
                scope,
                None,
            )
            .is_some()
        };
        // Those closed meanwhile, and those past the cap: by their links.
        for (n, link) in new {
            if !entries.iter().any(|e| e.fd == *n) {
                entries.push(link_only(*n, link));
            }
        }
        entries.sort_by_key(|e| e.fd);
        entries
            .into_iter()
            .map(|e| {
                let c = FdClass::of_entry(&e);
                let s = searched
                    && matches!(
                        e.detail,
                        Detail::Socket { .. } | Detail::Pipe { .. } | Detail::Fifo { .. }
                    );
                (e, c, s)
            })
            .collect()
    }

    /// Starts following `e` for progress when it is a regular file (or a
    /// path whose stat did not answer).
    fn follow_file(&mut self, e: &FdEntry, at_ms: u64) {
        if self.files.len() >= FILES_MAX {
            return;
        }
        let Detail::File {
            path, kind, size, ..
        } = &e.detail
        else {
            return;
        };
        let unknown_path = kind.is_none()
            && ![&b"/dev/"[..], b"/proc/", b"/sys/"]
                .iter()
                .any(|p| path.as_slice().starts_with(p));
        if *kind != Some(FileKind::Regular) && !unknown_path {
            return;
        }
        let size = match size {
            Some(s) => Ok(*s),
            None => Err(Failure::Absent {
                what: "file size not read yet".into(),
            }),
        };
        let mut hist = VecDeque::new();
        if let Some(p) = e.pos {
            hist.push_back((at_ms, p));
        }
        self.files.insert(
            e.fd,
            FileTrack {
                path: path.clone(),
                flags: e.flags.unwrap_or(0),
                prev_size: size.as_ref().ok().copied(),
                size,
                hist,
                still: 0,
                moving: false,
            },
        );
    }

    /// Opened and closed fds (a number whose link changed is both).
    fn fd_changes(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        let now = match &cur.fds {
            Ok(m) => m,
            Err(f) => {
                if !matches!(f, Failure::Gone) && !self.said_unreadable.contains(&"fds") {
                    self.said_unreadable.push("fds");
                    out.push(Event::Unreadable {
                        what: "fds",
                        failure: f.clone(),
                    });
                }
                return;
            }
        };
        let (gone, new) = super::diff_fds(
            self.known
                .iter()
                .map(|(fd, (e, _))| (*fd, e.link.as_ref().map_or(&[][..], |l| l.as_slice()))),
            now,
        );
        for fd in gone {
            if let Some((entry, class)) = self.known.remove(&fd) {
                self.files.remove(&fd);
                self.closed += 1;
                out.push(Event::FdClosed {
                    entry: Box::new(entry),
                    class,
                });
            }
        }
        if new.is_empty() {
            return;
        }
        for (e, class, searched) in self.decode(&new, true) {
            self.opened += 1;
            self.follow_file(&e, cur.at_ms);
            self.known.insert(e.fd, (e.clone(), class.clone()));
            out.push(Event::FdOpened {
                entry: Box::new(e),
                class,
                searched,
            });
        }
    }

    /// State (once seen twice in a row), thread count and name changes.
    fn changes(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        if cur.state == self.state_seen && cur.state != self.state_said {
            out.push(Event::State {
                from: self.state_said,
                to: cur.state,
            });
            self.state_said = cur.state;
        }
        self.state_seen = cur.state;
        if cur.threads != self.prev.threads {
            out.push(Event::Threads {
                from: self.prev.threads,
                to: cur.threads,
            });
        }
        if cur.comm != self.prev.comm {
            out.push(Event::Renamed {
                from: self.prev.comm.clone(),
                to: cur.comm.clone(),
            });
        }
    }

    /// What waits on locks the target may hold, in one guarded call: the
    /// leader's system call, and the sizes of the files whose position
    /// moved (a stat through the fd link may wait on a hung filesystem).
    /// Then progress.
    fn slow(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        let asleep = matches!(cur.state, TaskState::Sleeping | TaskState::DiskSleep);
        let moved: Vec<i32> = self
            .files
            .iter()
            .filter(|(fd, t)| {
                let p = cur.pos.get(fd).map(|p| p.0);
                t.size.is_err() || (p.is_some() && p != t.hist.back().map(|h| h.1))
            })
            .map(|(fd, _)| *fd)
            .take(64)
            .collect();
        let mut what = Vec::new();
        if asleep {
            what.push("syscall");
        }
        if !moved.is_empty() {
            what.push("file sizes");
        }
        let got: Outcome<Slow> = if what.is_empty() || !self.dir.is_live() {
            Ok((None, Vec::new()))
        } else {
            let d = self.dir.clone();
            let want = moved.clone();
            let leader = self.target.pid;
            self.session.once(Some(self.target), move || {
                let sc = asleep.then(|| {
                    let mut b = Vec::new();
                    let name = std::ffi::CString::new(format!("task/{leader}/syscall"))
                        .map_err(|_| Failure::Gone)?;
                    d.read(&name, &mut b, 512).map(|_| b)
                });
                let st = want.into_iter().map(|fd| (fd, d.fd_stat(fd))).collect();
                Ok((sc, st))
            })
        };
        let (sc, stats) = match got {
            Ok(v) => {
                self.timing_out = false;
                v
            }
            Err(f) => {
                self.timeouts += 1;
                if !self.timing_out {
                    self.timing_out = true;
                    out.push(Event::TimedOut {
                        what: what.clone(),
                        failure: f.clone(),
                    });
                }
                let st = moved.iter().map(|fd| (*fd, Err(f.clone()))).collect();
                (None, st)
            }
        };
        self.call(cur, asleep, sc, out);
        for (fd, st) in stats {
            if let Some(t) = self.files.get_mut(&fd) {
                match st {
                    Ok(s) if s.regular => {
                        t.prev_size = t.size.as_ref().ok().copied();
                        t.size = Ok(s.size);
                    }
                    // Not a regular file after all (a device, a FIFO).
                    Ok(_) => {
                        self.files.remove(&fd);
                    }
                    Err(f) => t.size = Err(f),
                }
            }
        }
        self.progress(cur, out);
    }

    /// The blocking call, reported once seen in two samples in a row.
    fn call(
        &mut self,
        cur: &Sample,
        asleep: bool,
        sc: Option<Outcome<Vec<u8>>>,
        out: &mut Vec<Event>,
    ) {
        if !asleep {
            self.call_seen = None;
            return;
        }
        let nr = sc
            .and_then(|r| r.ok())
            .and_then(|b| SyscallState::parse(&b).ok())
            .and_then(|s| match s {
                SyscallState::InSyscall { nr, .. } => Some(nr),
                _ => None,
            });
        let call = Call {
            nr,
            name: nr.and_then(|n| self.abi.unwrap_or(Abi::X86_64).name(n)),
            wchan: cur.wchan.clone(),
        };
        if call.nr.is_none() && call.wchan.is_none() {
            return;
        }
        if self.call_seen.as_ref() == Some(&call) && self.call_said.as_ref() != Some(&call) {
            self.call_said = Some(call.clone());
            out.push(Event::Blocked(call.clone()));
        }
        self.call_seen = Some(call);
    }

    /// Position changes of followed files: rate, percent and ETA.
    fn progress(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        let window = self.opts.window_ms;
        let io_moved = match (&self.prev.io, &cur.io) {
            (Ok(a), Ok(b)) => (b.rchar > a.rchar, b.wchar > a.wchar),
            _ => (true, true),
        };
        for (fd, t) in self.files.iter_mut() {
            let Some(&(pos, flags)) = cur.pos.get(fd) else {
                continue;
            };
            t.flags = flags;
            let last = t.hist.back().map(|h| h.1);
            if last.is_some_and(|l| pos < l) {
                // A seek back (or a rewind): a new pass.
                t.hist.clear();
            }
            t.hist.push_back((cur.at_ms, pos));
            while t.hist.len() > 2
                && t.hist
                    .front()
                    .is_some_and(|h| cur.at_ms.saturating_sub(h.0) > window)
            {
                t.hist.pop_front();
            }
            let write_only = flags & 0o3 == 0o1;
            let grew = matches!((&t.size, t.prev_size), (Ok(s), Some(p)) if *s > p);
            let direction = if write_only || (grew && pos >= t.prev_size.unwrap_or(0)) {
                Direction::Write
            } else {
                Direction::Read
            };
            // An open file shared with another process (a shell's stdout)
            // moves when the other one writes: a move counts only when this
            // process read (or wrote) anything meanwhile.
            let own = match direction {
                Direction::Read => io_moved.0,
                Direction::Write => io_moved.1,
            };
            let moved = own && last.is_some_and(|l| l != pos);
            let hist: Vec<(u64, u64)> = t.hist.iter().copied().collect();
            let per_sec = trend::position_rate(&hist, 0);
            let (percent, eta_secs) = match (direction, &t.size) {
                (Direction::Read, Ok(size)) if *size > 0 => (
                    Some((pos as f64 / *size as f64 * 100.0).min(100.0)),
                    per_sec.and_then(|r| trend::eta_secs(pos as f64, *size as f64, r)),
                ),
                _ => (None, None),
            };
            let p = Progress {
                fd: *fd,
                path: t.path.clone(),
                direction,
                pos,
                size: t.size.clone(),
                per_sec,
                percent,
                eta_secs,
            };
            if moved {
                t.moving = true;
                t.still = 0;
                out.push(Event::Progress(p));
            } else if t.moving {
                t.still += 1;
                if t.still >= 2 {
                    t.moving = false;
                    out.push(Event::Stalled(Progress {
                        per_sec: None,
                        eta_secs: None,
                        ..p
                    }));
                }
            }
        }
    }

    fn class_counts(&self) -> BTreeMap<FdClass, u64> {
        let mut m: BTreeMap<FdClass, u64> = BTreeMap::new();
        for (_, c) in self.known.values() {
            *m.entry(c.clone()).or_default() += 1;
        }
        m
    }

    fn push_window(&mut self, at_ms: u64) {
        let s = &self.prev;
        let p = WindowPoint {
            at_ms,
            fds: s.fd_count(),
            rss: s.rss_bytes,
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
    fn leak_events(&mut self, at_ms: u64, out: &mut Vec<Event>) {
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

    fn describe_leak(&self, metric: Metric, t: &trend::Trend) -> Leak {
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

/// An fd known by its link only.
fn link_only(fd: i32, link: &Bytes) -> FdEntry {
    let detail = match procscope_parse::fdlink::classify(link.as_slice()) {
        procscope_parse::fdlink::FdLink::Path {
            path,
            deleted_suffix,
        } => Detail::File {
            path: Bytes::from(path),
            deleted: deleted_suffix,
            unlinked: deleted_suffix,
            nlink: None,
            size: None,
            kind: None,
            mount_point: None,
            fs_type: None,
        },
        procscope_parse::fdlink::FdLink::Pipe(inode) => Detail::Pipe { inode },
        procscope_parse::fdlink::FdLink::Socket(inode) => Detail::Socket {
            inode,
            socket: None,
        },
        _ => Detail::Other,
    };
    FdEntry {
        fd,
        link: Ok(link.clone()),
        pos: None,
        flags: None,
        mnt_id: None,
        locks: Vec::new(),
        detail,
        peers: Vec::new(),
        other_end: Vec::new(),
        file_id: None,
        file_locks: Vec::new(),
    }
}
