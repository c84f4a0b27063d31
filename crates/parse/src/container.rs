//! Recognising systemd units, containers and Kubernetes pods from a cgroup
//! path alone (no daemon socket), the way the runtimes name their cgroups.
//!
//! Layouts (systemd cgroup driver / cgroupfs driver):
//! - systemd: `/system.slice/nginx.service`,
//!   `/user.slice/user-1000.slice/session-3.scope`;
//! - docker: `/system.slice/docker-<id>.scope` / `/docker/<id>`;
//! - containerd (CRI): `…/cri-containerd-<id>.scope`;
//! - CRI-O: `…/crio-<id>.scope` (its monitor: `crio-conmon-<id>.scope`);
//! - podman: `/machine.slice/libpod-<id>.scope` (monitor:
//!   `libpod-conmon-<id>.scope`) / `/libpod_parent/libpod-<id>`;
//! - Kubernetes: `/kubepods.slice/kubepods-burstable.slice/
//!   kubepods-burstable-pod<uid with _>.slice/<container scope>` /
//!   `/kubepods/burstable/pod<uid>/<id>`; a pod with no QoS level in the
//!   path is Guaranteed (kubelet puts those directly under `kubepods`);
//! - LXC: `/lxc.payload.<name>` / `/lxc/<name>`.

/// What a cgroup path says about who runs the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recognised {
    /// Container runtime: `docker`, `containerd`, `cri-o`, `podman`, `lxc`.
    pub runtime: Option<&'static str>,
    /// Container ID (or LXC name).
    pub container_id: Option<String>,
    /// True for a runtime's monitor process (conmon), not the container.
    pub monitor: bool,
    /// Kubernetes pod UID (dashes restored).
    pub pod_uid: Option<String>,
    /// Kubernetes QoS class: `guaranteed`, `burstable`, `besteffort`.
    pub qos: Option<&'static str>,
    /// The innermost systemd unit (`.service` or `.scope`).
    pub unit: Option<String>,
    /// The innermost systemd slice.
    pub slice: Option<String>,
}

impl Recognised {
    /// True if nothing was recognised.
    pub fn is_empty(&self) -> bool {
        *self == Recognised::default()
    }
}

fn is_id(b: &[u8]) -> bool {
    b.len() == 64 && b.iter().all(u8::is_ascii_hexdigit)
}

fn is_uid(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b'-' || *c == b'_')
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `<prefix><64 hex>.scope` → the ID.
fn scoped<'a>(c: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let id = c.strip_prefix(prefix)?.strip_suffix(b".scope")?;
    is_id(id).then_some(id)
}

/// Reads a cgroup path (as in `/proc/PID/cgroup`).
pub fn recognise(path: &[u8]) -> Recognised {
    let mut r = Recognised::default();
    let mut kube = false;
    let mut prev: &[u8] = b"";
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if c == b"kubepods" || c == b"kubepods.slice" {
            kube = true;
        } else if kube && (c == b"burstable" || c == b"kubepods-burstable.slice") {
            r.qos = Some("burstable");
        } else if kube && (c == b"besteffort" || c == b"kubepods-besteffort.slice") {
            r.qos = Some("besteffort");
        } else if let Some(uid) = kube.then(|| pod_uid(c)).flatten() {
            r.pod_uid = Some(text(uid).replace('_', "-"));
            if r.qos.is_none() {
                r.qos = Some("guaranteed");
            }
        } else if let Some(id) = scoped(c, b"docker-") {
            set(&mut r, "docker", id, false);
        } else if let Some(id) = scoped(c, b"cri-containerd-") {
            set(&mut r, "containerd", id, false);
        } else if let Some(id) = scoped(c, b"crio-conmon-") {
            set(&mut r, "cri-o", id, true);
        } else if let Some(id) = scoped(c, b"crio-") {
            set(&mut r, "cri-o", id, false);
        } else if let Some(id) = scoped(c, b"libpod-conmon-") {
            set(&mut r, "podman", id, true);
        } else if let Some(id) = scoped(c, b"libpod-") {
            set(&mut r, "podman", id, false);
        } else if prev == b"docker" && is_id(c) {
            set(&mut r, "docker", c, false);
        } else if prev == b"libpod_parent" && c.strip_prefix(b"libpod-").is_some_and(is_id) {
            set(&mut r, "podman", c.get(7..).unwrap_or(c), false);
        } else if let Some(name) = c.strip_prefix(b"lxc.payload.") {
            set(&mut r, "lxc", name, false);
        } else if prev == b"lxc" && !c.is_empty() && r.runtime.is_none() {
            set(&mut r, "lxc", c, false);
        } else if kube && r.pod_uid.is_some() && is_id(c) {
            // cgroupfs driver: the runtime is not in the name.
            r.container_id = Some(text(c));
        }
        if c.ends_with(b".service") || c.ends_with(b".scope") {
            r.unit = Some(text(c));
        } else if c.ends_with(b".slice") {
            r.slice = Some(text(c));
        }
        prev = c;
    }
    r
}

