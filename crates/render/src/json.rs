//! Versioned JSON documents (see docs/json.md); their types are in
//! [`crate::wire`].

use serde::Serialize;
use std::io::{self, Write};

/// The version of the JSON format. Bumped on any incompatible change;
/// adding fields is not incompatible. 2: decoded names beside raw numbers,
/// every document built from [`crate::wire`] (see docs/json.md).
pub const VERSION: u32 = 2;

/// Writes `{"procscope": VERSION, "kind": kind, <body fields>}` and a newline.
pub fn write_document<T: Serialize>(out: &mut dyn Write, kind: &str, body: &T) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a, T> {
        procscope: u32,
        kind: &'a str,
        #[serde(flatten)]
        body: &'a T,
    }
    write(
        out,
        &Doc {
            procscope: VERSION,
            kind,
            body,
        },
    )
}

/// The `snapshot` member every document gets when the program reads a
/// snapshot (see [`set_snapshot`]), serialized.
static SNAPSHOT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Marks every document written from now on as answered from a snapshot:
/// a `snapshot` member ([`crate::wire::snapshot::Source`]) is added last to
/// its top-level object (docs/json.md). Set once per program, before any
/// output; later calls are ignored.
pub fn set_snapshot(source: &crate::wire::snapshot::Source) {
    if let Ok(v) = serde_json::to_vec(source) {
        let mut m = b"\"snapshot\":".to_vec();
        m.extend(v);
        let _ = SNAPSHOT.set(m);
    }
}

/// `"snapshot":{…}` to add, if any.
fn snapshot_member() -> Option<&'static [u8]> {
    SNAPSHOT.get().map(Vec::as_slice)
}

/// Adds the snapshot member to a serialized object.
fn with_snapshot(mut s: Vec<u8>) -> Vec<u8> {
    if let Some(m) = snapshot_member() {
        if s.first() == Some(&b'{') && s.last() == Some(&b'}') {
            s.pop();
            if s.len() > 1 {
                s.push(b',');
            }
            s.extend_from_slice(m);
            s.push(b'}');
        }
    }
    s
}

/// Writes a whole document (a [`crate::wire`] type) and a newline.
pub fn write<T: Serialize>(out: &mut dyn Write, doc: &T) -> io::Result<()> {
    let mut w = io::BufWriter::new(out);
    if snapshot_member().is_some() {
        let s = serde_json::to_vec(doc).map_err(io::Error::other)?;
        w.write_all(&with_snapshot(s))?;
    } else {
        serde_json::to_writer(&mut w, doc).map_err(io::Error::other)?;
    }
    w.write_all(b"\n")?;
    w.flush()
}

/// A document whose one array member is written element by element as the
/// elements come (`ps` and `fds` stream rows), the same bytes as the whole
/// document serialized at once: the head's members, the array, the tail's
/// members. Head and tail are structs holding the wire type's members
/// before and after the array, in its order. The writer is passed to each
/// call, so that it can be used for other output in between.
pub struct Stream {
    first: bool,
}

/// `v` serialized as a JSON object, without its braces (`"a":1,"b":2`).
fn members<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    let mut s = serde_json::to_vec(v).map_err(io::Error::other)?;
    // An object: `{` … `}`; anything else is a caller's mistake.
    if s.first() != Some(&b'{') || s.last() != Some(&b'}') {
        return Err(io::Error::other("a document part must be an object"));
    }
    s.pop();
    s.remove(0);
    Ok(s)
}

impl Stream {
    /// Writes `{<head's members>,"<array>":[`.
    pub fn begin<H: Serialize>(out: &mut dyn Write, head: &H, array: &str) -> io::Result<Self> {
        let mut s = vec![b'{'];
        let h = members(head)?;
        if !h.is_empty() {
            s.extend_from_slice(&h);
            s.push(b',');
        }
        s.extend_from_slice(&serde_json::to_vec(array).map_err(io::Error::other)?);
        s.extend_from_slice(b":[");
        out.write_all(&s)?;
        Ok(Stream { first: true })
    }

    /// Writes one element of the array.
    pub fn item<T: Serialize>(&mut self, out: &mut dyn Write, item: &T) -> io::Result<()> {
        let mut s = if self.first { Vec::new() } else { vec![b','] };
        self.first = false;
        serde_json::to_writer(&mut s, item).map_err(io::Error::other)?;
        out.write_all(&s)
    }

    /// Writes `],<tail's members>}` and a newline.
    pub fn end<T: Serialize>(self, out: &mut dyn Write, tail: &T) -> io::Result<()> {
        let t = members(tail)?;
        let mut s = b"]".to_vec();
        if !t.is_empty() {
            s.push(b',');
            s.extend_from_slice(&t);
        }
        if let Some(m) = snapshot_member() {
            s.push(b',');
            s.extend_from_slice(m);
        }
        s.extend_from_slice(b"}\n");
        out.write_all(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Whole {
        procscope: u32,
        kind: &'static str,
        rows: Vec<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        late: Option<Vec<i32>>,
    }

    #[derive(Serialize)]
    struct Head {
        procscope: u32,
        kind: &'static str,
    }

    #[derive(Serialize)]
    struct Tail {
        #[serde(skip_serializing_if = "Option::is_none")]
        late: Option<Vec<i32>>,
    }

    #[test]
    fn a_stream_is_the_whole_document() {
        for (rows, late) in [
            (vec![], None),
            (vec![1], Some(vec![-1])),
            (vec![1, 2, 3], None),
        ] {
            let mut got = Vec::new();
            let mut s = Stream::begin(
                &mut got,
                &Head {
                    procscope: 2,
                    kind: "x",
                },
                "rows",
            )
            .unwrap();
            for r in &rows {
                s.item(&mut got, r).unwrap();
            }
            s.end(&mut got, &Tail { late: late.clone() }).unwrap();
            let mut want = serde_json::to_vec(&Whole {
                procscope: 2,
                kind: "x",
                rows,
                late,
            })
            .unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
