//! `procscope snapshot`: the whole host (or some processes) in one file
//! that every command reads back with `--snapshot FILE`; and the global
//! `--snapshot` itself.

use crate::cli::Global;
use crate::output::{Exit, UsageError};
use clap::{Args, ValueHint};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Examples for `procscope snapshot --help`.
pub const AFTER_HELP: &str = "\
Examples:
  sudo procscope snapshot -o host.psnap            every process on the host, in one file
  sudo procscope snapshot -o app.psnap nginx 1234  only these processes
  sudo procscope snapshot --redact -o t.psnap      secrets in environments and command lines masked before writing
  procscope snapshot --no-env -o - | ssh box 'cat > x.psnap'
  procscope --snapshot host.psnap ps --state D     any command, answered from the snapshot
  procscope --snapshot host.psnap why 1234
  procscope diff before.psnap after.psnap          what changed (exit 1 when anything did)

The file is a zstd-compressed tar of the proc tree (docs/snapshot.md). Reads
that can block on a hung process run under --timeout: a process whose memory
lock is stuck is recorded as timed out and the snapshot finishes. Each file is
cut at --max-file (named in the manifest). What only the live host can answer
(socket peers, pipe ends, sleep timeouts, futex owners) is recorded as the
answers procscope got; what a snapshot lacks is said to be \"not in the
snapshot\", never looked up on the host reading it.

Exit status: 0 written, 2 error.";

/// `procscope snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where to write (`-`: standard output). Written to a temporary file
    /// next to it, then renamed.
    #[arg(short = 'o', long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: PathBuf,

    /// PIDs or regexes on process names (none: every process).
    #[arg(value_name = "TARGET", value_hint = ValueHint::Other)]
    pub targets: Vec<String>,

    /// Leave environments out.
    #[arg(long)]
    pub no_env: bool,

    /// Mask secrets in environments and command lines before anything is
    /// written (the rules of `env --redact`).
    #[arg(long)]
    pub redact: bool,

    /// More keys to mask with --redact (globs, like `env --redact-key`).
    #[arg(long, value_name = "GLOB", requires = "redact")]
    pub redact_key: Vec<String>,

    /// Cut any one file at this many bytes (e.g. 1M, 8M).
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size)]
    pub max_file: usize,

    /// Leave smaps out (every mapping's sizes, which `show` and `maps -x`
    /// read: most of a snapshot's size).
    #[arg(long)]
    pub no_smaps: bool,

    /// Show progress on stderr (default: when stderr is a terminal).
    #[arg(long)]
    pub progress: bool,
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (n, mult) = match s.trim().to_ascii_uppercase() {
        t if t.ends_with('K') => (t.trim_end_matches('K').to_owned(), 1usize << 10),
        t if t.ends_with('M') => (t.trim_end_matches('M').to_owned(), 1 << 20),
        t if t.ends_with('G') => (t.trim_end_matches('G').to_owned(), 1 << 30),
        t => (t, 1),
    };
    n.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 512K, 8M)"))
}

