//! Fuzz target: the HLS playlist parser (`hls_swarm::hls::parse`) on arbitrary bodies, as a
//! hostile origin can send them, and the variant and rendition selection a viewer then does.
//!
//! Beyond "never panics" it checks what the parser promises for any input:
//! * line ends: the same body with CRLF line ends, or behind a UTF-8 byte-order mark,
//!   parses to exactly the same result (playlist or error);
//! * a parsed master lists at least one variant, and every choice selects a variant of
//!   it (one for highest/lowest/first, all of them for `all`, all of them in ascending
//!   BANDWIDTH for `abr`).
#![no_main]

use hls_swarm::hls::{self, Playlist, VariantChoice};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|body: &[u8]| {
    let base = Url::parse("http://origin.test/live/v0/index.m3u8").expect("valid base URL");
    let parsed = hls::parse(body, &base);

    let mut crlf = Vec::with_capacity(body.len() * 2);
    for &b in body {
        if b == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    assert_eq!(
        hls::parse(&crlf, &base),
        parsed,
        "CRLF line ends changed the result"
    );
    if !body.starts_with(b"\xEF\xBB\xBF") {
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(body);
        assert_eq!(
            hls::parse(&bom, &base),
            parsed,
            "a byte-order mark changed the result"
        );
    }

    if let Ok(Playlist::Master(master)) = &parsed {
        assert!(
            !master.variants.is_empty(),
            "a master without variants parsed"
        );
        for choice in VariantChoice::ALL {
            let chosen = hls::select_variants(master, choice);
            // `all` and `abr` (the ladder an adaptive viewer climbs) take every variant.
            let whole_ladder = matches!(choice, VariantChoice::All | VariantChoice::Abr);
            let want = if whole_ladder {
                master.variants.len()
            } else {
                1
            };
            assert_eq!(
                chosen.len(),
                want,
                "{choice} selected {} variants",
                chosen.len()
            );
            if choice == VariantChoice::Abr {
                assert!(
                    chosen.windows(2).all(|w| w[0].bandwidth <= w[1].bandwidth),
                    "the abr ladder is not in ascending BANDWIDTH"
                );
            }
            for v in chosen {
                for r in hls::audio_renditions_for(master, v) {
                    assert!(r.uri.is_some(), "an audio rendition to fetch has no URI");
                }
            }
        }
    }
});
