#![no_main]
//! Fuzz target: limits must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::limits::Limits::parse(data);
});
