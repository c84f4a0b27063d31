//! fds that a stat or a socket's state tells apart — FIFOs, devices,
//! directories, memfds with their sizes, UDP and raw sockets as ss names
//! their states, locks decoded — the same in `fds PID` and `fds --all`.

use crate::support::*;
use serde_json::Value;

/// The fds of `pid` in a `fds --json` document.
fn fds_of(v: &Value, pid: u32) -> Vec<Value> {
    v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("PID {pid} not listed"))["fds"]
        .as_array()
        .unwrap()
        .clone()
}

/// `pid`'s block of a text listing.
fn block_of(out: &str, pid: u32) -> String {
    let start = out
        .find(&format!("PID {pid} ("))
        .unwrap_or_else(|| panic!("PID {pid} not in:\n{out}"));
    let rest = &out[start..];
    let end = rest[1..].find("\nPID ").map_or(rest.len(), |e| e + 1);
    rest[..end].to_string()
}

#[test]
fn fifos_devices_memfds_udp_and_locks_read_the_same_in_fds_and_fds_all() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let t = start_kit(&["fdkinds", d]);
    let pid = t.pid();
    let one = fds_of(&run(&["fds", "--json", &t.pid_s()]).json(), pid);
    let all = fds_of(&run(&["fds", "--all", "--json"]).json(), pid);
    for (mode, fds) in [("fds PID", &one), ("fds --all", &all)] {
        let by_link = |want: &dyn Fn(&str) -> bool| -> Value {
            fds.iter()
                .find(|f| f["link"].as_str().is_some_and(want))
                .cloned()
                .unwrap_or_else(|| panic!("{mode}: no such fd in {fds:#?}"))
        };
        let fifo = by_link(&|l| l.ends_with("/fifo"));
        assert_eq!(fifo["detail"]["type"], "fifo", "{mode}: {fifo}");
        let null = by_link(&|l| l == "/dev/null");
        assert_eq!(null["detail"]["kind"], "char_device", "{mode}: {null}");
        let here = by_link(&|l| l == d);
        assert_eq!(here["detail"]["kind"], "directory", "{mode}: {here}");
        let memfd = by_link(&|l| l.starts_with("/memfd:kinds"));
        assert_eq!(
            (&memfd["detail"]["type"], &memfd["detail"]["size"]),
            (&"memfd".into(), &12345.into()),
            "{mode}: {memfd}"
        );
        let lck = by_link(&|l| l.ends_with("/posix.lck"));
        assert_eq!(lck["detail"]["kind"], "regular", "{mode}: {lck}");
        let l = &lck["file_locks"][0];
        assert_eq!(
            (
                &l["kind"],
                &l["access"],
                &l["start"],
                &l["end"],
                &l["pid"],
                &l["comm"],
                &l["waiting"]
            ),
            (
                &"POSIX".into(),
                &"WRITE".into(),
                &10.into(),
                &19.into(),
                &pid.into(),
                &"procscope-testk".into(),
                &false.into()
            ),
            "{mode}: {lck}"
        );
        // UDP as ss names it: UNCONN unconnected, with the kernel's number.
        let mut udp: Vec<(String, u64)> = fds
            .iter()
            .map(|f| &f["detail"]["socket"])
            .filter(|s| s["proto"] == "udp")
            .map(|s| {
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["state_number"].as_u64().unwrap(),
                )
            })
            .collect();
        udp.sort();
        assert_eq!(
            udp,
            [("ESTABLISHED".to_string(), 1), ("UNCONN".to_string(), 7)],
            "{mode}"
        );
        let raw = fds
            .iter()
            .map(|f| &f["detail"]["socket"])
            .find(|s| s["proto"] == "raw")
            .unwrap_or_else(|| panic!("{mode}: no raw socket"));
        assert_eq!(
            (&raw["state"], &raw["state_number"], &raw["local_port"]),
            (&"UNCONN".into(), &7.into(), &1.into()),
            "{mode}: {raw}"
        );
    }
    // ss agrees that the unbound-peer socket is UNCONN.
    let port = one
        .iter()
        .map(|f| &f["detail"]["socket"])
        .find(|s| s["state"] == "UNCONN" && s["proto"] == "udp")
        .unwrap()["local_port"]
        .clone();
    let ss = std::process::Command::new("ss")
        .args(["-uan", "sport", "=", &format!(":{port}")])
        .output()
        .unwrap();
    let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
    assert!(
        ss.lines()
            .any(|l| l.starts_with("UNCONN") && l.contains(&format!(":{port} "))),
        "{ss}"
    );

    // Text, both ways: the TYPE column tells them apart; locks decoded.
    for args in [vec!["fds", "-w", &t.pid_s()], vec!["fds", "--all", "-w"]] {
        let out = block_of(&run(&args).out(), pid);
        assert_terminal_safe(&out);
        let type_of = |needle: &str| -> String {
            out.lines()
                .find(|l| l.contains(needle))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or_else(|| panic!("{args:?}: no {needle:?} in:\n{out}"))
                .to_string()
        };
        assert_eq!(type_of("/fifo"), "fifo", "{args:?}");
        assert_eq!(type_of("/dev/null"), "chr", "{args:?}");
        assert_eq!(type_of(&format!("{d}  [")), "dir", "{args:?}");
        assert_eq!(type_of("memfd:kinds  [12K]"), "memfd", "{args:?}");
        assert_eq!(type_of(&format!(":{port} UNCONN")), "udp", "{args:?}");
        assert_eq!(type_of("protocol 1 UNCONN"), "raw", "{args:?}");
        assert!(
            out.contains(&format!(
                "locked: POSIX WRITE 10-19 by {pid} (procscope-testk)"
            )),
            "{args:?}:\n{out}"
        );
        assert!(!out.contains("lock: "), "a raw lock line in:\n{out}");
    }
    // The host-wide listing filters by those kinds.
    let kinds = fds_of(
        &run(&["fds", "--all", "--json", "--type", "chr,dir,fifo"]).json(),
        pid,
    );
    let mut got: Vec<String> = kinds
        .iter()
        .map(|f| {
            f["detail"]["kind"]
                .as_str()
                .or(f["detail"]["type"].as_str())
                .unwrap()
                .to_string()
        })
        .collect();
    got.sort();
    got.dedup(); // standard input is /dev/null too
    assert_eq!(got, ["char_device", "directory", "fifo"], "{kinds:#?}");
}
