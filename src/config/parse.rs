//! The one place that turns flag text into values: durations, counts, ratios, rates,
//! sizes, addresses, headers and URLs, plus URL redaction. Every parser is pure and
//! returns `Err(message)`; callers that know the flag name it in the message (most
//! parsers here take the flag and do it themselves).
//!
//! The swarm (`hls-swarm [run]`), the built-in origin (`hls-swarm origin`, its fault API)
//! and the origin-metrics flags all read durations through [`duration`], so one grammar
//! holds everywhere (docs/cli.md, "Durations").

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use url::Url;

/// Largest duration any flag takes, in seconds (about 31.7 years): far beyond any run, and
/// small enough that adding it to a clock reading can never overflow.
pub const MAX_DURATION_SECS: u64 = 1_000_000_000;

/// Nanoseconds per unit of the duration grammar; case matters (`m` minute, `M` month).
fn unit_nanos(unit: &str) -> Option<u128> {
    const S: u128 = 1_000_000_000;
    Some(match unit {
        "ns" | "nsec" | "nanos" => 1,
        "us" | "µs" | "μs" | "usec" => 1_000,
        "ms" | "msec" | "millis" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => S,
        "m" | "min" | "mins" | "minute" | "minutes" => 60 * S,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600 * S,
        "d" | "day" | "days" => 86_400 * S,
        "w" | "wk" | "wks" | "week" | "weeks" => 7 * 86_400 * S,
        // 30.44 and 365.25 days, as humantime counts them.
        "M" | "month" | "months" => 2_630_016 * S,
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600 * S,
        _ => return None,
    })
}

/// Parse a duration: `0`, or one or more `NUMBER UNIT` terms added up, e.g. `250ms`,
/// `1.5s`, `30s`, `5m`, `1h30m`, `1h 30min`, `2 days`, `.5s`.
///
/// This is the union of Go's `time.ParseDuration` (the spelling of go-ffmpeg-hls-swarm's
/// flags: units ns, us, µs, ms, s, m, h; fractions; terms run together) and humantime
/// (used by the origin's flags before: long unit names, d/w/M/y, spaces between terms).
/// A number is digits with an optional fraction (`1.5`, `.5`, `5.`); space may separate
/// a number from its unit and one term from the next. No sign, no bare numbers but `0`,
/// at most [`MAX_DURATION_SECS`]; fractions are exact down to the nanosecond.
pub fn duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let not_a_duration = || format!("'{text}' is not a duration");
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(not_a_duration());
        }
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let scale = match unit {
            "" => {
                return Err(format!(
                    "'{text}' has no unit (use e.g. 500ms, 30s, 5m, 1h30m)"
                ));
            }
            u => unit_nanos(u).ok_or_else(|| format!("'{text}' has an unknown unit '{u}'"))?,
        };
        let out_of_range = || format!("'{text}' is out of range");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| out_of_range())?
        };
        // Only the first 18 fraction digits can matter at nanosecond precision.
        let frac = &frac[..frac.len().min(18)];
        let frac_nanos = if frac.is_empty() {
            0
        } else {
            let digits: u128 = frac.parse().map_err(|_| not_a_duration())?;
            digits * scale / 10u128.pow(frac.len() as u32)
        };
        total = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_nanos))
            .and_then(|t| t.checked_add(total))
            .filter(|t| *t <= u128::from(MAX_DURATION_SECS) * 1_000_000_000)
            .ok_or_else(out_of_range)?;
    }
    let secs = (total / 1_000_000_000) as u64;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// [`duration`] for `flag`, the message naming the flag and showing examples.
pub fn flag_duration(flag: &str, s: &str) -> Result<Duration, String> {
    duration(s).map_err(|e| format!("{flag}: {e} (e.g. {flag} 500ms, 30s, 5m, 1h30m)"))
}

/// [`flag_duration`] that must be greater than zero.
pub fn positive_duration(flag: &str, s: &str, example: &str) -> Result<Duration, String> {
    match flag_duration(flag, s)? {
        d if d.is_zero() => Err(format!(
            "{flag}: must be greater than 0 (e.g. {flag} {example})"
        )),
        d => Ok(d),
    }
}

