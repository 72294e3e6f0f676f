//! `--session-duration`, how long each arriving viewer stays: one fixed length, or a
//! distribution each session's length is drawn from, deterministically from `-seed` and
//! the viewer's global id (the same on every shard layout, like
//! [`super::bandwidth::BandwidthModel`]).

use std::fmt;
use std::time::Duration;

use super::bandwidth::{splitmix64, unit_open};
use super::dist_spec::{DistSpec, standard_normal};
use super::parse::duration;

/// Shortest session a draw gives (a draw below it is raised to it).
pub const MIN_SESSION: Duration = Duration::from_millis(100);

/// Longest session a flag takes and a draw gives (a draw above it is lowered to it).
pub const MAX_SESSION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Largest `sigma` a log-normal model takes.
pub const MAX_SIGMA: f64 = 5.0;

/// The standard normal's 90th percentile.
const Z90: f64 = 1.281_551_565_545;

/// How session lengths are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionModel {
    /// Every session lasts this long (`fixed:30m`, or just `30m`).
    Fixed(Duration),
    /// `exp:mean=D`: exponentially distributed with mean `D`.
    Exp {
        /// Mean length.
        mean: Duration,
    },
    /// `lognormal:median=D,sigma=S`: `ln(length)` is normal with mean `ln(D)` and
    /// standard deviation `S`.
    LogNormal {
        /// Median length.
        median: Duration,
        /// Standard deviation of `ln(length)`.
        sigma: f64,
    },
}

impl SessionModel {
    /// Parse `--session-duration`: `D`, `fixed:D`, `exp:mean=D` or
    /// `lognormal:median=D,sigma=S` (D a duration such as `30s`, `10m`). Errors name the
    /// flag.
    pub fn parse(s: &str) -> Result<SessionModel, String> {
        let bad = |why: String| {
            format!(
                "--session-duration: '{s}' {why} (e.g. fixed:30m, exp:mean=10m or lognormal:median=5m,sigma=1)"
            )
        };
        let t = s.trim();
        let Some(spec) = DistSpec::parse(t).map_err(bad)? else {
            return length(t).map(SessionModel::Fixed).map_err(bad);
        };
        let get = |key: &str| spec.get(key).map_err(bad);
        let only = |keys: &[&str]| spec.only(keys).map_err(bad);
        match spec.kind {
            "fixed" => length(spec.params).map(SessionModel::Fixed).map_err(bad),
            "exp" => {
                only(&["mean"])?;
                let mean = length(get("mean")?).map_err(bad)?;
                Ok(SessionModel::Exp { mean })
            }
            "lognormal" => {
                only(&["median", "sigma"])?;
                let median = length(get("median")?).map_err(bad)?;
                let sigma = spec.sigma(MAX_SIGMA).map_err(bad)?;
                Ok(SessionModel::LogNormal { median, sigma })
            }
            other => Err(bad(format!(
                "has an unknown model '{other}' (fixed, exp, lognormal)"
            ))),
        }
    }

    /// The length of the session of viewer `viewer_id` in a run seeded `seed`: the same
    /// for the same pair, always within [`MIN_SESSION`]..=[`MAX_SESSION`].
    pub fn length_for(&self, seed: u64, viewer_id: u64) -> Duration {
        let h = splitmix64(seed ^ splitmix64(viewer_id ^ 0x7365_7373_696f_6e21));
        let u1 = unit_open(h);
        let u2 = unit_open(splitmix64(h));
        let secs = match *self {
            SessionModel::Fixed(d) => d.as_secs_f64(),
            SessionModel::Exp { mean } => -mean.as_secs_f64() * u1.ln(),
            SessionModel::LogNormal { median, sigma } => {
                let z = standard_normal(u1, u2);
                median.as_secs_f64() * (sigma * z).exp()
            }
        };
        Duration::from_secs_f64(secs.clamp(MIN_SESSION.as_secs_f64(), MAX_SESSION.as_secs_f64()))
    }

    /// The model's mean length, seconds (before the clamp of draws).
    pub fn mean_secs(&self) -> f64 {
        match *self {
            SessionModel::Fixed(d) => d.as_secs_f64(),
            SessionModel::Exp { mean } => mean.as_secs_f64(),
            SessionModel::LogNormal { median, sigma } => {
                median.as_secs_f64() * (sigma * sigma / 2.0).exp()
            }
        }
    }

    /// The model's median length, seconds.
    pub fn median_secs(&self) -> f64 {
        match *self {
            SessionModel::Fixed(d) => d.as_secs_f64(),
            SessionModel::Exp { mean } => mean.as_secs_f64() * std::f64::consts::LN_2,
            SessionModel::LogNormal { median, .. } => median.as_secs_f64(),
        }
    }

    /// The model's 90th percentile, seconds.
    pub fn p90_secs(&self) -> f64 {
        match *self {
            SessionModel::Fixed(d) => d.as_secs_f64(),
            SessionModel::Exp { mean } => mean.as_secs_f64() * 10f64.ln(),
            SessionModel::LogNormal { median, sigma } => median.as_secs_f64() * (sigma * Z90).exp(),
        }
    }
}

impl fmt::Display for SessionModel {
    /// The model in the spelling `--session-duration` takes, lengths in milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: &Duration| format!("{}ms", d.as_millis());
        match self {
            SessionModel::Fixed(d) => write!(f, "fixed:{}", ms(d)),
            SessionModel::Exp { mean } => write!(f, "exp:mean={}", ms(mean)),
            SessionModel::LogNormal { median, sigma } => {
                write!(f, "lognormal:median={},sigma={sigma}", ms(median))
            }
        }
    }
}

