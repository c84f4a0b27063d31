//! The command-line definition (also the source of completions and the man page).

use crate::cmd::completions::Words;
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Examples:
  procscope ps                      every process, like ps -ef
  procscope ps nginx                processes whose name matches a regex, like pgrep -l
  procscope ps -f 'python.*app.py'  match the whole command line, like pgrep -f
  procscope ps --state D            who is in uninterruptible sleep right now
  procscope ps --json | jq '.processes[].pid'
  procscope show 1234               everything about one process on one page
  sudo procscope why 1234           what it waits for, followed to the process at the end
  sudo procscope hung               every task stuck in D, grouped, with the likely cause
  procscope fds 1234                every fd decoded, with who holds the other end
  procscope who-has :8080           who has this port (or a file, a pipe, deleted files)

Exit status, for every command: 0 found (something was shown), 1 nothing
matched (no process, variable, fd or holder; a message on stderr says so,
except ps --pids), 2 an error: bad usage, or nothing that was asked for could
be read (denied, timed out) — the message says what would allow it.
`hung` is a health check: 0 nothing is stuck, 1 stuck tasks were found.
What could not be read within a listing is named once on stderr (and under
`unreadable` in JSON). Reads that can hang on a stuck process (command lines, environments, memory
maps) give up after --timeout and say so; procscope itself never hangs.";

/// What is this process doing, and why is it stuck? Straight from /proc.
#[derive(Debug, Parser)]
#[command(name = "procscope", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Options for every command.
    #[command(flatten)]
    pub global: Global,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Options for every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Read this directory instead of /proc (a fixture tree or a copied /proc).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        value_hint = ValueHint::DirPath,
        env = "PROCSCOPE_PROC_ROOT",
        default_value = "/proc"
    )]
    pub proc_root: PathBuf,

    /// Give up on a read that may block on a hung process after this long
    /// (e.g. 500ms, 2s). 0 disables the deadline: only for measuring its cost.
    #[arg(long, global = true, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub timeout: Duration,

    /// Print JSON (see docs/json.md) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Answer from this snapshot (`procscope snapshot -o FILE`) instead of
    /// the live host; `-` reads it from standard input.
    #[arg(long, global = true, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub snapshot: Option<PathBuf>,

    /// The snapshot `--snapshot` named, unpacked (set once the arguments
    /// are parsed; see `cmd::snapshot::open_global`).
    #[arg(skip)]
    pub opened: Option<std::sync::Arc<procscope_snapshot::Opened>>,

    /// The unpacked snapshot's directory, removed if a signal ends
    /// procscope ([`crate::cleanup`]).
    #[arg(skip)]
    pub unpacked: Option<std::sync::Arc<crate::cleanup::Registered>>,

    /// The read session every command reads through (set from `--timeout`
    /// once the arguments are parsed; see [`Global::start_session`]).
    #[arg(skip)]
    pub session: procscope_read::Session,
}

