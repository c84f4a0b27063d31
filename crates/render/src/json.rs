//! Versioned JSON documents (see docs/json.md).

use serde::Serialize;
use std::io::{self, Write};

/// The version of the JSON format. Bumped on any incompatible change;
/// adding fields is not incompatible.
pub const VERSION: u32 = 1;

/// Writes `{"procscope": VERSION, "kind": kind, <body fields>}` and a newline.
pub fn write_document<T: Serialize>(out: &mut dyn Write, kind: &str, body: &T) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a, T> {
        procscope: u32,
        kind: &'a str,
        #[serde(flatten)]
        body: &'a T,
    }
    let mut w = io::BufWriter::new(out);
    serde_json::to_writer(
        &mut w,
        &Doc {
            procscope: VERSION,
            kind,
            body,
        },
    )
    .map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()
}