/// [`flag_duration`] within `range` (both ends included).
pub fn duration_in(
    flag: &str,
    s: &str,
    range: (Duration, Duration),
    example: &str,
) -> Result<Duration, String> {
    let d = duration(s).map_err(|e| format!("{flag}: {e} (e.g. {flag} {example})"))?;
    if d < range.0 || d > range.1 {
        return Err(format!(
            "{flag}: {} is out of range ({}..={})",
            humantime::format_duration(d),
            humantime::format_duration(range.0),
            humantime::format_duration(range.1)
        ));
    }
    Ok(d)
}

/// A whole number in `min..=max`.
pub fn count(flag: &str, s: &str, min: u64, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{flag}: {n} is out of range ({min}..={max})")),
        Err(_) => Err(format!(
            "{flag}: '{s}' is not a whole number (e.g. {flag} {})",
            min.max(1)
        )),
    }
}

/// A finite number accepted by `ok`, else `err()`.
pub fn number(s: &str, ok: impl Fn(f64) -> bool, err: impl Fn() -> String) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && ok(*r))
        .ok_or_else(err)
}

/// A ratio or probability in `0..=1`; `what` says which in the message.
pub fn unit_interval(flag: &str, s: &str, what: &str, example: &str) -> Result<f64, String> {
    number(
        s,
        |r| (0.0..=1.0).contains(&r),
        || format!("{flag}: '{s}' is not a {what} between 0 and 1 (e.g. {example})"),
    )
}

/// A count with an optional decimal `k`/`M`/`G` (×1000) suffix, e.g. `200k`, `1.5M`; the
/// result must be whole and at most `u64::MAX / 2`. Used for bitrates and byte rates.
pub fn si_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        Some((i, 'g' | 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    // Whole numbers exactly: through f64, 9007199254740993 would become ...992.
    if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
        return num
            .parse::<u64>()
            .ok()
            .and_then(|v| v.checked_mul(mult as u64))
            .filter(|&v| v <= u64::MAX / 2)
            .ok_or_else(|| format!("{s:?} is too large"));
    }
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * mult <= u64::MAX as f64 / 2.0 => {
            let r = (v * mult).round();
            if (r - v * mult).abs() > 1e-6 {
                return Err(format!("{s:?} is not a whole number"));
            }
            Ok(r as u64)
        }
        _ => Err(format!("{s:?} is not a number with optional k/M/G suffix")),
    }
}

/// Smallest and largest byte [`size`].
pub const SIZE_RANGE: (u64, u64) = (1024, 1 << 30);

/// A byte size: a whole number of bytes, or with a binary unit `KiB`, `MiB`, `GiB` (also
/// `K`, `M`, `G`, `KB`, `MB`, `GB`, all meaning powers of 1024), 1 KiB..=1 GiB.
pub fn size(flag: &str, s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(0),
        "k" | "kb" | "kib" => Some(10),
        "m" | "mb" | "mib" => Some(20),
        "g" | "gb" | "gib" => Some(30),
        _ => None,
    };
    let (min, max) = SIZE_RANGE;
    match (digits.parse::<u64>(), shift) {
        (Ok(n), Some(shift)) => match n.checked_mul(1 << shift) {
            Some(b) if (min..=max).contains(&b) => Ok(b),
            _ => Err(format!("{flag}: '{s}' is out of range (1KiB..=1GiB)")),
        },
        _ => Err(format!(
            "{flag}: '{s}' is not a size (e.g. {flag} 8MiB, 512KiB or 1048576)"
        )),
    }
}

/// A listen address for `flag`: `off` (`None`), `IP:PORT`, `[IPv6]:PORT`, `:PORT` (all
/// interfaces, as Go spells it) or `localhost:PORT`.
pub fn listen_addr(flag: &str, s: &str) -> Result<Option<SocketAddr>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "{flag}: '{s}' is not a listen address (e.g. {flag} 0.0.0.0:17091, {flag} 127.0.0.1:0, {flag} off)"
        )
    };
    if let Some(port) = s.strip_prefix(':') {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port))));
    }
    s.parse::<SocketAddr>().map(Some).map_err(|_| bad())
}

/// An IP address, IPv6 with or without brackets.
pub fn ip(flag: &str, s: &str) -> Result<IpAddr, String> {
    s.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .map_err(|_| {
            format!("{flag}: '{s}' is not an IP address (e.g. {flag} 10.0.0.5 or {flag} ::1)")
        })
}

