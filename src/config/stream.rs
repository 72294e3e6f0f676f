//! What the swarm plays: the stream (a URL, or the built-in origin) and which of its
//! variants each viewer plays.

use std::path::Path;

use url::Url;

use super::cli::RunArgs;
use super::parse::{http_url, redact_url};
use super::problems::Problems;
use super::streams::{Popularity, StreamMix, WeightedUrl, display_names, read_streams_file};
use crate::hls::VariantChoice;
use crate::origin::MAX_CHANNELS;

/// How `/metrics` groups the streams of a many-stream run (see
/// [`StreamConfig::metrics_groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGroups {
    /// The group of each stream, in the run's order of streams.
    pub group_of: Vec<u32>,
    /// Each group's `stream` label.
    pub names: Vec<String>,
}

/// Where the stream comes from.
#[derive(Debug, Clone)]
pub enum StreamSource {
    /// A stream URL (from the command line or `-url-file`).
    Url(Url),
    /// The built-in origin, started in-process on loopback.
    Builtin,
}

impl StreamSource {
    /// The URL, `None` for the built-in origin (whose URL is known once it runs).
    pub fn url(&self) -> Option<&Url> {
        match self {
            StreamSource::Url(u) => Some(u),
            StreamSource::Builtin => None,
        }
    }

    /// Whether the stream is fetched over https.
    pub fn is_https(&self) -> bool {
        self.url().is_some_and(|u| u.scheme() == "https")
    }

    /// The source fit for display: the redacted URL, or `builtin`.
    pub fn shown(&self) -> String {
        match self {
            StreamSource::Url(u) => redact_url(u),
            StreamSource::Builtin => "builtin".to_string(),
        }
    }
}

/// The stream and the variants played.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Where the (first) stream comes from.
    pub source: StreamSource,
    /// Every stream URL with its weight, in the order given (the command line's, then
    /// `--streams`'); empty for the built-in origin.
    pub urls: Vec<WeightedUrl>,
    /// `-origin-channels`: channels the built-in origin serves (and the swarm plays);
    /// 1 = the classic single stream at `/master.m3u8`.
    pub builtin_channels: u32,
    /// `--popularity`: how viewers spread over the streams.
    pub popularity: Popularity,
    /// `--metrics-stream-top-k`: streams /metrics labels by name (the rest: `other`).
    pub metrics_top_k: usize,
    /// `-variant`: which variants each viewer plays.
    pub variant: VariantChoice,
    /// `-origin-part-duration`: the built-in origin serves LL-HLS with parts this long.
    pub builtin_part_duration: Option<std::time::Duration>,
    /// `--ll-hls`: whether native viewers play Low-Latency HLS.
    pub ll_hls: LlHlsMode,
    /// `--abr-start-rung`, `--abr-ewma`: how `-variant abr` viewers adapt.
    pub abr: crate::engine::abr::AbrSettings,
}

/// `--ll-hls auto|on|off`: whether a native viewer plays Low-Latency HLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LlHlsMode {
    /// LL-HLS when a media playlist has `CAN-BLOCK-RELOAD=YES` and `EXT-X-PART-INF`.
    #[default]
    Auto,
    /// LL-HLS whenever the media playlist has `EXT-X-PART-INF` (blocking reloads are tried
    /// even without `CAN-BLOCK-RELOAD`); otherwise classic HLS, said once.
    On,
    /// Classic HLS always.
    Off,
}

impl LlHlsMode {
    /// Parses `auto`, `on` or `off` (the `--ll-hls` values).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("--ll-hls: '{s}' is not one of auto, on, off")),
        }
    }

    /// Stable name (`auto`, `on`, `off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

