//! Progress through regular files: which fds are followed, their sizes
//! (a stat through the fd link, under the deadline, with the leader's
//! `syscall` in the same guarded call), and their positions' rates.

use super::{FILES_MAX, Watcher};
use crate::bytes::Bytes;
use crate::fds::{Detail, FdEntry, FileKind};
use crate::watch::event::{Call, Direction, Event, Progress};
use crate::watch::sample::Sample;
use crate::watch::trend;
use procscope_parse::stat::TaskState;
use procscope_parse::syscall::{Abi, SyscallState};
use procscope_read::{Failure, FdStat, Outcome};
use std::collections::VecDeque;

/// What the guarded call of an interval read: the leader's `syscall`
/// (when asleep), and the stats of files whose position moved.
type Slow = (Option<Outcome<Vec<u8>>>, Vec<(i32, Outcome<FdStat>)>);

/// A regular file followed for progress.
#[derive(Debug, Clone)]
pub(super) struct FileTrack {
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

impl Watcher {
    /// Starts following `e` for progress when it is a regular file (or a
    /// path whose stat did not answer).
    pub(super) fn follow_file(&mut self, e: &FdEntry, at_ms: u64) {
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

    /// What waits on locks the target may hold, in one guarded call: the
    /// leader's system call, and the sizes of the files whose position
    /// moved (a stat through the fd link may wait on a hung filesystem).
    /// Then progress.
    pub(super) fn slow(&mut self, cur: &Sample, out: &mut Vec<Event>) {
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
    pub(super) fn call(
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
    pub(super) fn progress(&mut self, cur: &Sample, out: &mut Vec<Event>) {
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
}
