//! Many streams: the list of stream URLs with their weights (`--streams FILE`, repeated
//! URLs on the command line), `--popularity`, and which stream each viewer plays.
//!
//! A viewer's stream is a pure function of `-seed` and its global viewer id
//! ([`StreamMix::stream_for`]), as its link rate is ([`super::bandwidth`]): the same viewer
//! plays the same stream on every shard layout.

use std::fmt;
use std::path::Path;

use url::Url;

use super::parse::{http_url, redact_url};

/// Most streams one run plays.
pub const MAX_STREAMS: usize = 100_000;

/// Largest Zipf exponent `--popularity zipf:S` takes.
pub const MAX_ZIPF_EXPONENT: f64 = 10.0;

/// Largest weight a `--streams` line may give.
pub const MAX_WEIGHT: f64 = 1e12;

/// One stream of a run and its configured weight.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedUrl {
    /// The stream's entry URL.
    pub url: Url,
    /// Its weight (1 when none is given).
    pub weight: f64,
    /// Whether the weight was written out (a `--streams` line with a weight).
    pub explicit_weight: bool,
}

/// How viewers spread over the streams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Popularity {
    /// In proportion to the streams' weights (1 each unless `--streams` gives one).
    Weights,
    /// `zipf:S`: the stream of rank r (1-based, in the order given) gets weight 1/r^S.
    Zipf(f64),
}

impl Popularity {
    /// Parse `--popularity`: `weights` or `zipf:S` (S in 0..=10). Errors name the flag.
    pub fn parse(s: &str) -> Result<Popularity, String> {
        let t = s.trim();
        if t == "weights" {
            return Ok(Popularity::Weights);
        }
        let bad = || {
            format!(
                "--popularity: '{s}' is not weights or zipf:S with S a number from 0 to {MAX_ZIPF_EXPONENT} (e.g. zipf:1.0)"
            )
        };
        let exponent = t
            .strip_prefix("zipf:")
            .and_then(|e| e.trim().parse::<f64>().ok())
            .filter(|e| e.is_finite() && (0.0..=MAX_ZIPF_EXPONENT).contains(e))
            .ok_or_else(bad)?;
        Ok(Popularity::Zipf(exponent))
    }
}

impl fmt::Display for Popularity {
    /// The spelling `--popularity` takes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Popularity::Weights => f.write_str("weights"),
            Popularity::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

/// Parse the text of a `--streams` file: one URL per line, optionally followed by
/// whitespace and a positive weight; blank lines and lines starting with `#` are skipped.
/// `flag` names the file in messages, which give the line number; a URL is quoted only
/// redacted (its token may be a secret).
pub fn parse_streams_file(flag: &str, text: &str) -> Result<Vec<WeightedUrl>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{flag}: line {}", i + 1);
        let mut words = line.split_whitespace();
        let url_text = words.next().unwrap_or_default();
        let weight_text = words.next();
        let url = Url::parse(url_text)
            .map_err(|e| format!("{at}: not a valid URL ({e}; the line is not shown)"))?;
        let url = http_url(url).map_err(|e| format!("{at}: {e}"))?;
        if let Some(extra) = words.next() {
            return Err(format!(
                "{at}: unexpected '{extra}' after the weight (expected: URL [WEIGHT])"
            ));
        }
        let weight = match weight_text {
            None => 1.0,
            Some(w) => w
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0 && *v <= MAX_WEIGHT)
                .ok_or_else(|| {
                    format!("{at}: weight '{w}' is not a positive number (at most {MAX_WEIGHT})")
                })?,
        };
        out.push(WeightedUrl {
            url,
            weight,
            explicit_weight: weight_text.is_some(),
        });
        if out.len() > MAX_STREAMS {
            return Err(format!("{flag}: more than {MAX_STREAMS} streams"));
        }
    }
    if out.is_empty() {
        return Err(format!("{flag}: the file lists no stream URL"));
    }
    Ok(out)
}

/// Read and parse a `--streams` file (see [`parse_streams_file`]).
pub fn read_streams_file(path: &Path) -> Result<Vec<WeightedUrl>, String> {
    let flag = format!("--streams {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag}: cannot read it: {e}"))?;
    parse_streams_file(&flag, &text)
}

