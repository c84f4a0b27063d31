#![no_main]
//! Fuzz target: syscall must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = procscope_parse::syscall::SyscallState::parse(data);
    let _ = procscope_parse::syscall::Abi::from_elf_header(data);
});
