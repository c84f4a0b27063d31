//! `procscope serve`: a Prometheus exporter of processes grouped by rules,
//! with tasks blocked by cause, that never blocks a scrape.
//!
//! - [`rules`] groups processes (process-exporter's `process_names`
//!   schema, plus users, cgroups, systemd units and containers); without a
//!   config a process in a container or a systemd service groups under it,
//!   any other under its name.
//! - [`groups`] folds a [`procscope_model::collect::Snapshot`] into
//!   per-group gauges and counters that never go backwards (a dead
//!   process's CPU time stays counted).
//! - [`blocked`] names why tasks are stuck (the FUSE or NFS mount, a
//!   lock's holder, a memory lock) from the engine's `hung` report.
//! - [`exposition`] writes the Prometheus text format.
//! - [`webconfig`] reads exporter-toolkit's `--web.config.file` (TLS,
//!   bcrypt basic auth); [`server`] serves `/metrics`, `/` and
//!   `/-/healthy`, sharing one collection between concurrent scrapes and
//!   answering within the scrape timeout with what it has.

pub mod blocked;
pub mod exposition;
pub mod groups;
pub mod log;
pub mod rules;
pub mod server;
pub mod webconfig;
