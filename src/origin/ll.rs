//! LL-HLS delivery directives (rfc8216bis §6.2.5): parsing `_HLS_msn`, `_HLS_part` and
//! `_HLS_skip` from a playlist query, and deciding what a blocking request waits for.
//! Pure: the caller supplies the published part count.
//!
//! Rules (§6.2.5.2), with K parts per segment and Q parts published (the last one is
//! `Q − 1`, the last complete segment `⌊Q/K⌋ − 1`):
//! * `_HLS_part` without `_HLS_msn`, or a value that is not a decimal integer → 400.
//! * `_HLS_msn=M` alone waits until segment M is complete: `Q ≥ (M + 1) × K`.
//! * `_HLS_msn=M&_HLS_part=N` waits until part N of segment M exists: `Q ≥ M×K + N + 1`;
//!   N ≥ K means part 0 of segment M + 1.
//! * M greater than the last complete segment + 2 → 400 at once; so is a part more than
//!   the Advance Part Limit past the last published part (3 / part target when the part
//!   target is under 1 s, else 3).
//! * The wait is bounded by 3 target durations; then 503.

use std::time::Duration;

/// The delivery directives of one playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Directives {
    /// `_HLS_msn`.
    pub msn: Option<u64>,
    /// `_HLS_part`.
    pub part: Option<u64>,
    /// `_HLS_skip=YES` or `_HLS_skip=v2` (a delta update is asked for).
    pub skip: bool,
    /// `_HLS_skip=v2` (date ranges skipped too: the origin has none, so the answer only
    /// adds an empty `RECENTLY-REMOVED-DATERANGES`).
    pub skip_v2: bool,
}

/// Why a request's directives are refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDirective {
    /// A directive value is not a decimal integer.
    #[error("{0} is not a decimal integer")]
    NotANumber(&'static str),
    /// `_HLS_part` came without `_HLS_msn`.
    #[error("_HLS_part without _HLS_msn")]
    PartWithoutMsn,
    /// `_HLS_msn` is more than two segments past the last complete one.
    #[error("_HLS_msn {msn} is more than two segments past the last one ({last})")]
    MsnTooFar {
        /// Requested MSN.
        msn: u64,
        /// MSN of the last complete segment.
        last: u64,
    },
    /// `_HLS_part` is further ahead than the Advance Part Limit.
    #[error("_HLS_part is {ahead} parts past the last one (Advance Part Limit {limit})")]
    PartTooFar {
        /// Parts between the last published one and the requested one.
        ahead: u64,
        /// The Advance Part Limit, in parts (rounded down).
        limit: u64,
    },
}

/// Parses the directives out of a request's query string (other parameters are ignored;
/// an `_HLS_skip` other than `YES`/`v2` is ignored).
pub fn parse_query(query: Option<&str>) -> Result<Directives, BadDirective> {
    let mut d = Directives::default();
    for pair in query.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "_HLS_msn" => d.msn = Some(number(v).ok_or(BadDirective::NotANumber("_HLS_msn"))?),
            "_HLS_part" => d.part = Some(number(v).ok_or(BadDirective::NotANumber("_HLS_part"))?),
            "_HLS_skip" => {
                d.skip = v == "YES" || v == "v2";
                d.skip_v2 = v == "v2";
            }
            _ => {}
        }
    }
    if d.part.is_some() && d.msn.is_none() {
        return Err(BadDirective::PartWithoutMsn);
    }
    Ok(d)
}

fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The part count a blocking request waits for (`Q ≥ target`), or why it is refused.
/// `None` when the request does not block (no `_HLS_msn`).
pub fn blocking_target(
    d: Directives,
    parts_per_segment: u64,
    part_target: Duration,
    published: u64,
) -> Result<Option<u64>, BadDirective> {
    let Some(msn) = d.msn else {
        return Ok(None);
    };
    let k = parts_per_segment.max(1);
    let complete = published / k;
    let last = complete.saturating_sub(1);
    if complete > 0 && msn > last + 2 || complete == 0 && msn > 1 {
        return Err(BadDirective::MsnTooFar { msn, last });
    }
    let Some(part) = d.part else {
        return Ok(Some(msn.saturating_add(1).saturating_mul(k)));
    };
    let (msn, part) = if part >= k {
        (msn.saturating_add(1), 0)
    } else {
        (msn, part)
    };
    let wanted = msn.saturating_mul(k).saturating_add(part);
    let ahead = wanted.saturating_sub(published.saturating_sub(1));
    let ms = part_target.as_millis().max(1);
    // ahead > 3 / target(s) ⇔ ahead × target_ms > 3000 (for targets under 1 s).
    let too_far = if ms < 1000 {
        u128::from(ahead) * ms > 3000
    } else {
        ahead > 3
    };
    if too_far {
        let limit = if ms < 1000 {
            u64::try_from(3000 / ms).unwrap_or(u64::MAX)
        } else {
            3
        };
        return Err(BadDirective::PartTooFar { ahead, limit });
    }
    Ok(Some(wanted.saturating_add(1)))
}

