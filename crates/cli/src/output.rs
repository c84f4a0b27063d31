//! Standard output, colours, terminal width, exit codes and error messages.

use crate::cli::ColorChoice;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit status 0.
    Success,
    /// Exit status 1: nothing matched (like pgrep and grep).
    NoMatch,
    /// Exit status 2: what was asked could not be done (the reasons were
    /// already printed).
    Failed,
}

/// An error the user can fix by changing the command line (exit status 2),
/// with a hint that says how.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A note on stderr (`procscope: …`), not a warning.
pub fn note(msg: &str) {
    let mut e = anstream::stderr().lock();
    let _ = writeln!(e, "procscope: {msg}");
}

/// Standard output as [`stdout`] opens it.
pub type Stdout = io::BufWriter<anstream::AutoStream<io::StdoutLock<'static>>>;

/// Buffered standard output that strips colours when they are off.
pub fn stdout(choice: ColorChoice) -> Stdout {
    let c = match choice {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    };
    io::BufWriter::with_capacity(64 * 1024, anstream::AutoStream::new(io::stdout().lock(), c))
}

/// Whether `out` shows colours: what `--color`, `NO_COLOR`,
/// `CLICOLOR_FORCE` and a terminal decided when it was opened. A styled
/// document is written with colour exactly then (the stream would strip
/// the codes otherwise, so the text is the same either way).
pub fn colour(out: &Stdout) -> bool {
    out.get_ref().current_choice() != anstream::ColorChoice::Never
}

/// Buffered standard output that passes every byte through untouched, for
/// `--raw` (the colour-stripping stream would also drop control bytes).
pub fn raw_stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// The terminal's width when standard output is a terminal (`COLUMNS`
/// overrides it); `None` when output goes to a pipe or file, where lines are
/// never cut (like ps).
pub fn term_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        if c > 0 {
            return Some(c);
        }
    }
    let out = io::stdout();
    if !out.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&out)
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w > 0)
}

/// Prints a warning to standard error (never fails).
pub fn warn(msg: &str) {
    let mut e = anstream::stderr().lock();
    let style = anstyle::Style::new()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()))
        .bold();
    let _ = writeln!(
        e,
        "{}procscope: warning:{} {msg}",
        style.render(),
        style.render_reset()
    );
}

/// A path given on the command line, escaped for a message (its bytes may
/// hold anything, newlines and escape sequences included).
pub fn path_text(p: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    procscope_render::escape::escape(p.as_os_str().as_bytes()).into_owned()
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    // A JSON document written straight to the pipe fails inside
    // serde_json, which keeps the io::Error's kind but is not one.
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Maps a command's result to the process exit status, printing errors.
pub fn finish(result: anyhow::Result<Exit>) -> ExitCode {
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::NoMatch) => ExitCode::from(1),
        Ok(Exit::Failed) => ExitCode::from(2),
        // `procscope ps | head`: the reader went away; that is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = anstream::stderr().lock();
            let style = anstyle::Style::new()
                .fg_color(Some(anstyle::AnsiColor::Red.into()))
                .bold();
            let _ = write!(
                err,
                "{}procscope: error:{} {e}",
                style.render(),
                style.render_reset()
            );
            for cause in e.chain().skip(1) {
                let _ = write!(err, ": {cause}");
            }
            let _ = writeln!(err);
            ExitCode::from(2)
        }
    }
}
