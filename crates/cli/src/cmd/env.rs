//! `procscope env TARGET [NAME…]`: the environment, exactly.

use crate::cli::{EnvArgs, Global};
use crate::cmd::targets;
use crate::output::{self, Exit, UsageError};
use anstyle::Style;
use procscope_model::glob::glob_match;
use procscope_model::redact::Redactor;
use procscope_model::target::ProcText;
use procscope_parse::environ::{self, Entry};
use procscope_render::escape::escape;
use procscope_render::shell::{is_name, quote, readonly_in_bash, runs_code};
use procscope_render::wire::common::{Bytes as WireBytes, OrError};
use procscope_render::wire::env as wire;
use std::collections::{HashMap, HashSet};
use std::io::Write;

/// Extra help for `procscope env --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope env 1234                   every variable, in the kernel's order, escaped
  procscope env 1234 PATH 'LC_*'       only these names (globs allowed)
  procscope env --redact nginx         mask tokens, passwords, keys and URL passwords
  procscope env --export 1234 > env.sh the environment as bash `export` lines
  procscope env --diff - 1234          what differs from your own environment
  procscope env --diff 5678 1234       ... from another process's

What this shows: /proc/PID/environ is the environment the process was
started with (as passed to execve), plus edits made in place in that
memory. Variables set later with setenv() or putenv() usually do not show,
and unset ones usually still do. Duplicate names are kept and flagged: getenv()
returns the first. Reading another user's environment needs the same user or
CAP_SYS_PTRACE (run as that user or with sudo).

--redact masks values whose name matches *TOKEN* *SECRET* *PASSWORD* *PASSWD*
*PASSPHRASE* *_PASS PASS *_PWD *_KEY *_KEY_* *APIKEY* *API_KEY* *PRIVATE*
*CREDENTIAL* *SESSION* *COOKIE* AUTH* *_AUTH *SIGNATURE* (case-insensitive; add
more with --redact-key GLOB), the password of any scheme://user:password@host
URL and the credential after `Bearer `, `Basic ` or `Token ` (an HTTP header),
keeping the name and the length class of the value.";

