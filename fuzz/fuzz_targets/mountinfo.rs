#![no_main]
//! Fuzz target: mountinfo must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::mountinfo::parse(data);
    let _ = procscope_parse::mountinfo::unescape(data);
});
