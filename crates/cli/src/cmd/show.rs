//! `procscope show TARGET` (the whole process on one page) and the focused
//! commands that print one of its sections: `limits`, `maps`, `caps`,
//! `signals`, `ns`, `cgroup`, `mounts`.

use crate::cli::{Global, ShowArgs};
use crate::cmd::targets;
use crate::output::{self, Exit, UsageError};
use procscope_model::dossier::{self, Dossier, Request, Section};
use procscope_read::Failure;
use std::io::Write;
use std::time::Duration;

/// Extra help for `procscope show --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope show 1234                   the whole dossier
  procscope show nginx -s memory,files  only some sections, for every nginx
  procscope show --maps 1234            plus every mapping (pmap -x)
  procscope show --all 1234             plus every mapping and the mount table
  procscope show --json 1234 > incident-1234.json

Every field is a value or says why it is missing (gone, denied and what
would allow it, timed out, not in this kernel). Reads that can block on a
hung process (command line, memory maps) give up after --timeout, so the
dossier of a hung process still completes. Run with sudo to see another
user's files, memory maps and I/O.";

/// Help for `procscope limits`.
pub const LIMITS_HELP: &str = "\
Examples:
  procscope limits 1234       soft and hard limits, usage and % of the soft limit
  procscope limits --json nginx | jq '.processes[].limits[] | select(.near)'

Usage is shown where /proc tells it: open files, processes (threads of the
real user), stack, locked memory, address space, data, pending signals,
CPU time, file locks. Rows at 80% of the soft limit or more are marked.";

/// Help for `procscope maps`.
pub const MAPS_HELP: &str = "\
Examples:
  procscope maps 1234         every mapping: address, size, mode, path (like pmap)
  procscope maps -x 1234      with RSS, PSS, dirty and swap (like pmap -x; reads smaps)

maps and smaps take the process's memory lock: on a hung process the read
gives up after --timeout and says so.";

/// Help for `procscope caps`.
pub const CAPS_HELP: &str = "\
Examples:
  procscope caps 1234         effective, permitted, inheritable, bounding, ambient
  procscope caps --json 1234 | jq '.processes[0].security.effective.names'

Sets are summarised against this kernel's capabilities (cap_last_cap):
\"all\", \"none\", \"all except …\" or the names.";

/// Help for `procscope signals`.
pub const SIGNALS_HELP: &str = "\
Examples:
  procscope signals 1234      pending, blocked, ignored, caught, by name

Pending and blocked sets belong to each thread: threads that differ from the
main thread are listed. Real-time signals are named SIGRTMIN+n as glibc
numbers them (SIGRTMIN = 34).";

/// Help for `procscope ns`.
pub const NS_HELP: &str = "\
Examples:
  procscope ns 1234           each namespace's inode, PID 1's, and whether they differ

A process whose mount and PID namespaces differ from PID 1's runs in a
container. When PID 1's namespaces cannot be read (run with sudo), procscope
compares with its own and says so.";

/// Help for `procscope cgroup`.
pub const CGROUP_HELP: &str = "\
Examples:
  procscope cgroup 1234       path, container/pod/unit, memory/cpu/pids limits and usage

The container runtime (docker, containerd, CRI-O, podman, LXC), Kubernetes pod
UID and QoS class, and systemd unit are recognised from the cgroup path; no
daemon is asked. Limits come from cgroupfs (v2, or v1 controllers).";

/// Help for `procscope mounts`.
pub const MOUNTS_HELP: &str = "\
Examples:
  procscope mounts 1234       the mount table as the process sees it
  procscope mounts --json 1234 | jq '.processes[0].mounts.mounts[] | select(.only_here)'

Escapes in mountinfo (\\040 for a space) are decoded. For a process in its own
mount namespace, mounts PID 1 does not have are marked, and PID 1's mounts it
lacks are listed.";

/// Runs `procscope show`.
pub fn run(g: &Global, a: &ShowArgs) -> anyhow::Result<Exit> {
    let mut sections = Vec::new();
    for s in &a.section {
        let sec = Section::parse(s.trim()).ok_or_else(|| {
            UsageError(format!(
                "unknown section `{}` (one of: {})",
                procscope_render::escape::escape(s.as_bytes()),
                Section::ALL.map(Section::name).join(", ")
            ))
        })?;
        sections.push(sec);
    }
    if sections.is_empty() {
        sections = Section::DOSSIER.to_vec();
        if a.all {
            sections.extend([Section::Maps, Section::Mounts]);
        }
    }
    if a.maps {
        sections.push(Section::Maps);
    }
    sections.sort();
    sections.dedup();
    let detail = sections.contains(&Section::Maps);
    show(g, &a.target, "show", sections, detail, a.sample)
}

/// Runs a focused command: one section of the dossier.
pub fn focused(g: &Global, target: &str, section: &str, detail: bool) -> anyhow::Result<Exit> {
    let s = Section::parse(section).ok_or_else(|| anyhow::anyhow!("no section {section}"))?;
    let kind = match s {
        Section::Security => "caps",
        Section::Namespaces => "ns",
        other => other.name(),
    };
    show(g, target, kind, vec![s], detail, Duration::ZERO)
}

fn show(
    g: &Global,
    target: &str,
    kind: &str,
    sections: Vec<Section>,
    maps_detail: bool,
    sample: Duration,
) -> anyhow::Result<Exit> {
    let root = crate::cmd::ps::open_root(g)?;
    let pids = targets::resolve(g, &root, target)?;
    let req = Request {
        sections: sections.clone(),
        maps_detail,
        cpu_sample: sample,
        session: g.session.clone(),
    };
    let read = dossier::read(&root, &pids, &req)
        .map_err(|f| anyhow::anyhow!("cannot read {}: {f}", root.path().display()))?;
    let mut found: Vec<Dossier> = Vec::new();
    for (pid, d) in pids.iter().zip(read) {
        match d {
            Ok(d) => found.push(d),
            Err(Failure::Gone) => {}
            Err(f) => output::warn(&format!("PID {pid}: {f}")),
        }
    }
    if found.is_empty() {
        output::warn(&targets::no_match(&root, target));
        return Ok(Exit::NoMatch);
    }
    // A focused command whose one answer could not be read for any process
    // (maps denied, namespaces denied, limits unreadable): an error.
    let unreadable = |d: &Dossier| match sections.as_slice() {
        [Section::Maps] => matches!(d.maps, Some(Err(_))),
        [Section::Limits] => matches!(d.limits, Some(Err(_))),
        [Section::Namespaces] => matches!(d.namespaces, Some(Err(_))),
        _ => false,
    };
    let exit = if found.iter().all(unreadable) {
        Exit::Failed
    } else {
        Exit::Success
    };
    let mut out = output::stdout(g.color);
    if g.json {
        procscope_render::json::write(
            &mut out,
            &procscope_render::wire::show::Document::new(kind, &found),
        )?;
        out.flush()?;
        drop(out);
        for w in procscope_render::dossier::missing_summary(&found) {
            output::warn(&w);
        }
        return Ok(exit);
    }
    let colour = output::colour(&out);
    let doc = procscope_render::dossier::page(&found, &sections);
    procscope_render::doc::write(&doc, &mut out, output::term_width(), colour)?;
    out.flush()?;
    drop(out);
    for w in procscope_render::dossier::missing_summary(&found) {
        output::warn(&w);
    }
    Ok(exit)
}
