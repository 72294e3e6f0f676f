//! How viewers talk HTTP: request headers, User-Agent, timeouts, retries, reconnects and
//! the `-resolve` / `--dangerous` test-setup overrides.

use std::net::IpAddr;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::cli::RunArgs;
use super::parse::{Header, count, header_line, ip, positive_duration};
use super::problems::Problems;

/// HTTP client settings shared by every viewer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Extra request headers (from -header, -header-file, -no-cache).
    pub headers: Vec<Header>,
    /// User-Agent base; viewers append `/client-<id>`.
    pub user_agent: String,
    /// `-timeout`: per-request timeout.
    pub timeout: Duration,
    /// `-seg-retry`: segment retries before skipping.
    pub seg_retry: u32,
    /// `-reconnect`: reconnect after connection errors.
    pub reconnect: bool,
    /// `-resolve`: connect here for the stream host (only with `--dangerous` and a URL).
    pub resolve: Option<IpAddr>,
    /// `--dangerous`: TLS certificates are not verified.
    pub dangerous: bool,
    /// `--http2`: which HTTP version viewers speak.
    pub http2: Http2Mode,
}

/// `--http2 auto|on|off`: whether the native client speaks HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http2Mode {
    /// TLS: ALPN offers `h2` and `http/1.1` and the server picks; plain text: HTTP/1.1.
    #[default]
    Auto,
    /// TLS: ALPN offers only `h2` (a server that does not pick it fails the connection);
    /// plain text: HTTP/2 with prior knowledge (h2c).
    On,
    /// HTTP/1.1 only.
    Off,
}

impl Http2Mode {
    /// Parses `auto`, `on` or `off` (the `--http2` values).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            _ => Err(format!("--http2: '{s}' is not one of auto, on, off")),
        }
    }
}

impl HttpConfig {
    /// Validate the header, User-Agent, timeout, retry and connection flags.
    pub fn from_args(a: &RunArgs, p: &mut Problems) -> Self {
        let resolve = p.optional(a.resolve.as_deref(), |s| ip("-resolve", s));
        p.check(a.resolve.is_some() && !a.dangerous, || {
            "-resolve requires --dangerous (it also disables TLS certificate verification)".into()
        });
        let mut headers = Vec::new();
        for h in &a.header {
            headers.extend(p.ok(header_line(h, false).map_err(|e| format!("-header: {e}"))));
        }
        if let Some(path) = &a.header_file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (i, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        headers.extend(p.ok(header_line(line, true).map_err(|e| {
                            format!("-header-file {}: line {}: {e}", path.display(), i + 1)
                        })));
                    }
                }
                Err(e) => p.push(format!("-header-file: cannot read {}: {e}", path.display())),
            }
        }
        if a.no_cache {
            for (n, v) in [
                ("cache-control", "no-cache, no-store, must-revalidate"),
                ("pragma", "no-cache"),
            ] {
                headers.push(Header {
                    name: HeaderName::from_static(n),
                    value: HeaderValue::from_static(v),
                    secret: false,
                });
            }
        }
        let user_agent = a
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("hls-swarm/{}", env!("CARGO_PKG_VERSION")));
        p.check(HeaderValue::from_str(&user_agent).is_err(), || {
            format!("-user-agent: '{user_agent}' has characters not allowed in a header")
        });
        let timeout = p.or(
            positive_duration("-timeout", &a.timeout, "15s"),
            Duration::from_secs(15),
        );
        let seg_retry = p.or_default(count("-seg-retry", &a.seg_retry, 0, 100)) as u32;
        let http2 = p.or_default(Http2Mode::parse(&a.http2));
        HttpConfig {
            headers,
            user_agent,
            timeout,
            seg_retry,
            reconnect: a.reconnect,
            resolve,
            dangerous: a.dangerous,
            http2,
        }
    }

    /// The User-Agent of viewer `id`.
    pub fn viewer_user_agent(&self, id: u64) -> String {
        format!("{}/client-{}", self.user_agent, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http2_modes_parse_and_anything_else_names_the_flag() {
        assert_eq!(Http2Mode::parse("auto"), Ok(Http2Mode::Auto));
        assert_eq!(Http2Mode::parse("ON"), Ok(Http2Mode::On));
        assert_eq!(Http2Mode::parse(" off "), Ok(Http2Mode::Off));
        assert_eq!(Http2Mode::default(), Http2Mode::Auto);
        for bad in ["", "yes", "h2", "1"] {
            let e = Http2Mode::parse(bad).expect_err(bad);
            assert!(e.starts_with("--http2:"), "{e}");
        }
    }
}