/// A session length within the accepted range.
fn length(s: &str) -> Result<Duration, String> {
    let d = duration(s).map_err(|e| format!("is not a length: {e}"))?;
    if !(MIN_SESSION..=MAX_SESSION).contains(&d) {
        return Err(format!(
            "has a length out of range ({}ms..={}d)",
            MIN_SESSION.as_millis(),
            MAX_SESSION.as_secs() / 86_400
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn parse_takes_every_spelling() {
        assert_eq!(
            SessionModel::parse("30m"),
            Ok(SessionModel::Fixed(secs(1800)))
        );
        assert_eq!(
            SessionModel::parse(" fixed:30m "),
            Ok(SessionModel::Fixed(secs(1800)))
        );
        assert_eq!(
            SessionModel::parse("exp:mean=10m"),
            Ok(SessionModel::Exp { mean: secs(600) })
        );
        assert_eq!(
            SessionModel::parse("lognormal:sigma=1, median=5m"),
            Ok(SessionModel::LogNormal {
                median: secs(300),
                sigma: 1.0
            })
        );
        for m in [
            SessionModel::Fixed(Duration::from_millis(1500)),
            SessionModel::Exp { mean: secs(4) },
            SessionModel::LogNormal {
                median: secs(300),
                sigma: 0.5,
            },
        ] {
            assert_eq!(SessionModel::parse(&m.to_string()), Ok(m));
        }
    }

    #[test]
    fn parse_refuses_bad_text_naming_the_flag() {
        for bad in [
            "",
            "0",
            "10",
            "fixed:",
            "fixed:-3s",
            "exp:10m",
            "exp:mean=",
            "exp:mean=10m,sigma=1",
            "exp:mean=5ms",
            "lognormal:median=5m",
            "lognormal:median=5m,sigma=-1",
            "lognormal:median=5m,sigma=x",
            "lognormal:median=5m,median=6m,sigma=1",
            "weibull:k=1",
            "fixed:400d",
        ] {
            let e = SessionModel::parse(bad).err().unwrap_or_default();
            assert!(e.starts_with("--session-duration: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_session_gets_the_same_length_for_the_same_seed_and_id() {
        let m = SessionModel::Exp { mean: secs(600) };
        for id in [0u64, 5, 1 << 40] {
            assert_eq!(m.length_for(3, id), m.length_for(3, id));
        }
        let a: Vec<Duration> = (0..50).map(|id| m.length_for(3, id)).collect();
        let b: Vec<Duration> = (0..50).map(|id| m.length_for(4, id)).collect();
        assert_ne!(a, b, "the seed changes the draws");
        assert_eq!(SessionModel::Fixed(secs(7)).length_for(1, 99), secs(7));
    }

    /// Sample mean, median and 90th percentile of `n` draws, seconds.
    fn sample(m: SessionModel, n: u64) -> (f64, f64, f64) {
        let mut v: Vec<f64> = (0..n)
            .map(|id| m.length_for(11, id).as_secs_f64())
            .collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        v.sort_by(f64::total_cmp);
        (mean, v[v.len() / 2], v[v.len() * 9 / 10])
    }

    #[test]
    fn exponential_draws_have_the_asked_mean_median_and_p90() {
        let m = SessionModel::Exp { mean: secs(600) };
        let n = 20_000;
        let (mean, median, p90) = sample(m, n);
        // sd of the mean: 600/sqrt(n) = 4.24 s; four of them. The median's standard
        // error is 600/sqrt(n) as well (1/(2 f(m) sqrt n), f(m) = 1/(2·600)); p90's is
        // 600·sqrt(9)/sqrt(n) = 12.7 s.
        assert!((mean - 600.0).abs() < 17.0, "mean {mean}");
        assert!((median - m.median_secs()).abs() < 17.0, "median {median}");
        assert!((p90 - m.p90_secs()).abs() < 51.0, "p90 {p90}");
        assert!((m.median_secs() - 415.888).abs() < 0.01);
    }

    #[test]
    fn lognormal_draws_have_the_asked_median_and_sigma() {
        let m = SessionModel::LogNormal {
            median: secs(300),
            sigma: 1.0,
        };
        let n = 20_000u64;
        let logs: Vec<f64> = (0..n)
            .map(|id| m.length_for(5, id).as_secs_f64().ln())
            .collect();
        let mean = logs.iter().sum::<f64>() / n as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        // Standard errors: mean of ln sigma/sqrt(n) = 0.0071; sd sigma/sqrt(2n) = 0.005.
        assert!((mean - 300f64.ln()).abs() < 0.028, "mean of ln {mean}");
        assert!((sd - 1.0).abs() < 0.02, "sd of ln {sd}");
        let (_, median, _) = sample(m, n);
        assert!((median.ln() - 300f64.ln()).abs() < 0.036, "median {median}");
        assert!((m.mean_secs() - 300.0 * 0.5f64.exp()).abs() < 1e-9);
    }

    #[test]
    fn draws_stay_in_the_accepted_range() {
        let m = SessionModel::LogNormal {
            median: Duration::from_millis(200),
            sigma: 5.0,
        };
        assert!((0..5_000).all(|id| (MIN_SESSION..=MAX_SESSION).contains(&m.length_for(1, id))));
    }
}
