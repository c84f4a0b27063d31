//! `procscope watch`: what changes in a process, as it happens. The model
//! (`procscope_model::watch`) samples and compares; this module only keeps
//! time (it sleeps between intervals, waking early for SIGINT/SIGTERM),
//! and writes each interval's events as lines or JSON lines, flushed.

use crate::cli::{Global, WatchArgs};
use crate::output::{self, Exit, UsageError};
use procscope_model::target::Target;
use procscope_model::watch::{Options, Report, Watch};
use procscope_render::doc::{Line, terminal_style};
use procscope_render::wire::watch as wire;
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime};

/// Extra help for `procscope watch --help`.
pub const AFTER_HELP: &str = "\
Examples:
  procscope watch 1234                  a line per change until Ctrl-C, then a summary
  procscope watch 1234 -n 0.5 --for 1m  every 500 ms, for a minute
  procscope watch cp                    progress of every cp: percent, rate, ETA per file
  procscope watch 'nginx|php-fpm'       a pattern: processes that appear are followed too
  procscope watch --json 1234 | jq -c 'select(.event.type == \"leak\")'
  procscope watch 1234 | grep --line-buffered LEAK

Lines: `watch` (what the process is), `+fd`/`-fd` (fds opened and closed,
decoded as `procscope fds` decodes them, other ends included), `~fd` (an
open file renamed or deleted: the same file), `state`,
`threads`, `blocked` (the call the main thread sleeps in, once seen twice),
`rates` (CPU, RSS, bytes through read/write calls, context switches; idle
intervals print nothing), `read`/`write` (a regular file's position:
percent, rate and ETA, like coreutils' progress, for any process;
`moving` when it both read and wrote), `no progress` (it reads, but by pread
or mmap: no position moves), `stalled`, `LEAK` (a count that only grew, steadily, over the window: fds
by kind with the fd-limit ETA, RSS, threads, children), `leak over`,
`TIMEOUT` (a read that waits on the process, such as its command line
while its memory lock is stuck, gave up after --timeout), `exited` (with the
exit status when the process is a zombie), `summary`.

The watch ends at Ctrl-C (SIGINT) or SIGTERM, after --for, or when every
watched process has exited; a summary of each process ends its watch.
Exit status 0 (also when the process exited), 1 if nothing matched.
Each interval reads a few files of the process (a pattern also lists
the processes once): no host-wide scan per process.";

/// Why the watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Interrupted,
    TimeUp,
    Exited,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::Interrupted => "interrupted",
            End::TimeUp => "time_up",
            End::Exited => "exited",
        }
    }
}

/// Where lines go, and how.
struct Sink {
    out: output::Stdout,
    json: bool,
    colour: bool,
    with_ms: bool,
    target: String,
    wall0: SystemTime,
}

impl Sink {
    fn unix_ms(&self, at_ms: u64) -> i64 {
        let t = self.wall0 + Duration::from_millis(at_ms);
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn line(&mut self, l: &Line) -> std::io::Result<()> {
        for s in &l.spans {
            if self.colour {
                let st = terminal_style(s.style);
                write!(self.out, "{}{}{}", st.render(), s.text, st.render_reset())?;
            } else {
                self.out.write_all(s.text.as_bytes())?;
            }
        }
        self.out.write_all(b"\n")
    }

    fn json(&mut self, at_ms: u64, pid: Option<i32>, e: wire::Event) -> std::io::Result<()> {
        let l = wire::line(self.unix_ms(at_ms), at_ms, pid, e);
        procscope_render::json::write(&mut self.out, &l)
    }

    /// Writes one interval's report and flushes (the stream is read as it
    /// comes: `| grep`, `| jq`).
    fn report(&mut self, at_ms: u64, r: &Report) -> std::io::Result<()> {
        if self.json {
            for n in &r.notices {
                self.json(at_ms, None, wire::notice(n))?;
            }
            for (pid, e) in &r.events {
                let w = wire::event(e, &procscope_render::watch::fd_text);
                self.json(at_ms, Some(*pid), w)?;
            }
        } else {
            let time = procscope_render::watch::clock(self.unix_ms(at_ms), self.with_ms);
            for n in &r.notices {
                let l = procscope_render::watch::notice_line(&time, &self.target, n);
                self.line(&l)?;
            }
            for l in procscope_render::watch::lines(&time, &r.events) {
                self.line(&l)?;
            }
        }
        self.out.flush()
    }
}

/// SIGINT and SIGTERM, as bytes on a socket the loop polls while it
/// waits for the next interval (it wakes at once, and nothing polls).
struct Signals {
    read: std::os::unix::net::UnixStream,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        Ok(Signals { read })
    }

