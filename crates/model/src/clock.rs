//! Converting kernel clock ticks and boot-relative times.

use procscope_read::{Failure, Outcome, ProcRoot};
use serde::Serialize;

/// System facts needed to turn `stat` fields into times and sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// `sysconf(_SC_CLK_TCK)`, the unit of `stat`'s time fields.
    pub ticks_per_second: u64,
    /// Boot time, seconds since the epoch (`btime` of `/proc/stat`).
    pub boot_time_unix: u64,
    /// Seconds since boot, in hundredths (`/proc/uptime`), when read.
    pub uptime_centis: u64,
    /// Page size in bytes, the unit of `stat`'s `rss`.
    pub page_size: u64,
    /// Now on the scheduler's clock, ms (see [`Clock::with_sched_now`]).
    pub sched_now_ms: Option<u64>,
}

impl Clock {
    /// Reads `stat` and `uptime` of the proc root. A proc mounted with
    /// `subset=pid` has neither: then the same values come from
    /// `CLOCK_BOOTTIME` (what `/proc/uptime` reports) and the wall clock.
    pub fn read(root: &ProcRoot) -> Outcome<Clock> {
        let (boot, uptime_centis) = match Self::read_files(root) {
            Ok(v) => v,
            Err(Failure::Gone) | Err(Failure::Denied { .. }) => Self::from_clocks(),
            Err(e) => return Err(e),
        };
        Ok(Clock {
            ticks_per_second: rustix::param::clock_ticks_per_second().max(1),
            boot_time_unix: boot,
            uptime_centis,
            page_size: u64::try_from(rustix::param::page_size()).unwrap_or(4096),
            sched_now_ms: None,
        })
    }

    /// The clock with "now" on the scheduler's clock: the `se.exec_start`
    /// of procscope's own running thread (from its `sched`, like the
    /// targets' ones). `exec_start` is the run queue's task clock, which
    /// leaves out time stolen by the hypervisor and spent in interrupts, so
    /// it falls behind `/proc/uptime` as a host runs (by a second after an
    /// hour on a busy VM): compared with uptime, every thread would look
    /// idle for that long. In a snapshot, the "now" recorded when it was
    /// taken. Unchanged in another tree that is not the live procfs.
    pub fn with_sched_now(self, root: &ProcRoot) -> Clock {
        // A snapshot: "now" is when it was taken, as the manifest recorded
        // it (the thread that read it is not in the tree; without it,
        // uptime).
        if let Some(f) = root.tape().and_then(|t| t.facts()) {
            return Clock {
                sched_now_ms: f.sched_now_ms,
                ..self
            };
        }
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        let mut buf = Vec::with_capacity(4096);
        let now = root
            .process(root.own_pid())
            .and_then(|p| p.task(tid))
            .and_then(|t| t.read(c"sched", &mut buf, 64 * 1024))
            .ok()
            .and_then(|_| procscope_parse::sched::exec_start_ms(&buf));
        Clock {
            sched_now_ms: now,
            ..self
        }
    }

    /// How long ago a thread last ran, from its `se.exec_start` (ms):
    /// against [`Clock::sched_now_ms`] when known, else against uptime.
    pub fn idle_ms(&self, exec_start_ms: u64) -> u64 {
        self.sched_now_ms
            .unwrap_or(self.uptime_centis.saturating_mul(10))
            .saturating_sub(exec_start_ms)
    }

    fn read_files(root: &ProcRoot) -> Outcome<(u64, u64)> {
        let mut buf = Vec::with_capacity(8192);
        root.read(c"stat", &mut buf, procscope_read::cap::RECORD)?;
        let boot =
            procscope_parse::system::boot_time(&buf).map_err(|e| Failure::malformed("stat", e))?;
        root.read(c"uptime", &mut buf, 4096)?;
        let (s, c) =
            procscope_parse::system::uptime(&buf).map_err(|e| Failure::malformed("uptime", e))?;
        Ok((boot, s.saturating_mul(100).saturating_add(c)))
    }

    fn from_clocks() -> (u64, u64) {
        let up = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        let secs = u64::try_from(up.tv_sec).unwrap_or(0);
        let centis = secs
            .saturating_mul(100)
            .saturating_add(u64::try_from(up.tv_nsec / 10_000_000).unwrap_or(0));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (now.saturating_sub(secs), centis)
    }

    /// Converts ticks to milliseconds.
    pub fn ticks_to_ms(&self, ticks: u64) -> u64 {
        let t = u128::from(ticks) * 1000 / u128::from(self.ticks_per_second.max(1));
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// Start time of a process (ticks after boot) as Unix seconds.
    pub fn start_unix(&self, start_ticks: u64) -> u64 {
        self.boot_time_unix
            .saturating_add(start_ticks / self.ticks_per_second.max(1))
    }

    /// Seconds a process started at `start_ticks` has been running.
    pub fn elapsed_secs(&self, start_ticks: u64) -> u64 {
        let start_centis = u128::from(start_ticks) * 100 / u128::from(self.ticks_per_second.max(1));
        let e = u128::from(self.uptime_centis).saturating_sub(start_centis) / 100;
        u64::try_from(e).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let c = Clock {
            ticks_per_second: 100,
            boot_time_unix: 1_000_000,
            uptime_centis: 50_000,
            page_size: 4096,
            sched_now_ms: None,
        };
        assert_eq!(c.ticks_to_ms(250), 2500);
        // Idle time: against uptime, or the scheduler's clock when read.
        assert_eq!(c.idle_ms(499_000), 1_000);
        let s = Clock {
            sched_now_ms: Some(499_100),
            ..c
        };
        assert_eq!(s.idle_ms(499_000), 100);
        assert_eq!(s.idle_ms(600_000), 0);
        assert_eq!(c.start_unix(12_345), 1_000_123);
        assert_eq!(c.elapsed_secs(20_000), 300);
        assert_eq!(c.elapsed_secs(u64::MAX), 0);
    }

    #[test]
    fn our_own_thread_ran_just_now_on_the_scheduler_clock() {
        let root = ProcRoot::open(std::path::Path::new("/proc")).unwrap();
        let c = Clock::read(&root).unwrap().with_sched_now(&root);
        let Some(now) = c.sched_now_ms else {
            return; // a kernel without CONFIG_SCHED_DEBUG has no sched file
        };
        // This thread is running: it last started running (at most a few
        // ticks) before now.
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        let mut b = Vec::new();
        root.process(root.own_pid())
            .unwrap()
            .task(tid)
            .unwrap()
            .read(c"sched", &mut b, 1 << 16)
            .unwrap();
        let start = procscope_parse::sched::exec_start_ms(&b).unwrap();
        assert!(c.idle_ms(start) < 500, "{} ms", c.idle_ms(start));
        assert!(start.abs_diff(now) < 500);
    }
}
