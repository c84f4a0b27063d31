//! `procscope completions SHELL`, and what the completions offer: the words
//! of arguments with a known set of values, no file names where a value is
//! not a path, and the PIDs of running processes where one is a PID.

use crate::cli::{Cli, CompletionsArgs};
use crate::output::Exit;
use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{Command, CommandFactory, ValueHint};
use std::ffi::OsStr;

/// Writes the completion script for the shell to standard output.
pub fn run(a: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "procscope", &mut script);
    if a.shell == clap_complete::Shell::Bash {
        script = bash_words(&String::from_utf8_lossy(&script), &cmd).into_bytes();
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(Exit::Success)
}

/// A value parser that takes any string but names the usual words, so that
/// shell completions offer them; the command checks the value itself and
/// says what it knows (aliases, case and all).
#[derive(Debug, Clone)]
pub struct Words(Vec<&'static str>);

impl Words {
    /// `fds --type`: what [`procscope_model::fds::Detail::type_name`] gives,
    /// and `socket` for every socket.
    pub fn fd_types() -> Words {
        Words(vec![
            "file", "dir", "chr", "blk", "fifo", "link", "sock", "pipe", "tcp", "tcp6", "udp",
            "udp6", "raw", "raw6", "unix", "socket", "netlink", "packet", "vsock", "eventfd",
            "epoll", "inotify", "fanotify", "timerfd", "signalfd", "pidfd", "memfd", "anon",
            "other",
        ])
    }

    /// `show --section`: the dossier's sections.
    pub fn sections() -> Words {
        use procscope_model::dossier::Section;
        Words(Section::ALL.map(Section::name).to_vec())
    }
}

impl TypedValueParser for Words {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|w| PossibleValue::new(*w))))
    }
}

/// Whether `a` takes PIDs: a TARGET (a PID or a name pattern) or an option
/// whose values are PIDs.
fn takes_pids(a: &clap::Arg) -> bool {
    a.get_value_hint() == ValueHint::Other
        && (a.get_id() == "target"
            || a.get_value_names()
                .is_some_and(|v| v.iter().any(|n| n.as_str().starts_with("PID"))))
}

/// The shell function that lists running processes' PIDs.
const PIDS_FN: &str = "_procscope_pids() {
    local d
    for d in /proc/[0-9]*; do
        printf '%s\\n' \"${d##*/}\"
    done
}

";

/// What a bash completion offers for an option's value, beyond clap_complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    /// What clap_complete wrote.
    Same,
    /// PIDs of running processes.
    Pids,
    /// User names (clap_complete's bash offers file names for
    /// `ValueHint::Username`).
    Users,
}

/// Adds PIDs and user names to clap_complete's bash script. It offers a
/// subcommand's option names (and positionals' possible values) and
/// otherwise falls back to file names (`complete -o default`), also for a
/// TARGET that is a PID; for an option with `ValueHint::Other` it offers
/// nothing, for `ValueHint::Username` file names. Here a subcommand with a
/// TARGET offers the PIDs of running processes among its words, a PID
/// option (`ps -p`, `--ppid`, `--children-of`) offers them as its values,
/// and a user option (`-u`) the system's user names.
fn bash_words(script: &str, cmd: &Command) -> String {
    // clap_complete names a subcommand's case `procscope__subcmd__NAME`
    // with `-` in NAME spelled `__subcmd__` too.
    let label = |name: &str| format!("procscope__subcmd__{})", name.replace('-', "__subcmd__"));
    let subs: Vec<(String, &Command)> = cmd
        .get_subcommands()
        .map(|s| (label(s.get_name()), s))
        .collect();
    let mut out = String::with_capacity(script.len() + 1024);
    let mut sub: Option<&Command> = None;
    let mut offer = Offer::Same;
    for line in script.lines() {
        let t = line.trim();
        if line.starts_with("        procscope") && !line.starts_with("         ") {
            sub = subs.iter().find(|(l, _)| l == t).map(|(_, s)| *s);
        }
        if line.starts_with("_procscope() {") {
            out.push_str(PIDS_FN);
        }
        match sub {
            Some(s) if t.starts_with("opts=\"") && s.get_positionals().any(takes_pids) => {
                let words = t.trim_start_matches("opts=\"").trim_end_matches('"');
                out.push_str(&format!(
                    "            opts=\"{words} $(_procscope_pids)\"\n"
                ));
                continue;
            }
            Some(s) if t.ends_with(')') && t.starts_with('-') => {
                let o = t.trim_end_matches(')');
                let arg = s.get_opts().find(|a| {
                    a.get_long().is_some_and(|l| o == format!("--{l}"))
                        || a.get_short().is_some_and(|c| o == format!("-{c}"))
                });
                offer = match arg {
                    Some(a) if takes_pids(a) => Offer::Pids,
                    Some(a) if a.get_value_hint() == ValueHint::Username => Offer::Users,
                    _ => Offer::Same,
                };
            }
            Some(_) if offer != Offer::Same && t.starts_with("COMPREPLY=(") => {
                let words = match offer {
                    Offer::Pids => "compgen -W \"$(_procscope_pids)\" -- \"${cur}\"",
                    _ => "compgen -u -- \"${cur}\"",
                };
                offer = Offer::Same;
                out.push_str(&format!("                    COMPREPLY=($({words}))\n"));
                continue;
            }
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
