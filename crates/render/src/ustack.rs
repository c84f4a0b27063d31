//! User-space frames in words: `function+0x1a (file.c:210) [module]`, how
//! the registers were taken, and why a walk ended; and their JSON.

use crate::doc::{Doc, Line, Style};
use crate::escape::escape;
use crate::wire::common::{Bytes as WireBytes, ErrorObject, OrError, or_error};
use crate::wire::stack as wire;
use procscope_model::Failure;
use procscope_model::ustack::{End, How, UserFrame, UserStack};

/// The last path component of `b`.
fn base(b: &[u8]) -> &[u8] {
    b.rsplit(|c| *c == b'/').next().unwrap_or(b)
}

/// `pthread_mutex_lock+0x8c (pthread_mutex_lock.c:93) [libc.so.6]`; an
/// inlined function says so; an address without a symbol is shown bare.
pub fn frame(f: &UserFrame) -> String {
    let mut t = match &f.function {
        Some(name) => {
            let mut t = escape(name.as_bytes()).into_owned();
            match f.offset {
                Some(o) if !f.inlined => t.push_str(&format!("+{o:#x}")),
                _ => {}
            }
            if f.inlined {
                t.push_str(" (inlined)");
            }
            t
        }
        None => format!("{:#x}", f.addr),
    };
    if let Some(file) = &f.file {
        t.push_str(&format!(" ({}", escape(base(file.as_slice()))));
        if let Some(l) = f.line {
            t.push_str(&format!(":{l}"));
        }
        t.push(')');
    }
    match &f.module {
        Some(m) => t.push_str(&format!(" [{}]", escape(base(m.as_slice())))),
        None if f.function.is_none() => t.push_str(" [no mapped file]"),
        None => {}
    }
    t
}

/// How the registers were taken, in words.
pub fn how(h: How) -> String {
    match h {
        How::Syscall => "not stopped: registers from its system call".into(),
        How::Fault => "not stopped: registers from its page fault".into(),
        How::Stopped => {
            "already stopped (by a signal or a debugger): registers from its stop".into()
        }
        How::Interrupted { stopped_us } => {
            format!("it was on a CPU: stopped alone for {stopped_us} µs")
        }
    }
}

/// Why a walk ended, in words (`None`: at the outermost frame).
pub fn end(e: End) -> Option<String> {
    Some(match e {
        End::Root => return None,
        End::Limit => format!(
            "walk stopped after {} frames",
            procscope_model::ustack::MAX_FRAMES
        ),
        End::Unreadable { addr } => format!("walk stopped: the stack at {addr:#x} is not readable"),
        End::NeedsFramePointer => "walk stopped: the next frame needs the frame pointer, which a blocked thread's registers do not include".into(),
        End::NoFramePointer => "walk stopped: the next frame needs the frame pointer, and this code keeps none (it is 0)".into(),
        End::NoUnwindInfo { addr } => format!("walk stopped: the code at {addr:#x} has no unwind information (.eh_frame) and no frame pointer to follow"),
        End::NotCode { addr } => {
            format!("walk stopped: return address {addr:#x} is in no executable file")
        }
        End::NoProgress => "walk stopped: the unwind rules did not move up the stack".into(),
        End::Moved => "the thread kept running while it was read: frames may be mixed".into(),
    })
}

/// The user frames of a group, under its kernel frames: a dim heading
/// saying how they were taken, the frames, and why the walk ended.
pub fn lines(
    d: &mut Doc,
    user: &Option<procscope_model::Outcome<UserStack>>,
    detail: usize,
    frames: usize,
    key: usize,
) {
    match user {
        None => {}
        Some(Ok(u)) => {
            d.line(
                detail,
                Line::styled(
                    match &u.traced {
                        Some(t) => format!("user  ({}; {t})", how(u.how)),
                        None => format!("user  ({})", how(u.how)),
                    },
                    Style::Dim,
                ),
            );
            for f in &u.frames {
                d.line(frames, frame(f));
            }
            if u.frames.is_empty() {
                d.line(frames, Line::styled("(no frames)", Style::Dim));
            }
            if let Some(e) = end(u.end) {
                d.line(frames, Line::styled(format!("({e})"), Style::Dim));
            }
            if !u.unread.is_empty() {
                let list = u.unread.join("; ");
                d.line(
                    frames,
                    Line::styled(
                        format!("(modules not read: {})", escape(list.as_bytes())),
                        Style::Dim,
                    ),
                );
            }
            if let Some(f) = &u.symbols {
                // Not the memory-lock hint a timed-out read carries: the
                // names come from files, not from the process's memory.
                let why = match f {
                    Failure::TimedOut { after } => {
                        format!("timed out after {} ms", after.as_millis())
                    }
                    f => f.to_string(),
                };
                d.line(frames, Line::styled(format!("(names: {why})"), Style::Dim));
            }
        }
        Some(Err(f)) => {
            let why = match f {
                Failure::Absent { what } => what.clone(),
                Failure::TimedOut { .. } => format!("{f} — its memory cannot be read now"),
                f => f.to_string(),
            };
            d.field(detail, key, "user", format!("? ({why})"));
        }
    }
}

