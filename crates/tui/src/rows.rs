//! The process table as data: one [`Row`] per process of a snapshot, with
//! every cell already in words (and escaped), sorted, filtered and laid
//! out as a tree. Pure: tests build it from fixture snapshots.

use crate::engine::Update;
use procscope_model::collect::{Identity, Part, Proc};
use procscope_parse::cmdline::Cmdline;
use procscope_render::escape::escape;
use procscope_render::units;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    /// Process ID.
    Pid,
    /// User name (or UID).
    User,
    /// State letter.
    State,
    /// CPU use, percent of one CPU.
    Cpu,
    /// Resident memory, percent of the host's.
    Mem,
    /// Resident memory.
    Rss,
    /// Threads.
    Threads,
    /// CPU time, user and system.
    Time,
    /// Where it sleeps in the kernel (`wchan`), or what timed out.
    Wchan,
    /// Container, pod or systemd unit, from the cgroup path.
    Unit,
    /// Open fds against the soft limit.
    Fds,
    /// Command line.
    Command,
}

impl Col {
    /// Every column, left to right.
    pub const ALL: [Col; 12] = [
        Col::Pid,
        Col::User,
        Col::State,
        Col::Cpu,
        Col::Mem,
        Col::Rss,
        Col::Threads,
        Col::Time,
        Col::Wchan,
        Col::Unit,
        Col::Fds,
        Col::Command,
    ];

    /// The header.
    pub fn title(self) -> &'static str {
        match self {
            Col::Pid => "PID",
            Col::User => "USER",
            Col::State => "S",
            Col::Cpu => "%CPU",
            Col::Mem => "%MEM",
            Col::Rss => "RSS",
            Col::Threads => "THR",
            Col::Time => "TIME+",
            Col::Wchan => "WCHAN/BLOCKED",
            Col::Unit => "UNIT",
            Col::Fds => "FDS",
            Col::Command => "COMMAND",
        }
    }

    /// Width in cells (the command takes what is left).
    pub fn width(self) -> u16 {
        match self {
            Col::Pid => 7,
            Col::User => 8,
            Col::State => 2,
            Col::Cpu | Col::Mem => 5,
            Col::Rss => 6,
            Col::Threads => 4,
            Col::Time => 9,
            Col::Wchan => 16,
            Col::Unit => 16,
            Col::Fds => 10,
            Col::Command => 0,
        }
    }

    /// Numbers are right-aligned.
    pub fn right(self) -> bool {
        matches!(
            self,
            Col::Pid | Col::Cpu | Col::Mem | Col::Rss | Col::Threads | Col::Time | Col::Fds
        )
    }

    /// Columns sort big-first by default (htop sorts CPU, memory and
    /// time descending, names and PIDs ascending).
    pub fn descending(self) -> bool {
        matches!(
            self,
            Col::Cpu | Col::Mem | Col::Rss | Col::Threads | Col::Time | Col::Fds
        )
    }

    /// The columns that fit in `width` cells: the optional ones are
    /// dropped, widest-last-first, so that the command keeps at least 16.
    pub fn fitting(width: u16) -> Vec<Col> {
        let mut cols = Col::ALL.to_vec();
        // PID, state and command stay: a row must still say which
        // process it is (htop keeps PID too).
        for drop in [
            Col::Unit,
            Col::Wchan,
            Col::Mem,
            Col::Threads,
            Col::Fds,
            Col::Time,
            Col::User,
            Col::Rss,
            Col::Cpu,
        ] {
            let used: u16 = cols.iter().map(|c| c.width().saturating_add(1)).sum();
            if used.saturating_add(16) <= width {
                break;
            }
            cols.retain(|c| *c != drop);
        }
        cols
    }
}

/// One process in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The process.
    pub id: Identity,
    /// Parent PID.
    pub ppid: i32,
    /// User name or UID, escaped.
    pub user: Rc<str>,
    /// State letter.
    pub state: char,
    /// In `D` at two collections in a row.
    pub hung: bool,
    /// CPU, percent of one CPU (`None`: no previous collection).
    pub cpu: Option<f64>,
    /// Resident memory, percent of the host's.
    pub mem: f64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Threads.
    pub threads: u32,
    /// CPU time, centiseconds.
    pub time_cs: u64,
    /// `wchan`, or what could not be read (timed out), escaped.
    pub wchan: String,
    /// A read of this process timed out (its memory lock is stuck).
    pub timed_out: bool,
    /// Container, pod or unit, escaped.
    pub unit: Rc<str>,
    /// Open fds.
    pub fds: Option<u32>,
    /// Soft limit on fds.
    pub fd_limit: Option<u64>,
    /// The command line (or `[comm]`), escaped. Shared with the
    /// [`TextCache`]: a refresh copies no command line.
    pub command: Rc<str>,
    /// `comm`, raw, and the command line joined by spaces, raw: what the
    /// filter matches.
    pub match_text: (Rc<[u8]>, Rc<[u8]>),
    /// Tree prefix (`├─ `), empty outside tree view.
    pub prefix: String,
}

