#![no_main]
//! Fuzz target: status must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::status::Status::parse(data);
    let _ = procscope_parse::status::unescape_name(data);
});
