//! Numbers for people: durations, byte counts, clock times and percentages, shared by
//! every part that prints (sinks, the origin summary, warnings). Pure functions.

/// Seconds as a short human duration: `850µs`, `12.3ms`, `1.42s`, `3m05s`.
pub fn secs(s: f64) -> String {
    if !s.is_finite() || s <= 0.0 {
        return "0".into();
    }
    if s < 1e-3 {
        format!("{:.0}µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else if s < 60.0 {
        format!("{s:.2}s")
    } else {
        let m = (s / 60.0).floor();
        format!("{m:.0}m{:02.0}s", s - m * 60.0)
    }
}

/// Bytes with a binary-free SI unit: `512 B`, `12.3 kB`, `4.56 MB`, `1.20 GB`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b.max(0.0);
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[0])
    } else {
        format!("{v:.2} {}", UNITS[i])
    }
}

/// Elapsed time as `HH:MM:SS`.
pub fn clock(s: f64) -> String {
    let t = s.max(0.0) as u64;
    format!("{:02}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
}

/// A ratio as a percentage with two decimals.
pub fn pct(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(secs(0.150), "150.0ms");
        assert_eq!(secs(2.5), "2.50s");
        assert_eq!(secs(125.0), "2m05s");
        assert_eq!(bytes(1_234_567.0), "1.23 MB");
        assert_eq!(bytes(12.0), "12 B");
        assert_eq!(clock(3725.0), "01:02:05");
        assert_eq!(pct(0.001), "0.10%");
    }
}