    /// Waits up to `d`; true if a signal arrived.
    fn wait(&mut self, d: Duration) -> bool {
        let ts = rustix::time::Timespec {
            tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(d.subsec_nanos()),
        };
        let mut fds = [rustix::event::PollFd::new(
            &self.read,
            rustix::event::PollFlags::IN,
        )];
        let _ = rustix::event::poll(&mut fds, Some(&ts));
        let mut b = [0u8; 16];
        matches!(self.read.read(&mut b), Ok(n) if n > 0)
    }
}

/// What one step of the watch answered.
struct Done {
    report: Report,
    /// Every watched process has ended (a PID watch).
    over: bool,
    matched: bool,
    /// A signal, or the end of `--for`, came while the step ran: the
    /// watch ends after it.
    interrupted: Option<End>,
}

/// Asks the watch to step or finish.
enum Cmd {
    Step(u64, Option<Duration>),
    Finish,
}

/// The watch, on a thread of its own: a step can wait on a read of a
/// stuck process (for `--timeout`, or for ever with `--timeout 0`), and
/// meanwhile this thread still sees SIGINT, SIGTERM and the end of
/// `--for`.
struct Stepper {
    cmds: std::sync::mpsc::Sender<Cmd>,
    done: std::sync::mpsc::Receiver<Done>,
    timeout: Option<Duration>,
    duration: Option<Duration>,
    start: Instant,
}

/// How often a step that has not answered is checked on for signals.
const STEP_POLL: Duration = Duration::from_millis(50);
/// The shortest deadline a step gets near the end of `--for`.
const MIN_DEADLINE: Duration = Duration::from_millis(10);

impl Stepper {
    fn spawn(
        mut watch: Watch,
        timeout: Option<Duration>,
        duration: Option<Duration>,
        start: Instant,
    ) -> anyhow::Result<Stepper> {
        let (cmds, rx) = std::sync::mpsc::channel::<Cmd>();
        let (tx, done) = std::sync::mpsc::channel::<Done>();
        std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || {
                for c in rx {
                    let (report, over) = match c {
                        Cmd::Step(at, deadline) => {
                            watch.set_timeout(deadline);
                            let r = watch.step(at);
                            (r, watch.is_over())
                        }
                        Cmd::Finish => (watch.finish(), true),
                    };
                    let d = Done {
                        report,
                        over,
                        matched: watch.matched(),
                        interrupted: None,
                    };
                    if tx.send(d).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Stepper {
            cmds,
            done,
            timeout,
            duration,
            start,
        })
    }

    /// The deadline of a step's reads: `--timeout`, but never past the
    /// end of `--for` (with `--timeout 0`, the end of `--for` alone).
    fn deadline(&self) -> Option<Duration> {
        let left = self
            .duration
            .map(|f| f.saturating_sub(self.start.elapsed()).max(MIN_DEADLINE));
        match (self.timeout, left) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        }
    }