/// A TCP port, 1..=65535.
pub fn port(flag: &str, s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{flag}: '{s}' is not a port (1..=65535)")),
    }
}

/// One request header and whether its value is secret (redacted in every output).
#[derive(Debug, Clone)]
pub struct Header {
    /// Header name.
    pub name: HeaderName,
    /// Header value.
    pub value: HeaderValue,
    /// Redact the value wherever it would be shown.
    pub secret: bool,
}

impl std::fmt::Display for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            write!(f, "{}: <redacted>", self.name)
        } else {
            write!(
                f,
                "{}: {}",
                self.name,
                self.value.to_str().unwrap_or("<binary>")
            )
        }
    }
}

/// Header names whose values are credentials even when given with -header.
fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || ["token", "secret", "key", "auth", "password", "signature"]
            .iter()
            .any(|w| n.contains(w))
}

/// Parse a "Name: value" header line; `secret` marks the value secret whatever its name.
pub fn header_line(line: &str, secret: bool) -> Result<Header, String> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!("'{}' is not \"Name: value\"", redact_line(line)));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a valid header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header '{name}' has invalid characters"))?;
    let secret = secret || is_secret_name(name.as_str());
    Ok(Header {
        name,
        value,
        secret,
    })
}

/// A header line fit for an error message: the value never shown.
fn redact_line(line: &str) -> String {
    match line.split_once(':') {
        Some((n, _)) => format!("{n}: <redacted>"),
        None if line.len() > 40 => format!("{}…", &line[..line.floor_char_boundary(40)]),
        None => line.to_string(),
    }
}

