//! `procscope why --json`.

use super::common::Bytes;
use procscope_model::why;
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `why`.
    pub kind: String,
    /// One answer per target.
    pub processes: Vec<Why>,
}

impl Document {
    /// The document of `answers`.
    pub fn new(answers: &[why::Why]) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: "why".into(),
            processes: answers.iter().map(Why::from).collect(),
        }
    }
}

/// What one target waits for, followed to where it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Why {
    /// The target's PID.
    pub target: i32,
    /// Every process followed, the target first.
    pub processes: Vec<Process>,
    /// The PIDs of a deadlock (the first repeated at the end), or null.
    pub cycle: Option<Vec<i32>>,
    /// The first path from the target to where it ends.
    pub chain: Vec<i32>,
}

/// One process followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its thread groups, those waiting on another process first.
    pub groups: Vec<Group>,
    /// A deadlock between its own threads on mutexes, or null.
    pub thread_cycle: Option<Vec<ThreadRef>>,
}

/// A thread in a deadlock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRef {
    /// Thread ID.
    pub tid: i32,
    /// Its name.
    pub name: Bytes,
}

/// Threads waiting for the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Their thread IDs.
    pub tids: Vec<i32>,
    /// State letter.
    pub state: String,
    /// The letter in words.
    pub meaning: String,
    /// The system call, decoded for people (null: none).
    pub call: Option<String>,
    /// Where the kernel has them wait.
    pub wchan: Option<Bytes>,
    /// Since the most recently run one last ran.
    pub idle_ms: Option<u64>,
    /// What they wait for.
    pub wait: Wait,
    /// The PIDs followed next.
    pub waits_for: Vec<i32>,
    /// The answer, in words.
    pub verdict: String,
    /// Where in the program they wait: the innermost user frame outside
    /// the C library (absent: user stacks not read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<super::stack::UserFrame>,
}

/// A file a memory-lock holder most likely faults on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// Its fd in the process whose memory it is.
    pub fd: i32,
    /// Its path.
    pub path: Bytes,
    /// Its mount point.
    pub mount_point: Option<Bytes>,
    /// Its filesystem type.
    pub fs_type: Option<Bytes>,
}

/// A process holding the other end of what a group waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Who {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// Its fd, when it matters.
    pub fd: Option<i32>,
}

/// What a group waits for (docs/json.md lists the kinds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Wait {
    /// Running.
    Running,
    /// Stopped by a signal.
    Stopped,
    /// Stopped by a tracer.
    Traced,
    /// Exited, not reaped.
    Zombie,
    /// A pipe.
    Pipe {
        /// The fd.
        fd: i32,
        /// The pipe's inode.
        inode: u64,
        /// `read` or `write`.
        end: String,
        /// Holders of the other end.
        other_end: Vec<Who>,
    },
    /// A socket.
    Socket {
        /// The fd.
        fd: i32,
        /// What it is.
        what: String,
        /// Holders of the other end.
        other_end: Vec<Who>,
    },
    /// A file lock.
    Lock {
        /// The fd.
        fd: i32,
        /// The file.
        path: Bytes,
        /// Holders of the lock.
        holders: Vec<Who>,
    },
    /// A file on a filesystem that does not answer.
    File {
        /// The fd.
        fd: i32,
        /// The file.
        path: Bytes,
        /// Its mount point.
        mount_point: Option<Bytes>,
        /// Its filesystem type.
        fs_type: Option<Bytes>,
        /// The processes holding `/dev/fuse`.
        daemons: Vec<Who>,
    },
    /// Its children.
    Children {
        /// Them.
        children: Vec<Who>,
    },
    /// A futex.
    Futex {
        /// Its address.
        addr: u64,
    },
    /// A pthread mutex held by another thread of the process.
    Mutex {
        /// Its address.
        addr: u64,
        /// The owner's TID.
        owner: i32,
        /// The owner's name.
        owner_name: Bytes,
    },
    /// Holding a process's memory-map lock while faulting in a page.
    MemoryLockHolder {
        /// Whose memory.
        owner: i32,
        /// The address faulted on, when known.
        addr: Option<u64>,
        /// The files it most likely faults on.
        files: Vec<FaultFile>,
        /// FUSE daemons.
        daemons: Vec<Who>,
    },
    /// Waiting for the memory-map lock these threads hold.
    MemoryLockWaiter {
        /// The holders.
        holders: Vec<ThreadRef>,
    },
    /// Events (epoll, poll, select).
    Events,
    /// A sleep.
    Sleep {
        /// When it wakes.
        wakes_in_ms: Option<i64>,
    },
    /// Incoming connections.
    Accept,
    /// Something in the kernel.
    Kernel {
        /// The cause, from the kernel frames.
        cause: String,
    },
    /// Something else.
    Other,
    /// Not known.
    Unknown {
        /// Why not.
        reason: String,
    },
}

