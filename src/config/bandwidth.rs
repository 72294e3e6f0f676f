//! `--viewer-bandwidth`, the last-mile bandwidth model: one fixed link rate for every
//! viewer, or a distribution each viewer's rate is drawn from, deterministically from
//! `-seed` and the viewer's id (so a viewer gets the same rate on every shard layout: ids
//! do not depend on `--shard`). The native engine paces each viewer's body reads to its
//! rate ([`crate::engine::link`]).

use std::fmt;

use super::dist_spec::{DistSpec, standard_normal};
use super::parse::si_count;

/// Slowest link rate, bits per second (a flag below it is refused, a draw below it is
/// raised to it).
pub const MIN_BITS_PER_SECOND: u64 = 1_000;

/// Fastest link rate, bits per second (a flag above it is refused, a draw above it is
/// lowered to it).
pub const MAX_BITS_PER_SECOND: u64 = 100_000_000_000;

/// Largest `sigma` a log-normal model takes.
pub const MAX_SIGMA: f64 = 5.0;

/// How viewers' link rates are chosen (bits per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BandwidthModel {
    /// Every viewer has this rate (`8M`, `fixed:8M`).
    Fixed(u64),
    /// `lognormal:median=M,sigma=S`: `ln(rate)` is normal with mean `ln(M)` and standard
    /// deviation `S`.
    LogNormal {
        /// Median rate.
        median: u64,
        /// Standard deviation of `ln(rate)`.
        sigma: f64,
    },
    /// `uniform:min=A,max=B`: uniform between `A` and `B`.
    Uniform {
        /// Lowest rate.
        min: u64,
        /// Highest rate.
        max: u64,
    },
}

impl BandwidthModel {
    /// Parse `--viewer-bandwidth`: `RATE`, `fixed:RATE`, `lognormal:median=RATE,sigma=S`
    /// or `uniform:min=RATE,max=RATE`; a RATE is bits per second with an optional
    /// decimal `k`/`M`/`G` suffix (`8M` = 8,000,000 bit/s). Errors name the flag.
    pub fn parse(s: &str) -> Result<BandwidthModel, String> {
        let bad = |why: String| {
            format!(
                "--viewer-bandwidth: '{s}' {why} (e.g. 8M, fixed:8M, lognormal:median=8M,sigma=0.5 or uniform:min=2M,max=20M; bits per second)"
            )
        };
        let t = s.trim();
        let Some(spec) = DistSpec::parse(t).map_err(bad)? else {
            return rate(t).map(BandwidthModel::Fixed).map_err(bad);
        };
        let get = |key: &str| spec.get(key).map_err(bad);
        let only = |keys: &[&str]| spec.only(keys).map_err(bad);
        match spec.kind {
            "fixed" => rate(spec.params).map(BandwidthModel::Fixed).map_err(bad),
            "lognormal" => {
                only(&["median", "sigma"])?;
                let median = rate(get("median")?).map_err(bad)?;
                let sigma = spec.sigma(MAX_SIGMA).map_err(bad)?;
                Ok(BandwidthModel::LogNormal { median, sigma })
            }
            "uniform" => {
                only(&["min", "max"])?;
                let min = rate(get("min")?).map_err(bad)?;
                let max = rate(get("max")?).map_err(bad)?;
                if min > max {
                    return Err(bad("has min above max".into()));
                }
                Ok(BandwidthModel::Uniform { min, max })
            }
            other => Err(bad(format!(
                "has an unknown model '{other}' (fixed, lognormal, uniform)"
            ))),
        }
    }

    /// The link rate, bits per second, of viewer `viewer_id` in a run seeded `seed`: the
    /// same for the same pair, always within
    /// [`MIN_BITS_PER_SECOND`]..=[`MAX_BITS_PER_SECOND`].
    pub fn rate_for(&self, seed: u64, viewer_id: u64) -> u64 {
        let h = splitmix64(seed ^ splitmix64(viewer_id ^ 0x6c69_6e6b_7261_7465));
        let u1 = unit_open(h);
        let u2 = unit_open(splitmix64(h));
        let drawn = match *self {
            BandwidthModel::Fixed(r) => r as f64,
            BandwidthModel::LogNormal { median, sigma } => {
                let z = standard_normal(u1, u2);
                median as f64 * (sigma * z).exp()
            }
            BandwidthModel::Uniform { min, max } => min as f64 + (max - min) as f64 * u1,
        };
        (drawn.round() as u64).clamp(MIN_BITS_PER_SECOND, MAX_BITS_PER_SECOND)
    }
}

impl fmt::Display for BandwidthModel {
    /// The model in the spelling `--viewer-bandwidth` takes, rates in bit/s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BandwidthModel::Fixed(r) => write!(f, "fixed:{r}"),
            BandwidthModel::LogNormal { median, sigma } => {
                write!(f, "lognormal:median={median},sigma={sigma}")
            }
            BandwidthModel::Uniform { min, max } => write!(f, "uniform:min={min},max={max}"),
        }
    }
}