impl StreamConfig {
    /// Validate the URL (or `-url-file`) and `-variant`.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        let mut urls: Vec<WeightedUrl> = a
            .urls
            .iter()
            .filter_map(|s| p.ok(stream_url(s)))
            .map(|url| WeightedUrl {
                url,
                weight: 1.0,
                explicit_weight: false,
            })
            .collect();
        if let Some(path) = &a.streams {
            urls.extend(p.ok(read_streams_file(path)).unwrap_or_default());
        }
        let bad_input = urls.is_empty() && (!a.urls.is_empty() || a.streams.is_some());
        let source = match (urls.first(), &a.url_file) {
            (Some(w), _) => Some(StreamSource::Url(w.url.clone())),
            (None, Some(path)) => p.ok(read_url_file(path)),
            (None, None) if bad_input => None,
            (None, None) => Some(StreamSource::Builtin),
        };
        if let Some(StreamSource::Url(u)) = &source
            && urls.is_empty()
        {
            urls.push(WeightedUrl {
                url: u.clone(),
                weight: 1.0,
                explicit_weight: false,
            });
        }
        let popularity = p.or(Popularity::parse(&a.popularity), Popularity::Weights);
        if matches!(popularity, Popularity::Zipf(_)) && urls.iter().any(|w| w.explicit_weight) {
            p.push(format!(
                "--popularity {}: the --streams file gives weights; use either weights or a Zipf popularity",
                a.popularity.trim()
            ));
        }
        let metrics_top_k = p.or(
            super::parse::count("--metrics-stream-top-k", &a.metrics_stream_top_k, 1, 1000),
            10,
        ) as usize;
        let builtin_channels = match &a.origin_channels {
            None => 1,
            Some(n) => {
                let n = p.or(
                    super::parse::count("-origin-channels", n, 1, MAX_CHANNELS as u64),
                    1,
                ) as u32;
                if !urls.is_empty() || a.url_file.is_some() {
                    p.push(format!(
                        "-origin-channels {n}: only the built-in origin (no URL) has channels"
                    ));
                }
                n
            }
        };
        let variant = p.or(
            a.variant.parse::<VariantChoice>().map_err(|_| {
                format!(
                    "-variant: '{}' is not one of all, highest, lowest, first, abr",
                    a.variant
                )
            }),
            VariantChoice::All,
        );
        let source = source.unwrap_or(StreamSource::Builtin);
        let builtin_part_duration = a.origin_part_duration.as_deref().and_then(|v| {
            let flag = format!("-origin-part-duration {v:?}");
            if !matches!(source, StreamSource::Builtin) {
                p.push(format!(
                    "{flag}: only the built-in origin (no URL) can be asked for parts"
                ));
                return None;
            }
            p.ok(super::parse::duration(v)
                .map_err(|e| format!("{flag}: {e}; expected e.g. 200ms"))
                .and_then(|d| {
                    crate::origin::check_part_duration(
                        d,
                        crate::origin::OriginConfig::default().segment_duration,
                    )
                    .map(|()| d)
                    .map_err(|e| format!("{flag}: {e}"))
                }))
        });
        let ll_hls = p.or_default(LlHlsMode::parse(&a.ll_hls));
        let abr = crate::engine::abr::AbrSettings {
            start: p.or_default(
                a.abr_start_rung
                    .parse()
                    .map_err(|e| format!("--abr-start-rung: {e}")),
            ),
            half_lives: p.or_default(a.abr_ewma.parse().map_err(|e| format!("--abr-ewma: {e}"))),
        };
        if variant == VariantChoice::Abr && ll_hls == LlHlsMode::On {
            p.push(
                "-variant abr --ll-hls on: ABR viewers play classic HLS (adaptive LL-HLS is \
                 not built); use --ll-hls auto or off",
            );
        }
        StreamConfig {
            source,
            urls,
            builtin_channels,
            popularity,
            metrics_top_k,
            variant,
            builtin_part_duration,
            ll_hls,
            abr,
        }
    }

    /// How many streams the run plays.
    pub fn stream_count(&self) -> usize {
        match self.source {
            StreamSource::Builtin => self.builtin_channels as usize,
            StreamSource::Url(_) => self.urls.len().max(1),
        }
    }

    /// The `/metrics` grouping of a many-stream run: for each stream (in the order
    /// given) its group, and each group's `stream` label: the `--metrics-stream-top-k`
    /// streams of largest configured share by name (the redacted URL, or `builtin/ch{c}`
    /// for a channel of the built-in origin), then `other` for the rest (when any).
    /// `None` with one stream.
    pub fn metrics_groups(&self) -> Option<StreamGroups> {
        let mix = self.mix();
        if mix.len() < 2 {
            return None;
        }
        let ranked = mix.ranked();
        let top = ranked.len().min(self.metrics_top_k);
        let shown = match self.source {
            StreamSource::Url(_) => display_names(self.urls.iter().map(|w| &w.url)),
            StreamSource::Builtin => (0..mix.len()).map(|c| format!("builtin/ch{c}")).collect(),
        };
        let mut group_of = vec![top as u32; mix.len()];
        let mut names = Vec::with_capacity(top + 1);
        for (g, &i) in ranked.iter().take(top).enumerate() {
            group_of[i] = g as u32;
            names.push(shown.get(i).cloned().unwrap_or_default());
        }
        if top < mix.len() {
            names.push("other".to_string());
        }
        Some(StreamGroups { group_of, names })
    }

    /// The viewers' spread over the streams (in the order given).
    pub fn mix(&self) -> StreamMix {
        let weights: Vec<f64> = match self.source {
            StreamSource::Builtin => vec![1.0; self.builtin_channels as usize],
            StreamSource::Url(_) if self.urls.is_empty() => vec![1.0],
            StreamSource::Url(_) => self.urls.iter().map(|w| w.weight).collect(),
        };
        StreamMix::new(&weights, self.popularity)
    }
}

/// The stream URL from `-url-file`: the first non-empty line. The file's text may be a
/// secret, so no message quotes it; a valid URL is shown redacted like any other.
fn read_url_file(path: &Path) -> Result<StreamSource, String> {
    let flag = format!("-url-file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag}: cannot read it: {e}"))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| format!("{flag}: the file holds no URL"))?;
    let u = Url::parse(line).map_err(|e| {
        format!("{flag}: its first line is not a valid URL ({e}; the file's text is not shown)")
    })?;
    http_url(u)
        .map(StreamSource::Url)
        .map_err(|e| format!("{flag}: {e}"))
}

fn stream_url(s: &str) -> Result<Url, String> {
    let u = Url::parse(s).map_err(|e| {
        format!("URL '{s}' is not valid: {e} (e.g. http://origin:17080/stream.m3u8)")
    })?;
    http_url(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ll_hls_modes_parse_and_anything_else_names_the_flag() {
        assert_eq!(LlHlsMode::parse("auto"), Ok(LlHlsMode::Auto));
        assert_eq!(LlHlsMode::parse(" ON"), Ok(LlHlsMode::On));
        assert_eq!(LlHlsMode::parse("off"), Ok(LlHlsMode::Off));
        assert_eq!(LlHlsMode::default(), LlHlsMode::Auto);
        for bad in ["", "yes", "llhls"] {
            let e = LlHlsMode::parse(bad).expect_err(bad);
            assert!(e.starts_with("--ll-hls:"), "{e}");
        }
    }
}
