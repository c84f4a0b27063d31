#![no_main]
//! Fuzz target: fdinfo and fd links must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::fdinfo::FdInfo::parse(data);
    let _ = procscope_parse::fdlink::classify(data);
});
