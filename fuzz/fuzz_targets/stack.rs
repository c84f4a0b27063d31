#![no_main]
//! Fuzz target: stack and wchan must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::stack::frames(data);
    let _ = procscope_parse::stack::wchan(data);
});