impl Row {
    /// The cell of `c`, as shown.
    pub fn cell(&self, c: Col) -> String {
        match c {
            Col::Pid => self.id.pid.to_string(),
            Col::User => self.user.to_string(),
            Col::State => {
                let mark = if self.hung || self.timed_out { "!" } else { "" };
                format!("{}{mark}", self.state)
            }
            Col::Cpu => self.cpu.map_or_else(|| "-".into(), |c| format!("{c:.1}")),
            Col::Mem => format!("{:.1}", self.mem),
            Col::Rss => units::size(self.rss),
            Col::Threads => self.threads.to_string(),
            Col::Time => time_plus(self.time_cs),
            Col::Wchan => self.wchan.clone(),
            Col::Unit => self.unit.to_string(),
            Col::Fds => match (self.fds, self.fd_limit) {
                (Some(n), Some(l)) => format!("{n}/{}", short(l)),
                (Some(n), None) => n.to_string(),
                _ => "-".into(),
            },
            Col::Command => format!("{}{}", self.prefix, self.command),
        }
    }

    /// Uses 80% or more of its fd limit.
    pub fn fds_near_limit(&self) -> bool {
        match (self.fds, self.fd_limit) {
            (Some(n), Some(l)) if l > 0 => u64::from(n).saturating_mul(5) >= l.saturating_mul(4),
            _ => false,
        }
    }
}

/// `1024` → `1024`, `1048576` → `1M`: a limit in the FDS column.
fn short(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 10_000 && n % 1024 == 0 => format!("{}K", n >> 10),
        n => n.to_string(),
    }
}

/// htop's TIME+: `M:SS.cc`, or `HhMM:SS` past an hour.
pub fn time_plus(cs: u64) -> String {
    let secs = cs / 100;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}.{:02}", cs % 100)
    }
}

/// The texts of a row that cost to build (escaping a command line of
/// kilobytes), kept per identity with the bytes they were built from: a
/// refresh rebuilds only what changed (usually nothing).
#[derive(Debug, Default)]
pub struct TextCache {
    map: std::collections::HashMap<Identity, Texts>,
}

#[derive(Debug)]
struct Texts {
    /// The process these were built from: the collector hands over the
    /// same allocation while a process does not change, so a pointer
    /// comparison settles most rows without looking at their bytes.
    src: std::sync::Weak<Proc>,
    comm: Rc<[u8]>,
    cmdline: Option<Vec<u8>>,
    truncated: bool,
    timed_out: bool,
    cgroup: Option<Vec<u8>>,
    command: Rc<str>,
    joined: Rc<[u8]>,
    unit: Rc<str>,
}

impl Texts {
    fn of(p: &std::sync::Arc<Proc>) -> Texts {
        let (command, joined) = command(p);
        Texts {
            src: std::sync::Arc::downgrade(p),
            comm: p.comm.as_slice().into(),
            cmdline: p.cmdline.as_ref().map(|c| c.as_slice().to_vec()),
            truncated: p.cmdline_truncated,
            timed_out: p.missing(Part::Cmdline).is_some(),
            cgroup: p.cgroup.as_ref().map(|c| c.as_slice().to_vec()),
            command: command.into(),
            joined: joined.into(),
            unit: unit(p).into(),
        }
    }

    fn still(&self, p: &std::sync::Arc<Proc>) -> bool {
        // A live weak pointer to the same allocation: the very same
        // values (a changed process is a new allocation, and the old one
        // cannot be reused while this weak pointer holds it).
        if std::ptr::eq(self.src.as_ptr(), std::sync::Arc::as_ptr(p)) {
            return true;
        }
        *self.comm == *p.comm.as_slice()
            && self.cmdline.as_deref() == p.cmdline.as_ref().map(|c| c.as_slice())
            && self.truncated == p.cmdline_truncated
            && self.timed_out == p.missing(Part::Cmdline).is_some()
            && self.cgroup.as_deref() == p.cgroup.as_ref().map(|c| c.as_slice())
    }
}

