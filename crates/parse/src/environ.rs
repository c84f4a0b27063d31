//! `/proc/PID/environ`: the environment as passed to `execve`, NUL-separated.
//!
//! Order matters and is kept; duplicate keys are real (glibc's `getenv`
//! returns the **first** match); entries without `=` exist; a value may hold
//! newlines and control bytes. In-place edits of that memory show, but
//! `setenv()` after start usually does not (it allocates elsewhere).

/// One entry of the environment block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    raw: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The exact bytes of the entry.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The part before the first `=`, or the whole entry if there is none.
    pub fn key(&self) -> &'a [u8] {
        match self.raw.iter().position(|&c| c == b'=') {
            Some(i) => self.raw.get(..i).unwrap_or(self.raw),
            None => self.raw,
        }
    }

    /// The part after the first `=`; `None` for an entry without `=`.
    pub fn value(&self) -> Option<&'a [u8]> {
        let i = self.raw.iter().position(|&c| c == b'=')?;
        self.raw.get(i + 1..)
    }
}

/// Every entry, in the kernel's order. An empty entry between two NULs is
/// kept (it exists in memory); the single final terminator is not an entry.
pub fn entries(b: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    let body = b.strip_suffix(b"\0").unwrap_or(b);
    let empty = b.is_empty();
    body.split(|&c| c == 0)
        .filter(move |_| !empty)
        .map(|raw| Entry { raw })
}

/// Indexes (into [`entries`]) of entries whose key appeared earlier: these
/// are the ones `getenv` does not see.
pub fn duplicates(b: &[u8]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    entries(b)
        .enumerate()
        .filter(|(_, e)| e.value().is_some() && !seen.insert(e.key()))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_sample() {
        let raw = include_bytes!("../tests/samples/exec_argv_env.environ");
        let e: Vec<Entry> = entries(raw).collect();
        assert_eq!(e[0].key(), b"DUP");
        assert_eq!(e[0].value(), Some(&b"first"[..]));
        assert_eq!(e[1].value(), Some(&b"second"[..]));
        assert_eq!(e[2].key(), b"NOEQUALSSIGN");
        assert_eq!(e[2].value(), None);
        assert_eq!(e[3].value(), Some(&b"line1\nline2"[..]));
        assert_eq!(e[4].value(), Some(&b"\x1b[31mred\x1b[0m"[..]));
        assert_eq!(duplicates(raw), vec![1]);
        let mut joined = e.iter().map(|e| e.raw()).collect::<Vec<_>>().join(&0u8);
        joined.push(0);
        assert_eq!(joined, raw);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(entries(b"").count(), 0);
        let e: Vec<Entry> = entries(b"A=\0=x\0B=c=d\0").collect();
        assert_eq!(e[0].value(), Some(&b""[..]));
        assert_eq!(e[1].key(), b"");
        assert_eq!(e[2].value(), Some(&b"c=d"[..]));
        assert_eq!(entries(b"A=1\0\0B=2\0").count(), 3);
    }
}
