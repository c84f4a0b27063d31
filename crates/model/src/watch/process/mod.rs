//! The watch of one process: a [`Watcher`] takes a [`Sample`] each
//! interval, compares it with the last, and turns the difference into
//! [`Event`]s. It remembers, per identity (PID and start time), what it
//! decoded: fds are decoded once, when they appear, never all again; a
//! PID reused by another process ends the watch of the old one (its
//! directory handle then fails, and the start time differs).

use super::event::{Call, Event, Exit, FdClass, Metric, Started, Summary};
use super::sample::{self, Sample};
use super::{Options, rates};
use crate::bytes::Bytes;
use crate::clock::Clock;
use crate::fds::{self, Detail, FdEntry, PeerScope};
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::Abi;
use procscope_read::{Failure, Outcome, ProcDir, ProcRoot, Session, Target};
use std::collections::{BTreeMap, VecDeque};

mod files;
mod leaks;

use files::FileTrack;
use leaks::{LeakState, WindowPoint};

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

/// The watch of one process.
#[derive(Debug)]
pub struct Watcher {
    root: ProcRoot,
    session: Session,
    dir: ProcDir,
    /// A live thread's `task/TID`, while the leader is a zombie and other
    /// threads run: fds, memory and positions are read through it.
    live: Option<ProcDir>,
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
    /// A followed file's position moved at least once.
    any_moved: bool,
    /// Intervals in a row the process read while no position moved.
    still_reads: u32,
    /// [`Event::PositionsStill`] was said.
    still_said: bool,
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
        let mut live = None;
        let first = sample::read(&dir, &mut live, at_ms, &clock, &[], &mut buf)?;
        let target = Target {
            pid,
            start: Some(first.start_ticks),
        };
        Ok(Watcher {
            root: root.clone(),
            session: session.clone(),
            dir,
            live,
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
            any_moved: false,
            still_reads: 0,
            still_said: false,
            done: false,
            buf,
        })
    }

    /// The deadline of this watcher's guarded reads from now on.
    pub fn set_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.session = self.session.with_timeout(timeout);
    }

    /// Where the process's fds are read: a live thread's directory when
    /// the leader exited first.
    fn files_dir(&self) -> &ProcDir {
        self.live.as_ref().unwrap_or(&self.dir)
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
        // A zombie leader's command line is empty: a live thread's is not.
        let d = self.files_dir().clone();
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
        let cur = match sample::read(
            &self.dir,
            &mut self.live,
            at_ms,
            &self.clock,
            &pos_of,
            &mut self.buf,
        ) {
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
            // Only those still growing: one that ended (a `LeakEnded` was
            // said) would be listed with a rate it no longer has.
            leaks: self
                .leaks
                .values()
                .filter(|s| s.is_active())
                .filter_map(|s| s.last.clone())
                .collect(),
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
            fds::read(self.files_dir(), &numbers).unwrap_or_default()
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
        let (dir, ids) = (self.live.as_ref().unwrap_or(&self.dir), &cur.ids);
        let mut b = Vec::new();
        let diff = super::diff_fds(
            self.known.iter().map(|(fd, (e, _))| {
                (
                    *fd,
                    e.link.as_ref().map_or(&[][..], |l| l.as_slice()),
                    ident(e),
                )
            }),
            now,
            // Followed files' identities came with the sample; a changed
            // link's is read now (one fdinfo, no lock taken).
            |fd, changed| match ids.get(&fd) {
                Some(id) => Some(*id),
                None if changed => sample::read_pos(dir, fd, &mut b).and_then(|p| p.2),
                None => None,
            },
        );
        for (fd, link) in diff.renamed {
            if let Some((entry, _)) = self.known.get_mut(&fd) {
                let from = entry.link.as_ref().ok().cloned().unwrap_or_default();
                if let Detail::File { path, deleted, .. } = &mut entry.detail {
                    if let procscope_parse::fdlink::FdLink::Path {
                        path: p,
                        deleted_suffix,
                    } = procscope_parse::fdlink::classify(link.as_slice())
                    {
                        *path = Bytes::from(p);
                        *deleted = deleted_suffix;
                    }
                }
                entry.link = Ok(link.clone());
                if let Some(t) = self.files.get_mut(&fd) {
                    t.renamed(&link);
                }
                out.push(Event::FdRenamed { fd, from, to: link });
            }
        }
        let (gone, new) = (diff.gone, diff.new);
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
}

/// The identity of a decoded fd's open file (files only: mount ID and
/// inode).
fn ident(e: &FdEntry) -> Option<super::FileIdent> {
    e.mnt_id.zip(e.file_id.map(|f| f.2))
}

/// An fd known by its link only.
pub(super) fn link_only(fd: i32, link: &Bytes) -> FdEntry {
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
        // A socket past the cap was never looked up in the socket tables:
        // `Socket { socket: None }` would say it was and was not found.
        // Known by its link only, it is `Other` ([`FdClass::Undecoded`]).
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
