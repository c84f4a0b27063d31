#![no_main]
//! Fuzz target: the decoders of what blocked calls point at must never panic.
use libfuzzer_sys::fuzz_target;
use procscope_parse::callmem;

fuzz_target!(|data: &[u8]| {
    let n = data.first().map_or(0, |b| usize::from(*b) * 8);
    let _ = callmem::pollfds(data);
    let set = callmem::fd_set(data, n);
    assert!(set.iter().all(|fd| (*fd as usize) < n));
    for wide in [false, true] {
        let _ = callmem::timespec_ns(data, wide);
        let _ = callmem::timeval_ns(data, wide);
        let _ = callmem::timespec(data, wide);
    }
});