/// A rate in bits per second within the accepted range.
fn rate(s: &str) -> Result<u64, String> {
    let r = si_count(s).map_err(|e| format!("is not a rate: {e}"))?;
    if !(MIN_BITS_PER_SECOND..=MAX_BITS_PER_SECOND).contains(&r) {
        return Err(format!(
            "has a rate out of range ({MIN_BITS_PER_SECOND}..={MAX_BITS_PER_SECOND} bit/s)"
        ));
    }
    Ok(r)
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in the open interval (0, 1) from the top 53 bits of `h`.
pub(crate) fn unit_open(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_every_spelling_in_bits_per_second() {
        assert_eq!(
            BandwidthModel::parse("8M"),
            Ok(BandwidthModel::Fixed(8_000_000))
        );
        assert_eq!(
            BandwidthModel::parse(" fixed:2.5M "),
            Ok(BandwidthModel::Fixed(2_500_000))
        );
        assert_eq!(
            BandwidthModel::parse("lognormal:median=8M, sigma=0.5"),
            Ok(BandwidthModel::LogNormal {
                median: 8_000_000,
                sigma: 0.5
            })
        );
        assert_eq!(
            BandwidthModel::parse("uniform:max=20M,min=2M"),
            Ok(BandwidthModel::Uniform {
                min: 2_000_000,
                max: 20_000_000
            })
        );
        let m = BandwidthModel::parse("lognormal:median=8M,sigma=0.5")
            .unwrap_or(BandwidthModel::Fixed(1));
        assert_eq!(BandwidthModel::parse(&m.to_string()), Ok(m));
    }

    #[test]
    fn parse_refuses_bad_text_naming_the_flag() {
        for bad in [
            "",
            "0",
            "500",
            "fast",
            "-1M",
            "200G",
            "fixed:",
            "lognormal:median=8M",
            "lognormal:sigma=0.5",
            "lognormal:median=8M,sigma=-1",
            "lognormal:median=8M,sigma=9",
            "lognormal:median=8M,sigma=x",
            "lognormal:median=8M,sigma=0.5,mean=3",
            "lognormal:median=8M,median=9M,sigma=1",
            "uniform:min=20M,max=2M",
            "uniform:min=2M",
            "pareto:alpha=1",
            "lognormal:8M",
        ] {
            let e = BandwidthModel::parse(bad).err().unwrap_or_default();
            assert!(e.starts_with("--viewer-bandwidth: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_viewer_gets_the_same_rate_for_the_same_seed_and_id() {
        let m = BandwidthModel::LogNormal {
            median: 8_000_000,
            sigma: 0.5,
        };
        for id in [0u64, 1, 7, 1_000_000] {
            assert_eq!(m.rate_for(42, id), m.rate_for(42, id));
        }
        let seeded: Vec<u64> = (0..50).map(|id| m.rate_for(42, id)).collect();
        let other: Vec<u64> = (0..50).map(|id| m.rate_for(43, id)).collect();
        assert_ne!(seeded, other, "the seed changes the draws");
        assert_eq!(BandwidthModel::Fixed(2_000_000).rate_for(9, 3), 2_000_000);
    }

    #[test]
    fn a_shard_draws_what_the_single_host_run_draws_for_its_viewers() {
        use crate::config::shard::Shard;
        let m = BandwidthModel::LogNormal {
            median: 8_000_000,
            sigma: 1.0,
        };
        let (seed, offset, total) = (9u64, 1_000u64, 100u64);
        let whole: Vec<u64> = Shard::WHOLE
            .indices(total)
            .map(|i| m.rate_for(seed, offset + i))
            .collect();
        let mut sharded = vec![0u64; total as usize];
        for i in 0..3 {
            let s = Shard::new(i, 3).unwrap_or(Shard::WHOLE);
            for g in s.indices(total) {
                sharded[g as usize] = m.rate_for(seed, offset + g);
            }
        }
        assert_eq!(whole, sharded);
    }

    #[test]
    fn lognormal_draws_have_the_asked_median_and_sigma() {
        let (median, sigma) = (8_000_000u64, 0.5f64);
        let m = BandwidthModel::LogNormal { median, sigma };
        let n = 20_000u64;
        let mut logs: Vec<f64> = (0..n).map(|id| (m.rate_for(7, id) as f64).ln()).collect();
        let mean = logs.iter().sum::<f64>() / n as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        logs.sort_by(f64::total_cmp);
        let sample_median = logs[logs.len() / 2].exp();
        // Standard errors: of the mean of ln, sigma/sqrt(n) = 0.0035; of the sd,
        // sigma/sqrt(2n) = 0.0025; of the median, 1.2533·sigma/sqrt(n) in ln = 0.0044.
        // Four standard errors each.
        assert!(
            (mean - (median as f64).ln()).abs() < 0.014,
            "mean of ln {mean}"
        );
        assert!((sd - sigma).abs() < 0.010, "sd of ln {sd}");
        assert!(
            (sample_median.ln() - (median as f64).ln()).abs() < 0.018,
            "median {sample_median}"
        );
    }

    #[test]
    fn uniform_draws_stay_in_range_and_fill_it() {
        let m = BandwidthModel::Uniform {
            min: 2_000_000,
            max: 20_000_000,
        };
        let n = 20_000u64;
        let draws: Vec<u64> = (0..n).map(|id| m.rate_for(1, id)).collect();
        assert!(draws.iter().all(|&r| (2_000_000..=20_000_000).contains(&r)));
        let mean = draws.iter().sum::<u64>() as f64 / n as f64;
        // sd of the mean: 18e6/sqrt(12 n) = 36,742; four of them.
        assert!((mean - 11e6).abs() < 150_000.0, "mean {mean}");
    }

    #[test]
    fn draws_are_clamped_to_the_accepted_range() {
        let m = BandwidthModel::LogNormal {
            median: 2_000,
            sigma: 5.0,
        };
        assert!((0..5_000).all(|id| {
            let r = m.rate_for(3, id);
            (MIN_BITS_PER_SECOND..=MAX_BITS_PER_SECOND).contains(&r)
        }));
    }
}