    /// One step at `at`. A signal while it runs: with a deadline, the step
    /// answers by it and the watch ends after it; without one, a stuck
    /// read may never answer, and `Err` says the watch must end now.
    fn step(&mut self, at: u64, signals: &mut Signals) -> Result<Done, End> {
        let deadline = self.deadline();
        if self.cmds.send(Cmd::Step(at, deadline)).is_err() {
            return Err(End::Exited);
        }
        let mut interrupted = None;
        loop {
            match self.done.recv_timeout(STEP_POLL) {
                Ok(mut d) => {
                    d.interrupted = interrupted;
                    return Ok(d);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err(End::Exited),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if interrupted.is_none() && signals.wait(Duration::ZERO) {
                interrupted = Some(End::Interrupted);
            }
            if interrupted.is_none() && self.duration.is_some_and(|f| self.start.elapsed() >= f) {
                interrupted = Some(End::TimeUp);
            }
            if let (Some(end), None) = (interrupted, deadline) {
                return Err(end);
            }
        }
    }

    /// The summaries; `None` when the watch thread is gone.
    fn finish(&mut self) -> Option<Done> {
        self.cmds.send(Cmd::Finish).ok()?;
        self.done.recv().ok()
    }
}

/// Ends a watch whose step is stuck in a read with no deadline
/// (`--timeout 0`): no summary can be had from it; the end is said, and
/// the process exits (its stuck thread with it).
fn abandon(sink: &mut Sink, at: u64, end: End) -> anyhow::Result<Exit> {
    let why = "a read of the process is stuck with no deadline (--timeout 0): no summary";
    if sink.json {
        sink.json(
            at,
            None,
            wire::Event::Ended(wire::Ended {
                reason: end.name().into(),
            }),
        )?;
    } else {
        let time = procscope_render::watch::clock(sink.unix_ms(at), sink.with_ms);
        let l = Line::default().with(
            format!("{time} ended: {why}"),
            procscope_render::doc::Style::Warn,
        );
        sink.line(&l)?;
    }
    sink.out.flush()?;
    output::warn(why);
    Ok(Exit::Success)
}

/// Runs `procscope watch`.
pub fn run(g: &Global, a: &WatchArgs) -> anyhow::Result<Exit> {
    // A snapshot is one moment: watching it would print the same sample
    // with new times until interrupted.
    if g.snapshot.is_some() {
        return Err(UsageError(
            "watch follows live processes; a snapshot holds one moment (use procscope diff A B to compare two)"
                .into(),
        )
        .into());
    }
    if a.interval < Duration::from_millis(100) {
        return Err(UsageError("--interval: at least 100ms".into()).into());
    }
    let root = crate::cmd::ps::open_root(g)?;
    let target = Target::parse(&a.target).map_err(UsageError)?;
    if let Target::Pid(p) = target {
        let max = procscope_model::target::pid_max(&root);
        if p > max {
            return Err(UsageError(format!(
                "{p} is not a PID: PIDs here go up to {max} (kernel.pid_max)"
            ))
            .into());
        }
    }
    let opts = Options {
        window_ms: u64::try_from(a.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1000),
        ..Options::default()
    };
    let watch = Watch::new(root.clone(), g.session.clone(), target, opts)
        .map_err(|f| anyhow::anyhow!("cannot read {}: {f}", root.path().display()))?;
    let mut signals = Signals::install()?;
    let out = output::stdout(g.color);
    let colour = output::colour(&out);
    let mut sink = Sink {
        out,
        json: g.json,
        colour,
        with_ms: a.interval < Duration::from_secs(1),
        target: a.target.clone(),
        wall0: SystemTime::now(),
    };
    let start = Instant::now();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let mut stepper = Stepper::spawn(watch, g.session.timeout(), a.duration, start)?;
    let mut tick: u32 = 0;
    let mut matched;
    let end = loop {
        let at = ms(start.elapsed());
        let done = match stepper.step(at, &mut signals) {
            Ok(d) => d,
            Err(end) => return abandon(&mut sink, at, end),
        };
        matched = done.matched;
        if tick == 0 && !matched && a.target.parse::<i32>().is_ok() {
            // A PID that is not there: nothing to watch.
            output::warn(&crate::cmd::targets::no_match(&root, &a.target));
            return Ok(Exit::NoMatch);
        }
        sink.report(at, &done.report)?;
        if let Some(end) = done.interrupted {
            break end;
        }
        if done.over {
            break End::Exited;
        }
        // The next tick on the schedule (ticks missed by a slow interval
        // are skipped, not caught up).
        let now = start.elapsed();
        tick = tick.saturating_add(1);
        while a.interval * tick <= now {
            tick = tick.saturating_add(1);
        }
        let mut next = a.interval * tick;
        let mut up = false;
        if let Some(f) = a.duration {
            if f <= next {
                next = f;
                up = true;
            }
        }
        if signals.wait(next.saturating_sub(start.elapsed())) {
            break End::Interrupted;
        }
        if up {
            // A last sample at the deadline: the summary covers all of it.
            let at = ms(start.elapsed());
            let done = match stepper.step(at, &mut signals) {
                Ok(d) => d,
                Err(end) => return abandon(&mut sink, at, end),
            };
            sink.report(at, &done.report)?;
            break if done.over { End::Exited } else { End::TimeUp };
        }
    };
    let at = ms(start.elapsed());
    let r = match stepper.finish() {
        Some(d) => {
            matched = d.matched;
            d.report
        }
        None => Report::default(),
    };
    sink.report(at, &r)?;
    if sink.json {
        sink.json(
            at,
            None,
            wire::Event::Ended(wire::Ended {
                reason: end.name().into(),
            }),
        )?;
        sink.out.flush()?;
    }
    if !matched {
        output::warn(&crate::cmd::targets::no_match(&root, &a.target));
        return Ok(Exit::NoMatch);
    }
    Ok(Exit::Success)
}
