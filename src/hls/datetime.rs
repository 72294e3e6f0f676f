//! ISO 8601 / RFC 3339 date-times as used by `#EXT-X-PROGRAM-DATE-TIME` (RFC 8216 §4.3.2.6).
//!
//! Accepted: `YYYY-MM-DDThh:mm:ss[.fraction][Z|±hh:mm|±hhmm|±hh]`, with `t`/space as the
//! separator and `z` for UTC. A missing zone is read as UTC. Fractions beyond nanoseconds
//! are truncated. A leap second (`:60`) is folded into the next second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a program date-time into a [`SystemTime`], or says why it cannot.
pub fn parse_date_time(s: &str) -> Result<SystemTime, String> {
    let bad = |what: &str| format!("invalid date-time {s:?}: {what}");
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return Err(bad("expected YYYY-MM-DDThh:mm:ss"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(range).ok_or_else(|| bad("truncated"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("expected digits"));
        }
        part.parse::<i64>().map_err(|_| bad("expected digits"))
    };
    let sep_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !sep_ok {
        return Err(bad("expected YYYY-MM-DDThh:mm:ss"));
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("date out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("time out of range"));
    }
    let mut rest = &s[19..];
    let mut nanos: u32 = 0;
    if let Some(frac) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(bad("empty fraction"));
        }
        let mut scale = 100_000_000u32;
        for d in frac.bytes().take(len.min(9)) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &frac[len..];
    }
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(bad("expected a time zone (Z or ±hh:mm)")),
            };
            let zone = &rest[1..];
            let (h, m) = match zone.len() {
                2 => (zone, "00"),
                4 => (&zone[..2], &zone[2..]),
                5 if zone.as_bytes()[2] == b':' => (&zone[..2], &zone[3..]),
                _ => return Err(bad("expected a time zone (Z or ±hh:mm)")),
            };
            let h = digits2(h).ok_or_else(|| bad("bad time zone"))?;
            let m = digits2(m).ok_or_else(|| bad("bad time zone"))?;
            if h > 23 || m > 59 {
                return Err(bad("time zone out of range"));
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let time = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    };
    time.and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
        .ok_or_else(|| bad("not representable"))
}

fn digits2(s: &str) -> Option<i64> {
    if s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (year 0..=9999).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count whole years, then months, from 0000-03-01 so the leap day ends a year.
    let y = if month <= 2 { year - 1 } else { year };
    let m = (month + 9) % 12; // March = 0 … February = 11
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let leap_days = y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    let days_since_0000_03_01 = 365 * y + leap_days + day_of_year;
    // 0000-03-01 is 719_468 days before 1970-01-01.
    days_since_0000_03_01 - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_date_time("1970-01-01T00:00:00Z"), Ok(at(0, 0)));
        assert_eq!(
            parse_date_time("2010-02-19T14:54:23.031+08:00"),
            Ok(at(1_266_562_463, 31_000_000))
        );
        assert_eq!(
            parse_date_time("2024-02-29T12:00:00.5Z"),
            Ok(at(1_709_208_000, 500_000_000))
        );
        assert_eq!(
            parse_date_time("2000-03-01T00:00:00Z"),
            Ok(at(951_868_800, 0))
        );
        assert_eq!(
            parse_date_time("2024-01-01T01:00:00+0100"),
            parse_date_time("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_date_time("2024-01-01T00:00:00-05"),
            parse_date_time("2024-01-01T05:00:00Z")
        );
        assert_eq!(
            parse_date_time("2024-01-01 00:00:00"),
            parse_date_time("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_date_time("2024-01-01T00:00:00.1234567891234Z"),
            Ok(at(1_704_067_200, 123_456_789))
        );
        assert_eq!(
            parse_date_time("1969-12-31T23:59:59Z"),
            Ok(UNIX_EPOCH - Duration::from_secs(1))
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00X",
            "2024-01-01T00:00:00+1",
            "2024-01-01T00:00:00.Z",
            "2024/01/01T00:00:00Z",
            "2024-01-01T00:00:00+99:00",
            "2024-0a-01T00:00:00Z",
            "2024-01-01T00:00:0é",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad:?} should fail");
        }
    }
}
