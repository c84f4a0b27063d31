#![no_main]
//! Fuzz target: cmdline must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = procscope_parse::cmdline::Cmdline::parse(data);
    let _ = c.shape();
    let _ = c.display_args().count();
    let mut joined = c.args().collect::<Vec<_>>().join(&0u8);
    if !data.is_empty() && data.last() == Some(&0) {
        joined.push(0);
    }
    if !data.is_empty() {
        assert_eq!(joined, data, "args() must be lossless");
    }
});