impl Global {
    /// Starts the process's read session with the global `--timeout`
    /// (0: no deadline).
    pub fn start_session(&mut self) {
        self.session = procscope_read::Session::new(procscope_read::guard::Limits {
            timeout: (!self.timeout.is_zero()).then_some(self.timeout),
            ..procscope_read::guard::Limits::default()
        });
    }
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find and list processes (like ps and pgrep).
    #[command(after_help = crate::cmd::ps::AFTER_HELP)]
    Ps(PsArgs),
    /// Print a process's command line exactly (argv, raw bytes, hex, or shell).
    #[command(after_help = crate::cmd::cmdline::AFTER_HELP)]
    Cmdline(CmdlineArgs),
    /// Print a process's environment exactly (as passed to execve).
    #[command(after_help = crate::cmd::env::AFTER_HELP)]
    Env(EnvArgs),
    /// Print a shell snippet that starts the same program the same way.
    #[command(after_help = crate::cmd::repro::AFTER_HELP)]
    Repro(ReproArgs),
    /// Show every thread's state, wchan, system call and kernel stack, grouped.
    #[command(after_help = crate::cmd::stack::AFTER_HELP)]
    Stack(StackArgs),
    /// Explain what a process waits for, following pipes, locks, sockets,
    /// FUSE mounts and children to the process at the end (and deadlocks).
    #[command(after_help = crate::cmd::why::AFTER_HELP)]
    Why(WhyArgs),
    /// Find every task stuck in uninterruptible sleep (D), grouped by cause.
    #[command(after_help = crate::cmd::hung::AFTER_HELP)]
    Hung(HungArgs),
    /// Serve Prometheus metrics: processes grouped by rules, tasks blocked by cause.
    #[command(after_help = crate::cmd::serve::AFTER_HELP)]
    Serve(ServeArgs),
    /// A live process table (like htop) whose opened process says why it is stuck.
    #[command(after_help = crate::cmd::top::AFTER_HELP)]
    Top(TopArgs),
    /// Follow a process as it runs: fds opened and closed, leaks, file
    /// progress with ETA, rates, state changes, and a summary at the end.
    #[command(after_help = crate::cmd::watch::AFTER_HELP)]
    Watch(WatchArgs),
    /// List a process's open file descriptors, fully decoded.
    #[command(after_help = crate::cmd::fds::AFTER_HELP)]
    Fds(FdsArgs),
    /// Which processes hold a file, a port, a pipe or a socket (fuser, lsof FILE, ss -p).
    #[command(name = "who-has", after_help = crate::cmd::whohas::AFTER_HELP)]
    WhoHas(WhoHasArgs),
    /// Everything about a process on one page (identity, program, state,
    /// memory, files, io, limits, security, signals, namespaces, cgroup).
    #[command(after_help = crate::cmd::show::AFTER_HELP)]
    Show(ShowArgs),
    /// Resource limits with current usage and warnings near a limit.
    #[command(after_help = crate::cmd::show::LIMITS_HELP)]
    Limits(TargetArgs),
    /// Memory mappings, like pmap (-x: RSS, PSS, dirty and swap per mapping).
    #[command(after_help = crate::cmd::show::MAPS_HELP)]
    Maps(MapsArgs),
    /// Capabilities by name, no_new_privs, seccomp and the LSM label.
    #[command(after_help = crate::cmd::show::CAPS_HELP)]
    Caps(TargetArgs),
    /// Pending, blocked, ignored and caught signals by name, per thread.
    #[command(after_help = crate::cmd::show::SIGNALS_HELP)]
    Signals(TargetArgs),
    /// Namespaces, marked where they differ from PID 1's.
    #[command(after_help = crate::cmd::show::NS_HELP)]
    Ns(TargetArgs),
    /// Control groups, the container/pod/unit they reveal, cgroup limits and usage.
    #[command(after_help = crate::cmd::show::CGROUP_HELP)]
    Cgroup(TargetArgs),
    /// The process's mount table, compared with PID 1's.
    #[command(after_help = crate::cmd::show::MOUNTS_HELP)]
    Mounts(TargetArgs),
    /// Save the host's (or some processes') state in one file that every command can read back.
    #[command(after_help = crate::cmd::snapshot::AFTER_HELP)]
    Snapshot(crate::cmd::snapshot::SnapshotArgs),
    /// What changed between two snapshots, or a snapshot and the live host.
    #[command(after_help = crate::cmd::diff::AFTER_HELP)]
    Diff(crate::cmd::diff::DiffArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the manual pages (roff), or write one file per command with --out.
    #[command(after_help = crate::cmd::man::AFTER_HELP)]
    Man(ManArgs),
}

/// `procscope ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Regex matched against the process name (comm), or the whole command
    /// line with -f. Without it, every process is listed.
    #[arg(value_hint = ValueHint::Other)]
    pub pattern: Option<String>,

    /// Match PATTERN against the full command line (like pgrep -f).
    #[arg(short = 'f', long)]
    pub full: bool,

    /// PATTERN must match the whole name (or command line), not part of it.
    #[arg(short = 'x', long)]
    pub exact: bool,

    /// Match PATTERN case-insensitively.
    #[arg(short = 'i', long)]
    pub ignore_case: bool,

