//! `--check`: a verdict on whether this host can run the swarm against this stream, with a
//! fix for everything that fails. Exit 0 when every check passes, 1 otherwise.

use std::fmt::Write;
use std::sync::Arc;

use url::Url;

use crate::config::{Config, redact_url};
use crate::engine::http::{Connections, HttpSettings};
use crate::hls::{self, Playlist};
use crate::host_limits;
use crate::stream;
pub use crate::verdict::Check;

/// File descriptors a run of `clients` viewers needs: 1024 + 5 per viewer.
pub fn required_nofile(clients: u64) -> u64 {
    1024 + clients * 5
}

/// The open-files check, given the (soft, hard) limits; the run raises soft to hard.
pub fn check_nofile(limits: Option<(u64, u64)>, clients: u64) -> Check {
    let need = required_nofile(clients);
    match limits {
        Some((_, hard)) if hard >= need => {
            Check::pass("open files", format!("limit {hard} ≥ {need} needed"))
        }
        Some((_, hard)) => Check::fail(
            "open files",
            format!("limit {hard} < {need} needed (1024 + 5 × {clients} viewers)"),
            "raise it: `ulimit -n 65536` (or LimitNOFILE= in the systemd unit, nofile in limits.conf)",
        ),
        None => Check::fail(
            "open files",
            "could not read RLIMIT_NOFILE".into(),
            "check `ulimit -n`",
        ),
    }
}

