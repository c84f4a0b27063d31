#![no_main]
//! Fuzz target: environ must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for e in procscope_parse::environ::entries(data) {
        let _ = (e.key(), e.value());
    }
    let _ = procscope_parse::environ::duplicates(data);
});
