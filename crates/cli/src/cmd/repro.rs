//! `procscope repro TARGET`: a shell snippet that starts the same program
//! the same way.

use crate::cli::{Global, ReproArgs};
use crate::cmd::targets::{self, TEXT_CAP};
use crate::output::{self, Exit};
use procscope_model::redact::Redactor;
use procscope_model::target::{ExeOnDisk, ProcText, TextRequest, exe_path};
use procscope_parse::cmdline::{Cmdline, Shape};
use procscope_parse::environ;
use procscope_parse::limits::{LimitValue, Limits, Resource};
use procscope_read::guard;
use procscope_render::escape::escape;
use procscope_render::shell::quote;
use std::collections::HashSet;
use std::io::Write;

/// Extra help for `procscope repro --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope repro 1234 > again.sh && bash again.sh
  procscope repro --redact nginx       safe to paste into a ticket

The snippet changes to the process's working directory and starts its
executable with `/usr/bin/env -i`, so the program sees exactly the same
environment and arguments. When argv[0] is not the executable's path, perl
(/usr/bin/perl, part of every Debian system) performs the final exec to set
it, starting from an empty environment. Helpers are named by absolute path and
the program by the path of its executable, so nothing in the process's
arguments, environment or PATH can choose what runs. What no shell tool can
reproduce is said in a comment: duplicate variable names (getenv sees the
first, which is kept), entries without '=', and an executable deleted since
the process started. Comments name the user, the main limits and the cgroup.";

