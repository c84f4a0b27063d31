//! The `repro` snippet: a shell script that starts the same program the
//! same way, planned from what was read ([`ProcText`]) and written as bash.
//! Shared by `procscope repro` and `procscope top`'s copy key; the caller
//! resolves the user name (this crate never reads).

use crate::escape::escape;
use crate::shell::quote;
use procscope_model::Failure;
use procscope_model::bytes::Bytes;
use procscope_model::redact::Redactor;
use procscope_model::target::{ExeOnDisk, ProcText, exe_path};
use procscope_parse::cmdline::{Cmdline, Shape};
use procscope_parse::environ;
use procscope_parse::limits::{LimitValue, Limits, Resource};
use std::collections::HashSet;

/// `PID 123 (name)`, escaped.
pub fn title(t: &ProcText) -> String {
    match &t.stat {
        Ok(s) => format!("PID {} ({})", t.pid, escape(s.comm.as_slice())),
        Err(_) => format!("PID {}", t.pid),
    }
}

/// Why a file of `t` could not be read, with what to do about it.
pub fn explain(t: &ProcText, file: &str, f: &Failure) -> String {
    let who = match (f, t.uid) {
        (Failure::Denied { .. }, Some(uid)) => format!(" (it runs as uid {uid})"),
        _ => String::new(),
    };
    format!("{}: {file}: {f}{who}", title(t))
}

/// Why a process gets no snippet: for people, and as a typed failure.
pub struct NoPlan {
    /// The sentence for people.
    pub message: String,
    /// What failed.
    pub failure: Failure,
}

/// How `env` (or perl) is told what to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecVia {
    /// `/usr/bin/env -i -- VAR=… PROGRAM ARGS…`: `argv[0]` is the program.
    Env,
    /// perl sets `argv[0]` (it differs from the program, or the program's
    /// path holds an `=`, which env would take for an assignment).
    Perl,
}