/// The JSON of a user stack.
pub fn wire(
    user: &Option<procscope_model::Outcome<UserStack>>,
) -> Option<OrError<wire::UserStack>> {
    user.as_ref().map(|u| {
        or_error(u, |u| {
            let (end, end_addr) = match u.end {
                End::Root => ("root", None),
                End::Limit => ("limit", None),
                End::Unreadable { addr } => ("unreadable", Some(addr)),
                End::NeedsFramePointer => ("needs_frame_pointer", None),
                End::NoFramePointer => ("no_frame_pointer", None),
                End::NoUnwindInfo { addr } => ("no_unwind_info", Some(addr)),
                End::NotCode { addr } => ("not_code", Some(addr)),
                End::NoProgress => ("no_progress", None),
                End::Moved => ("moved", None),
            };
            let (how, stopped_us) = match u.how {
                How::Syscall => ("syscall", None),
                How::Fault => ("fault", None),
                How::Stopped => ("stopped", None),
                How::Interrupted { stopped_us } => ("interrupted", Some(stopped_us)),
            };
            wire::UserStack {
                how: how.into(),
                stopped_us,
                end: end.into(),
                end_addr,
                frames: u.frames.iter().map(wire_frame).collect(),
                symbols_error: u.symbols.as_ref().map(ErrorObject::from),
                traced: u.traced.clone(),
                modules_unread: u.unread.clone(),
            }
        })
    })
}

/// The JSON of one user frame.
pub fn wire_frame(f: &UserFrame) -> wire::UserFrame {
    wire::UserFrame {
        kind: "user".into(),
        address: f.addr,
        module: f.module.as_ref().map(WireBytes::from),
        function: f.function.clone(),
        offset: f.offset,
        file: f.file.as_ref().map(WireBytes::from),
        line: f.line,
        inlined: f.inlined,
    }
}

/// Where a thread waits in its program, for verdicts: `db_lock
/// (target.c:25)`, or the function alone.
pub fn place(f: &UserFrame) -> String {
    let name = f.function.as_deref().unwrap_or("?");
    match (&f.file, f.line) {
        (Some(file), Some(l)) => format!(
            "{name} ({}:{l})",
            String::from_utf8_lossy(base(file.as_slice()))
        ),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::time::Duration;

    fn unnamed() -> Option<procscope_model::Outcome<UserStack>> {
        Some(Ok(UserStack {
            frames: vec![UserFrame {
                addr: 0x4011d6,
                ..UserFrame::default()
            }],
            how: How::Syscall,
            end: End::Root,
            symbols: Some(Failure::TimedOut {
                after: Duration::from_secs(1),
            }),
            traced: None,
            unread: Vec::new(),
        }))
    }

    #[test]
    fn frames_whose_names_timed_out_say_so_in_text_and_json() {
        let mut d = Doc::new();
        lines(&mut d, &unnamed(), 0, 1, 6);
        let mut out = Vec::new();
        crate::doc::write(&d, &mut out, None, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("(names: timed out after 1000 ms)"), "{text}");
        let v = serde_json::to_value(wire(&unnamed()).unwrap()).unwrap();
        assert_eq!(v["symbols_error"]["error"]["reason"], "timed_out", "{v}");
        // Named frames carry no such field.
        let mut named = unnamed();
        if let Some(Ok(u)) = &mut named {
            u.symbols = None;
        }
        let v = serde_json::to_value(wire(&named).unwrap()).unwrap();
        assert!(v.get("symbols_error").is_none(), "{v}");
    }
}
