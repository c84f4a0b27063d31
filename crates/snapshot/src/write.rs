//! Writing the container: a tar stream (ustar with GNU long names)
//! compressed with zstd, entries in the order the reader expects them
//! (format line first, manifest and live answers last).

use crate::format;
use std::io::Write;

/// Compression level: zstd's default (fast, about 4x on /proc text).
const LEVEL: i32 = 3;

/// A snapshot being written.
pub struct Writer<W: Write> {
    tar: tar::Builder<zstd::Encoder<'static, W>>,
    mtime: u64,
}

impl<W: Write> Writer<W> {
    /// Starts the stream and writes the format line.
    pub fn new(out: W) -> std::io::Result<Self> {
        let enc = zstd::Encoder::new(out, LEVEL)?;
        let mut tar = tar::Builder::new(enc);
        tar.mode(tar::HeaderMode::Deterministic);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut w = Writer { tar, mtime };
        w.file(
            format::FORMAT_ENTRY,
            format::format_line(format::FORMAT).as_bytes(),
        )?;
        Ok(w)
    }

    fn header(&self, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    /// A regular file.
    pub fn file(&mut self, path: &str, data: &[u8]) -> std::io::Result<()> {
        let mut h = self.header(tar::EntryType::Regular, data.len() as u64, 0o644);
        self.tar.append_data(&mut h, path, data)
    }

    /// A directory.
    pub fn dir(&mut self, path: &str) -> std::io::Result<()> {
        let mut h = self.header(tar::EntryType::Directory, 0, 0o755);
        self.tar.append_data(&mut h, path, std::io::empty())
    }

    /// A symbolic link whose text is `target` (bytes, as readlink gave).
    pub fn symlink(&mut self, path: &str, target: &[u8]) -> std::io::Result<()> {
        let mut h = self.header(tar::EntryType::Symlink, 0, 0o777);
        // The link text exactly: `append_link` treats it as a path and
        // rewrites some (`/` became `//`), so a short one is set as is.
        if target.len() <= 100 {
            h.set_link_name_literal(target)?;
            return self.tar.append_data(&mut h, path, std::io::empty());
        }
        let t = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target);
        self.tar.append_link(&mut h, path, t)
    }

    /// A hard link to `target`, an earlier regular file.
    pub fn hard_link(&mut self, path: &str, target: &str) -> std::io::Result<()> {
        let mut h = self.header(tar::EntryType::Link, 0, 0o644);
        self.tar.append_link(&mut h, path, target)
    }

    /// Ends the tar and the zstd frame, and flushes.
    pub fn finish(self) -> std::io::Result<()> {
        let enc = self.tar.into_inner()?;
        let mut out = enc.finish()?;
        out.flush()
    }
}
