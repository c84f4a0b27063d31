//! `/proc/PID/cmdline`: the argument vector, NUL-separated.
//!
//! Traps (fs/proc/base.c, `get_mm_cmdline()`):
//! - empty arguments are real (`sh -c 'x' ''` ends in `\0\0`) and are kept;
//! - kernel threads and zombies give zero bytes;
//! - a process may rewrite its argv area (setproctitle). If the last byte of
//!   the original area is no longer NUL the kernel assumes the title spilled
//!   into the environment area and returns up to the first NUL there: the
//!   result then has no trailing NUL. Titles shorter than the area are often
//!   padded with NULs, which would read as many empty arguments.
//!
//! [`Cmdline::args`] is always lossless (joining its items with NUL and
//! appending the terminator gives back the input); [`Cmdline::shape`] says
//! how to present it.

/// How the bytes of a `cmdline` file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Zero bytes: a kernel thread, a zombie, or a process whose argv area is gone.
    Empty,
    /// An ordinary argv: NUL-terminated arguments.
    Argv,
    /// No trailing NUL: the process overwrote its argv (setproctitle) and
    /// the kernel returned the title, possibly running into the environment area.
    Unterminated,
    /// The arguments are followed by a run of NUL padding (a rewritten title
    /// shorter than the original area). `pad` counts the extra NULs.
    Padded {
        /// NUL bytes after the last non-empty argument's terminator.
        pad: usize,
    },
}

/// A borrowed view of a `cmdline` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmdline<'a> {
    raw: &'a [u8],
}

/// Trailing empty arguments beyond this count are taken as padding of a
/// rewritten title rather than as real empty arguments. Real programs are
/// rarely given more than a couple of trailing empty arguments; titles
/// padded by setproctitle leave dozens to thousands.
pub const PAD_THRESHOLD: usize = 8;

impl<'a> Cmdline<'a> {
    /// Wraps the raw bytes.
    pub fn parse(raw: &'a [u8]) -> Self {
        Cmdline { raw }
    }

    /// The exact bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Every argument, empty ones included, in order. One trailing NUL (the
    /// terminator of the last argument) is not an argument.
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let body = self.raw.strip_suffix(b"\0").unwrap_or(self.raw);
        let empty = self.raw.is_empty();
        body.split(|&c| c == 0).filter(move |_| !empty)
    }

    /// How the bytes are laid out.
    pub fn shape(&self) -> Shape {
        if self.raw.is_empty() {
            return Shape::Empty;
        }
        if self.raw.last() != Some(&0) {
            return Shape::Unterminated;
        }
        let trailing = self.raw.iter().rev().take_while(|&&c| c == 0).count();
        // `trailing` includes the terminator of the last non-empty argument.
        let pad = trailing.saturating_sub(1);
        if pad >= PAD_THRESHOLD {
            Shape::Padded { pad }
        } else {
            Shape::Argv
        }
    }

    /// The arguments to show people: padding of a rewritten title is dropped
    /// (it is still in [`Cmdline::raw`] and [`Cmdline::args`]).
    pub fn display_args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let body = match self.shape() {
            Shape::Padded { .. } => {
                let keep = self.raw.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
                self.raw.get(..keep).unwrap_or(self.raw)
            }
            _ => self.raw.strip_suffix(b"\0").unwrap_or(self.raw),
        };
        let empty = body.is_empty() && self.raw.is_empty();
        body.split(|&c| c == 0).filter(move |_| !empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(b: &[u8]) -> Vec<&[u8]> {
        Cmdline::parse(b).args().collect()
    }

    #[test]
    fn ordinary_and_empty_arguments() {
        assert_eq!(args(b"ls\0-l\0"), vec![&b"ls"[..], b"-l"]);
        assert_eq!(args(b"sh\0-c\0x\0\0"), vec![&b"sh"[..], b"-c", b"x", b""]);
        assert_eq!(args(b"a\0\0\0"), vec![&b"a"[..], b"", b""]);
        assert_eq!(args(b"\0"), vec![&b""[..]]);
        assert_eq!(args(b""), Vec::<&[u8]>::new());
        assert_eq!(Cmdline::parse(b"ls\0").shape(), Shape::Argv);
        assert_eq!(Cmdline::parse(b"").shape(), Shape::Empty);
    }

    #[test]
    fn hostile_sample_is_lossless() {
        let raw = include_bytes!("../tests/samples/exec_argv_env.cmdline");
        let c = Cmdline::parse(raw);
        let a: Vec<&[u8]> = c.args().collect();
        assert_eq!(a[0], b"/usr/local/bin/hostile");
        assert_eq!(a[1], b"--hostile-exec");
        assert_eq!(a[2], b"");
        assert_eq!(a[3], b"line1\nline2");
        assert_eq!(a[4], b"\xff\xfe");
        assert_eq!(a[5], b"it's \"quoted\"");
        assert!(a[6].len() >= 100_000);
        let mut joined = a.join(&0u8);
        joined.push(0);
        assert_eq!(joined, raw);
        assert_eq!(c.shape(), Shape::Argv);
    }

    #[test]
    fn rewritten_titles() {
        let raw = include_bytes!("../tests/samples/proctitle.cmdline");
        let c = Cmdline::parse(raw);
        assert!(matches!(c.shape(), Shape::Padded { pad } if pad > 8));
        assert_eq!(
            c.display_args().collect::<Vec<_>>(),
            vec![&b"drill: worker idle"[..]]
        );
        let c = Cmdline::parse(b"nginx: worker process");
        assert_eq!(c.shape(), Shape::Unterminated);
        assert_eq!(
            c.args().collect::<Vec<_>>(),
            vec![&b"nginx: worker process"[..]]
        );
    }
}
