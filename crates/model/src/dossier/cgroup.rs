//! Control groups: the paths, the container, pod or systemd unit they
//! reveal (no daemon asked), and the cgroup's limits and usage read from
//! cgroupfs — v2, or v1 controllers on hybrid hosts.
//!
//! cgroupfs is read through the proc root's [`HostFiles`]: the live
//! `/sys/fs/cgroup/…` for a live root, the tree's
//! `.host/sys/fs/cgroup/…` (at the mount points its `self/mountinfo`
//! names) for a fixture or a copy — never the live host's for a tree.

use super::Source;
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::container::{Recognised, recognise};
use procscope_parse::maps::cgroups;
use procscope_parse::mountinfo::{self, Mount};
use procscope_read::{Failure, HostFiles, Outcome};
use serde::Serialize;

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Hierarchy ID (0: cgroup v2).
    pub hierarchy: u64,
    /// Controllers (v1), empty for v2.
    pub controllers: Bytes,
    /// Path, relative to the cgroup namespace of procscope.
    pub path: Bytes,
}

/// What the path reveals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Owner {
    /// `docker`, `containerd`, `cri-o`, `podman`, `lxc`.
    pub runtime: Option<&'static str>,
    /// Container ID (or LXC name).
    pub container_id: Option<String>,
    /// A runtime's monitor (conmon), not the container itself.
    pub monitor: bool,
    /// Kubernetes pod UID.
    pub pod_uid: Option<String>,
    /// Kubernetes QoS class.
    pub qos_class: Option<&'static str>,
    /// systemd unit.
    pub unit: Option<String>,
    /// systemd slice.
    pub slice: Option<String>,
}

impl From<Recognised> for Owner {
    fn from(r: Recognised) -> Self {
        Owner {
            runtime: r.runtime,
            container_id: r.container_id,
            monitor: r.monitor,
            pod_uid: r.pod_uid,
            qos_class: r.qos,
            unit: r.unit,
            slice: r.slice,
        }
    }
}

/// A CPU bandwidth limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CpuQuota {
    /// Microseconds of CPU per period.
    pub quota_us: u64,
    /// Period, microseconds.
    pub period_us: u64,
}

/// Limits and usage of the process's cgroup(s).
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// Memory limit (`None`: unlimited).
    #[serde(serialize_with = "ser_outcome")]
    pub memory_max: Outcome<Option<u64>>,
    /// Memory in use (page cache included).
    #[serde(serialize_with = "ser_outcome")]
    pub memory_current: Outcome<u64>,
    /// CPU bandwidth limit (`None`: unlimited).
    #[serde(serialize_with = "ser_outcome")]
    pub cpu_max: Outcome<Option<CpuQuota>>,
    /// Task limit (`None`: unlimited).
    #[serde(serialize_with = "ser_outcome")]
    pub pids_max: Outcome<Option<u64>>,
    /// Tasks in the cgroup.
    #[serde(serialize_with = "ser_outcome")]
    pub pids_current: Outcome<u64>,
}

/// The cgroup section.
#[derive(Debug, Clone, Serialize)]
pub struct Cgroup {
    /// Every line.
    #[serde(serialize_with = "ser_outcome")]
    pub lines: Outcome<Vec<Line>>,
    /// The v2 path (or, on v1-only hosts, the systemd or first hierarchy's).
    pub path: Option<Bytes>,
    /// The container, pod or unit recognised from the paths.
    pub owner: Owner,
    /// Limits and usage from cgroupfs.
    pub usage: Usage,
}

pub(crate) fn read(src: &Source<'_>) -> Cgroup {
    let raw = src.file(c"cgroup");
    let lines: Outcome<Vec<Line>> = raw.as_ref().map_err(Clone::clone).map(|b| {
        cgroups(b)
            .iter()
            .map(|l| Line {
                hierarchy: l.id,
                controllers: Bytes::from(l.controllers),
                path: Bytes::from(l.path),
            })
            .collect()
    });
    let ls = lines.as_ref().map(Vec::as_slice).unwrap_or_default();
    // The v2 path, unless it is `/` while a v1 hierarchy says more (hybrid
    // hosts whose controllers are all on v1).
    let deeper = |l: &&Line| l.path.0 != b"/";
    let main = ls
        .iter()
        .find(|l| l.hierarchy == 0)
        .filter(deeper)
        .or_else(|| {
            ls.iter()
                .filter(deeper)
                .find(|l| l.controllers.0 == b"name=systemd")
        })
        .or_else(|| ls.iter().find(deeper))
        .or_else(|| ls.first());
    // v2 often says only `/` on hybrid hosts; any line that names a
    // container or unit counts.
    let mut owner = main.map(|l| recognise(&l.path.0)).unwrap_or_default();
    if owner.runtime.is_none() && owner.unit.is_none() {
        if let Some(r) = ls
            .iter()
            .map(|l| recognise(&l.path.0))
            .find(|r| !r.is_empty())
        {
            owner = r;
        }
    }
    let mounts = cgroup_mounts(src);
    Cgroup {
        path: main.map(|l| l.path.clone()),
        owner: owner.into(),
        usage: usage(&src.root.host(), &lines, &mounts),
        lines,
    }
}

fn cgroup_mounts(src: &Source<'_>) -> Outcome<Vec<Mount>> {
    let mut b = Vec::new();
    src.root
        .read(c"self/mountinfo", &mut b, procscope_read::cap::MOUNTINFO)?;
    let all = mountinfo::parse(&b).map_err(|e| Failure::malformed("mountinfo", e))?;
    Ok(all
        .into_iter()
        .filter(|m| m.fs_type == b"cgroup" || m.fs_type == b"cgroup2")
        .collect())
}

