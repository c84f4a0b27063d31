//! Sizes, durations and times for people.

/// Bytes as a short human size: `512`, `4.0K`, `12M`, `1.5G` (powers of 1024).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = "K";
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// CPU time like ps's TIME: `[DD-]HH:MM:SS`.
pub fn cpu_time(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, s) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Elapsed time like ps's ELAPSED: `[[DD-]HH:]MM:SS`.
pub fn elapsed(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else if h > 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A start time like ps's START: `HH:MM` today, `Mon DD` this year, else
/// the year — in the local time zone.
pub fn start_time(unix: u64, now_unix: u64) -> String {
    let tz = jiff::tz::TimeZone::system();
    let (Ok(t), Ok(now)) = (
        jiff::Timestamp::from_second(i64::try_from(unix).unwrap_or(i64::MAX)),
        jiff::Timestamp::from_second(i64::try_from(now_unix).unwrap_or(i64::MAX)),
    ) else {
        return "?".into();
    };
    let (t, now) = (t.to_zoned(tz.clone()), now.to_zoned(tz));
    if t.date() == now.date() {
        t.strftime("%H:%M").to_string()
    } else if t.year() == now.year() {
        t.strftime("%b %d").to_string()
    } else {
        t.strftime("%Y").to_string()
    }
}

/// RFC 3339 UTC time for JSON.
pub fn rfc3339(unix: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(unix).unwrap_or(0))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(size(512), "512");
        assert_eq!(size(4096), "4.0K");
        assert_eq!(size(12 * 1024 * 1024), "12M");
        assert_eq!(size(1536 * 1024 * 1024), "1.5G");
        assert_eq!(cpu_time(3_723_000), "01:02:03");
        assert_eq!(cpu_time(90_061_000), "1-01:01:01");
        assert_eq!(elapsed(65), "01:05");
        assert_eq!(elapsed(3_725), "01:02:05");
        assert_eq!(elapsed(86_400 * 3 + 5), "3-00:00:05");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(start_time(1_000_000_000, 1_000_000_100).len(), 5);
    }
}

/// A duration for people: `750ns`, `250µs`, `1.5ms`, `2.25s`, `5s`, then
/// `12m 30s`, `4h 05m`, `2d 3h` (whole seconds from a minute on).
pub fn duration_ns(ns: u128) -> String {
    fn trimmed(v: f64, unit: &str) -> String {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}{unit}")
    }
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        trimmed(ns as f64 / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        trimmed(ns as f64 / 1e6, "ms")
    } else if ns < 60_000_000_000 {
        trimmed(ns as f64 / 1e9, "s")
    } else {
        crate::dossier::human_secs(u64::try_from(ns / 1_000_000_000).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod duration_tests {
    use super::duration_ns;

    #[test]
    fn durations_in_human_units() {
        assert_eq!(duration_ns(750), "750ns");
        assert_eq!(duration_ns(250_000), "250µs");
        assert_eq!(duration_ns(1_500_000), "1.5ms");
        assert_eq!(duration_ns(5_000_000_000), "5s");
        assert_eq!(duration_ns(2_250_000_000), "2.25s");
        assert_eq!(duration_ns(998_489_000_000), "16m 38s");
        assert_eq!(duration_ns(u128::MAX), "213503982334601d 7h");
    }
}
