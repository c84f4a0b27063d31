//! Parser micro-benchmarks on real samples: `cargo bench -p procscope-parse`.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn parsers(c: &mut Criterion) {
    let stat = include_bytes!("../tests/samples/exec_argv_env.stat");
    let status = include_bytes!("../tests/samples/exec_argv_env.status");
    let cmdline = include_bytes!("../tests/samples/exec_argv_env.cmdline");
    let environ = include_bytes!("../tests/samples/exec_argv_env.environ");
    c.bench_function("stat", |b| {
        b.iter(|| procscope_parse::stat::Stat::parse(black_box(stat)))
    });
    c.bench_function("status_full", |b| {
        b.iter(|| procscope_parse::status::Status::parse(black_box(status)))
    });
    c.bench_function("status_uid_only", |b| {
        b.iter(|| procscope_parse::status::uid(black_box(status)))
    });
    c.bench_function("cmdline_args_100k", |b| {
        b.iter(|| {
            procscope_parse::cmdline::Cmdline::parse(black_box(cmdline))
                .args()
                .count()
        })
    });
    c.bench_function("environ_entries", |b| {
        b.iter(|| procscope_parse::environ::entries(black_box(environ)).count())
    });
}

criterion_group!(benches, parsers);
criterion_main!(benches);