/// The directory of the process's cgroup for `controller` (`None`: v2),
/// as a host path.
fn dir_for(lines: &[Line], mounts: &[Mount], controller: Option<&[u8]>) -> Option<Vec<u8>> {
    let (line, mount) = match controller {
        None => (
            lines.iter().find(|l| l.hierarchy == 0)?,
            mounts.iter().find(|m| m.fs_type == b"cgroup2")?,
        ),
        Some(c) => (
            lines.iter().find(|l| {
                l.hierarchy != 0 && l.controllers.0.split(|&b| b == b',').any(|x| x == c)
            })?,
            mounts
                .iter()
                .find(|m| m.fs_type == b"cgroup" && m.super_option(c).is_some())?,
        ),
    };
    // The path is relative to our cgroup namespace, the mount shows `root`
    // of the hierarchy: strip it (a cgroup outside the mount is not visible).
    let path = &line.path.0;
    let rel = if mount.root == b"/" {
        path.as_slice()
    } else {
        let r = path.strip_prefix(mount.root.as_slice())?;
        if !(r.is_empty() || r.starts_with(b"/")) {
            return None;
        }
        r
    };
    let mut p = mount.mount_point.clone();
    for c in rel
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".." && *c != b".")
    {
        if !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(c);
    }
    Some(p)
}

/// `dir/file`.
fn join(dir: &[u8], file: &str) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(file.as_bytes());
    p
}

/// v1 reports "no limit" as the largest page-aligned `i64`.
const V1_UNLIMITED: u64 = 1 << 62;

fn read_value(host: &HostFiles, dir: &Outcome<Vec<u8>>, file: &str) -> Outcome<Vec<u8>> {
    let d = dir.as_ref().map_err(Clone::clone)?;
    let mut b = Vec::new();
    host.read(&join(d, file), &mut b, procscope_read::cap::RECORD)
        .map(|_| procscope_parse::num::trim(&b).to_vec())
        .map_err(|e| match e {
            Failure::Absent { .. } => Failure::Absent {
                what: format!("no {file} (controller not enabled here, or the root cgroup)"),
            },
            e => e,
        })
}

fn number(b: &[u8], file: &str) -> Outcome<u64> {
    procscope_parse::num::dec_u64(b).ok_or_else(|| Failure::malformed(file, "not a number"))
}

/// `max` or a number (v2); huge values or -1 (v1) mean unlimited.
fn limit(b: &[u8], file: &str) -> Outcome<Option<u64>> {
    if b == b"max" || b == b"-1" {
        return Ok(None);
    }
    number(b, file).map(|v| (v < V1_UNLIMITED).then_some(v))
}

fn usage(host: &HostFiles, lines: &Outcome<Vec<Line>>, mounts: &Outcome<Vec<Mount>>) -> Usage {
    let dir = |controller: Option<&[u8]>| -> Outcome<Vec<u8>> {
        let l = lines.as_ref().map_err(Clone::clone)?;
        let m = mounts.as_ref().map_err(|_| Failure::Absent {
            what: "cgroup filesystem not mounted here".into(),
        })?;
        dir_for(l, m, controller).ok_or_else(|| Failure::Absent {
            what: "cgroup directory (hierarchy not mounted or not visible here)".into(),
        })
    };
    let v2 = dir(None);
    // Each controller: v2 when it is enabled there, else its v1 hierarchy.
    let pick = |v2_file: &str, v1: &[u8]| -> Outcome<Vec<u8>> {
        let v1 = || dir(Some(v1)).or_else(|e| v2.clone().and(Err(e)));
        match &v2 {
            Ok(d) => match host.stat(&join(d, v2_file)) {
                Ok(_) => Ok(d.clone()),
                // A tree without cgroupfs files: say so, not "not mounted".
                Err(e @ Failure::Unsupported { .. }) => Err(e),
                Err(_) => v1(),
            },
            Err(_) => v1(),
        }
    };
    let mem = pick("memory.max", b"memory");
    let v1_mem = mem
        .as_ref()
        .is_ok_and(|d| host.exists(&join(d, "memory.limit_in_bytes")));
    let (mem_max_file, mem_cur_file) = if v1_mem {
        ("memory.limit_in_bytes", "memory.usage_in_bytes")
    } else {
        ("memory.max", "memory.current")
    };
    let cpu = pick("cpu.max", b"cpu");
    let cpu_max = if cpu.as_ref().is_ok_and(|d| host.exists(&join(d, "cpu.max"))) {
        read_value(host, &cpu, "cpu.max").and_then(|b| {
            let mut w = b.split(|&c| c == b' ');
            let q = w.next().unwrap_or_default();
            let p = number(w.next().unwrap_or(b"100000"), "cpu.max")?;
            Ok(limit(q, "cpu.max")?.map(|quota_us| CpuQuota {
                quota_us,
                period_us: p,
            }))
        })
    } else {
        read_value(host, &cpu, "cpu.cfs_quota_us").and_then(|q| {
            let p = number(
                &read_value(host, &cpu, "cpu.cfs_period_us")?,
                "cpu.cfs_period_us",
            )?;
            Ok(limit(&q, "cpu.cfs_quota_us")?.map(|quota_us| CpuQuota {
                quota_us,
                period_us: p,
            }))
        })
    };
    let pids = pick("pids.max", b"pids");
    Usage {
        memory_max: read_value(host, &mem, mem_max_file).and_then(|b| limit(&b, mem_max_file)),
        memory_current: read_value(host, &mem, mem_cur_file).and_then(|b| number(&b, mem_cur_file)),
        cpu_max,
        pids_max: read_value(host, &pids, "pids.max").and_then(|b| limit(&b, "pids.max")),
        pids_current: read_value(host, &pids, "pids.current")
            .and_then(|b| number(&b, "pids.current")),
    }
}
