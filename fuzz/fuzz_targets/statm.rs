#![no_main]
//! Fuzz target: statm must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::statm::Statm::parse(data);
});
