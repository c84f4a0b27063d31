//! `/proc/PID/task/TID/sched` (kernels with `CONFIG_SCHED_DEBUG`): one
//! `key : value` line per scheduler statistic (kernel/sched/debug.c
//! `proc_sched_show_task()`); times are milliseconds with a fractional
//! part (`11461995.409096`).
//!
//! `se.exec_start` is when the task last started running, on the
//! runqueue clock (which counts from boot, like `/proc/uptime`): for a
//! sleeping task, how long ago it last ran is about `uptime - exec_start`.

use crate::num::{dec_u64, split_once, trim};

/// A millisecond value with an optional fraction (`123.456789`).
fn ms(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    let whole = v.split(|&c| c == b'.').next()?;
    dec_u64(whole)
}

/// `se.exec_start` in whole milliseconds.
pub fn exec_start_ms(b: &[u8]) -> Option<u64> {
    b.split(|&c| c == b'\n').find_map(|l| {
        let (k, v) = split_once(l, b':')?;
        (trim(k) == b"se.exec_start").then(|| ms(v)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_start() {
        let b = b"head (30462, #threads: 1)\n---------\nse.exec_start                                :      11461995.409096\nse.vruntime                                  :        916284.084978\n";
        assert_eq!(exec_start_ms(b), Some(11_461_995));
        assert_eq!(exec_start_ms(b"se.exec_start : 12\n"), Some(12));
        assert_eq!(exec_start_ms(b"se.vruntime : 1.5\n"), None);
        assert_eq!(exec_start_ms(b"se.exec_start : -1.5\n"), None);
        assert_eq!(exec_start_ms(b""), None);
    }
}
