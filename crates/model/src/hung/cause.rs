//! The likely cause of a wait in the kernel, from the task's frames.

use serde::{Deserialize, Serialize};

/// What a task in the kernel most likely waits for, from its frames: a
/// best guess that names what to look at next (the words are
/// `procscope_render::hung::cause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Holding a process's memory-map lock while faulting in a page of a
    /// file on a filesystem that does not answer.
    MemoryLockHolder,
    /// Waiting for a process's memory-map lock.
    MemoryLockWaiter,
    /// A FUSE filesystem whose daemon does not answer.
    Fuse,
    /// An NFS server that does not answer.
    Nfs,
    /// A vfork parent waiting for its child to exec or exit.
    Vfork,
    /// Reading a file's pages.
    PageRead,
    /// Block I/O.
    BlockIo,
    /// A kernel lock (rwsem, mutex).
    KernelLock,
    /// A file lock held by another process.
    FileLock,
    /// A pipe.
    Pipe,
    /// A socket.
    Socket,
    /// Memory reclaim.
    Reclaim,
    /// A frozen cgroup.
    FrozenCgroup,
    /// A kernel thread without work (no system call: it sleeps by design).
    IdleKernelThread,
    /// None of the above.
    Unknown,
}

/// The subsystem a kernel stack waits in, from its frames (innermost
/// first).
pub fn likely_cause(frames: &[&[u8]], wchan: Option<&[u8]>) -> Cause {
    let has = |p: &[u8]| {
        frames
            .iter()
            .chain(wchan.iter())
            .any(|f| f.starts_with(p) || f.windows(p.len()).any(|w| w == p))
    };
    // Reading another process's memory (/proc/PID/mem, cmdline, environ:
    // access_remote_vm under that process's mmap_lock) and faulting one
    // of its file pages in: the lock stays held until the page comes.
    let remote_vm = has(b"access_remote_vm") || has(b"get_user_pages");
    let faulting = has(b"filemap_fault") || has(b"handle_mm_fault") || has(b"folio_wait");
    // Waiting for a process's memory-map lock: mmap/munmap/mprotect/brk
    // (write) or a fault or /proc reader (read) queued behind a holder.
    let mmap_lock = (has(b"rwsem_down_write_slowpath") || has(b"rwsem_down_read_slowpath"))
        && (has(b"mmap")
            || has(b"munmap")
            || has(b"mprotect")
            || has(b"brk")
            || has(b"lock_mm_and_find_vma")
            || has(b"access_remote_vm")
            || has(b"mm_access")
            || has(b"proc_pid_cmdline_read")
            || has(b"environ_read")
            || has(b"m_start"))
        // mmap & co. sleeping in their own frame: the lock itself
        // (mmap_write_lock_killable; the rwsem frames are not shown).
        || frames.first().or(wchan.as_ref()).is_some_and(|f| {
            [
                &b"vm_mmap_pgoff"[..],
                b"__vm_munmap",
                b"vm_munmap",
                b"do_mprotect_pkey",
                b"__do_sys_brk",
                b"__do_sys_mremap",
                b"do_madvise",
            ]
            .iter()
            .any(|p| f.starts_with(p))
        });
    if remote_vm && faulting {
        Cause::MemoryLockHolder
    } else if mmap_lock {
        Cause::MemoryLockWaiter
    } else if has(b"fuse_") {
        Cause::Fuse
    } else if has(b"nfs") || has(b"rpc_") {
        Cause::Nfs
    } else if has(b"wait_for_vfork_done")
        || (has(b"kernel_clone")
            && frames
                .first()
                .is_some_and(|f| f.starts_with(b"kernel_clone")))
    {
        Cause::Vfork
    } else if has(b"filemap_fault")
        || has(b"folio_wait")
        || has(b"wait_on_page")
        || has(b"filemap_read")
    {
        Cause::PageRead
    } else if has(b"blk_") || has(b"io_schedule") || has(b"bio_") {
        Cause::BlockIo
    } else if has(b"rwsem") || has(b"mutex_lock") || has(b"down_read") || has(b"down_write") {
        Cause::KernelLock
    } else if has(b"fcntl_setlk")
        || has(b"flock_lock")
        || has(b"locks_lock")
        || has(b"posix_lock")
        || has(b"__flock")
    {
        Cause::FileLock
    } else if has(b"pipe_read") || has(b"pipe_write") || has(b"pipe_wait") {
        Cause::Pipe
    } else if has(b"unix_stream")
        || has(b"sk_wait")
        || has(b"tcp_recvmsg")
        || has(b"inet_csk_accept")
    {
        Cause::Socket
    } else if has(b"shrink_") || has(b"reclaim") || has(b"compact") {
        Cause::Reclaim
    } else if has(b"cgroup") || has(b"freezer") || has(b"do_freezer_trap") {
        Cause::FrozenCgroup
    } else {
        Cause::Unknown
    }
}