    /// Only these PIDs (comma-separated).
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "PID,...",
        value_delimiter = ',',
        value_hint = ValueHint::Other
    )]
    pub pids: Vec<i32>,

    /// Only processes of these users (names or UIDs, comma-separated; effective UID).
    #[arg(
        short = 'u',
        long = "user",
        value_name = "USER,...",
        value_delimiter = ',',
        value_hint = ValueHint::Username
    )]
    pub users: Vec<String>,

    /// Only processes in these states (e.g. D,Z).
    #[arg(long, value_name = "STATES", value_hint = ValueHint::Other)]
    pub state: Option<String>,

    /// Only children of these PIDs.
    #[arg(long, value_name = "PID,...", value_delimiter = ',', value_hint = ValueHint::Other)]
    pub ppid: Vec<i32>,

    /// Only descendants (children, grandchildren, …) of these PIDs.
    #[arg(long, value_name = "PID,...", value_delimiter = ',', value_hint = ValueHint::Other)]
    pub children_of: Vec<i32>,

    /// Print only the matching PIDs, one per line (like pgrep).
    #[arg(long = "pids", conflicts_with = "tree")]
    pub pids_only: bool,

    /// Show processes as a forest (like ps f / pstree).
    #[arg(long, conflicts_with = "threads")]
    pub tree: bool,

    /// Sort by these keys, comma-separated; prefix - for descending
    /// (pid, ppid, user, uid, state, threads, rss, vsz, cpu, start, elapsed, comm, command, nice,
    /// pri, priority; see --columns).
    /// `--sort -rss` and `--sort=-rss` are the same.
    #[arg(
        long,
        value_name = "KEYS",
        allow_hyphen_values = true,
        value_hint = ValueHint::Other
    )]
    pub sort: Option<String>,

    /// One row per thread.
    #[arg(long)]
    pub threads: bool,

    /// Columns to show, comma-separated (pid, tid, ppid, user, uid, state,
    /// threads, rss, vsz, cpu, start, elapsed, nice, pri, priority, pgrp, sid, tty, comm,
    /// command). As in procps: PRI (pri) is 39 minus the kernel's priority, so
    /// larger runs first (nice 0 is 19, real-time priority 50 is 90); NI is `-`
    /// for real-time, deadline and idle tasks. PRIORITY (priority) is the
    /// kernel's own number, stat field 18 (20 + nice; -1 - the real-time
    /// priority), which procps `-o priority` also shows, headed PRI.
    #[arg(short = 'o', long, value_name = "COLUMNS", value_hint = ValueHint::Other)]
    pub columns: Option<String>,

    /// Do not cut the command to the terminal width.
    #[arg(short = 'w', long)]
    pub wide: bool,

    /// Do not print the header line.
    #[arg(long)]
    pub no_header: bool,
}

/// `procscope cmdline`.
#[derive(Debug, Args)]
pub struct CmdlineArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// The exact bytes, NUL-separated, as /proc/PID/cmdline holds them (for
    /// xargs -0). Needs TARGET to match one process.
    #[arg(short = '0', long, conflicts_with_all = ["hex", "shell"])]
    pub raw: bool,

    /// A hex dump (like xxd); with several matches, each under a title line.
    #[arg(long, conflicts_with = "shell")]
    pub hex: bool,

    /// One line of bash that runs the same program with byte-identical arguments.
    #[arg(long)]
    pub shell: bool,
}

/// `procscope env`.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// Only these variables (names or globs like 'LC_*').
    #[arg(value_hint = ValueHint::Other)]
    pub names: Vec<String>,

    /// Sort by name (default: the kernel's order, which is the order getenv searches).
    #[arg(long)]
    pub sort: bool,

    /// The exact bytes, NUL-separated (for xargs -0 or env -0 style tools).
    #[arg(short = '0', long, conflicts_with_all = ["export", "diff"])]
    pub raw: bool,

    /// `export NAME=value` lines quoted for bash, to be sourced. Variables
    /// that would make your shell run what the process chose (PROMPT_COMMAND,
    /// PS0-PS4, BASH_ENV, ENV, IFS, BASH_FUNC_*, PATH, LD_*, PAGER…) are
    /// left out, commented, unless --unsafe-vars.
    #[arg(long, conflicts_with = "diff")]
    pub export: bool,

    /// With --export: also export the variables that run code.
    #[arg(long, requires = "export")]
    pub unsafe_vars: bool,

    /// Mask secret-looking values (keys like *TOKEN*, *SECRET*, *PASSWORD*, *_KEY, AUTH*…,
    /// and passwords in URLs), keeping the key and the value's length class.
    #[arg(long)]
    pub redact: bool,

    /// More key globs to mask with --redact (repeatable).
    #[arg(long = "redact-key", value_name = "GLOB", requires = "redact", value_hint = ValueHint::Other)]
    pub redact_keys: Vec<String>,

    /// Compare with another process (PID or pattern), your own environment (-),
    /// or a file of KEY=value lines.
    #[arg(long, value_name = "OTHER", value_hint = ValueHint::AnyPath)]
    pub diff: Option<String>,
}

/// `procscope repro`.
#[derive(Debug, Args)]
pub struct ReproArgs {
    /// A PID, or a regex on process names (a snippet for each match).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// Mask secret-looking environment values (see `procscope env --help`).
    #[arg(long)]
    pub redact: bool,