/// Runs `procscope snapshot`.
pub fn run(g: &Global, a: &SnapshotArgs) -> anyhow::Result<Exit> {
    if g.opened.is_some() {
        return Err(UsageError(
            "snapshot reads the live host; drop --snapshot (copy the file to keep it)".into(),
        )
        .into());
    }
    let root = crate::cmd::ps::open_root(g)?;
    let mut pids = Vec::new();
    for t in &a.targets {
        let mut got = crate::cmd::targets::resolve(g, &root, t)?;
        // A PID is taken as given by the resolver: one that does not exist
        // (the process just exited) matches nothing, as a pattern would.
        got.retain(|&pid| !matches!(root.process(pid), Err(procscope_read::Failure::Gone)));
        if got.is_empty() {
            crate::output::warn(&crate::cmd::targets::no_match(&root, t));
        }
        pids.extend(got);
    }
    pids.sort_unstable();
    pids.dedup();
    if !a.targets.is_empty() && pids.is_empty() {
        return Ok(Exit::NoMatch);
    }
    let opts = procscope_snapshot::capture::Options {
        pids,
        targets: a.targets.clone(),
        no_env: a.no_env,
        redact: a
            .redact
            .then(|| procscope_model::redact::Redactor::with_keys(&a.redact_key)),
        max_file: a.max_file,
        smaps: !a.no_smaps,
        command_line: std::env::args().collect(),
    };
    let show = a.progress || std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let mut progress = |done: usize, total: usize| {
        if show && (done == total || last.elapsed().as_millis() >= 200) {
            last = std::time::Instant::now();
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\rprocscope: snapshot: {done}/{total} processes");
            if done == total {
                let _ = writeln!(e);
            }
        }
    };
    // An existing file that is not a regular one (a device such as
    // /dev/null, a FIFO, a socket) is written into, as `cp` and `tar -f`
    // do: renaming a temporary file over it would replace /dev/null with
    // a regular file for every user of the host.
    let special = std::fs::metadata(&a.output).ok().filter(|m| !m.is_file());
    if special.as_ref().is_some_and(std::fs::Metadata::is_dir) {
        return Err(UsageError(format!(
            "{} is a directory: give a file name (e.g. {}/host.psnap)",
            crate::output::path_text(&a.output),
            crate::output::path_text(&a.output)
        ))
        .into());
    }
    let manifest = if a.output.as_os_str() == "-" {
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        procscope_snapshot::capture::take(&root, &g.session, opts, out, &mut progress)?
    } else if special.is_some() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&a.output)
            .map_err(|e| {
                anyhow::anyhow!("cannot write {}: {e}", crate::output::path_text(&a.output))
            })?;
        let out = std::io::BufWriter::new(f);
        procscope_snapshot::capture::take(&root, &g.session, opts, out, &mut progress)?
    } else {
        let dir = match a.output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".procscope-snapshot-")
            .tempfile_in(&dir)
            .map_err(|e| anyhow::anyhow!("cannot write in {}: {e}", dir.display()))?;
        let _unfinished = crate::cleanup::register(tmp.path().to_path_buf());
        let out = std::io::BufWriter::new(tmp.as_file());
        let m = procscope_snapshot::capture::take(&root, &g.session, opts, out, &mut progress)?;
        tmp.persist(&a.output)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", a.output.display(), e.error))?;
        m
    };
    let timed_out = manifest
        .unreadable
        .iter()
        .filter(|u| matches!(u.error, procscope_read::Failure::TimedOut { .. }))
        .count();
    if a.output.as_os_str() != "-" || show {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(
            e,
            "procscope: snapshot: {} processes in {} ms{}{}",
            manifest.processes,
            manifest.duration_ms,
            if timed_out > 0 {
                format!(", {timed_out} reads timed out (named in the manifest)")
            } else {
                String::new()
            },
            if manifest.truncated.is_empty() {
                String::new()
            } else {
                format!(", {} files cut at --max-file", manifest.truncated.len())
            }
        );
    }
    Ok(Exit::Success)
}

/// Opens `--snapshot FILE` (before any command runs): unpacks it, marks
/// JSON output as coming from it, and says so on stderr for text.
pub fn open_global(g: &mut Global, catch_signals: bool) -> anyhow::Result<()> {
    let Some(file) = g.snapshot.clone() else {
        return Ok(());
    };
    if g.proc_root != std::path::Path::new("/proc") {
        return Err(UsageError("--snapshot and --proc-root: give one of them".into()).into());
    }
    let mut unpacked = None;
    let opened = procscope_snapshot::open::open_telling(
        &file,
        procscope_snapshot::Limits::default(),
        &mut |dir| {
            if catch_signals {
                unpacked = Some(Arc::new(crate::cleanup::register(dir.to_path_buf())));
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    g.unpacked = unpacked;
    let source = source(&file.display().to_string(), &opened.manifest);
    if g.json {
        procscope_render::json::set_snapshot(&source);
    } else {
        // The manifest's strings are the file's: escaped like any other
        // bytes from outside before they reach the terminal.
        let esc = |s: &str| procscope_render::escape::escape(s.as_bytes()).into_owned();
        let from = if file.as_os_str() == "-" {
            "standard input".to_string()
        } else {
            esc(&file.display().to_string())
        };
        crate::output::note(&format!(
            "answers from the snapshot {from} taken {} on {} (kernel {})",
            source.taken_at,
            esc(&source.hostname),
            esc(&source.kernel_release)
        ));
    }
    g.opened = Some(Arc::new(opened));
    Ok(())
}

/// The `snapshot` member of JSON documents.
pub fn source(
    file: &str,
    m: &procscope_snapshot::Manifest,
) -> procscope_render::wire::snapshot::Source {
    procscope_render::wire::snapshot::Source {
        file: file.to_owned(),
        taken_at: procscope_snapshot::format::taken_at(m.taken_at_unix_ms),
        taken_at_unix_ms: m.taken_at_unix_ms,
        hostname: m.hostname.clone(),
        kernel_release: m.kernel_release.clone(),
        boot_id: m.boot_id.clone(),
        procscope_version: m.procscope_version.clone(),
        format: m.format,
    }
}
