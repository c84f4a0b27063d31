//! Pure estimators over a window of samples: is a count leaking (it only
//! grows, steadily, and is still growing), how fast, and how fast a file
//! position moves. No I/O: unit-tested on synthetic series.

/// One point of a series: milliseconds since the watch began, and a value.
pub type Point = (u64, f64);

/// What a window of points says about a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Least-squares slope, units per second.
    pub per_sec: f64,
    /// The first value of the window.
    pub first: f64,
    /// The last value of the window.
    pub last: f64,
    /// No step went down by more than the tolerance.
    pub only_grows: bool,
    /// Steps that went up.
    pub rising_steps: usize,
    /// Steps in the window (points - 1).
    pub steps: usize,
    /// Milliseconds the window spans.
    pub span_ms: u64,
    /// The value grew in the window's second half too (still growing now).
    pub growing_now: bool,
}

/// The least-squares slope of `points`, per second (`None`: fewer than two
/// points, or all at one time).
pub fn slope(points: &[Point]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0 as f64 / 1000.0).sum::<f64>() / n;
    let mean_v = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for &(t, v) in points {
        let dt = t as f64 / 1000.0 - mean_t;
        num += dt * (v - mean_v);
        den += dt * dt;
    }
    (den > 0.0).then(|| num / den)
}

/// The trend of `points` (in time order). A step down by at most
/// `tolerance` still counts as "only grows" (RSS wobbles by a few pages
/// while it leaks).
pub fn trend(points: &[Point], tolerance: f64) -> Option<Trend> {
    let per_sec = slope(points)?;
    let first = points.first()?;
    let last = points.last()?;
    let mut only_grows = true;
    let mut rising_steps = 0;
    for w in points.windows(2) {
        if let [a, b] = w {
            if b.1 < a.1 - tolerance {
                only_grows = false;
            }
            if b.1 > a.1 {
                rising_steps += 1;
            }
        }
    }
    let mid = points.get(points.len() / 2).map_or(first.1, |p| p.1);
    Some(Trend {
        per_sec,
        first: first.1,
        last: last.1,
        only_grows,
        rising_steps,
        steps: points.len() - 1,
        span_ms: last.0.saturating_sub(first.0),
        growing_now: last.1 > mid,
    })
}

/// The shortest window a leak is named over.
pub const MIN_SPAN_MS: u64 = 2_000;

impl Trend {
    /// A leak: over at least [`MIN_SPAN_MS`], the value only grew, by at
    /// least `min_growth`, in at least three separate steps (one jump, like
    /// a pool opened at start, is not a leak), and it is still growing.
    pub fn is_leak(&self, min_growth: f64) -> bool {
        self.only_grows
            && self.span_ms >= MIN_SPAN_MS
            && self.last - self.first >= min_growth
            && self.rising_steps >= 3
            && self.growing_now
            && self.per_sec > 0.0
    }
}

/// How a file position moved over a window: bytes per second from the
/// first to the last point (the exact average; a position only moves by
/// the bytes read or written), `None` when it did not move forward or the
/// window is shorter than `min_span_ms`.
pub fn position_rate(points: &[(u64, u64)], min_span_ms: u64) -> Option<f64> {
    let (t0, p0) = *points.first()?;
    let (t1, p1) = *points.last()?;
    let span = t1.checked_sub(t0)?;
    if span == 0 || span < min_span_ms || p1 <= p0 {
        return None;
    }
    Some((p1 - p0) as f64 / (span as f64 / 1000.0))
}

/// Seconds until `value` reaches `limit` growing at `per_sec` (`None`:
/// not growing, or already there).
pub fn eta_secs(value: f64, limit: f64, per_sec: f64) -> Option<f64> {
    (per_sec > 0.0 && limit > value).then(|| (limit - value) / per_sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(step_ms: u64, values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64 * step_ms, v))
            .collect()
    }

    #[test]
    fn slope_of_a_line_is_its_rate() {
        // 10 per second, sampled every 500 ms.
        let s = series(500, &[100.0, 105.0, 110.0, 115.0, 120.0, 125.0]);
        assert!((slope(&s).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(slope(&s[..1]), None);
        assert_eq!(slope(&[(5, 1.0), (5, 2.0)]), None);
    }

    #[test]
    fn a_steady_leak_is_named_with_its_rate() {
        let s = series(1000, &[10.0, 20.0, 30.0, 40.0, 50.0]);
        let t = trend(&s, 0.0).unwrap();
        assert!(t.is_leak(5.0), "{t:?}");
        assert!((t.per_sec - 10.0).abs() < 1e-9);
        assert_eq!(
            (t.first, t.last, t.rising_steps, t.steps),
            (10.0, 50.0, 4, 4)
        );
    }

    #[test]
    fn a_single_jump_a_dip_or_a_plateau_is_not_a_leak() {
        // A pool of 20 fds opened at once, then flat.
        let jump = series(1000, &[10.0, 30.0, 30.0, 30.0, 30.0]);
        assert!(!trend(&jump, 0.0).unwrap().is_leak(5.0));
        // Grows, but one fd was closed on the way.
        let dip = series(1000, &[10.0, 20.0, 19.0, 30.0, 40.0]);
        assert!(!trend(&dip, 0.0).unwrap().only_grows);
        assert!(!trend(&dip, 0.0).unwrap().is_leak(5.0));
        // ... which a tolerance forgives (RSS wobbles).
        assert!(trend(&dip, 1.0).unwrap().is_leak(5.0));
        // Grew, then stopped: not growing now.
        let stopped = series(1000, &[10.0, 20.0, 30.0, 40.0, 40.0, 40.0, 40.0]);
        let t = trend(&stopped, 0.0).unwrap();
        assert!(!t.growing_now && !t.is_leak(5.0), "{t:?}");
        // Too short a window.
        let short = series(100, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert!(!trend(&short, 0.0).unwrap().is_leak(1.0));
        // Growth below the floor.
        let slow = series(1000, &[1.0, 2.0, 3.0, 4.0]);
        assert!(!trend(&slow, 0.0).unwrap().is_leak(5.0));
    }

    #[test]
    fn positions_and_etas() {
        // 4 MiB/s for 2 s.
        let p = [(0, 0), (1000, 4 << 20), (2000, 8 << 20)];
        assert_eq!(position_rate(&p, 500), Some(4.0 * 1048576.0));
        assert_eq!(position_rate(&p, 5000), None);
        assert_eq!(position_rate(&[(0, 5), (1000, 5)], 0), None);
        assert_eq!(position_rate(&[(0, 9), (1000, 5)], 0), None);
        assert_eq!(eta_secs(100.0, 1124.0, 8.0), Some(128.0));
        assert_eq!(eta_secs(100.0, 50.0, 8.0), None);
        assert_eq!(eta_secs(100.0, 500.0, 0.0), None);
    }
}