/// The name each stream is shown by (reports, `/metrics`): its URL redacted (no
/// credentials, query or fragment), and when an earlier stream already has that name
/// (streams differing only in their query, say), ` [stream i]` after it, `i` its index in
/// the order given, so every stream's name is its own.
pub fn display_names<'a>(urls: impl IntoIterator<Item = &'a Url>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    urls.into_iter()
        .enumerate()
        .map(|(i, u)| {
            let name = redact_url(u);
            if seen.insert(name.clone()) {
                name
            } else {
                let unique = format!("{name} [stream {i}]");
                seen.insert(unique.clone());
                unique
            }
        })
        .collect()
}

/// The share of viewers each stream gets, and the draw that assigns a viewer its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMix {
    /// Cumulative shares: `cumulative[i]` is the share of streams `0..=i` (the last is 1).
    cumulative: Vec<f64>,
}

impl StreamMix {
    /// The mix of streams with `weights` (in the order given) under `popularity`: Zipf
    /// ignores the weights and ranks the streams by their order.
    pub fn new(weights: &[f64], popularity: Popularity) -> StreamMix {
        let raw: Vec<f64> = match popularity {
            Popularity::Weights => weights.to_vec(),
            Popularity::Zipf(s) => (1..=weights.len())
                .map(|r| 1.0 / (r as f64).powf(s))
                .collect(),
        };
        let total: f64 = raw.iter().sum();
        let mut sum = 0.0;
        let mut cumulative: Vec<f64> = raw
            .iter()
            .map(|w| {
                sum += w;
                sum / total
            })
            .collect();
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        if cumulative.is_empty() {
            cumulative.push(1.0);
        }
        StreamMix { cumulative }
    }

    /// How many streams.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Whether there is no stream (never: a mix has at least one).
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The share of viewers stream `i` gets (0 to 1).
    pub fn share(&self, i: usize) -> f64 {
        let below = if i == 0 { 0.0 } else { self.cumulative[i - 1] };
        self.cumulative.get(i).map_or(0.0, |c| c - below)
    }

    /// The stream (index in the order given) of viewer `viewer_id` in a run seeded
    /// `seed`: the same for the same pair, on any shard layout.
    pub fn stream_for(&self, seed: u64, viewer_id: u64) -> usize {
        if self.cumulative.len() == 1 {
            return 0;
        }
        let h = splitmix64(seed ^ splitmix64(viewer_id ^ 0x7374_7265_616d_7321));
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        self.cumulative
            .partition_point(|c| *c < u)
            .min(self.cumulative.len() - 1)
    }

    /// The streams by configured share, largest first (ties in the order given): the
    /// first `k` of it are the streams `/metrics` labels by name.
    pub fn ranked(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|a, b| self.share(*b).total_cmp(&self.share(*a)).then(a.cmp(b)));
        order
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_takes_urls_weights_comments_and_blank_lines() {
        let text =
            "# channels\n\nhttp://o/a.m3u8\n  https://o/b.m3u8   2.5 \n#x\nhttp://o/c.m3u8\t1\n";
        let s = parse_streams_file("--streams f", text).unwrap();
        let got: Vec<(String, f64, bool)> = s
            .iter()
            .map(|w| (w.url.to_string(), w.weight, w.explicit_weight))
            .collect();
        assert_eq!(
            got,
            vec![
                ("http://o/a.m3u8".to_string(), 1.0, false),
                ("https://o/b.m3u8".to_string(), 2.5, true),
                ("http://o/c.m3u8".to_string(), 1.0, true),
            ]
        );
    }