/// Runs `procscope repro`.
pub fn run(g: &Global, a: &ReproArgs) -> anyhow::Result<Exit> {
    let req = TextRequest {
        cmdline: true,
        environ: true,
        cwd: true,
        context: true,
        cap: TEXT_CAP,
        guard: guard::Options::default(),
    };
    let (root, texts) = targets::read_with(g, &a.target, req)?;
    if texts.is_empty() {
        output::warn(&targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    let redactor = a.redact.then(|| Redactor::with_keys(&a.redact_keys));
    let mut out = output::stdout(g.color);
    let mut failed = 0usize;
    for t in &texts {
        match snippet(t, redactor.as_ref()) {
            Ok(s) => out.write_all(s.as_bytes())?,
            Err(msg) => {
                out.flush()?;
                output::warn(&msg);
                failed += 1;
            }
        }
    }
    out.flush()?;
    Ok(if failed == texts.len() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// The snippet for one process, or why there is none.
pub fn snippet(t: &ProcText, redactor: Option<&Redactor>) -> Result<String, String> {
    let cmd = match &t.cmdline {
        Some(Ok(c)) => c,
        Some(Err(f)) => return Err(targets::explain(t, "cmdline", f)),
        None => return Err(format!("{}: no command line read", targets::title(t))),
    };
    let view = Cmdline::parse(&cmd.raw);
    if view.shape() == Shape::Empty {
        return Err(format!(
            "{}: no command line (a kernel thread or a zombie): nothing to start",
            targets::title(t)
        ));
    }
    let env = match &t.environ {
        Some(Ok(e)) => e,
        Some(Err(f)) => return Err(targets::explain(t, "environ", f)),
        None => return Err(format!("{}: no environment read", targets::title(t))),
    };
    let mut s = String::new();
    s.push_str(&format!("# procscope repro of {}", targets::title(t)));
    if let Some(uid) = t.uid {
        let name = procscope_model::users::resolve([uid], None);
        match name.get(&uid) {
            Some(n) => s.push_str(&format!(", user {} (uid {uid})", escape(n.as_slice()))),
            None => s.push_str(&format!(", uid {uid}")),
        }
    }
    s.push('\n');
    if let Some(procscope_model::target::Context { limits, cgroup, .. }) = &t.context {
        if let Ok(l) = limits {
            if let Ok(l) = Limits::parse(l) {
                s.push_str(&format!("# limits (soft/hard): {}\n", limit_summary(&l)));
            }
        }
        if let Ok(c) = cgroup {
            for line in c.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                s.push_str(&format!("# cgroup: {}\n", escape(line)));
            }
        }
    }
    let exe = match &t.exe {
        Ok(e) => {
            let (p, deleted) = exe_path(e.as_slice());
            let on_disk = t.context.as_ref().map(|c| c.exe_on_disk);
            if on_disk == Some(ExeOnDisk::Replaced) {
                s.push_str(&format!(
                    "# note: the executable {} was replaced on disk since the process started (another file is at that path now)\n",
                    escape(p)
                ));
            } else if deleted || on_disk == Some(ExeOnDisk::Missing) {
                s.push_str(&format!(
                    "# note: the executable {} was deleted since the process started: this starts whatever is at that path now\n",
                    escape(p)
                ));
            }
            Some(p.to_vec())
        }
        Err(f) => {
            s.push_str(&format!(
                "# note: the executable could not be read ({f}); argv[0] is used instead\n"
            ));
            None
        }
    };
    if redactor.is_some() {
        s.push_str("# note: secret-looking values are redacted (--redact): this will not run as the original did\n");
    }
    if cmd.truncated || env.truncated {
        s.push_str(&format!(
            "# note: the command line or environment was cut at {} MiB\n",
            TEXT_CAP >> 20
        ));
    }

    // The environment as getenv() sees it, in the kernel's order.
    let dups: HashSet<usize> = environ::duplicates(&env.raw).into_iter().collect();
    let mut assigns = Vec::new();
    // What env(1) cannot reproduce: named (the first few), and counted.
    let mut left_out = Vec::new();
    let mut left_out_count = 0usize;
    let mut leave_out = |what: String| {
        left_out_count += 1;
        if left_out.len() < LEFT_OUT_NAMED {
            left_out.push(what);
        }
    };
    for (i, e) in environ::entries(&env.raw).enumerate() {
        match e.value() {
            Some(_) if dups.contains(&i) => leave_out(format!("duplicate {}", escape(e.raw()))),
            Some(v) if !e.key().is_empty() => {
                let v = match redactor {
                    Some(r) => r.value(e.key(), v),
                    None => v.to_vec(),
                };
                let mut kv = e.key().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(&v);
                assigns.push(quote(&kv));
            }
            _ if e.raw().is_empty() => leave_out("an empty entry".to_string()),
            _ => leave_out(format!("entry without a name or '=' {}", escape(e.raw()))),
        }
    }
    if left_out_count > 0 {
        let more = left_out_count - left_out.len();
        s.push_str(&format!(
            "# note: not reproducible with env(1), left out: {}{}\n",
            left_out.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    let cwd = match &t.cwd {
        Some(Ok(c)) => {
            let (p, deleted) = exe_path(c.as_slice());
            if deleted {
                s.push_str("# note: the working directory was deleted since\n");
            }
            Some(p.to_vec())
        }
        _ => {
            s.push_str("# note: the working directory could not be read\n");
            None
        }
    };
    if let Some(c) = cwd {
        s.push_str(&format!("cd -- {} || exit\n", quote(&c)));
    }
    let args: Vec<&[u8]> = view.args().collect();
    let Some((&argv0, rest)) = args.split_first() else {
        return Err(format!("{}: no command line", targets::title(t)));
    };
    let prog: &[u8] = match &exe {
        Some(p) => p.as_slice(),
        None => {
            if !argv0.contains(&b'/') {
                s.push_str(&format!(
                    "# note: {} is looked up in the process's own PATH\n",
                    escape(argv0)
                ));
            }
            argv0
        }
    };
    // Helpers by absolute path: the user's PATH and the process's PATH
    // (which env(1) uses for the program it starts) never pick them.
    s.push_str(&format!("exec {ENV} -i"));
    if prog != argv0 || prog.contains(&b'=') {
        // argv[0] differs from the program (or the program's path holds an
        // '=', which env would take for an assignment): perl sets argv[0].
        // perl starts with an empty environment (so nothing of the
        // process's, such as PERL5OPT or LD_PRELOAD, reaches it) and sets
        // the process's environment, in its order, only for the exec.
        s.push_str(&format!(" {PERL} -e '{PERL_EXEC}' -- {}", assigns.len()));
        for a in &assigns {
            s.push(' ');
            s.push_str(a);
        }
        s.push(' ');
        s.push_str(&quote(prog));
        s.push(' ');
        s.push_str(&quote(argv0));
    } else {
        s.push_str(" --");
        for a in &assigns {
            s.push(' ');
            s.push_str(a);
        }
        s.push(' ');
        s.push_str(&quote(prog));
    }
    for a in rest {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s.push('\n');
    Ok(s)
}

/// How many entries env(1) cannot reproduce are named in the note (the
/// rest are counted).
const LEFT_OUT_NAMED: usize = 16;

/// env(1), by its Debian path (coreutils).
const ENV: &str = "/usr/bin/env";
/// perl, by its Debian path (perl-base, always installed).
const PERL: &str = "/usr/bin/perl";
/// Arguments: the number N of variables, N `KEY=value` words, the
/// program, argv. Sets exactly those variables in that order (glibc's
/// setenv appends), then runs the program with that argv[0]; exec with a
/// block never goes through a shell.
const PERL_EXEC: &str = "my $n = shift(@ARGV); %ENV = (); for (1 .. $n) { my ($k, $v) = split(/=/, shift(@ARGV), 2); $ENV{$k} = $v } my $p = shift(@ARGV); exec { $p } @ARGV or die \"exec $p: $!\\n\"";

fn limit_summary(l: &Limits<'_>) -> String {
    let show = |v: LimitValue| match v {
        LimitValue::Unlimited => "unlimited".to_string(),
        LimitValue::Value(n) => n.to_string(),
    };
    [
        (Resource::Nofile, "nofile"),
        (Resource::Nproc, "nproc"),
        (Resource::Core, "core"),
        (Resource::Stack, "stack"),
        (Resource::Memlock, "memlock"),
        (Resource::As, "as"),
    ]
    .iter()
    .filter_map(|(r, name)| {
        l.get(*r)
            .map(|x| format!("{name} {}/{}", show(x.soft), show(x.hard)))
    })
    .collect::<Vec<_>>()
    .join(", ")
}