/// Runs `procscope env`.
pub fn run(g: &Global, a: &EnvArgs) -> anyhow::Result<Exit> {
    if a.raw && a.redact {
        return Err(UsageError(
            "--raw prints the exact bytes; it cannot be combined with --redact".into(),
        )
        .into());
    }
    let (root, texts) = targets::read(g, &a.target, false, true, false)?;
    if texts.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    let redactor = a.redact.then(|| Redactor::with_keys(&a.redact_keys));
    let other = match &a.diff {
        Some(o) => Some(other_env(g, &root, o)?),
        None => None,
    };
    if a.raw && texts.len() > 1 {
        return Err(UsageError(format!(
            "`{}` matches {} processes: --raw needs one; give a PID",
            escape(a.target.as_bytes()),
            texts.len()
        ))
        .into());
    }
    let mut out = output::stdout(g.color);
    let mut failed = 0usize;
    // Processes with at least one variable shown (NAMEs may match none).
    let mut matched = 0usize;
    let mut docs = Vec::new();
    for t in &texts {
        let env = match &t.environ {
            Some(Ok(e)) => e,
            Some(Err(f)) => {
                failed += 1;
                if g.json {
                    docs.push(wire::Process {
                        pid: t.pid,
                        comm: None,
                        environ: procscope_render::wire::common::failed(f),
                        truncated: None,
                    });
                } else {
                    out.flush()?;
                    output::warn(&targets::explain(t, "environ", f));
                }
                continue;
            }
            None => continue,
        };
        if env.raw.is_empty() && !g.json && !a.raw {
            let why = match &t.stat {
                Ok(st) if st.kernel_thread => "a kernel thread: it has no environment",
                Ok(st) if st.state == procscope_parse::stat::TaskState::Zombie => {
                    "a zombie (exited, not yet reaped): its environment is gone"
                }
                _ => "its environment is empty",
            };
            writeln!(out, "{}: {why}", targets::title(t))?;
            continue;
        }
        let dups: HashSet<usize> = environ::duplicates(&env.raw).into_iter().collect();
        let mut shown: Vec<(usize, Entry<'_>)> = environ::entries(&env.raw)
            .enumerate()
            .filter(|(_, e)| {
                a.names.is_empty() || a.names.iter().any(|n| glob_match(n.as_bytes(), e.key()))
            })
            // JSON holds a value per entry: at most cap::ENTRIES (one more
            // shows that it was cut).
            .take(if g.json {
                procscope_read::cap::ENTRIES + 1
            } else {
                usize::MAX
            })
            .collect();
        if !shown.is_empty() {
            matched += 1;
        }
        if a.sort {
            shown.sort_by(|x, y| x.1.key().cmp(y.1.key()));
        }
        let value = |e: &Entry<'_>| -> Option<Vec<u8>> {
            let v = e.value()?;
            Some(match &redactor {
                Some(r) => r.value(e.key(), v),
                None => v.to_vec(),
            })
        };
        if g.json {
            docs.push(json_one(t, &shown, &dups, &value, env.truncated));
            continue;
        }
        if a.raw {
            out.flush()?;
            let mut raw = output::raw_stdout();
            if a.names.is_empty() && !a.sort {
                raw.write_all(&env.raw)?;
            } else {
                for (_, e) in &shown {
                    raw.write_all(e.raw())?;
                    raw.write_all(b"\0")?;
                }
            }
            raw.flush()?;
            continue;
        }
        let dim = Style::new().dimmed();
        if texts.len() > 1 || other.is_some() {
            targets::write_title(&mut out, t)?;
            writeln!(out)?;
        }
        if let Some(other) = &other {
            write_diff(&mut out, &shown, &dups, other, &value)?;
            continue;
        }
        let mut withheld: Vec<String> = Vec::new();
        // Runs of empty entries (consecutive NULs) are counted on one line:
        // a process can hold millions of them.
        let mut empties = 0usize;
        let flush_empties = |out: &mut dyn Write, n: &mut usize| -> std::io::Result<()> {
            if *n > 0 {
                let what = if *n == 1 { "entry" } else { "entries" };
                writeln!(
                    out,
                    "{}# {} empty {what} (no '=': not variables){}",
                    dim.render(),
                    *n,
                    dim.render_reset()
                )?;
                *n = 0;
            }
            Ok(())
        };
        for (i, e) in &shown {
            if e.raw().is_empty() {
                empties += 1;
                continue;
            }
            flush_empties(&mut out, &mut empties)?;
            if a.export {
                match (e.value(), is_name(e.key())) {
                    (Some(_), true) if readonly_in_bash(e.key()) => writeln!(
                        out,
                        "# {} skipped: read-only in bash (assigning it would stop the sourcing shell)",
                        escape(e.key())
                    )?,
                    (Some(_), true)
                        if !a.unsafe_vars && !dups.contains(i) && runs_code(e.key()).is_some() =>
                    {
                        let why = runs_code(e.key()).unwrap_or_default();
                        writeln!(
                            out,
                            "# {} left out: {why} (--unsafe-vars exports it)",
                            escape(e.key())
                        )?;
                        withheld.push(String::from_utf8_lossy(e.key()).into_owned());
                    }
                    (Some(_), true) if !dups.contains(i) => writeln!(
                        out,
                        "export {}={}",
                        String::from_utf8_lossy(e.key()),
                        quote(&value(e).unwrap_or_default())
                    )?,
                    (Some(_), true) => writeln!(
                        out,
                        "# duplicate {} skipped: getenv() sees the first",
                        escape(e.key())
                    )?,
                    (Some(_), false) => {
                        writeln!(out, "# not a shell name, skipped: {}", escape(e.key()))?
                    }
                    (None, _) => {
                        writeln!(out, "# entry without '=', skipped: {}", escape(e.raw()))?
                    }
                }
                continue;
            }
            match value(e) {
                Some(v) => write!(out, "{}={}", escape(e.key()), escape(&v))?,
                None => write!(out, "{}", escape(e.raw()))?,
            }
            if dups.contains(i) {
                write!(
                    out,
                    "  {}# duplicate: getenv() returns an earlier {}{}",
                    dim.render(),
                    escape(e.key()),
                    dim.render_reset()
                )?;
            } else if e.value().is_none() {
                write!(
                    out,
                    "  {}# no '=': not a variable{}",
                    dim.render(),
                    dim.render_reset()
                )?;
            }
            writeln!(out)?;
        }
        flush_empties(&mut out, &mut empties)?;
        if !withheld.is_empty() {
            output::warn(&format!(
                "{}: not exported, because your shell would run what they hold: {} (--unsafe-vars exports them)",
                targets::title(t),
                escape(withheld.join(" ").as_bytes())
            ));
        }
        if env.truncated {
            output::warn(&format!(
                "{}: environ {}",
                targets::title(t),
                targets::cut_at(g, env.raw.len())
            ));
        }
    }
    if g.json {
        procscope_render::json::write(&mut out, &wire::Document::new(docs))?;
    }
    out.flush()?;
    Ok(if failed == texts.len() {
        Exit::Failed
    } else if matched == 0 && !a.names.is_empty() && a.diff.is_none() {
        if !g.json {
            output::warn(&format!(
                "no variable matches {}",
                escape(a.names.join(" ").as_bytes())
            ));
        }
        Exit::NoMatch
    } else {
        Exit::Success
    })
}