fn set(r: &mut Recognised, runtime: &'static str, id: &[u8], monitor: bool) {
    r.runtime = Some(runtime);
    r.container_id = Some(text(id));
    r.monitor = monitor;
}

/// `pod<uid>` (cgroupfs) or `kubepods[-qos]-pod<uid>.slice` (systemd).
fn pod_uid(c: &[u8]) -> Option<&[u8]> {
    let uid = if let Some(s) = c.strip_suffix(b".slice") {
        let at = s.windows(4).position(|w| w == b"-pod")?;
        s.get(at + 4..)?
    } else {
        c.strip_prefix(b"pod")?
    };
    is_uid(uid).then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4b8e6d1c4e2b7c0a9f3d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708";

    fn rec(p: &str) -> Recognised {
        recognise(p.as_bytes())
    }

    #[test]
    fn systemd_units() {
        let r = rec("/system.slice/nginx.service");
        assert_eq!(r.unit.as_deref(), Some("nginx.service"));
        assert_eq!(r.slice.as_deref(), Some("system.slice"));
        assert_eq!(r.runtime, None);
        let r = rec("/user.slice/user-1000.slice/session-3.scope");
        assert_eq!(
            (r.unit.as_deref(), r.slice.as_deref()),
            (Some("session-3.scope"), Some("user-1000.slice"))
        );
        assert!(rec("/").is_empty());
        assert!(rec("").is_empty());
    }

    #[test]
    fn runtimes() {
        let r = rec(&format!("/system.slice/docker-{ID}.scope"));
        assert_eq!(
            (r.runtime, r.container_id.as_deref()),
            (Some("docker"), Some(ID))
        );
        assert_eq!(rec(&format!("/docker/{ID}")).runtime, Some("docker"));
        assert_eq!(
            rec(&format!("/machine.slice/libpod-{ID}.scope")).runtime,
            Some("podman")
        );
        let r = rec(&format!("/machine.slice/libpod-conmon-{ID}.scope"));
        assert!(r.monitor && r.runtime == Some("podman"));
        assert_eq!(
            rec(&format!("/libpod_parent/libpod-{ID}"))
                .container_id
                .as_deref(),
            Some(ID)
        );
        let r = rec("/lxc.payload.web1");
        assert_eq!(
            (r.runtime, r.container_id.as_deref()),
            (Some("lxc"), Some("web1"))
        );
        // Not 64 hex digits: not a container.
        assert_eq!(rec("/system.slice/docker-abc.scope").runtime, None);
        assert_eq!(rec("/system.slice/docker.service").runtime, None);
    }

    #[test]
    fn kubernetes_qos_classes() {
        let r = rec(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(r.qos, Some("burstable"));
        assert_eq!(
            r.pod_uid.as_deref(),
            Some("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(
            (r.runtime, r.container_id.as_deref()),
            (Some("containerd"), Some(ID))
        );
        let r = rec(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podaa_bb.slice/crio-{ID}.scope"
        ));
        assert_eq!((r.qos, r.runtime), (Some("besteffort"), Some("cri-o")));
        let r = rec(&format!(
            "/kubepods.slice/kubepods-podaa_bb.slice/crio-conmon-{ID}.scope"
        ));
        assert_eq!((r.qos, r.monitor), (Some("guaranteed"), true));
        // cgroupfs driver.
        let r = rec(&format!("/kubepods/burstable/pod0f1e2d3c-4b5a/{ID}"));
        assert_eq!(
            (
                r.qos,
                r.pod_uid.as_deref(),
                r.container_id.as_deref(),
                r.runtime
            ),
            (Some("burstable"), Some("0f1e2d3c-4b5a"), Some(ID), None)
        );
        assert_eq!(rec("/kubepods/podabc/x").qos, Some("guaranteed"));
        // "pod" outside kubepods means nothing.
        assert_eq!(rec("/podcast.service").pod_uid, None);
    }
}