/// Whether a thread of `p` holds or waits for a memory-map lock that is
/// stuck (from its kernel frames): the process's memory cannot be read
/// then (a read would queue behind the lock), so user stacks are not
/// walked.
pub fn memory_lock_stuck(p: &crate::threads::ProcessThreads) -> bool {
    p.threads.iter().any(|t| {
        matches!(
            thread_cause(t),
            Cause::MemoryLockHolder | Cause::MemoryLockWaiter
        )
    })
}

/// [`likely_cause`] of a thread, from its kernel stack and wchan as read.
pub fn thread_cause(t: &crate::threads::ThreadInfo) -> Cause {
    let frames: Vec<&[u8]> = t
        .stack
        .as_ref()
        .map(|f| f.iter().map(|f| f.symbol.as_slice()).collect())
        .unwrap_or_default();
    let wchan = t.wchan.as_ref().ok().cloned().flatten();
    likely_cause(&frames, wchan.as_ref().map(|w| w.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lock_holders_and_waiters() {
        let holder: &[&[u8]] = &[
            b"filemap_fault+0xac0/0x1700",
            b"__do_fault",
            b"handle_mm_fault",
            b"__get_user_pages",
            b"get_user_pages_remote",
            b"__access_remote_vm",
            b"mem_rw",
        ];
        assert_eq!(
            likely_cause(holder, Some(b"filemap_fault")),
            Cause::MemoryLockHolder
        );
        let waiter: &[&[u8]] = &[b"vm_mmap_pgoff+0xe9/0x230", b"do_syscall_64"];
        assert_eq!(
            likely_cause(waiter, Some(b"vm_mmap_pgoff")),
            Cause::MemoryLockWaiter
        );
        let reader: &[&[u8]] = &[
            b"rwsem_down_read_slowpath",
            b"down_read_killable",
            b"proc_pid_cmdline_read",
        ];
        assert_eq!(likely_cause(reader, None), Cause::MemoryLockWaiter);
    }

    #[test]
    fn causes() {
        assert_eq!(
            likely_cause(&[b"fuse_wait_answer", b"fuse_request_send"], None),
            Cause::Fuse
        );
        assert_eq!(
            likely_cause(&[b"kernel_clone", b"__do_sys_vfork"], None),
            Cause::Vfork
        );
        assert_eq!(
            likely_cause(&[b"folio_wait_bit_common", b"filemap_fault"], None),
            Cause::PageRead
        );
        assert_eq!(
            likely_cause(&[b"rpc_wait_bit_killable"], Some(b"rpc_wait_bit_killable")),
            Cause::Nfs
        );
        assert_eq!(
            likely_cause(&[b"rwsem_down_write_slowpath"], None),
            Cause::KernelLock
        );
        assert_eq!(
            likely_cause(&[b"fcntl_setlk", b"do_fcntl"], None),
            Cause::FileLock
        );
        assert_eq!(
            likely_cause(&[b"pipe_write", b"vfs_write"], None),
            Cause::Pipe
        );
        assert_eq!(likely_cause(&[], None), Cause::Unknown);
    }
}