/// A URL safe to print: no user info, no query, no fragment.
pub fn redact_url(u: &Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Check that `u` is an http:// or https:// URL with a host; the message shows it redacted.
pub fn http_url(u: Url) -> Result<Url, String> {
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(format!(
            "URL '{}' must be http:// or https://",
            redact_url(&u)
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL '{}' has no host", redact_url(&u)));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Duration, String> {
        duration(s)
    }

    #[test]
    fn go_durations() {
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d(" 0 "), Ok(Duration::ZERO));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
        assert_eq!(d("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(d("5.s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("1h1m1s1ms1us1ns"), Ok(Duration::new(3661, 1_001_001)));
        assert_eq!(d("3µs"), Ok(Duration::from_micros(3)));
        assert_eq!(d("1.5h"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn humantime_durations() {
        assert_eq!(d("2h 37min"), Ok(Duration::from_secs(9420)));
        assert_eq!(d("1hour 12min 5s"), Ok(Duration::from_secs(4325)));
        assert_eq!(d("20 min 17 nsec "), Ok(Duration::new(1200, 17)));
        assert_eq!(d("17nsec"), Ok(Duration::from_nanos(17)));
        assert_eq!(d("32ms"), Ok(Duration::from_millis(32)));
        assert_eq!(d("4.2s"), Ok(Duration::from_millis(4200)));
        assert_eq!(d("2 days"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(d("1w"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(d("1M"), Ok(Duration::from_secs(2_630_016)));
        assert_eq!(d("1y"), Ok(Duration::from_secs(31_557_600)));
        assert_eq!(d("5 secs"), Ok(Duration::from_secs(5)));
        assert_eq!(d("10millis"), Ok(Duration::from_millis(10)));
        // m is a minute, M a month: case matters in both grammars.
        assert_eq!(d("1m"), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn fractions_are_exact() {
        assert_eq!(d("0.1s"), Ok(Duration::from_millis(100)));
        assert_eq!(d("0.000000001s"), Ok(Duration::from_nanos(1)));
        assert_eq!(d("2.5ms"), Ok(Duration::from_micros(2500)));
        assert_eq!(
            d("1.0000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "", " ", "5", "5x", "-5s", "+5s", "s", ".", ".s", "1..5s", "1.2.3s", "1h30", "1 h x",
            "5S", "soon", "1s,2s", "NaN", "inf", "1e3s", "∞s",
        ] {
            assert!(d(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(d("5").unwrap_err().contains("no unit"));
        assert!(d("5x").unwrap_err().contains("unknown unit 'x'"));
    }

    #[test]
    fn range_is_bounded() {
        assert_eq!(d("1000000000s"), Ok(Duration::from_secs(MAX_DURATION_SECS)));
        for big in [
            "1000000001s",
            "32y",
            "99999999999999999999999999999999999999999h",
            "18446744073709551616s",
        ] {
            assert!(d(big).unwrap_err().contains("out of range"), "{big}");
        }
    }

    #[test]
    fn flag_messages_name_the_flag() {
        let e = flag_duration("-timeout", "5x").unwrap_err();
        assert!(e.starts_with("-timeout: "), "{e}");
        let e = positive_duration("-timeout", "0", "15s").unwrap_err();
        assert!(e.contains("greater than 0"), "{e}");
        let r = (Duration::from_secs(1), Duration::from_secs(2));
        assert!(
            duration_in("-i", "3s", r, "2s")
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(
            duration_in("-i", "1500ms", r, "2s"),
            Ok(Duration::from_millis(1500))
        );
    }

    #[test]
    fn sizes_take_bytes_and_binary_units() {
        let f = "--max-playlist-size";
        assert_eq!(size(f, "8MiB"), Ok(8 << 20));
        assert_eq!(size(f, "8M"), Ok(8 << 20));
        assert_eq!(size(f, "512kib"), Ok(512 << 10));
        assert_eq!(size(f, " 1GiB "), Ok(1 << 30));
        assert_eq!(size(f, "4096"), Ok(4096));
        for bad in [
            "",
            "MiB",
            "8 XB",
            "-1",
            "1.5MiB",
            "1023",
            "2GiB",
            "99999999999999999999G",
        ] {
            let e = size(f, bad).unwrap_err();
            assert!(e.starts_with(f), "{bad}: {e}");
        }
    }

    #[test]
    fn whole_rates_are_exact() {
        assert_eq!(si_count("9007199254740993"), Ok(9_007_199_254_740_993));
        assert_eq!(si_count("9223372036854775807"), Ok(u64::MAX / 2));
        assert!(si_count("9223372036854775808").is_err());
        assert_eq!(si_count("2M"), Ok(2_000_000));
        assert_eq!(si_count("4611686018427387k"), Ok(4_611_686_018_427_387_000));
        assert!(si_count("9223372036854776k").is_err());
        assert!(si_count("99999999999999999999").is_err());
        assert_eq!(si_count("1.5k"), Ok(1500));
        for v in ["", ",", "k", "-1", "1e400", "NaN", "∞", "1.5k5", "0.0001"] {
            assert!(si_count(v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn listen_addresses() {
        let f = "-metrics";
        assert_eq!(listen_addr(f, "off"), Ok(None));
        assert_eq!(
            listen_addr(f, ":9000"),
            Ok(Some(SocketAddr::from(([0, 0, 0, 0], 9000))))
        );
        assert_eq!(
            listen_addr(f, "localhost:0"),
            Ok(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
        );
        assert_eq!(
            listen_addr(f, "[::1]:17091"),
            Ok(Some(
                "[::1]:17091".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        for bad in ["17091", "host:1", "1.2.3.4:99999", ""] {
            let e = listen_addr(f, bad).err().unwrap_or_default();
            assert!(e.contains("-metrics"), "{bad}: {e}");
        }
    }

    #[test]
    fn ips_and_ports() {
        assert_eq!(
            ip("-resolve", "[::1]"),
            Ok("::1".parse().unwrap_or_else(|_| unreachable!()))
        );
        assert!(ip("-resolve", "host").unwrap_err().starts_with("-resolve"));
        assert_eq!(port("-p", "9100"), Ok(9100));
        assert!(port("-p", "0").is_err() && port("-p", "70000").is_err());
    }

    #[test]
    fn headers_never_show_secrets_in_errors() {
        let h = header_line("X-Api-Key: abc", false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.to_string(), "x-api-key: <redacted>");
        let h = header_line("X-Test: 1", false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.to_string(), "x-test: 1");
        let e = header_line(
            "a very long header line without any colon in it at all",
            false,
        )
        .unwrap_err();
        assert!(e.contains('…'), "{e}");
        assert!(header_line("Bad Name: x", false).is_err());
    }

    #[test]
    fn urls_are_checked_and_redacted() {
        let u = Url::parse("https://user:pw@h:8443/a/b.m3u8?token=x#f")
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(redact_url(&u), "https://h:8443/a/b.m3u8");
        let ftp = Url::parse("ftp://h/x").unwrap_or_else(|_| unreachable!());
        assert!(http_url(ftp).is_err());
    }
}