/// A snippet in parts, before it is written as shell.
pub struct Plan {
    /// `PID 123 (name), user root (uid 0)`.
    pub title: String,
    /// Effective UID and its user name.
    pub uid: Option<u32>,
    /// The user name of `uid`.
    pub user: Option<Bytes>,
    /// The main limits, soft/hard.
    pub limits: Option<String>,
    /// `cgroup` lines.
    pub cgroup: Vec<Bytes>,
    /// What the snippet cannot reproduce or had to assume, for people.
    pub notes: Vec<String>,
    /// The working directory (`None`: it could not be read).
    pub cwd: Option<Vec<u8>>,
    /// The working directory was deleted since.
    pub cwd_deleted: bool,
    /// The program run: the executable's path, or `argv[0]` when it could not
    /// be read.
    pub program: Vec<u8>,
    /// argv, `argv[0]` first.
    pub argv: Vec<Vec<u8>>,
    /// The environment set, in the kernel's order (values masked with
    /// --redact).
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    /// Entries env(1) cannot set: (`duplicate`, `no_name` or `empty`, the
    /// entry), the first [`LEFT_OUT_KEPT`].
    pub left_out: Vec<(&'static str, Vec<u8>)>,
    /// How many entries env(1) cannot set, in all.
    pub left_out_count: usize,
    /// How the program is started.
    pub via: ExecVia,
    /// The command line or environment was cut at the read cap.
    pub truncated: bool,
}

/// The parts of the snippet for one process, or why there is none.
pub fn plan(
    t: &ProcText,
    redactor: Option<&Redactor>,
    user: Option<Bytes>,
    cap: usize,
) -> Result<Plan, NoPlan> {
    let read_failed = |file: &str, f: &Failure| NoPlan {
        message: explain(t, file, f),
        failure: f.clone(),
    };
    let absent = |what: &str| NoPlan {
        message: format!("{}: {what}", title(t)),
        failure: Failure::Absent { what: what.into() },
    };
    let cmd = match &t.cmdline {
        Some(Ok(c)) => c,
        Some(Err(f)) => return Err(read_failed("cmdline", f)),
        None => return Err(absent("no command line read")),
    };
    let view = Cmdline::parse(&cmd.raw);
    if view.shape() == Shape::Empty {
        return Err(absent(
            "no command line (a kernel thread or a zombie): nothing to start",
        ));
    }
    let env = match &t.environ {
        Some(Ok(e)) => e,
        Some(Err(f)) => return Err(read_failed("environ", f)),
        None => return Err(absent("no environment read")),
    };
    let argv: Vec<Vec<u8>> = view.args().map(<[u8]>::to_vec).collect();
    let Some(argv0) = argv.first().cloned() else {
        return Err(absent("no command line"));
    };
    let mut title = title(t);
    let user = t.uid.and(user);
    if let Some(uid) = t.uid {
        match &user {
            Some(n) => title.push_str(&format!(", user {} (uid {uid})", escape(n.as_slice()))),
            None => title.push_str(&format!(", uid {uid}")),
        }
    }
    let mut limits = None;
    let mut cgroup = Vec::new();
    if let Some(procscope_model::target::Context {
        limits: l,
        cgroup: c,
        ..
    }) = &t.context
    {
        limits = l
            .as_ref()
            .ok()
            .and_then(|l| Limits::parse(l).ok())
            .map(|l| limit_summary(&l));
        if let Ok(c) = c {
            cgroup = c
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(Bytes::from)
                .collect();
        }
    }
    let mut notes = Vec::new();
    let exe = match &t.exe {
        Ok(e) => {
            let (p, deleted) = exe_path(e.as_slice());
            let on_disk = t.context.as_ref().map(|c| c.exe_on_disk);
            if on_disk == Some(ExeOnDisk::Replaced) {
                notes.push(format!(
                    "the executable {} was replaced on disk since the process started (another file is at that path now)",
                    escape(p)
                ));
            } else if deleted || on_disk == Some(ExeOnDisk::Missing) {
                notes.push(format!(
                    "the executable {} was deleted since the process started: this starts whatever is at that path now",
                    escape(p)
                ));
            }
            Some(p.to_vec())
        }
        Err(f) => {
            notes.push(format!(
                "the executable could not be read ({f}); argv[0] is used instead"
            ));
            None
        }
    };
    if redactor.is_some() {
        notes.push(
            "secret-looking values are redacted (--redact): this will not run as the original did"
                .into(),
        );
    }
    let truncated = cmd.truncated || env.truncated;
    if truncated {
        notes.push(format!(
            "the command line or environment was cut at {} MiB",
            cap >> 20
        ));
    }
    // The environment as getenv() sees it, in the kernel's order.
    let dups: HashSet<usize> = environ::duplicates(&env.raw).into_iter().collect();
    let mut vars = Vec::new();
    // What env(1) cannot reproduce: kept (the first LEFT_OUT_KEPT) and
    // counted — a process can hold millions of empty entries.
    let mut left_out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut left_out_count = 0usize;
    let mut leave_out = |why: &'static str, raw: &[u8]| {
        left_out_count += 1;
        if left_out.len() < LEFT_OUT_KEPT {
            left_out.push((why, raw.to_vec()));
        }
    };
    for (i, e) in environ::entries(&env.raw).enumerate() {
        match e.value() {
            Some(_) if dups.contains(&i) => leave_out("duplicate", e.raw()),
            Some(v) if !e.key().is_empty() => {
                let v = match redactor {
                    Some(r) => r.value(e.key(), v),
                    None => v.to_vec(),
                };
                vars.push((e.key().to_vec(), v));
            }
            _ if e.raw().is_empty() => leave_out("empty", e.raw()),
            _ => leave_out("no_name", e.raw()),
        }
    }
    if left_out_count > 0 {
        let items: Vec<String> = left_out
            .iter()
            .take(LEFT_OUT_NAMED)
            .map(|(why, raw)| match *why {
                "duplicate" => format!("duplicate {}", escape(raw)),
                "empty" => "an empty entry".to_string(),
                _ => format!("entry without a name or '=' {}", escape(raw)),
            })
            .collect();
        let more = left_out_count.saturating_sub(items.len());
        notes.push(format!(
            "not reproducible with env(1), left out: {}{}",
            items.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    let (cwd, cwd_deleted) = match &t.cwd {
        Some(Ok(c)) => {
            let (p, deleted) = exe_path(c.as_slice());
            if deleted {
                notes.push("the working directory was deleted since".into());
            }
            (Some(p.to_vec()), deleted)
        }
        _ => {
            notes.push("the working directory could not be read".into());
            (None, false)
        }
    };
    let program = match exe {
        Some(p) => p,
        None => {
            if !argv0.contains(&b'/') {
                notes.push(format!(
                    "{} is looked up in the process's own PATH",
                    escape(&argv0)
                ));
            }
            argv0.clone()
        }
    };
    let via = if program != argv0 || program.contains(&b'=') {
        ExecVia::Perl
    } else {
        ExecVia::Env
    };
    Ok(Plan {
        title,
        uid: t.uid,
        user,
        limits,
        cgroup,
        notes,
        cwd,
        cwd_deleted,
        program,
        argv,
        env: vars,
        left_out,
        left_out_count,
        via,
        truncated,
    })
}

/// The snippet: comments, `cd`, and one exec of the program.
pub fn script(p: &Plan) -> String {
    let mut s = format!("# procscope repro of {}\n", p.title);
    if let Some(l) = &p.limits {
        s.push_str(&format!("# limits (soft/hard): {l}\n"));
    }
    for c in &p.cgroup {
        s.push_str(&format!("# cgroup: {}\n", escape(c.as_slice())));
    }
    for n in &p.notes {
        s.push_str(&format!("# note: {n}\n"));
    }
    if let Some(c) = &p.cwd {
        s.push_str(&format!("cd -- {} || exit\n", quote(c)));
    }
    let assigns: Vec<String> = p
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone();
            kv.push(b'=');
            kv.extend_from_slice(v);
            quote(&kv)
        })
        .collect();
    // Helpers by absolute path: the user's PATH and the process's PATH
    // (which env(1) uses for the program it starts) never pick them.
    s.push_str(&format!("exec {ENV} -i"));
    let argv0 = p.argv.first().map(Vec::as_slice).unwrap_or_default();
    match p.via {
        ExecVia::Perl => {
            // perl starts with an empty environment (so nothing of the
            // process's, such as PERL5OPT or LD_PRELOAD, reaches it) and
            // sets the process's environment, in its order, only for the
            // exec; it sets argv[0].
            s.push_str(&format!(" {PERL} -e '{PERL_EXEC}' -- {}", assigns.len()));
            for a in &assigns {
                s.push(' ');
                s.push_str(a);
            }
            s.push(' ');
            s.push_str(&quote(&p.program));
            s.push(' ');
            s.push_str(&quote(argv0));
        }
        ExecVia::Env => {
            s.push_str(" --");
            for a in &assigns {
                s.push(' ');
                s.push_str(a);
            }
            s.push(' ');
            s.push_str(&quote(&p.program));
        }
    }
    for a in p.argv.iter().skip(1) {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s.push('\n');
    s
}

/// How many entries env(1) cannot reproduce are kept in the plan (and
/// JSON); the rest are counted.
pub const LEFT_OUT_KEPT: usize = 1024;

/// How many of them the note in the script names (the rest are counted).
const LEFT_OUT_NAMED: usize = 16;

/// env(1), by its Debian path (coreutils).
const ENV: &str = "/usr/bin/env";
/// perl, by its Debian path (perl-base, always installed).
const PERL: &str = "/usr/bin/perl";
/// Arguments: the number N of variables, N `KEY=value` words, the
/// program, argv. Sets exactly those variables in that order (glibc's
/// setenv appends), then runs the program with that `argv[0]`; exec with a
/// block never goes through a shell.
const PERL_EXEC: &str = "my $n = shift(@ARGV); %ENV = (); for (1 .. $n) { my ($k, $v) = split(/=/, shift(@ARGV), 2); $ENV{$k} = $v } my $p = shift(@ARGV); exec { $p } @ARGV or die \"exec $p: $!\\n\"";

/// The main limits, `name soft/hard`, comma-separated.
pub fn limit_summary(l: &Limits<'_>) -> String {
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