    #[test]
    fn file_errors_name_the_flag_and_the_line() {
        for (text, want) in [
            (
                "http://o/a.m3u8\nnot a url\n",
                "--streams f: line 2: not a valid URL",
            ),
            (
                "\n\nftp://o/a\n",
                "--streams f: line 3: URL 'ftp://o/a' must be http",
            ),
            (
                "http://o/a 0\n",
                "--streams f: line 1: weight '0' is not a positive",
            ),
            ("http://o/a -1\n", "line 1: weight '-1'"),
            ("http://o/a x\n", "line 1: weight 'x'"),
            ("http://o/a NaN\n", "line 1: weight 'NaN'"),
            ("http://o/a 1 2\n", "line 1: unexpected '2'"),
            (
                "# only a comment\n\n",
                "--streams f: the file lists no stream URL",
            ),
        ] {
            let e = parse_streams_file("--streams f", text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = parse_streams_file("--streams f", "http://u:secret@o/a?token=t x\n").unwrap_err();
        assert!(!e.contains("secret") && !e.contains("token"), "{e}");
    }

    #[test]
    fn display_names_are_redacted_and_unique() {
        let urls: Vec<Url> = [
            "http://o/a.m3u8?ch=1",
            "http://u:p@o/a.m3u8?ch=2",
            "http://o/b.m3u8",
        ]
        .iter()
        .map(|u| Url::parse(u).unwrap())
        .collect();
        assert_eq!(
            display_names(&urls),
            vec![
                "http://o/a.m3u8".to_string(),
                "http://o/a.m3u8 [stream 1]".to_string(),
                "http://o/b.m3u8".to_string()
            ]
        );
    }

    #[test]
    fn popularity_parses_and_refuses() {
        assert_eq!(Popularity::parse("weights"), Ok(Popularity::Weights));
        assert_eq!(Popularity::parse("zipf:1.0"), Ok(Popularity::Zipf(1.0)));
        assert_eq!(Popularity::parse(" zipf:0.8 "), Ok(Popularity::Zipf(0.8)));
        for bad in ["zipf", "zipf:", "zipf:-1", "zipf:11", "zipf:nan", "uniform"] {
            let e = Popularity::parse(bad).unwrap_err();
            assert!(e.starts_with("--popularity: "), "{e}");
        }
    }

    #[test]
    fn shares_follow_weights_and_zipf() {
        let m = StreamMix::new(&[1.0, 3.0], Popularity::Weights);
        assert!((m.share(0) - 0.25).abs() < 1e-12 && (m.share(1) - 0.75).abs() < 1e-12);
        let z = StreamMix::new(&[5.0, 1.0, 1.0], Popularity::Zipf(1.0));
        let h = 1.0 + 0.5 + 1.0 / 3.0;
        for (i, want) in [1.0 / h, 0.5 / h, (1.0 / 3.0) / h].into_iter().enumerate() {
            assert!((z.share(i) - want).abs() < 1e-12, "{i}");
        }
        assert_eq!(m.ranked(), vec![1, 0]);
        assert_eq!(z.ranked(), vec![0, 1, 2]);
    }

    #[test]
    fn a_viewer_always_gets_the_same_stream() {
        let m = StreamMix::new(&[1.0; 20], Popularity::Zipf(1.0));
        for id in 0..1000 {
            assert_eq!(m.stream_for(7, id), m.stream_for(7, id));
        }
        let differs = (0..1000).any(|id| m.stream_for(7, id) != m.stream_for(8, id));
        assert!(differs, "the seed changes the draw");
        assert_eq!(
            StreamMix::new(&[1.0], Popularity::Zipf(1.0)).stream_for(1, 2),
            0
        );
    }

    /// Zipf shares realised over many viewers are within sampling error of the asked
    /// exponent: each channel's count within 4.5 standard deviations of n·p, and the
    /// exponent fitted from the counts (least squares of ln count on ln rank) within 0.02.
    #[test]
    fn zipf_shares_match_the_exponent_within_sampling_error() {
        for s in [0.8, 1.0, 1.5] {
            let channels = 20;
            let m = StreamMix::new(&vec![1.0; channels], Popularity::Zipf(s));
            let n = 400_000u64;
            let mut counts = vec![0u64; channels];
            for id in 0..n {
                counts[m.stream_for(42, 1000 + id)] += 1;
            }
            for (i, c) in counts.iter().enumerate() {
                let p = m.share(i);
                let sd = (n as f64 * p * (1.0 - p)).sqrt();
                let dev = (*c as f64 - n as f64 * p).abs();
                assert!(dev < 4.5 * sd, "s={s} channel {i}: {c} vs {}", n as f64 * p);
            }
            let pts: Vec<(f64, f64)> = counts
                .iter()
                .enumerate()
                .map(|(i, c)| (((i + 1) as f64).ln(), (*c as f64).ln()))
                .collect();
            let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
            let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
            let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
                / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
            assert!((-slope - s).abs() < 0.02, "s={s}: fitted {}", -slope);
        }
    }
}