fn who(v: &[why::Who]) -> Vec<Who> {
    v.iter()
        .map(|w| Who {
            pid: w.pid,
            comm: Bytes::from(&w.comm),
            fd: w.fd,
        })
        .collect()
}

impl From<&why::Wait> for Wait {
    fn from(w: &why::Wait) -> Wait {
        use why::Wait as M;
        match w {
            M::Running => Wait::Running,
            M::Stopped => Wait::Stopped,
            M::Traced => Wait::Traced,
            M::Zombie => Wait::Zombie,
            M::Pipe {
                fd,
                inode,
                end,
                other_end,
            } => Wait::Pipe {
                fd: *fd,
                inode: *inode,
                end: super::common::name(end),
                other_end: who(other_end),
            },
            M::Socket {
                fd,
                entry,
                other_end,
            } => Wait::Socket {
                fd: *fd,
                what: crate::fds::brief(entry),
                other_end: who(other_end),
            },
            M::Lock { fd, path, holders } => Wait::Lock {
                fd: *fd,
                path: Bytes::from(path),
                holders: who(holders),
            },
            M::File {
                fd,
                path,
                mount_point,
                fs_type,
                daemons,
            } => Wait::File {
                fd: *fd,
                path: Bytes::from(path),
                mount_point: mount_point.as_ref().map(Bytes::from),
                fs_type: fs_type.as_ref().map(Bytes::from),
                daemons: who(daemons),
            },
            M::Children { children } => Wait::Children {
                children: who(children),
            },
            M::Futex { addr } => Wait::Futex { addr: *addr },
            M::Mutex {
                addr,
                owner,
                owner_name,
            } => Wait::Mutex {
                addr: *addr,
                owner: *owner,
                owner_name: Bytes::from(owner_name),
            },
            M::MemoryLockHolder {
                owner,
                addr,
                files,
                daemons,
            } => Wait::MemoryLockHolder {
                owner: *owner,
                addr: *addr,
                files: files
                    .iter()
                    .map(|f| FaultFile {
                        fd: f.fd,
                        path: Bytes::from(&f.path),
                        mount_point: f.mount_point.as_ref().map(Bytes::from),
                        fs_type: f.fs_type.as_ref().map(Bytes::from),
                    })
                    .collect(),
                daemons: who(daemons),
            },
            M::MemoryLockWaiter { holders } => Wait::MemoryLockWaiter {
                holders: holders
                    .iter()
                    .map(|t| ThreadRef {
                        tid: t.tid,
                        name: Bytes::from(&t.name),
                    })
                    .collect(),
            },
            M::Events => Wait::Events,
            M::Sleep { wakes_in_ms } => Wait::Sleep {
                wakes_in_ms: *wakes_in_ms,
            },
            M::Accept => Wait::Accept,
            M::Kernel { cause } => Wait::Kernel {
                cause: crate::hung::cause(*cause).to_string(),
            },
            M::Other => Wait::Other,
            M::Unknown { reason } => Wait::Unknown {
                reason: reason.to_string(),
            },
        }
    }
}

impl From<&why::Why> for Why {
    fn from(w: &why::Why) -> Why {
        Why {
            target: w.target,
            processes: w
                .processes
                .iter()
                .map(|p| Process {
                    pid: p.pid,
                    comm: Bytes::from(&p.comm),
                    groups: p
                        .groups
                        .iter()
                        .map(|g| Group {
                            tids: g.tids.clone(),
                            state: g.state.to_string(),
                            meaning: g.meaning.into(),
                            call: g.call.as_ref().map(crate::why::call),
                            wchan: g.wchan.as_ref().map(Bytes::from),
                            idle_ms: g.idle_ms,
                            wait: Wait::from(&g.wait),
                            waits_for: g.waits_for.clone(),
                            verdict: crate::why::verdict(p.pid, &g.wait),
                            place: g.place.as_ref().map(crate::ustack::wire_frame),
                        })
                        .collect(),
                    thread_cycle: p.thread_cycle.as_ref().map(|c| {
                        c.iter()
                            .map(|t| ThreadRef {
                                tid: t.tid,
                                name: Bytes::from(&t.name),
                            })
                            .collect()
                    }),
                })
                .collect(),
            cycle: w.cycle.clone(),
            chain: w.chain.clone(),
        }
    }
}
