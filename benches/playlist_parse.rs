//! Cost of parsing one LL-HLS media playlist, the native LL-HLS viewer's hot path (a
//! blocking reload per part, 5 per second per viewer at 200 ms parts). The playlist is
//! shaped like the built-in origin's: 10 segments of 2 s, the last three with their ten
//! 200 ms parts each, the parts of the segment in production, a preload hint and two
//! rendition reports. Times ROUNDS rounds of BATCH parses and prints the median per parse
//! and the allocations per parse. Not a test: nothing is asserted about time.
//!
//!   cargo bench --bench playlist_parse -- [ROUNDS] [BATCH]      (default 200 200)

use std::time::{Duration, Instant};

use hls_swarm::hls;
use url::Url;

/// An LL-HLS media playlist like the built-in origin's with 200 ms parts.
fn ll_playlist() -> String {
    let mut s = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,HOLD-BACK=6.000,PART-HOLD-BACK=0.600\n\
         #EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:100\n",
    );
    for n in 100..110u64 {
        s.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:{:02}:{:02}.100Z\n",
            n / 30,
            (n * 2) % 60
        ));
        if n >= 107 {
            for j in 0..10 {
                let ind = if j == 0 { ",INDEPENDENT=YES" } else { "" };
                s.push_str(&format!(
                    "#EXT-X-PART:DURATION=0.200,URI=\"seg{n}.{j}.ts\"{ind}\n"
                ));
            }
        }
        s.push_str(&format!("#EXTINF:2.000,\nseg{n}.ts\n"));
    }
    for j in 0..4 {
        let ind = if j == 0 { ",INDEPENDENT=YES" } else { "" };
        s.push_str(&format!(
            "#EXT-X-PART:DURATION=0.200,URI=\"seg110.{j}.ts\"{ind}\n"
        ));
    }
    s.push_str("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg110.4.ts\"\n");
    for v in 1..3 {
        s.push_str(&format!(
            "#EXT-X-RENDITION-REPORT:URI=\"../v{v}/playlist.m3u8\",LAST-MSN=110,LAST-PART=3\n"
        ));
    }
    s
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(200);
    let batch = args.get(1).copied().unwrap_or(200);
    let body = ll_playlist();
    let base = Url::parse("http://127.0.0.1:17280/v0/playlist.m3u8").expect("a URL");
    match hls::parse(body.as_bytes(), &base) {
        Ok(hls::Playlist::Media(pl)) => println!(
            "playlist: {} bytes, {} segments, {} parts listed",
            body.len(),
            pl.segments.len(),
            pl.segments.iter().map(|s| s.parts.len()).sum::<usize>() + pl.trailing_parts.len()
        ),
        other => panic!("the sample playlist should parse as media: {other:?}"),
    }
    let mut per_parse: Vec<Duration> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            std::hint::black_box(hls::parse(std::hint::black_box(body.as_bytes()), &base).ok());
        }
        per_parse.push(t.elapsed() / batch as u32);
    }
    per_parse.sort();
    println!(
        "parse: median {:.2} µs, p10 {:.2} µs, p90 {:.2} µs per playlist ({rounds} rounds of {batch})",
        per_parse[rounds / 2].as_secs_f64() * 1e6,
        per_parse[rounds / 10].as_secs_f64() * 1e6,
        per_parse[rounds * 9 / 10].as_secs_f64() * 1e6,
    );
}
