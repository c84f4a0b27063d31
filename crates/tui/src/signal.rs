//! Sending a signal to the process the user chose — and to no other: the
//! PID may have been reused since the row was drawn.
//!
//! A pidfd is opened first, then the start time under that PID is read
//! and compared with the chosen identity's. If they match, the pidfd names
//! the chosen process: had the PID belonged to another process when the
//! pidfd was opened, the chosen one was already gone then and could not
//! be read afterwards. The signal goes through the pidfd, so a reuse after
//! the check cannot redirect it either. This runs on a thread of its own
//! (it reads `/proc`, which the UI thread never does) and reports on the
//! loop's channel.

use crate::engine::Event;
use procscope_model::collect::Identity;
use procscope_read::ProcRoot;
use std::sync::mpsc::Sender;

/// Sends `sig` to `id` on a new thread; the outcome comes back as
/// [`Event::Status`].
pub fn send(root: ProcRoot, id: Identity, sig: i32, name: &'static str, tx: Sender<Event>) {
    let spawned = std::thread::Builder::new()
        .name("top-signal".into())
        .spawn(move || {
            let msg = match checked_send(&root, id, sig) {
                Ok(()) => format!("sent {name} to PID {}", id.pid),
                Err(e) => format!("PID {}: no {name} sent: {e}", id.pid),
            };
            let _ = tx.send(Event::Status(msg));
        });
    if spawned.is_err() {
        // No thread, no check: send nothing.
    }
}

/// Opens a pidfd for `id.pid`, checks its start time, signals it.
pub fn checked_send(root: &ProcRoot, id: Identity, sig: i32) -> Result<(), String> {
    if !root.is_live() {
        return Err("this proc root is not the live host".into());
    }
    let pid = rustix::process::Pid::from_raw(id.pid).ok_or("not a PID")?;
    let sig = rustix::process::Signal::from_named_raw(sig).ok_or("not a signal")?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| gone_or(e, "cannot open a pidfd"))?;
    let dir = root.process(id.pid).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(512);
    dir.read(c"stat", &mut buf, procscope_read::cap::RECORD)
        .map_err(|e| e.to_string())?;
    let st = procscope_parse::stat::Stat::parse(&buf).map_err(|e| e.to_string())?;
    if st.starttime_ticks != id.start_ticks {
        return Err("the process exited and its PID now names another one".into());
    }
    rustix::process::pidfd_send_signal(&pidfd, sig).map_err(|e| gone_or(e, "kill"))
}

fn gone_or(e: rustix::io::Errno, what: &str) -> String {
    match e {
        rustix::io::Errno::SRCH => "the process has exited".into(),
        rustix::io::Errno::PERM => {
            format!("{what}: not permitted (another user's process: run as root)")
        }
        e => format!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn start_of(pid: i32) -> u64 {
        let s = std::fs::read(format!("/proc/{pid}/stat")).unwrap();
        procscope_parse::stat::Stat::parse(&s)
            .unwrap()
            .starttime_ticks
    }

    #[test]
    fn signals_the_chosen_process_and_refuses_another_start_time() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let root = ProcRoot::open("/proc").unwrap();
        let start = start_of(pid);
        // Another start time under the same PID: a reused PID. Refused,
        // and the process is still alive.
        let other = Identity {
            pid,
            start_ticks: start + 1,
        };
        let e = checked_send(&root, other, 15).unwrap_err();
        assert!(e.contains("another one"), "{e}");
        assert!(child.try_wait().unwrap().is_none(), "signalled anyway");
        let id = Identity {
            pid,
            start_ticks: start,
        };
        checked_send(&root, id, 15).unwrap();
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(15));
        // Reaped: nothing to signal.
        let e = checked_send(&root, id, 15).unwrap_err();
        assert!(e.contains("exited"), "{e}");
    }
}
