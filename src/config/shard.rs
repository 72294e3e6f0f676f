//! Shards: one test described once, run by N processes, each running its exact share.
//!
//! The flags describe the whole test (`-clients` viewers in total, `-ramp-rate` the total
//! rate, `-client-id-offset` the first id of the whole test, `-seed`). Every viewer of the
//! whole test has a *global index* `0..clients`; shard `I` of `N` (0-based, like a
//! Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`) runs the viewers whose index `i`
//! satisfies `i mod N == I`. Its viewers keep what the single-host run gives them: the id
//! `offset + i`, the ramp slot `RampSchedule::start_offset(i)`, the User-Agent and the
//! seeds derived from the id. Interleaving (rather than contiguous blocks) spreads every
//! shard's starts over the whole ramp, so N shards started together make the asked ramp.

use std::fmt;

/// Largest shard count `--shard` takes.
pub const MAX_SHARDS: u64 = 100_000;

/// Which share of the whole test this process runs: shard `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Shard {
    /// The whole test in one process (no `--shard`).
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count` (0-based), or `None` unless `index < count <= MAX_SHARDS`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index < count && count <= MAX_SHARDS).then_some(Shard { index, count })
    }

    /// Parse `--shard I/N` (0-based: `0/3`, `1/3`, `2/3`).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = |why: String| {
            format!(
                "--shard: '{s}' {why} (I/N, 0-based: --shard 0/3, 1/3 and 2/3 run one test as 3 shards)"
            )
        };
        let (i, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("is not I/N".into()))?;
        let num = |t: &str| t.trim().parse::<u64>().ok();
        let (Some(i), Some(n)) = (num(i), num(n)) else {
            return Err(bad("is not two whole numbers I/N".into()));
        };
        if n == 0 || n > MAX_SHARDS {
            return Err(bad(format!(
                "has a shard count out of range (1..={MAX_SHARDS})"
            )));
        }
        Shard::new(i, n).ok_or_else(|| bad(format!("has an index out of range (0..={})", n - 1)))
    }

    /// This shard's index, 0-based.
    pub fn index(self) -> u64 {
        self.index
    }

    /// How many shards run the test.
    pub fn count(self) -> u64 {
        self.count
    }

    /// The whole test runs in this one process.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// Whether the viewer of global index `i` is this shard's (`i mod N == I`).
    pub fn owns(self, i: u64) -> bool {
        i % self.count == self.index
    }

    /// How many of the `total` viewers of the whole test are this shard's.
    pub fn viewers(self, total: u64) -> u64 {
        if total > self.index {
            (total - self.index - 1) / self.count + 1
        } else {
            0
        }
    }

    /// The global indices of this shard's viewers among `total`, in start order.
    pub fn indices(self, total: u64) -> impl Iterator<Item = u64> + Clone {
        // `count` <= MAX_SHARDS, so it fits a usize on every target.
        (self.index..total).step_by(self.count as usize)
    }
}

impl fmt::Display for Shard {
    /// `I/N`, the spelling `--shard` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_zero_based_i_of_n_and_names_the_flag() {
        assert_eq!(Shard::parse("0/1"), Ok(Shard::WHOLE));
        assert_eq!(Shard::parse(" 2/3 "), Shard::new(2, 3).ok_or(String::new()));
        for bad in [
            "3/3", "0/0", "x", "1", "1/x", "-1/3", "1/3/4", "", "0/100001",
        ] {
            let e = Shard::parse(bad).err().unwrap_or_default();
            assert!(e.starts_with("--shard: "), "{bad}: {e}");
        }
    }

    #[test]
    fn the_shares_partition_the_whole_test() {
        for total in [0u64, 1, 2, 7, 10, 1000, 1001] {
            for n in 1..=7u64 {
                let mut seen = vec![0u32; total as usize];
                let mut sum = 0;
                for i in 0..n {
                    let s = Shard::new(i, n).unwrap_or(Shard::WHOLE);
                    let mine: Vec<u64> = s.indices(total).collect();
                    assert_eq!(mine.len() as u64, s.viewers(total), "{s} of {total}");
                    assert!(mine.iter().all(|&g| s.owns(g)));
                    assert!(mine.windows(2).all(|w| w[0] < w[1]), "start order");
                    for g in mine {
                        seen[g as usize] += 1;
                    }
                    sum += s.viewers(total);
                }
                assert_eq!(sum, total);
                assert!(seen.iter().all(|&c| c == 1), "{total} over {n}: {seen:?}");
            }
        }
    }

    #[test]
    fn the_whole_test_is_every_viewer() {
        assert!(Shard::WHOLE.is_whole());
        assert_eq!(
            Shard::WHOLE.indices(4).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        let s = Shard::new(1, 3).unwrap_or(Shard::WHOLE);
        assert_eq!(s.indices(10).collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(s.to_string(), "1/3");
    }
}
