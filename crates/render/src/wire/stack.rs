//! `procscope stack --json`.

use super::common::{Bytes, ErrorObject, OrError};
use procscope_model::callmem;
use procscope_model::threads::FrameInfo;
use serde::{Deserialize, Serialize};

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Format version.
    pub procscope: u32,
    /// `stack`.
    pub kind: String,
    /// One per process.
    pub processes: Vec<Process>,
}

impl Document {
    /// The document of `processes`.
    pub fn new(processes: Vec<Process>) -> Document {
        Document {
            procscope: crate::json::VERSION,
            kind: "stack".into(),
            processes,
        }
    }
}

/// One process's threads, grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Process ID.
    pub pid: i32,
    /// Its name.
    pub comm: Bytes,
    /// The system call ABI (`x86_64`, `i386`, …).
    pub abi: OrError<String>,
    /// How many threads.
    pub threads: usize,
    /// Threads with the same state, system call, wchan and frames, largest
    /// first (`--no-group`: one per thread).
    pub groups: Vec<Group>,
}

/// Threads that are doing the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// How many.
    pub count: usize,
    /// Their thread IDs.
    pub tids: Vec<i32>,
    /// Their names.
    pub names: Vec<Bytes>,
    /// State letter.
    pub state: OrError<String>,
    /// The letter in words, as the text shows it (null: state unread).
    pub state_meaning: Option<String>,
    /// Where the kernel has them wait (null: not waiting).
    pub wchan: OrError<Option<Bytes>>,
    /// The system call they are in.
    pub syscall: OrError<Syscall>,
    /// Their kernel stack.
    pub stack: OrError<Vec<Frame>>,
    /// Since the most recently run one last ran (null: not known).
    pub idle_ms: Option<u64>,
    /// Threads per futex address.
    pub futexes: Vec<Futex>,
    /// When the first one sleeping in nanosleep wakes.
    pub wakes_in_ms: Option<i64>,
    /// Their user-space stack (`stack --user`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<OrError<UserStack>>,
}

/// A thread's user-space stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserStack {
    /// How its registers were taken: `syscall` (blocked in a system call,
    /// not stopped), `fault` (blocked outside one, not stopped), `stopped`
    /// (already stopped by a signal or a debugger) or `interrupted` (it was
    /// on a CPU: stopped alone for `stopped_us`).
    pub how: String,
    /// How long it was stopped, in microseconds (`interrupted` only).
    pub stopped_us: Option<u64>,
    /// Why the walk ended: `root` (the outermost frame), `limit`,
    /// `unreadable`, `needs_frame_pointer`, `no_frame_pointer`,
    /// `no_unwind_info`, `not_code`, `no_progress`, `moved`.
    pub end: String,
    /// The address the walk ended at (`unreadable`, `no_unwind_info`,
    /// `not_code`).
    pub end_addr: Option<u64>,
    /// Frames, innermost first.
    pub frames: Vec<UserFrame>,
    /// Why the frames have no names (naming them failed as a whole, e.g.
    /// timed out); absent when they were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols_error: Option<ErrorObject>,
    /// "already traced by PID N (name)" when another process (strace,
    /// gdb) traces the thread; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<String>,
    /// The process's modules that could not be read, each with why
    /// ("timed out opening /mnt/x/libfoo.so"); absent when all were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules_unread: Vec<String>,
}

/// One user-space frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFrame {
    /// Always `user` (kernel frames are in `stack`).
    pub kind: String,
    /// The program counter (innermost) or return address.
    pub address: u64,
    /// The mapped file it is in.
    pub module: Option<Bytes>,
    /// The function, demangled.
    pub function: Option<String>,
    /// Offset into the function.
    pub offset: Option<u64>,
    /// Source file (debug information).
    pub file: Option<Bytes>,
    /// Source line.
    pub line: Option<u32>,
    /// Inlined into the next frame (same address).
    pub inlined: bool,
}

/// Threads waiting on one futex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Futex {
    /// Its address.
    pub addr: u64,
    /// How many of the group's threads wait on it.
    pub threads: usize,
}

/// A kernel stack frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frame {
    /// The function.
    pub symbol: Bytes,
    /// Offset into it.
    pub offset: Option<u64>,
    /// Its length.
    pub len: Option<u64>,
    /// Its module, for a module's function.
    pub module: Option<Bytes>,
}

impl From<&FrameInfo> for Frame {
    fn from(f: &FrameInfo) -> Frame {
        Frame {
            symbol: Bytes::from(&f.symbol),
            offset: f.offset,
            len: f.len,
            module: f.module.as_ref().map(Bytes::from),
        }
    }
}

/// What a thread's system call is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Syscall {
    /// In a system call.
    In(Box<InSyscall>),
    /// `running`, or `-` (blocked outside a system call).
    Not(NotInSyscall),
}

/// A thread outside any system call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotInSyscall {
    /// `running` or `-`.
    pub name: String,
}

/// A thread in a system call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InSyscall {
    /// Its number in the thread's ABI.
    pub nr: i64,
    /// Its name (null: unknown number).
    pub name: Option<String>,
    /// The six argument registers.
    pub args: [u64; 6],
    /// The call decoded, for people.
    pub call: String,
    /// What its pointer arguments point at (poll, select and their kin).
    pub memory: Option<CallMemory>,
}

/// What a waiting call's pointer arguments point at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallMemory {
    /// The pollfds (null: not a poll call, or not readable).
    pub polled: Option<Vec<Polled>>,
    /// The read set's fds.
    pub read_fds: Option<Vec<i32>>,
    /// The write set's fds.
    pub write_fds: Option<Vec<i32>>,
    /// The except set's fds.
    pub except_fds: Option<Vec<i32>>,
    /// Entries beyond what was read.
    pub not_read: u64,
    /// Its timeout.
    pub timeout: Option<Timeout>,
}

/// One pollfd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Polled {
    /// The fd.
    pub fd: i32,
    /// `POLL*` bits asked for.
    pub events: u16,
    /// Their names, `POLLIN|POLLPRI`.
    pub event_names: String,
}

/// A call's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Timeout {
    /// No timeout.
    Never,
    /// After this long.
    After {
        /// Nanoseconds.
        ns: u64,
    },
}

impl From<&callmem::CallMemory> for CallMemory {
    fn from(m: &callmem::CallMemory) -> CallMemory {
        CallMemory {
            polled: m.polled.as_ref().map(|v| {
                v.iter()
                    .map(|p| Polled {
                        fd: p.fd,
                        events: p.events,
                        event_names: procscope_parse::decode::bits(
                            u64::from(p.events),
                            procscope_parse::decode::POLL_EVENTS,
                        ),
                    })
                    .collect()
            }),
            read_fds: m.read_fds.clone(),
            write_fds: m.write_fds.clone(),
            except_fds: m.except_fds.clone(),
            not_read: m.not_read,
            timeout: m.timeout.map(|t| match t {
                callmem::Timeout::Never => Timeout::Never,
                callmem::Timeout::After { ns } => Timeout::After { ns },
            }),
        }
    }
}
