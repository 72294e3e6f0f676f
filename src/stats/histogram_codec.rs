//! HDR histograms as text, for the JSON report's exact-merge section: the V2 serialization
//! of the HdrHistogram family (readable by the Java, Go and Rust libraries), base64. A
//! histogram read back is re-recorded into this crate's duration histogram
//! ([`super::accumulator::duration_histogram`]), so every histogram of a merge has the
//! same bounds and adding them cannot fail.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use serde::Deserialize;
use serde::de::Error as _;

use super::accumulator::duration_histogram;

/// `h` as base64 of its V2 serialization.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail, and a u64 histogram always serialises.
    let _ = V2Serializer::new().serialize(h, &mut bytes);
    STANDARD.encode(bytes)
}

/// A histogram from [`encode`]'s text (or any V2 / V2+DEFLATE histogram in base64), in
/// the duration histogram's bounds.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    decode_into(text, duration_histogram())
}

/// A histogram from [`encode`]'s text, added into `empty` (an empty histogram with the
/// bounds and precision the values were recorded with: then the counts land in the same
/// buckets and nothing is lost). For histograms of values other than durations (session
/// lengths in ms, link rates in bit/s).
pub fn decode_into(text: &str, mut empty: Histogram<u64>) -> Result<Histogram<u64>, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let read: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HDR histogram: {e:?}"))?;
    empty
        .add(&read)
        .map_err(|e| format!("histogram outside the expected range: {e:?}"))?;
    Ok(empty)
}

/// Serde adapter for a `Histogram<u64>` field: `#[serde(with = "histogram_codec")]`.
pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(h))
}

/// Serde adapter for a `Histogram<u64>` field (see [`serialize`]).
pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    let text = String::deserialize(d)?;
    decode(&text).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::accumulator::record_duration;
    use std::time::Duration;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = duration_histogram();
        for ms in [1u64, 2, 3, 150, 150, 151, 999, 12_345, 3_600_000] {
            record_duration(&mut h, Duration::from_millis(ms));
        }
        record_duration(&mut h, Duration::from_nanos(10)); // clamped to 1 µs
        let back = decode(&encode(&h)).expect("decodes");
        assert_eq!(back, h, "same counts at the same values");
        assert_eq!(back.len(), 10);
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q), "q {q}");
        }
    }

    #[test]
    fn empty_histogram_round_trips_and_garbage_is_refused() {
        let h = duration_histogram();
        assert!(decode(&encode(&h)).expect("decodes").is_empty());
        assert!(decode("not base64!").unwrap_err().contains("base64"));
        assert!(decode("aGVsbG8=").unwrap_err().contains("HDR histogram"));
    }
}
