//! System-wide files: `/proc/stat` (`btime`, the `cpu` line, task
//! counters), `/proc/uptime`, `/proc/meminfo` and `/proc/loadavg`.

use crate::num::{dec_u64, words};
use crate::{ParseError, Result};

/// Boot time in seconds since the epoch, from `/proc/stat`'s `btime` line.
pub fn boot_time(stat: &[u8]) -> Result<u64> {
    for line in stat.split(|&c| c == b'\n') {
        if let Some(v) = line.strip_prefix(b"btime ") {
            let v = crate::num::trim(v);
            return dec_u64(v).ok_or_else(|| ParseError::invalid("btime", v));
        }
    }
    Err(ParseError::Missing("btime"))
}

/// Seconds since boot as (whole seconds, hundredths), from `/proc/uptime`.
pub fn uptime(b: &[u8]) -> Result<(u64, u64)> {
    let first = words(b).next().ok_or(ParseError::Missing("uptime"))?;
    let (s, frac) = match first.iter().position(|&c| c == b'.') {
        Some(i) => (
            first.get(..i).unwrap_or_default(),
            first.get(i + 1..).unwrap_or_default(),
        ),
        None => (first, &b""[..]),
    };
    let secs = dec_u64(s).ok_or_else(|| ParseError::invalid("uptime", first))?;
    let hundredths = if frac.is_empty() {
        0
    } else {
        let f = frac.get(..2).unwrap_or(frac);
        let v = dec_u64(f).ok_or_else(|| ParseError::invalid("uptime", first))?;
        if f.len() == 1 { v * 10 } else { v }
    };
    Ok((secs, hundredths))
}

/// The host's CPU time by mode, in clock ticks (the `cpu` line of
/// `/proc/stat`; fields a kernel does not print are 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// Normal processes in user mode (guest time included by the kernel).
    pub user: u64,
    /// Niced processes in user mode.
    pub nice: u64,
    /// Kernel mode.
    pub system: u64,
    /// Idle.
    pub idle: u64,
    /// Idle while I/O was outstanding.
    pub iowait: u64,
    /// Servicing interrupts.
    pub irq: u64,
    /// Servicing softirqs.
    pub softirq: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
}

impl CpuTimes {
    /// Every mode summed (guest time is already inside `user`/`nice`).
    pub fn total(&self) -> u64 {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b))
    }
}

/// Host-wide counters of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostStat {
    /// The aggregate `cpu` line.
    pub cpu: CpuTimes,
    /// `cpuN` lines: CPUs online.
    pub cpus: u32,
    /// `ctxt`: context switches since boot.
    pub ctxt: Option<u64>,
    /// `processes`: forks since boot.
    pub forks: Option<u64>,
    /// `procs_running`: tasks runnable now.
    pub procs_running: Option<u64>,
    /// `procs_blocked`: tasks blocked on I/O now.
    pub procs_blocked: Option<u64>,
}

/// Parses `/proc/stat` (the `cpu` line is required).
pub fn host_stat(b: &[u8]) -> Result<HostStat> {
    let mut h = HostStat::default();
    let mut seen_cpu = false;
    for line in b.split(|&c| c == b'\n') {
        let mut w = words(line);
        let Some(key) = w.next() else { continue };
        match key {
            b"cpu" => {
                let v: Vec<u64> = w.map(|x| dec_u64(x).unwrap_or(0)).collect();
                let f = |i: usize| v.get(i).copied().unwrap_or(0);
                h.cpu = CpuTimes {
                    user: f(0),
                    nice: f(1),
                    system: f(2),
                    idle: f(3),
                    iowait: f(4),
                    irq: f(5),
                    softirq: f(6),
                    steal: f(7),
                };
                seen_cpu = v.len() >= 4;
            }
            k if k.starts_with(b"cpu") => h.cpus = h.cpus.saturating_add(1),
            b"ctxt" => h.ctxt = w.next().and_then(dec_u64),
            b"processes" => h.forks = w.next().and_then(dec_u64),
            b"procs_running" => h.procs_running = w.next().and_then(dec_u64),
            b"procs_blocked" => h.procs_blocked = w.next().and_then(dec_u64),
            _ => {}
        }
    }
    if !seen_cpu {
        return Err(ParseError::Missing("cpu"));
    }
    Ok(h)
}