    /// More key globs to mask with --redact (repeatable).
    #[arg(long = "redact-key", value_name = "GLOB", requires = "redact", value_hint = ValueHint::Other)]
    pub redact_keys: Vec<String>,
}

/// `procscope stack`.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// One block per thread instead of grouping identical ones.
    #[arg(long)]
    pub no_group: bool,

    /// User-space frames too (function+offset, module, file:line), under
    /// the kernel frames. Threads blocked in the kernel are not stopped;
    /// threads on a CPU are stopped one at a time for microseconds.
    #[arg(short = 'u', long)]
    pub user: bool,
}

/// `procscope show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A PID, or a regex on process names (every match gets a dossier).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// Only these sections (repeat or separate with commas): identity,
    /// program, state, memory, files, io, limits, security, signals,
    /// namespaces, cgroup, maps, mounts.
    #[arg(
        long,
        short = 's',
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = Words::sections(),
        hide_possible_values = true
    )]
    pub section: Vec<String>,

    /// Add every memory mapping (like pmap -x) and the mount table.
    #[arg(long)]
    pub all: bool,

    /// Add every memory mapping with RSS, PSS, dirty and swap (like pmap -x).
    #[arg(long)]
    pub maps: bool,

    /// How long to watch CPU use for the CPU % (0 skips it).
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub sample: Duration,
}

/// A command about chosen processes.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,
}

/// `procscope maps`.
#[derive(Debug, Args)]
pub struct MapsArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// Read smaps for RSS, PSS, dirty and swap of every mapping (like pmap -x).
    #[arg(short = 'x', long)]
    pub extended: bool,
}

/// `procscope why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// A PID, or a regex on process names (every match is explained).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,
}

/// `procscope hung`.
#[derive(Debug, Args)]
pub struct HungArgs {
    /// How long to watch: a task in D at every sample over this window is stuck.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub window: Duration,

    /// How many samples to take over the window (at least 2).
    #[arg(long, default_value_t = 5, value_hint = ValueHint::Other)]
    pub samples: u32,

    /// Also report tasks asleep (S) in the same system call, without
    /// running once, for longer than this (e.g. 30s, 5m; a bare number is
    /// seconds). Calls that wait by design (epoll, poll, select, sleep,
    /// wait4, accept) are left out.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub over: Option<Duration>,
}

/// `procscope top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Time between refreshes (e.g. 1s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, value_hint = ValueHint::Other, conflicts_with = "delay")]
    pub interval: Duration,

    /// Time between refreshes in tenths of a second, like htop's -d.
    #[arg(short = 'd', long = "delay", value_name = "TENTHS", value_parser = clap::value_parser!(u32).range(1..))]
    pub delay: Option<u32>,
}

/// `procscope watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A PID, or a regex on process names (every match is followed, and
    /// processes that appear later).
    #[arg(value_hint = ValueHint::Other)]
    pub target: String,

    /// Time between samples (e.g. 1s, 500ms; a bare number is seconds, as
    /// watch -n takes it).
    #[arg(short = 'n', long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub interval: Duration,

    /// Stop after this long (default: until Ctrl-C, or until the process exits).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub duration: Option<Duration>,

    /// The window leaks and file rates are estimated over (at least 1s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub window: Duration,
}

/// `procscope serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (repeat for several). The port is procscope's
    /// default; Prometheus' 9100-9999 range is fully allocated.
    #[arg(long = "web.listen-address", value_name = "HOST:PORT", default_value = "127.0.0.1:10071", value_hint = ValueHint::Other)]
    pub listen: Vec<String>,

    /// exporter-toolkit web config: TLS (tls_server_config) and bcrypt basic
    /// auth (basic_auth_users).
    #[arg(long = "web.config.file", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub web_config: Option<PathBuf>,

    /// Grouping rules (process-exporter's process_names schema, plus user,
    /// cgroup, unit and container matchers). Without: containers, systemd
    /// services, then process names.
    #[arg(long = "config.file", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub config: Option<PathBuf>,

    /// Answer scrapes closer together than this from one collection.
    #[arg(long = "collect.min-interval", value_name = "DURATION", default_value = "1s", value_parser = parse_duration, value_hint = ValueHint::Other)]
    pub min_interval: Duration,

    /// Log line format on stderr.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Also export each group's proportional set size (PSS, from
    /// smaps_rollup): a memory-lock read per process that walks every
    /// mapping, under the deadline like the command line.
    #[arg(long = "collect.pss")]
    pub pss: bool,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// key=value pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `procscope fds`.
