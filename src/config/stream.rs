//! What the swarm plays: the stream (a URL, or the built-in origin) and which of its
//! variants each viewer plays.

use std::path::Path;

use url::Url;

use super::cli::RunArgs;
use super::parse::{http_url, redact_url};
use super::problems::Problems;
use crate::hls::VariantChoice;

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
    /// Where the stream comes from.
    pub source: StreamSource,
    /// `-variant`: which variants each viewer plays.
    pub variant: VariantChoice,
    /// `-origin-part-duration`: the built-in origin serves LL-HLS with parts this long.
    pub builtin_part_duration: Option<std::time::Duration>,
    /// `--ll-hls`: whether native viewers play Low-Latency HLS.
    pub ll_hls: LlHlsMode,
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
        let source = match (a.url.as_deref(), &a.url_file) {
            (Some(s), _) => p.ok(stream_url(s)),
            (None, Some(path)) => p.ok(read_url_file(path)),
            (None, None) => Some(StreamSource::Builtin),
        };
        let variant = p.or(
            a.variant.parse::<VariantChoice>().map_err(|_| {
                format!(
                    "-variant: '{}' is not one of all, highest, lowest, first",
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
        StreamConfig {
            source,
            variant,
            builtin_part_duration,
            ll_hls,
        }
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

fn stream_url(s: &str) -> Result<StreamSource, String> {
    let u = Url::parse(s).map_err(|e| {
        format!("URL '{s}' is not valid: {e} (e.g. http://origin:17080/stream.m3u8)")
    })?;
    http_url(u).map(StreamSource::Url)
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
