//! `procscope cmdline TARGET`: the command line, exactly.

use crate::cli::{CmdlineArgs, Global};
use crate::cmd::targets;
use crate::output::{self, Exit, UsageError};
use anstyle::Style;
use procscope_model::target::{ProcText, basename, exe_path};
use procscope_parse::cmdline::{Cmdline, Shape};
use procscope_parse::stat::TaskState;
use procscope_render::escape::{escape, escape_arg};
use procscope_render::shell::quote;
use std::io::Write;

/// Extra help for `procscope cmdline --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope cmdline 1234               one argument per line, escaped; empty ones shown as ''
  procscope cmdline -0 1234 | xargs -0 printf '<%s>\\n'
  procscope cmdline --hex nginx        a hex dump of every nginx process's command line
  bash -c \"$(procscope cmdline --shell 1234)\"   run it again with byte-identical arguments

The command line is /proc/PID/cmdline: the argv the process was started with,
unless it rewrote it (setproctitle), which is detected and said. Kernel
threads and zombies have none. A process whose memory lock is held by a stuck
thread gives 'timed out' after --timeout instead of hanging.";

/// Runs `procscope cmdline`.
pub fn run(g: &Global, a: &CmdlineArgs) -> anyhow::Result<Exit> {
    let (root, texts) = targets::read(g, &a.target, true, false, false)?;
    if texts.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    // Raw bytes of several processes would run together (no title line can
    // separate them without changing the bytes): one process only.
    if a.raw && texts.len() > 1 {
        let pids: Vec<String> = texts.iter().map(|t| t.pid.to_string()).collect();
        return Err(UsageError(format!(
            "`{}` matches {} processes (PIDs {}): --raw needs one; give a PID",
            escape(a.target.as_bytes()),
            texts.len(),
            pids.join(", ")
        ))
        .into());
    }
    let mut out = output::stdout(g.color);
    if g.json {
        write_json(&mut out, &texts)?;
        out.flush()?;
        let ok = texts.iter().any(|t| matches!(t.cmdline, Some(Ok(_))));
        return Ok(if ok { Exit::Success } else { Exit::Failed });
    }
    let mut failed = 0usize;
    let multi = texts.len() > 1;
    let mut blocks = 0usize;
    for t in &texts {
        let c = match &t.cmdline {
            Some(Ok(c)) => c,
            Some(Err(f)) => {
                out.flush()?;
                output::warn(&targets::explain(t, "cmdline", f));
                failed += 1;
                continue;
            }
            None => continue,
        };
        let view = Cmdline::parse(&c.raw);
        if a.raw {
            out.flush()?;
            let mut raw = output::raw_stdout();
            raw.write_all(&c.raw)?;
            raw.flush()?;
            continue;
        }
        if view.shape() == Shape::Empty {
            let why = empty_reason(t);
            if a.shell || a.hex {
                out.flush()?;
                output::warn(&format!("{}: {why}", targets::title(t)));
                failed += 1;
            } else {
                writeln!(out, "{}: {why}", targets::title(t))?;
            }
            continue;
        }
        if a.hex {
            // Several matches: each dump under its title, blocks apart.
            if multi {
                if blocks > 0 {
                    writeln!(out)?;
                }
                targets::write_title(&mut out, t)?;
                writeln!(out, ":")?;
            }
            blocks += 1;
            hexdump(&mut out, &c.raw)?;
        } else if a.shell {
            if multi {
                writeln!(out, "# {}", targets::title(t))?;
            }
            writeln!(out, "{}", shell_line(t, &view))?;
        } else {
            let cut = c.truncated.then(|| targets::cut_at(g, c.raw.len()));
            human(&mut out, t, &view, cut.as_deref())?;
        }
    }
    out.flush()?;
    Ok(if failed == texts.len() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// Why a process has no command line.
fn empty_reason(t: &ProcText) -> &'static str {
    match &t.stat {
        Ok(s) if s.kernel_thread => "a kernel thread: it has no command line",
        Ok(s) if s.state == TaskState::Zombie => {
            "a zombie (exited, not yet reaped): its command line is gone"
        }
        _ => "its command line is empty (its memory is gone, or it cleared its argv)",
    }
}

/// The executable path, without the ` (deleted)` suffix, when readable.
fn exe(t: &ProcText) -> Option<(&[u8], bool)> {
    t.exe.as_ref().ok().map(|e| exe_path(e.as_slice()))
}

fn human(
    out: &mut dyn Write,
    t: &ProcText,
    view: &Cmdline<'_>,
    cut: Option<&str>,
) -> std::io::Result<()> {
    let dim = Style::new().dimmed();
    targets::write_title(out, t)?;
    match exe(t) {
        Some((p, deleted)) => {
            write!(out, "  exe {}", escape(p))?;
            if deleted {
                write!(
                    out,
                    " {}(deleted since it started){}",
                    dim.render(),
                    dim.render_reset()
                )?;
            }
        }
        None => write!(out, "  exe ?")?,
    }
    writeln!(out)?;
    let args: Vec<&[u8]> = view.display_args().collect();
    let w = args.len().saturating_sub(1).to_string().len();
    for (i, arg) in args.iter().enumerate() {
        write!(out, "  [{i:>w$}] {}", escape_arg(arg))?;
        if i == 0 {
            if let Some((p, _)) = exe(t) {
                if basename(arg) != basename(p) {
                    write!(
                        out,
                        "  {}<- argv[0] is not the executable's name{}",
                        dim.render(),
                        dim.render_reset()
                    )?;
                }
            }
        }
        writeln!(out)?;
    }
    match view.shape() {
        // A cut command line has no terminator because it was cut, not
        // because it was rewritten.
        Shape::Unterminated if cut.is_some() => {}
        Shape::Unterminated => writeln!(
            out,
            "  {}note: the process rewrote its command line (setproctitle): no NUL terminator, so this is its title, not its original argv{}",
            dim.render(),
            dim.render_reset()
        )?,
        Shape::Padded { pad } => writeln!(
            out,
            "  {}note: the process rewrote its command line (setproctitle); {pad} bytes of NUL padding not shown (see --raw){}",
            dim.render(),
            dim.render_reset()
        )?,
        _ => {}
    }
    if let Some(cut) = cut {
        writeln!(out, "  {}note: {cut}{}", dim.render(), dim.render_reset())?;
    }
    Ok(())
}

/// One line of bash that runs the executable with exactly these arguments.
///
/// Always through `exec --`: bash's `exec` only ever runs a program (never
/// a builtin, function or alias of the same name, never an assignment),
/// so no argument can choose what runs. The executable's own path is used
/// when it can be read; `argv[0]` only when it cannot.
pub fn shell_line(t: &ProcText, view: &Cmdline<'_>) -> String {
    let args: Vec<&[u8]> = view.args().collect();
    let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let mut s = String::from("exec");
    let rest = match (exe(t), args.first()) {
        // argv[0] is the path that was executed: nothing to add.
        (Some((p, _)), Some(a0)) if p == *a0 => {
            s.push_str(" --");
            words.as_slice()
        }
        // Otherwise run the executable with argv[0] set as the process had it.
        (Some((p, _)), Some(_)) => {
            s.push_str(&format!(
                " -a {} -- {}",
                words.first().map_or("''", String::as_str),
                quote(p)
            ));
            words.get(1..).unwrap_or_default()
        }
        _ => {
            s.push_str(" --");
            words.as_slice()
        }
    };
    for w in rest {
        s.push(' ');
        s.push_str(w);
    }
    s
}

fn hexdump(out: &mut dyn Write, b: &[u8]) -> std::io::Result<()> {
    for (i, chunk) in b.chunks(16).enumerate() {
        let mut hex = String::with_capacity(40);
        for (j, byte) in chunk.iter().enumerate() {
            hex.push_str(&format!("{byte:02x}"));
            if j % 2 == 1 {
                hex.push(' ');
            }
        }
        let text: String = chunk
            .iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    char::from(c)
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(out, "{:08x}: {hex:<40} {text}", i * 16)?;
    }
    Ok(())
}

fn write_json(out: &mut dyn Write, texts: &[ProcText]) -> std::io::Result<()> {
    use procscope_render::wire::cmdline::{Document, Process};
    let doc = Document::new(texts.iter().map(Process::from).collect());
    procscope_render::json::write(out, &doc)
}