#[derive(Debug, Args)]
pub struct FdsArgs {
    /// A PID, or a regex on process names (every match is shown).
    #[arg(required_unless_present = "all", value_hint = ValueHint::Other)]
    pub target: Option<String>,

    /// Every process on the host (like lsof).
    #[arg(long, conflicts_with = "target")]
    pub all: bool,

    /// Only fds of these types (file, dir, chr, blk, fifo, link, sock, pipe, tcp,
    /// tcp6, udp, udp6, raw, raw6, unix, socket, netlink, eventfd, epoll, inotify,
    /// fanotify, timerfd, signalfd, pidfd, memfd, anon), comma-separated. `file`
    /// is a regular file (or one whose stat could not be read in time).
    #[arg(
        long = "type",
        value_name = "TYPES",
        value_delimiter = ',',
        value_parser = Words::fd_types(),
        hide_possible_values = true
    )]
    pub types: Vec<String>,

    /// Only processes of this user (name or UID; effective UID).
    #[arg(short = 'u', long, value_hint = ValueHint::Username)]
    pub user: Option<String>,

    /// Only files whose path starts with this prefix.
    #[arg(long, value_name = "PREFIX", value_hint = ValueHint::AnyPath)]
    pub path: Option<String>,

    /// Only open files that were deleted.
    #[arg(long)]
    pub deleted: bool,

    /// Only these fd numbers.
    #[arg(value_hint = ValueHint::Other)]
    pub fds: Vec<i32>,

    /// Do not cut descriptions to the terminal width.
    #[arg(short = 'w', long)]
    pub wide: bool,

    /// How far to look for who holds the other ends of pipes and sockets:
    /// `near` looks outward from the process (itself, its ancestors, the
    /// processes its unix sockets' credentials name and a local TCP peer's
    /// cgroup holds, its children, siblings, process group and session) and
    /// reads other processes only when the kernel says an end is held by
    /// none of them; `all` reads every process
    /// and lists every holder (like lsof +E, ss -p); `none` looks nowhere,
    /// and skips the lock, pidfd and inotify lookups too.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = Peers::Near)]
    pub peers: Peers,

    /// The same as --peers none.
    #[arg(long, conflicts_with = "peers")]
    pub no_peers: bool,
}

/// `fds --peers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peers {
    /// Outward from the process, until every other end is found.
    Near,
    /// Every process on the host.
    All,
    /// Nowhere.
    None,
}

/// `procscope who-has`.
#[derive(Debug, Args)]
pub struct WhoHasArgs {
    /// A path, `:PORT`, `tcp:PORT`, `udp:PORT`, `ADDR:PORT`, `pipe:[INODE]` or `socket:[INODE]`.
    #[arg(value_hint = ValueHint::AnyPath)]
    pub what: Option<String>,

    /// Anything under the path (a mount point or directory), not only the path itself.
    #[arg(long)]
    pub mount: bool,

    /// Open files that were deleted, with their sizes.
    #[arg(long, conflicts_with = "what")]
    pub deleted: bool,
}

/// `procscope man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write procscope.1 and one page per command (procscope-ps.1, …) into
    /// this directory (created if missing) instead of printing them all.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub out: Option<PathBuf>,
}

/// `procscope completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses `1s`, `500ms`, `2.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a duration (try 500ms, 2s, 1m30s, 1h)");
    // A bare number is seconds; else one or more NUMBER+UNIT parts
    // (`1h30m`, `2m30s`, `1.5s`, `250ms`).
    let total_ms = if let Ok(v) = s.parse::<f64>() {
        v * 1000.0
    } else {
        let mut total = 0.0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let (num, tail) = rest.split_at(n);
            let v: f64 = num.parse().map_err(|_| bad())?;
            let (mult, after) = if let Some(t) = tail.strip_prefix("ms") {
                (1.0, t)
            } else if let Some(t) = tail.strip_prefix('h') {
                (3_600_000.0, t)
            } else if let Some(t) = tail.strip_prefix('m') {
                (60_000.0, t)
            } else if let Some(t) = tail.strip_prefix('s') {
                (1000.0, t)
            } else {
                return Err(bad());
            };
            total += v * mult;
            rest = after;
        }
        total
    };
    if !total_ms.is_finite() || !(0.0..=86_400_000.0).contains(&total_ms) {
        return Err(format!("`{s}` is out of range (0 to 24h)"));
    }
    Ok(Duration::from_micros((total_ms * 1000.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("NaN").is_err());
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1s2").is_err());
    }
}
