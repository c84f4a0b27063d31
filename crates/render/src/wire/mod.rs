//! Typed JSON wire structs: one per document, serialized by the CLI and
//! deserialized (unknown fields denied) by the tests, as a consumer would.

pub mod hung;
pub mod whohas;