/// The longest a blocking playlist request is held: three target durations.
pub fn hold_limit(target_duration_secs: u64) -> Duration {
    Duration::from_secs(3 * target_duration_secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Duration = Duration::from_millis(200);

    fn q(s: &str) -> Result<Directives, BadDirective> {
        parse_query(Some(s))
    }

    #[test]
    fn parses_directives() {
        assert_eq!(parse_query(None), Ok(Directives::default()));
        assert_eq!(
            q("_HLS_msn=12&_HLS_part=3&x=1"),
            Ok(Directives {
                msn: Some(12),
                part: Some(3),
                skip: false,
                skip_v2: false,
            })
        );
        assert!(q("_HLS_skip=YES").unwrap().skip);
        assert!(q("_HLS_skip=v2").unwrap().skip && q("_HLS_skip=v2").unwrap().skip_v2);
        assert!(!q("_HLS_skip=no").unwrap().skip);
        assert_eq!(q("_HLS_part=1"), Err(BadDirective::PartWithoutMsn));
        assert_eq!(q("_HLS_msn=x"), Err(BadDirective::NotANumber("_HLS_msn")));
        assert_eq!(q("_HLS_msn=-1"), Err(BadDirective::NotANumber("_HLS_msn")));
        assert_eq!(
            q("_HLS_msn=1&_HLS_part="),
            Err(BadDirective::NotANumber("_HLS_part"))
        );
        assert_eq!(
            q("_HLS_msn=99999999999999999999999"),
            Err(BadDirective::NotANumber("_HLS_msn"))
        );
    }

    fn target(msn: u64, part: Option<u64>, published: u64) -> Result<Option<u64>, BadDirective> {
        let d = Directives {
            msn: Some(msn),
            part,
            ..Default::default()
        };
        blocking_target(d, 5, P, published)
    }

    #[test]
    fn targets() {
        // K = 5; 52 parts published: segments 0..=9 complete, parts 10.0 and 10.1 exist.
        assert_eq!(target(10, Some(1), 52), Ok(Some(52)), "exists already");
        assert_eq!(target(10, Some(2), 52), Ok(Some(53)), "the next part");
        assert_eq!(target(10, None, 52), Ok(Some(55)), "segment 10 complete");
        assert_eq!(target(3, None, 52), Ok(Some(20)), "long gone: at once");
        assert_eq!(
            target(10, Some(7), 52),
            Ok(Some(56)),
            "N ≥ K is part 0 of M+1"
        );
        assert_eq!(
            blocking_target(Directives::default(), 5, P, 52),
            Ok(None),
            "no directive, no block"
        );
    }

    #[test]
    fn too_far_ahead() {
        // Last complete segment 9: 11 is allowed, 12 is not.
        assert_eq!(target(11, None, 52), Ok(Some(60)));
        assert_eq!(
            target(12, None, 52),
            Err(BadDirective::MsnTooFar { msn: 12, last: 9 })
        );
        // 2 s segments of 200 ms parts (K = 10), 102 published: last part 101 (10.1).
        let t10 = |msn, part| {
            let d = Directives {
                msn: Some(msn),
                part: Some(part),
                ..Default::default()
            };
            blocking_target(d, 10, P, 102)
        };
        assert_eq!(t10(11, 6), Ok(Some(117)), "116 is 15 ahead: the limit");
        assert_eq!(
            t10(11, 7),
            Err(BadDirective::PartTooFar {
                ahead: 16,
                limit: 15
            })
        );
        // 1 s parts, K = 2, 18 published (last part 17 = 8.1): limit 3 parts.
        let one_s = Duration::from_secs(1);
        let t2 = |msn, part| {
            let d = Directives {
                msn: Some(msn),
                part: Some(part),
                ..Default::default()
            };
            blocking_target(d, 2, one_s, 18)
        };
        assert_eq!(t2(9, 0), Ok(Some(19)));
        assert_eq!(t2(9, 5), Ok(Some(21)), "9.5 is 10.0, 3 ahead");
        assert_eq!(
            t2(10, 1),
            Err(BadDirective::PartTooFar { ahead: 4, limit: 3 })
        );
    }

    #[test]
    fn hold_is_three_target_durations() {
        assert_eq!(hold_limit(2), Duration::from_secs(6));
        assert_eq!(hold_limit(0), Duration::from_secs(3));
    }
}
