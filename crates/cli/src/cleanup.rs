//! Files and directories procscope made and must not leave behind when a
//! signal ends it: the temporary file a snapshot is written to, the
//! directory a snapshot is unpacked into (a few hundred MB of tmpfs that
//! nothing else would free before a reboot).
//!
//! While anything is registered, SIGINT, SIGTERM and SIGHUP are caught by
//! a thread that removes what is registered and then ends procscope by the
//! same signal (its default action), so the parent still sees "killed by
//! SIGTERM". SIGKILL cannot be caught: what it leaves is removed by the
//! next procscope that opens a snapshot (the unpacking directory is named
//! after its owner).

use std::path::PathBuf;
use std::sync::{Mutex, Once};

static PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Removes `path` if a signal ends procscope before [`Registered`] is
/// dropped (dropping it does not remove anything: the owner does).
#[must_use = "the path is forgotten when this is dropped"]
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut v) = PATHS.lock() {
            v.retain(|p| p != &self.0);
        }
    }
}

/// Registers `path` (see the module docs).
pub fn register(path: PathBuf) -> Registered {
    INSTALL.call_once(install);
    if let Ok(mut v) = PATHS.lock() {
        v.push(path.clone());
    }
    Registered(path)
}

fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("cleanup".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Held until the process ends: nothing registers meanwhile.
                let paths = PATHS.lock().unwrap_or_else(|e| e.into_inner());
                for p in paths.iter() {
                    match std::fs::symlink_metadata(p) {
                        Ok(m) if m.is_dir() => {
                            // Another thread may still be unpacking into
                            // it (a file made after the walk passed makes
                            // the removal fail): again, a few times.
                            for _ in 0..20 {
                                if std::fs::remove_dir_all(p).is_ok() {
                                    break;
                                }
                            }
                        }
                        Ok(_) => {
                            let _ = std::fs::remove_file(p);
                        }
                        Err(_) => {}
                    }
                }
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                // A signal whose default is to end the process has ended
                // it; were it ignored by the parent's choice, end anyway.
                std::process::exit(128 + sig);
            }
        });
}
