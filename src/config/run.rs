//! The run's identity: which test this process is part of (`--run-id`), which share of it
//! it runs (`--shard`, see [`super::shard`]) and when the whole test's ramp begins
//! (`--start-at`). Every report carries it, so the reports of N shards can be told apart
//! and recognised as one test.
//!
//! The run id: `--run-id ID`, else derived from the test's description when `--start-at`
//! is given (so shards started with the same flags and the same instant agree on it
//! without being told), else random.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::audience::Audience;
use super::parse::duration;
use super::shard::Shard;

/// Longest `--run-id`.
pub const MAX_RUN_ID_LEN: usize = 64;

/// Which test, which shard of it, and when its ramp begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIdentity {
    /// The id every shard of the test shares (`[A-Za-z0-9._-]`, 1..=64 characters).
    pub id: String,
    /// This process's share (a copy of [`Audience::shard`], for the reports).
    pub shard: Shard,
    /// `--start-at`: the wall-clock instant that is time zero of the ramp and of
    /// `-duration`; `None` = as soon as the stream answered.
    pub start_at: Option<SystemTime>,
}

impl RunIdentity {
    /// The identity from `--run-id` and `--start-at` (already parsed) and the audience.
    pub fn new(run_id: Option<String>, start_at: Option<SystemTime>, audience: &Audience) -> Self {
        let id = run_id.unwrap_or_else(|| match start_at {
            Some(at) => derived_run_id(audience, at),
            None => format!("{:016x}", rand::random::<u64>()),
        });
        RunIdentity {
            id,
            shard: audience.shard,
            start_at,
        }
    }
}

/// Parse `--start-at`: an RFC 3339 date-time (`2026-12-06T20:00:00Z`; a missing zone is
/// UTC) or `+DURATION`, a delay from `now` in the crate's duration grammar (`+30s`).
pub fn start_at(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    let s = s.trim();
    let bad = |why: String| {
        format!("--start-at: '{s}' {why} (e.g. --start-at 2026-12-06T20:00:00Z or --start-at +30s)")
    };
    if let Some(delay) = s.strip_prefix('+') {
        let d = duration(delay).map_err(|e| bad(format!("is not +DURATION: {e}")))?;
        return Ok(now + d);
    }
    crate::hls::parse_date_time(s)
        .map_err(|_| bad("is not an RFC 3339 date-time or +DURATION".into()))
}

/// Parse `--run-id`: 1..=64 of `A-Z a-z 0-9 . _ -` (safe in a file name, a label value
/// and a shell word).
pub fn run_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_RUN_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "--run-id: '{s}' must be 1 to {MAX_RUN_ID_LEN} of A-Z a-z 0-9 . _ - (e.g. --run-id launch-rehearsal-3)"
        ))
    }
}

/// The run id every shard derives alike from the whole test's description and its start
/// instant: 16 hex digits of the FNV-1a hash of a canonical text. (FNV-1a because it is
/// fixed for good, unlike std's hasher, so hosts on different builds still agree.)
pub fn derived_run_id(a: &Audience, start_at: SystemTime) -> String {
    let nanos = |d: Option<Duration>| d.map_or(0, |d| d.as_nanos());
    let at = start_at.duration_since(UNIX_EPOCH).ok();
    let mut text = String::new();
    let _ = write!(
        text,
        "clients={} first_id={} ramp_rate={} ramp_jitter_ns={} duration_ns={} seed={} shards={} start_at_ns={}",
        a.viewers,
        a.first_viewer_id,
        a.ramp_rate,
        a.ramp_jitter.as_nanos(),
        nanos(a.duration),
        a.seed,
        a.shard.count(),
        nanos(at),
    );
    // Appended only when set, so tests without it keep the ids they derived before.
    if let Some(bw) = &a.bandwidth {
        let _ = write!(text, " viewer_bandwidth={bw}");
    }
    if let Some(r) = a.arrival_rate {
        let _ = write!(text, " arrival_rate={r}");
    }
    if let Some(s) = &a.session {
        let _ = write!(text, " session_duration={s}");
    }
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// The flags' defaults.
    fn audience() -> Audience {
        Audience {
            viewers: 10,
            first_viewer_id: 0,
            ramp_rate: 5.0,
            ramp_jitter: Duration::from_millis(200),
            duration: None,
            seed: 1,
            shard: Shard::WHOLE,
            bandwidth: None,
            arrival_rate: None,
            session: None,
        }
    }

    #[test]
    fn start_at_takes_rfc3339_or_a_delay_from_now() {
        let now = at(1_000);
        assert_eq!(start_at("2026-12-06T20:00:00Z", now), Ok(at(1_796_587_200)));
        assert_eq!(start_at("+30s", now), Ok(at(1_030)));
        assert_eq!(start_at("+1m30s", now), Ok(at(1_090)));
        for bad in ["yesterday", "+", "+x", "30s", "2026-13-01T00:00:00Z", ""] {
            let e = start_at(bad, now).err().unwrap_or_default();
            assert!(e.starts_with("--start-at: "), "{bad}: {e}");
        }
    }

    #[test]
    fn run_ids_are_checked() {
        assert_eq!(run_id("rehearsal-3_a.b"), Ok("rehearsal-3_a.b".into()));
        for bad in ["", "a b", "a/b", "ü", &"x".repeat(65)] {
            assert!(run_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_ids_agree_across_shards_and_differ_between_tests() {
        let whole = audience();
        let shard = |i| Audience {
            shard: Shard::new(i, 3).unwrap_or(Shard::WHOLE),
            ..audience()
        };
        let t = at(1_796_587_200);
        assert_eq!(derived_run_id(&shard(0), t), derived_run_id(&shard(2), t));
        assert_ne!(derived_run_id(&shard(0), t), derived_run_id(&whole, t));
        assert_ne!(derived_run_id(&whole, t), derived_run_id(&whole, at(1)));
        let more = Audience {
            viewers: whole.viewers + 1,
            ..audience()
        };
        assert_ne!(derived_run_id(&more, t), derived_run_id(&whole, t));
        let paced = |bw: &str| Audience {
            bandwidth: crate::config::bandwidth::BandwidthModel::parse(bw).ok(),
            ..audience()
        };
        assert_ne!(derived_run_id(&paced("8M"), t), derived_run_id(&whole, t));
        assert_ne!(
            derived_run_id(&paced("8M"), t),
            derived_run_id(&paced("2M"), t)
        );
        assert_eq!(derived_run_id(&whole, t).len(), 16);
        // Fixed for good: the same description gives the same id on every build.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn identity_uses_the_given_id_or_derives_or_draws_one() {
        let a = audience();
        let given = RunIdentity::new(Some("x".into()), None, &a);
        assert_eq!((given.id.as_str(), given.shard), ("x", Shard::WHOLE));
        let t = at(5);
        assert_eq!(
            RunIdentity::new(None, Some(t), &a).id,
            derived_run_id(&a, t)
        );
        let drawn = RunIdentity::new(None, None, &a).id;
        assert_eq!(drawn.len(), 16);
        assert!(run_id(&drawn).is_ok());
    }
}
