//! A process that is its own other end: a filter on fd numbers must not
//! hide the other end it holds, and a FIFO opened for reading and writing
//! has both.

use crate::support::*;

#[test]
fn a_filtered_fds_still_finds_the_other_end_in_the_same_process() {
    let t = start_kit(&["self-pipe"]);
    let pid = t.pid_s();
    // Both ends are fds 3 (read) and 4 (write) of a fresh process.
    let out = run(&["fds", &pid, "3"]).out();
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("3 "))
        .unwrap();
    assert!(
        row.contains(&format!("written by {pid} (procscope-testk) fd 4")),
        "{out}"
    );
    let out = run(&["fds", &pid, "4"]).out();
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("4 "))
        .unwrap();
    assert!(
        row.contains(&format!("read by {pid} (procscope-testk) fd 3")),
        "{out}"
    );
    // JSON: the other end, and why names it.
    let v = run(&["fds", "--json", &pid, "3"]).json();
    let e = &v["processes"][0]["fds"][0];
    assert_eq!(e["fd"], 3);
    let peers = e["peers"].as_array().unwrap();
    assert!(
        peers
            .iter()
            .any(|p| p["pid"].as_u64() == Some(t.pid().into()) && p["fd"] == 4),
        "{e:#}"
    );
    let v = run(&["why", "--json", &pid]).json();
    let wait = &v["processes"][0]["processes"][0]["groups"][0]["wait"];
    assert_eq!(wait["fd"], 3, "{v:#}");
    assert_eq!(wait["other_end"][0]["fd"], 4, "{v:#}");
    assert_eq!(wait["other_end"][0]["pid"].as_u64(), Some(t.pid().into()));
}

#[test]
fn a_fifo_opened_for_reading_and_writing_is_its_own_reader_and_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    let t = start_kit(&["fifo-rw", path.to_str().unwrap()]);
    let out = run(&["fds", &t.pid_s(), "3"]).out();
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("3 "))
        .unwrap();
    assert!(row.contains("opened for reading and writing"), "{out}");
    assert!(
        !row.contains("no reader left") && !row.contains("no writer left"),
        "{out}"
    );
}
