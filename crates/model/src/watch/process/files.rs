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

/// Intervals in a row the process must read with no position moving
/// before [`Event::PositionsStill`] is said.
const STILL_INTERVALS: u32 = 3;

/// Which way an fd's position moved, and whether this process moved it.
/// `io_moved` is whether the process's read and write counters rose over
/// the interval (both true when unreadable). A read-only fd is never
/// called a write, nor a write-only one a read; an fd open for both is a
/// write when the file grew to its position (appending) or the process
/// only wrote, a read when it only read, else [`Direction::Moving`]. An
/// open file shared with another process (a shell's stdout) moves when
/// the other one uses it: a move is this process's only when its counter
/// for that direction rose.
fn direction(
    flags: u64,
    grew: bool,
    pos: u64,
    prev_size: Option<u64>,
    io_moved: (bool, bool),
) -> (Direction, bool) {
    let (read, wrote) = io_moved;
    match flags & 0o3 {
        0o0 => (Direction::Read, read),
        0o1 => (Direction::Write, wrote),
        _ if wrote && grew && pos >= prev_size.unwrap_or(0) => (Direction::Write, true),
        _ => match (read, wrote) {
            (true, false) => (Direction::Read, true),
            (false, true) => (Direction::Write, true),
            (r, w) => (Direction::Moving, r || w),
        },
    }
}

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

impl FileTrack {
    /// The open file now has this link (renamed, or deleted).
    pub(super) fn renamed(&mut self, link: &Bytes) {
        if let procscope_parse::fdlink::FdLink::Path { path, .. } =
            procscope_parse::fdlink::classify(link.as_slice())
        {
            self.path = Bytes::from(path);
        }
    }
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
        // A kernel thread's `syscall` says `0 0x0…`, which would read as
        // blocked in read(): its wchan alone says where it sleeps.
        let want_syscall = asleep && !cur.kernel;
        let mut what = Vec::new();
        if want_syscall {
            what.push("syscall");
        }
        if !moved.is_empty() {
            what.push("file sizes");
        }
        let got: Outcome<Slow> = if what.is_empty() || !self.dir.is_live() {
            Ok((None, Vec::new()))
        } else {
            let d = self.dir.clone();
            // A live thread's when the leader exited first.
            let fd_dir = self.live.clone().unwrap_or_else(|| self.dir.clone());
            let want = moved.clone();
            let leader = self.target.pid;
            self.session.once(Some(self.target), move || {
                let sc = want_syscall.then(|| {
                    let mut b = Vec::new();
                    let name = std::ffi::CString::new(format!("task/{leader}/syscall"))
                        .map_err(|_| Failure::Gone)?;
                    d.read(&name, &mut b, 512).map(|_| b)
                });
                let st = want
                    .into_iter()
                    .map(|fd| (fd, fd_dir.fd_stat(fd)))
                    .collect();
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

    /// Position changes of followed files: rate, percent and ETA; and,
    /// once, that the process reads while no position moves.
    pub(super) fn progress(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        self.positions(cur, out);
        self.positions_still(cur, out);
    }

    /// Says once that positions do not move: the process read (its
    /// `rchar` or `read_bytes` rose, or it took major faults: `mmap`
    /// reads) in [`STILL_INTERVALS`] intervals in a row while regular
    /// files open for reading were followed and none of their positions
    /// ever moved.
    fn positions_still(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        if self.still_said || self.any_moved {
            return;
        }
        let readable = self.files.values().filter(|t| t.flags & 0o3 != 0o1).count() as u64;
        let read = match (&self.prev.io, &cur.io) {
            (Ok(a), Ok(b)) => b.rchar > a.rchar || b.read_bytes > a.read_bytes,
            _ => false,
        } || cur.faults.1 > self.prev.faults.1;
        if readable == 0 || !read {
            self.still_reads = 0;
            return;
        }
        self.still_reads += 1;
        if self.still_reads >= STILL_INTERVALS {
            self.still_said = true;
            out.push(Event::PositionsStill { files: readable });
        }
    }

    /// Position changes of followed files.
    fn positions(&mut self, cur: &Sample, out: &mut Vec<Event>) {
        let mut any_moved = false;
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
            let grew = matches!((&t.size, t.prev_size), (Ok(s), Some(p)) if *s > p);
            let (direction, own) = direction(flags, grew, pos, t.prev_size, io_moved);
            let moved = own && last.is_some_and(|l| l != pos);
            any_moved |= last.is_some_and(|l| l != pos);
            let hist: Vec<(u64, u64)> = t.hist.iter().copied().collect();
            let per_sec = trend::position_rate(&hist, 0);
            // A file that grows has no end to be a percent of; one written
            // in place (or read) has.
            let bounded = !grew && (direction != Direction::Write || flags & 0o3 == 0o2);
            let (percent, eta_secs) = match &t.size {
                Ok(size) if bounded && *size > 0 => (
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
        self.any_moved |= any_moved;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RD: u64 = 0o0;
    const WR: u64 = 0o1;
    const RDWR: u64 = 0o2;

    /// A read-only fd on a file that grows under it (a log followed with
    /// `tail -f`) reads; a write-only fd writes, whatever the counters.
    #[test]
    fn watch_direction_follows_the_access_mode() {
        assert_eq!(
            direction(RD, true, 200, Some(100), (true, true)),
            (Direction::Read, true)
        );
        assert_eq!(
            direction(RD | 0o2000, true, 200, Some(100), (false, true)),
            (Direction::Read, false)
        );
        assert_eq!(
            direction(WR, false, 10, Some(100), (true, false)),
            (Direction::Write, false)
        );
        assert_eq!(
            direction(WR, false, 10, Some(100), (true, true)),
            (Direction::Write, true)
        );
    }

    /// An fd open for both, written in place (the file does not grow):
    /// a write when only the write counter moved, a read when only the
    /// read one did, "moving" when both did; neither: another process
    /// moved it.
    #[test]
    fn watch_direction_of_a_file_written_in_place() {
        assert_eq!(
            direction(RDWR, false, 50, Some(100), (false, true)),
            (Direction::Write, true)
        );
        assert_eq!(
            direction(RDWR, false, 50, Some(100), (true, false)),
            (Direction::Read, true)
        );
        assert_eq!(
            direction(RDWR, false, 50, Some(100), (true, true)),
            (Direction::Moving, true)
        );
        assert_eq!(
            direction(RDWR, false, 50, Some(100), (false, false)),
            (Direction::Moving, false)
        );
        // Appending through an fd open for both.
        assert_eq!(
            direction(RDWR, true, 200, Some(100), (true, true)),
            (Direction::Write, true)
        );
    }
}