/// The environment to compare with: a process, our own, or a file.
fn other_env(g: &Global, _root: &procscope_read::ProcRoot, spec: &str) -> anyhow::Result<Vec<u8>> {
    if spec == "-" {
        use std::os::unix::ffi::OsStrExt;
        let mut v = Vec::new();
        for (k, val) in std::env::vars_os() {
            v.extend_from_slice(k.as_bytes());
            v.push(b'=');
            v.extend_from_slice(val.as_bytes());
            v.push(0);
        }
        return Ok(v);
    }
    let as_file = std::path::Path::new(spec);
    if spec.contains('/') || (as_file.is_file() && spec.parse::<i32>().is_err()) {
        let b = std::fs::read(as_file).map_err(|e| UsageError(format!("--diff {spec}: {e}")))?;
        // KEY=value lines (or NUL-separated, like /proc/PID/environ).
        let sep = if b.contains(&0) { 0 } else { b'\n' };
        let mut v = Vec::with_capacity(b.len());
        for line in b.split(|&c| c == sep).filter(|l| !l.is_empty()) {
            v.extend_from_slice(line);
            v.push(0);
        }
        return Ok(v);
    }
    let (root, texts) = targets::read(g, spec, false, true, false)?;
    match texts.as_slice() {
        [t] => match &t.environ {
            Some(Ok(e)) => Ok(e.raw.clone()),
            Some(Err(f)) => Err(anyhow::anyhow!(targets::explain(t, "environ", f))),
            None => Err(anyhow::anyhow!("no environment read")),
        },
        [] => Err(UsageError(format!("--diff: {}", targets::no_match(&root, spec))).into()),
        many => Err(UsageError(format!(
            "--diff `{spec}` matches {} processes: give a PID",
            many.len()
        ))
        .into()),
    }
}

fn write_diff(
    out: &mut dyn Write,
    shown: &[(usize, Entry<'_>)],
    dups: &HashSet<usize>,
    other: &[u8],
    value: &dyn Fn(&Entry<'_>) -> Option<Vec<u8>>,
) -> std::io::Result<()> {
    // Compare what getenv() would see: the first entry of each name.
    let mut theirs: HashMap<&[u8], Entry<'_>> = HashMap::new();
    let mut their_order = Vec::new();
    for e in environ::entries(other) {
        if e.value().is_some() && !theirs.contains_key(e.key()) {
            theirs.insert(e.key(), e);
            their_order.push(e);
        }
    }
    let mine: HashSet<&[u8]> = shown
        .iter()
        .filter(|(i, e)| !dups.contains(i) && e.value().is_some())
        .map(|(_, e)| e.key())
        .collect();
    let green = Style::new().fg_color(Some(anstyle::AnsiColor::Green.into()));
    let red = Style::new().fg_color(Some(anstyle::AnsiColor::Red.into()));
    let yellow = Style::new().fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    let mut same = 0usize;
    for (i, e) in shown {
        if dups.contains(i) || e.value().is_none() {
            continue;
        }
        let v = value(e).unwrap_or_default();
        match theirs.get(e.key()) {
            None => writeln!(
                out,
                "{}+ {}={}{}",
                green.render(),
                escape(e.key()),
                escape(&v),
                green.render_reset()
            )?,
            Some(o) if o.value() == e.value() => same += 1,
            Some(o) => writeln!(
                out,
                "{}~ {}={}  (other: {}){}",
                yellow.render(),
                escape(e.key()),
                escape(&v),
                escape(&value(o).unwrap_or_default()),
                yellow.render_reset()
            )?,
        }
    }
    for o in their_order {
        if !mine.contains(o.key()) {
            writeln!(
                out,
                "{}- {}={}{}",
                red.render(),
                escape(o.key()),
                escape(&value(&o).unwrap_or_default()),
                red.render_reset()
            )?;
        }
    }
    writeln!(out, "  ({same} identical)")
}

fn json_one(
    t: &ProcText,
    shown: &[(usize, Entry<'_>)],
    dups: &HashSet<usize>,
    value: &dyn Fn(&Entry<'_>) -> Option<Vec<u8>>,
    truncated: bool,
) -> wire::Process {
    let truncated = truncated || shown.len() > procscope_read::cap::ENTRIES;
    let entries = shown
        .iter()
        .take(procscope_read::cap::ENTRIES)
        .map(|(i, e)| wire::Entry {
            key: WireBytes::new(e.key()),
            value: value(e).map(|v| WireBytes::new(&v)),
            duplicate: dups.contains(i),
        })
        .collect();
    wire::Process {
        pid: t.pid,
        comm: Some(t.stat.as_ref().ok().map(|s| WireBytes::from(&s.comm))),
        environ: OrError::Value(entries),
        truncated: Some(truncated),
    }
}