/// The memory figures of `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: u64,
    /// `MemAvailable` (3.14+; `MemFree` before).
    pub available: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`.
    pub swap_free: u64,
}

/// Parses `/proc/meminfo` (`MemTotal` is required).
pub fn meminfo(b: &[u8]) -> Result<MemInfo> {
    let mut m = MemInfo::default();
    let (mut total, mut avail, mut free) = (None, None, None);
    for (k, v) in crate::status::fields(b) {
        let v = crate::num::kb_to_bytes(v);
        match k {
            b"MemTotal" => total = v,
            b"MemAvailable" => avail = v,
            b"MemFree" => free = v,
            b"SwapTotal" => m.swap_total = v.unwrap_or(0),
            b"SwapFree" => m.swap_free = v.unwrap_or(0),
            _ => {}
        }
    }
    m.total = total.ok_or(ParseError::Missing("MemTotal"))?;
    m.available = avail.or(free).unwrap_or(0);
    Ok(m)
}

/// `/proc/loadavg`: the 1, 5 and 15 minute load averages in hundredths
/// (the kernel keeps them in fixed point with two decimals).
pub fn loadavg(b: &[u8]) -> Result<[u64; 3]> {
    let mut w = words(b);
    let mut out = [0u64; 3];
    for slot in &mut out {
        let v = w.next().ok_or(ParseError::Missing("loadavg"))?;
        let (i, f) = crate::num::split_once(v, b'.').unwrap_or((v, b"0"));
        let i = dec_u64(i).ok_or_else(|| ParseError::invalid("loadavg", v))?;
        let f = f.get(..2).unwrap_or(f);
        let fv = dec_u64(f).ok_or_else(|| ParseError::invalid("loadavg", v))?;
        let fv = if f.len() == 1 { fv * 10 } else { fv };
        *slot = i.saturating_mul(100).saturating_add(fv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_stat_lines() {
        let b = b"cpu  10 2 30 400 5 6 7 8 9 0\ncpu0 5 1 15 200 2 3 3 4 0 0\ncpu1 5 1 15 200 3 3 4 4 0 0\nintr 1 2\nctxt 123\nbtime 1\nprocesses 77\nprocs_running 3\nprocs_blocked 1\n";
        let h = host_stat(b).unwrap();
        assert_eq!(
            h.cpu,
            CpuTimes {
                user: 10,
                nice: 2,
                system: 30,
                idle: 400,
                iowait: 5,
                irq: 6,
                softirq: 7,
                steal: 8
            }
        );
        assert_eq!(h.cpu.total(), 468);
        assert_eq!(
            (h.cpus, h.ctxt, h.forks, h.procs_running, h.procs_blocked),
            (2, Some(123), Some(77), Some(3), Some(1))
        );
        // An old kernel's four-field cpu line is enough.
        assert_eq!(host_stat(b"cpu 1 2 3 4\n").unwrap().cpu.idle, 4);
        assert!(host_stat(b"cpu 1 2\n").is_err());
        assert!(host_stat(b"").is_err());
    }

    #[test]
    fn meminfo_and_loadavg() {
        let m = meminfo(b"MemTotal:       16384 kB\nMemFree:  100 kB\nMemAvailable:   8192 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n").unwrap();
        assert_eq!((m.total, m.available), (16384 * 1024, 8192 * 1024));
        // Before 3.14 there is no MemAvailable.
        assert_eq!(
            meminfo(b"MemTotal: 4 kB\nMemFree: 2 kB\n")
                .unwrap()
                .available,
            2048
        );
        assert!(meminfo(b"MemFree: 2 kB\n").is_err());
        assert_eq!(loadavg(b"0.52 1.5 12.07 2/345 6789\n"), Ok([52, 150, 1207]));
        assert!(loadavg(b"0.5 x 1\n").is_err());
        assert!(loadavg(b"").is_err());
    }

    #[test]
    fn btime_and_uptime() {
        assert_eq!(
            boot_time(b"cpu  1 2 3\nintr 5\nbtime 1764250000\nprocesses 9\n"),
            Ok(1764250000)
        );
        assert!(boot_time(b"cpu 1\n").is_err());
        assert_eq!(uptime(b"3061.57 6000.10\n"), Ok((3061, 57)));
        assert_eq!(uptime(b"12.5 1.0\n"), Ok((12, 50)));
        assert_eq!(uptime(b"12 1\n"), Ok((12, 0)));
        assert!(uptime(b"x.1 2").is_err());
    }
}