/// The rows of `u`, in PID order.
pub fn build(u: &Update, cache: &mut TextCache) -> Vec<Row> {
    let snap = &u.snap;
    // Identities gone since the last refresh leave the cache.
    let mut seen = std::collections::HashMap::with_capacity(snap.processes.len());
    for p in &snap.processes {
        let id = p.identity();
        let t = match cache.map.remove(&id) {
            Some(t) if t.still(p) => Texts {
                src: std::sync::Arc::downgrade(p),
                ..t
            },
            _ => Texts::of(p),
        };
        seen.insert(id, t);
    }
    cache.map = seen;
    // One escaped name per user, shared by that user's rows.
    let mut users: HashMap<u32, Rc<str>> = HashMap::new();
    let unknown: Rc<str> = "?".into();
    let mem_total = snap.host.map_or(0, |h| h.mem_total);
    let hz = snap.ticks_per_second.max(1);
    snap.processes
        .iter()
        .map(|p| {
            let id = p.identity();
            let user = match p.uid {
                Some(uid) => Rc::clone(users.entry(uid).or_insert_with(|| {
                    snap.users
                        .get(&uid)
                        .map_or_else(|| uid.to_string(), |n| escape(n.as_slice()).into_owned())
                        .into()
                })),
                None => Rc::clone(&unknown),
            };
            let timed_out: Vec<&str> = p
                .missing
                .iter()
                .filter(|(_, f)| matches!(f, procscope_read::Failure::TimedOut { .. }))
                .map(|(part, _)| part_name(*part))
                .collect();
            let wchan = if timed_out.is_empty() {
                p.wchan
                    .as_ref()
                    .filter(|w| !w.as_slice().is_empty() && w.as_slice() != b"0")
                    .map(|w| escape(w.as_slice()).into_owned())
                    .unwrap_or_default()
            } else {
                format!("timed out: {}", timed_out.join(","))
            };
            let (comm, command, joined, unit) = match cache.map.get(&id) {
                Some(t) => (
                    Rc::clone(&t.comm),
                    Rc::clone(&t.command),
                    Rc::clone(&t.joined),
                    Rc::clone(&t.unit),
                ),
                None => {
                    let (c, j) = command(p);
                    (p.comm.as_slice().into(), c.into(), j.into(), unit(p).into())
                }
            };
            Row {
                id,
                ppid: p.ppid,
                user,
                state: p.state,
                hung: u.hung.contains(&id),
                cpu: u.rates.procs.get(&id).map(|r| r.cpu() * 100.0),
                mem: if mem_total > 0 {
                    p.rss_bytes as f64 * 100.0 / mem_total as f64
                } else {
                    0.0
                },
                rss: p.rss_bytes,
                threads: p.threads,
                time_cs: p.cpu_ticks().saturating_mul(100) / hz,
                wchan,
                timed_out: !timed_out.is_empty(),
                unit,
                fds: p.fds,
                fd_limit: p.fd_limit,
                command,
                match_text: (comm, joined),
                prefix: String::new(),
            }
        })
        .collect()
}

fn part_name(p: Part) -> &'static str {
    match p {
        Part::Status => "status",
        Part::Io => "io",
        Part::Fds => "fds",
        Part::Limits => "limits",
        Part::Cgroup => "cgroup",
        Part::Exe => "exe",
        Part::Cmdline => "cmdline",
        Part::Threads => "threads",
        Part::Wchan => "wchan",
        Part::Pss => "pss",
    }
}

/// The command line shown (escaped) and matched (raw, joined by spaces).
fn command(p: &Proc) -> (String, Vec<u8>) {
    let comm = escape(p.comm.as_slice());
    match p.cmdline.as_ref().map(|c| c.as_slice()) {
        Some(raw) if !raw.is_empty() => {
            let args: Vec<&[u8]> = Cmdline::parse(raw).args().collect();
            let joined = args.join(&b' ');
            let mut shown = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    shown.push(' ');
                }
                procscope_render::escape::push_escaped(&mut shown, a);
            }
            if p.cmdline_truncated {
                shown.push('…');
            }
            (shown, joined)
        }
        _ if p.missing(Part::Cmdline).is_some() => {
            (format!("[{comm}] (command line timed out)"), Vec::new())
        }
        _ => (format!("[{comm}]"), Vec::new()),
    }
}

