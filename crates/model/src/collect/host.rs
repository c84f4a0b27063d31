//! The host's own counters and clocks.

use super::snapshot::{CpuTicks, Host};
use procscope_read::{Failure, Outcome, ProcRoot};

/// Milliseconds on the boot clock (counts suspend, never jumps).
pub(super) fn boot_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(u64::try_from(t.tv_nsec / 1_000_000).unwrap_or(0))
}

/// Milliseconds since the epoch.
pub(super) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Reads `stat`, `meminfo` and `loadavg` of the proc root.
pub(super) fn read(root: &ProcRoot) -> Outcome<Host> {
    let mut b = Vec::with_capacity(8192);
    root.read(c"stat", &mut b, procscope_read::cap::RECORD)?;
    let st = procscope_parse::system::host_stat(&b).map_err(|e| Failure::malformed("stat", e))?;
    root.read(c"meminfo", &mut b, procscope_read::cap::RECORD)?;
    let mem = procscope_parse::system::meminfo(&b).map_err(|e| Failure::malformed("meminfo", e))?;
    let load = root
        .read(c"loadavg", &mut b, procscope_read::cap::RECORD)
        .ok()
        .and_then(|_| procscope_parse::system::loadavg(&b).ok())
        .unwrap_or_default();
    let c = st.cpu;
    Ok(Host {
        cpu: CpuTicks {
            user: c.user.saturating_add(c.nice),
            system: c.system.saturating_add(c.irq).saturating_add(c.softirq),
            idle: c.idle,
            iowait: c.iowait,
            steal: c.steal,
        },
        cpus: st.cpus,
        mem_total: mem.total,
        mem_available: mem.available,
        swap_total: mem.swap_total,
        swap_free: mem.swap_free,
        load_centis: load,
        ctxt: st.ctxt,
        forks: st.forks,
    })
}
