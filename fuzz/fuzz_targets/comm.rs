#![no_main]
//! Fuzz target: comm must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::comm::parse(data);
});