/// `docker:0123456789ab`, `pod:…`, the systemd unit, or the slice.
fn unit(p: &Proc) -> String {
    let Some(cg) = &p.cgroup else {
        return String::new();
    };
    let r = procscope_parse::container::recognise(cg.as_slice());
    let s = if let Some(id) = &r.container_id {
        let short: String = id.chars().take(12).collect();
        format!("{}:{short}", r.runtime.unwrap_or("ctr"))
    } else if let Some(pod) = &r.pod_uid {
        format!("pod:{}", pod.chars().take(12).collect::<String>())
    } else if let Some(u) = &r.unit {
        u.clone()
    } else if let Some(s) = &r.slice {
        s.clone()
    } else {
        String::new()
    };
    escape(s.as_bytes()).into_owned()
}

/// How the table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// By this column.
    pub col: Col,
    /// The column's default direction turned around (`I`).
    pub inverted: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            col: Col::Cpu,
            inverted: false,
        }
    }
}

fn cmp_f(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Orders two rows by `s` (ties by PID, so the order is stable between
/// refreshes).
pub fn compare(a: &Row, b: &Row, s: Sort) -> Ordering {
    let o = match s.col {
        Col::Pid => a.id.pid.cmp(&b.id.pid),
        Col::User => a.user.cmp(&b.user),
        Col::State => a.state.cmp(&b.state),
        Col::Cpu => cmp_f(a.cpu.unwrap_or(0.0), b.cpu.unwrap_or(0.0)),
        Col::Mem | Col::Rss => a.rss.cmp(&b.rss),
        Col::Threads => a.threads.cmp(&b.threads),
        Col::Time => a.time_cs.cmp(&b.time_cs),
        Col::Wchan => a.wchan.cmp(&b.wchan),
        Col::Unit => a.unit.cmp(&b.unit),
        Col::Fds => a.fds.cmp(&b.fds),
        Col::Command => a.command.cmp(&b.command),
    };
    let o = if s.col.descending() != s.inverted {
        o.reverse()
    } else {
        o
    };
    o.then(a.id.pid.cmp(&b.id.pid))
}

/// Keeps the rows whose name or command line matches (the pattern
/// language of `ps`: a regex, compiled by `model::select::compile`).
pub fn filter(rows: Vec<Row>, re: Option<&regex::bytes::Regex>) -> Vec<Row> {
    match re {
        None => rows,
        Some(re) => rows
            .into_iter()
            .filter(|r| re.is_match(&r.match_text.0) || re.is_match(&r.match_text.1))
            .collect(),
    }
}

/// Orders `rows` flat, or as a tree: children under their parent, each
/// level sorted by `s`; a row whose parent is not shown is a root.
pub fn arrange(mut rows: Vec<Row>, s: Sort, tree: bool) -> Vec<Row> {
    rows.sort_by(|a, b| compare(a, b, s));
    if !tree {
        return rows;
    }
    let index: HashMap<i32, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.pid, i))
        .collect();
    let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r.ppid != r.id.pid && index.contains_key(&r.ppid) {
            children.entry(r.ppid).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let mut order: Vec<(usize, String)> = Vec::with_capacity(rows.len());
    let mut seen = vec![false; rows.len()];
    // Depth-first, with the prefix each child inherits.
    let mut stack: Vec<(usize, String, String)> = roots
        .iter()
        .rev()
        .map(|&i| (i, String::new(), String::new()))
        .collect();
    while let Some((i, prefix, inherit)) = stack.pop() {
        if seen.get(i).copied().unwrap_or(true) {
            continue;
        }
        if let Some(s) = seen.get_mut(i) {
            *s = true;
        }
        order.push((i, prefix));
        let pid = rows.get(i).map_or(0, |r| r.id.pid);
        if let Some(kids) = children.get(&pid) {
            for (n, &k) in kids.iter().enumerate().rev() {
                let last = n + 1 == kids.len();
                let (here, below) = if last {
                    ("└─ ", "   ")
                } else {
                    ("├─ ", "│  ")
                };
                stack.push((k, format!("{inherit}{here}"), format!("{inherit}{below}")));
            }
        }
    }
    // Rows in a parent cycle (impossible in a consistent snapshot) are
    // still shown, flat at the end.
    for (i, s) in seen.iter().enumerate() {
        if !s {
            order.push((i, String::new()));
        }
    }
    let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, prefix)| {
            let mut r = slots.get_mut(i)?.take()?;
            r.prefix = prefix;
            Some(r)
        })
        .collect()
}