/// The ephemeral-port check: a viewer usually holds one connection, up to two per track
/// while a playlist reload overlaps a segment download; the check asks for the two.
pub fn check_ports(range: Option<(u64, u64)>, clients: u64) -> Check {
    let need = clients * 2;
    match range {
        Some((lo, hi)) if hi >= lo && hi - lo + 1 >= need => Check::pass(
            "ephemeral ports",
            format!("{lo}-{hi} gives {} ≥ {need} needed", hi - lo + 1),
        ),
        Some((lo, hi)) => Check::fail(
            "ephemeral ports",
            format!(
                "{lo}-{hi} gives {} < {need} needed (2 per viewer per origin)",
                hi.saturating_sub(lo) + 1
            ),
            "widen it: `sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"`, or spread viewers over hosts",
        ),
        None => Check::pass("ephemeral ports", "range unknown (not Linux?)".into()),
    }
}

async fn check_stream(settings: Arc<HttpSettings>, url: &Url, ua: &str, out: &mut Vec<Check>) {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    match settings.resolve {
        Some(ip) => out.push(Check::pass(
            "resolve",
            format!("{host} → {ip} (from -resolve)"),
        )),
        None => match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => out.push(Check::pass("resolve", format!("{host} → {}", a.ip()))),
                None => {
                    out.push(Check::fail(
                        "resolve",
                        format!("{host} has no address"),
                        "check the host name or use -resolve IP --dangerous",
                    ));
                    return;
                }
            },
            Err(e) => {
                out.push(Check::fail(
                    "resolve",
                    format!("{host}: {e}"),
                    "check the host name or use -resolve IP --dangerous",
                ));
                return;
            }
        },
    }
    let mut conn = Connections::new(settings, ua.to_string());
    let f = conn.get(url, None, true).await;
    let body = match (f.error, f.body) {
        (None, Some(b)) => b,
        (e, _) => {
            out.push(Check::fail(
                "playlist",
                format!(
                    "GET {} failed: {}{}",
                    redact_url(url),
                    e.map(|e| e.as_str()).unwrap_or("no body"),
                    f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                ),
                "check the URL, that the origin is up and reachable from here, and -header for auth",
            ));
            return;
        }
    };
    let media = match hls::parse(&body, &f.final_url) {
        Ok(Playlist::Master(m)) => {
            out.push(Check::pass(
                "master playlist",
                format!(
                    "{} variants, {} renditions ({} ms)",
                    m.variants.len(),
                    m.renditions.len(),
                    f.total.as_millis()
                ),
            ));
            let Some(v) = m.variants.first() else {
                out.push(Check::fail(
                    "media playlist",
                    "the master lists no variants".into(),
                    "fix the master playlist",
                ));
                return;
            };
            let media_url = v.uri.clone();
            let f = conn.get(&media_url, None, true).await;
            match (f.error, f.body.map(|b| hls::parse(&b, &f.final_url))) {
                (None, Some(Ok(Playlist::Media(pl)))) => pl,
                (e, p) => {
                    let why = match (e, p) {
                        (Some(e), _) => format!(
                            "{}{}",
                            e.as_str(),
                            f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
                        ),
                        (None, Some(Err(e))) => e.to_string(),
                        _ => "not a media playlist".into(),
                    };
                    out.push(Check::fail(
                        "media playlist",
                        format!("{}: {why}", redact_url(&media_url)),
                        "check the variant URLs in the master playlist",
                    ));
                    return;
                }
            }
        }
        Ok(Playlist::Media(pl)) => pl,
        Err(e) => {
            out.push(Check::fail(
                "playlist",
                format!("not a valid HLS playlist: {e}"),
                "check that the URL points at an .m3u8 playlist",
            ));
            return;
        }
    };
    out.push(Check::pass(
        "media playlist",
        format!(
            "{} segments, target duration {}s, {}",
            media.segments.len(),
            media.target_duration.as_secs_f64(),
            if media.end_list { "VOD/ended" } else { "live" }
        ),
    ));
    let Some(seg) = media.segments.get(media.live_start_index()) else {
        out.push(Check::fail(
            "segment",
            "the media playlist lists no segments".into(),
            "wait for the stream to start, or check the packager",
        ));
        return;
    };
    let f = conn
        .get(
            &seg.uri,
            seg.byte_range.map(|r| (r.offset, r.length)),
            false,
        )
        .await;
    match f.error {
        None => out.push(Check::pass(
            "segment",
            format!(
                "{} bytes, TTFB {} ms, total {} ms",
                f.bytes,
                f.ttfb.unwrap_or_default().as_millis(),
                f.total.as_millis()
            ),
        )),
        Some(e) => out.push(Check::fail(
            "segment",
            format!(
                "{}: {}{}",
                redact_url(&seg.uri),
                e.as_str(),
                f.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            ),
            "check segment URLs and origin/CDN access rules",
        )),
    }
}

/// Run every check and return the verdict text and whether all passed.
pub async fn run(cfg: &Config) -> anyhow::Result<(String, bool)> {
    let mut checks = Vec::new();
    let (urls, origin) = stream::resolve(cfg).await?;
    let settings = HttpSettings::for_run(cfg, &urls[0]);
    // Every stream of a many-stream run is checked, each the same way.
    for url in &urls {
        checks.push(Check::pass("URL", redact_url(url)));
        check_stream(settings.clone(), url, &cfg.http.user_agent, &mut checks).await;
    }
    if cfg.engine.kind == crate::config::Engine::Ffmpeg {
        checks.extend(crate::engine::ffmpeg::check::checks(cfg, &urls[0], settings).await);
    }
    checks.push(check_nofile(
        host_limits::raise_nofile_limit(),
        // This host's share of the test (all of it without --shard).
        cfg.audience.shard_viewers(),
    ));
    // After the raise, so the open-files line shows what a run gets.
    let facts = crate::host::gather();
    let ports = facts
        .local_port_range
        .map(|(lo, hi)| (u64::from(lo), u64::from(hi)));
    checks.push(check_ports(ports, cfg.audience.shard_viewers()));
    if let Some(o) = origin {
        o.shutdown().await;
    }
    let ok = checks.iter().all(|c| c.ok);
    let mut out = String::from("hls-swarm --check\nhost:\n");
    for (name, value) in facts.lines() {
        let _ = writeln!(out, "    {name:<16} {value}");
    }
    for c in &checks {
        let _ = writeln!(
            out,
            "  {} {:<16} {}",
            if c.ok { "✓" } else { "✗" },
            c.name,
            c.detail
        );
        if let Some(fix) = &c.fix {
            let _ = writeln!(out, "      fix: {fix}");
        }
    }
    let _ = writeln!(out, "verdict: {}", if ok { "PASS" } else { "FAIL" });
    Ok((out, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_rule() {
        assert!(check_nofile(Some((1024, 65536)), 1000).ok);
        let c = check_nofile(Some((1024, 4096)), 1000);
        assert!(!c.ok);
        assert!(c.detail.contains("6024"));
        assert!(c.fix.is_some());
    }

    #[test]
    fn port_rule() {
        assert!(check_ports(Some((32768, 60999)), 5000).ok);
        assert!(!check_ports(Some((60000, 60999)), 5000).ok);
    }
}
