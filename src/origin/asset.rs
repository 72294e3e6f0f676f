//! The embedded pre-encoded GOPs and what the playlists need to know about them.
//!
//! The `.ts` files in `assets/` were produced once, at development time, by
//! `assets/gen-gop.sh` with Debian's FFmpeg 5.1. For each unit U ∈ {1 s, 2 s}:
//!
//! ```sh
//! ffmpeg -f lavfi -i "color=c=black:s=64x36:r=10:d=$U" \
//!   -f lavfi -i "anullsrc=r=48000:cl=mono:d=$AUDIO_S" \   # 0.981333 (U=1) | 1.984 (U=2)
//!   -map 0:v -map 1:a \
//!   -c:v libx264 -profile:v baseline -preset veryslow -g 100 -keyint_min 100 \
//!   -sc_threshold 0 -bf 0 -pix_fmt yuv420p -bsf:v filter_units=remove_types=6 \
//!   -c:a aac -b:a 24k -ac 1 -ar 48000 \
//!   -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
//!   -f mpegts assets/gop-${U}s.ts
//! ffmpeg -copyts -i assets/gop-${U}s.ts -map 0:v -c copy -fflags +bitexact -f mpegts assets/gop-${U}s-video.ts
//! ffmpeg -copyts -i assets/gop-${U}s.ts -map 0:a -c copy -fflags +bitexact -f mpegts assets/gop-${U}s-audio.ts
//! ```
//!
//! Each file is one closed GOP (IDR first, 10 fps, no B-frames) plus AAC frames whose
//! last one starts strictly before U, so copies re-stamped by U have strictly rising DTS.
//! A segment of D whole seconds is D/2 copies of the 2 s GOP when D is even, else D
//! copies of the 1 s GOP.

use std::time::Duration;

use super::ts::{self, Template};

/// 2 s of 64×36 black H.264 + silent AAC, muxed.
pub const GOP_2S: &[u8] = include_bytes!("../../assets/gop-2s.ts");
/// 1 s of 64×36 black H.264 + silent AAC, muxed.
pub const GOP_1S: &[u8] = include_bytes!("../../assets/gop-1s.ts");
/// The video stream of [`GOP_2S`] alone.
pub const GOP_2S_VIDEO: &[u8] = include_bytes!("../../assets/gop-2s-video.ts");
/// The video stream of [`GOP_1S`] alone.
pub const GOP_1S_VIDEO: &[u8] = include_bytes!("../../assets/gop-1s-video.ts");
/// The audio stream of [`GOP_2S`] alone.
pub const GOP_2S_AUDIO: &[u8] = include_bytes!("../../assets/gop-2s-audio.ts");
/// The audio stream of [`GOP_1S`] alone.
pub const GOP_1S_AUDIO: &[u8] = include_bytes!("../../assets/gop-1s-audio.ts");

/// Longest supported segment duration in seconds.
pub const MAX_SEGMENT_SECS: u64 = 60;

/// Which embedded stream a track serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Video and audio muxed together.
    Muxed,
    /// Video only (used when audio is a separate rendition).
    Video,
    /// Audio only (the audio rendition).
    Audio,
}

/// The templates and stream facts for one segment duration.
#[derive(Debug, Clone)]
pub struct Media {
    muxed: Template,
    video: Template,
    audio: Template,
    /// Template copies per segment.
    pub copies: u32,
    /// RFC 6381 codec of the video, e.g. `avc1.42c00a`.
    pub video_codec: String,
    /// RFC 6381 codec of the audio, e.g. `mp4a.40.2`.
    pub audio_codec: String,
    /// Video width × height in pixels.
    pub resolution: (u32, u32),
}

impl Media {
    /// Loads the templates for segments of `duration` (a whole number of seconds, 1–60).
    pub fn for_duration(duration: Duration) -> Result<Self, String> {
        let secs = whole_seconds(duration)?;
        let (unit, copies, files) = if secs.is_multiple_of(2) {
            (2u64, secs / 2, [GOP_2S, GOP_2S_VIDEO, GOP_2S_AUDIO])
        } else {
            (1, secs, [GOP_1S, GOP_1S_VIDEO, GOP_1S_AUDIO])
        };
        let parse = |d: &'static [u8]| {
            Template::parse(d, unit * 90_000)
                .map_err(|e| format!("embedded GOP asset is broken: {e}"))
        };
        let muxed = parse(files[0])?;
        let video = parse(files[1])?;
        let audio = parse(files[2])?;
        let streams = ts::program_streams(files[0]);
        let pid_of = |st: u8| streams.iter().find(|s| s.0 == st).map(|s| s.1);
        let sps = pid_of(0x1B)
            .and_then(|pid| ts::first_pes_payload(files[0], pid))
            .and_then(|pes| find_sps(&pes))
            .ok_or("embedded GOP asset has no H.264 SPS")?;
        let adts = pid_of(0x0F)
            .and_then(|pid| ts::first_pes_payload(files[0], pid))
            .ok_or("embedded GOP asset has no AAC stream")?;
        Ok(Self {
            muxed,
            video,
            audio,
            copies: u32::try_from(copies).map_err(|_| "segment duration too long")?,
            video_codec: avc_codec(&sps).ok_or("embedded H.264 SPS is truncated")?,
            audio_codec: aac_codec(&adts).ok_or("embedded AAC frame has no ADTS header")?,
            resolution: sps_resolution(&sps).ok_or("embedded H.264 SPS is not parseable")?,
        })
    }

    /// The template for a flavor.
    pub fn template(&self, flavor: Flavor) -> &Template {
        match flavor {
            Flavor::Muxed => &self.muxed,
            Flavor::Video => &self.video,
            Flavor::Audio => &self.audio,
        }
    }
}

/// `duration` as whole seconds in 1..=[`MAX_SEGMENT_SECS`], or why not.
pub fn whole_seconds(duration: Duration) -> Result<u64, String> {
    let secs = duration.as_secs();
    if duration.subsec_nanos() != 0 || secs == 0 || secs > MAX_SEGMENT_SECS {
        return Err(format!(
            "segment duration must be a whole number of seconds from 1s to {MAX_SEGMENT_SECS}s, got {}",
            humantime::format_duration(duration)
        ));
    }
    Ok(secs)
}

/// The first SPS NAL unit (header byte included, emulation prevention removed).
fn find_sps(es: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    while i + 3 < es.len() {
        if es[i..i + 3] == [0, 0, 1] {
            let start = i + 3;
            if es.get(start).map(|b| b & 0x1F) == Some(7) {
                let end = (start..es.len().saturating_sub(2))
                    .find(|&j| es[j..j + 3] == [0, 0, 1] || es[j..j + 3] == [0, 0, 0])
                    .unwrap_or(es.len());
                return Some(unescape(&es[start..end]));
            }
            i = start;
        } else {
            i += 1;
        }
    }
    None
}

/// Removes H.264 emulation prevention bytes (00 00 03 → 00 00).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// `avc1.PPCCLL` from an SPS NAL unit.
fn avc_codec(sps: &[u8]) -> Option<String> {
    let b = sps.get(1..4)?;
    Some(format!("avc1.{:02x}{:02x}{:02x}", b[0], b[1], b[2]))
}

/// `mp4a.40.N` from the first ADTS header.
fn aac_codec(adts: &[u8]) -> Option<String> {
    if adts.len() < 7 || adts[0] != 0xFF || adts[1] & 0xF0 != 0xF0 {
        return None;
    }
    Some(format!("mp4a.40.{}", (adts[2] >> 6) + 1))
}

/// MSB-first bit reader with Exp-Golomb support.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let v = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(v))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }

    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Width and height of a 4:2:0 SPS without scaling matrices (all the asset needs).
fn sps_resolution(sps: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits { data: sps, pos: 8 };
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags + level
    r.ue()?; // seq_parameter_set_id
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        if r.ue()? != 1 {
            return None; // only 4:2:0
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? != 0 {
            return None; // scaling matrices not supported
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()? {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = r.ue()? + 1;
    let h_units = r.ue()? + 1;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0, 0, 0, 0);
    if r.bit()? == 1 {
        (cl, cr, ct, cb) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
    }
    let field = 2 - frame_mbs_only;
    let w = (w_mbs * 16).checked_sub(2 * (cl + cr))?;
    let h = (h_units * 16 * field).checked_sub(2 * field * (ct + cb))?;
    Some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_facts_come_from_the_stream() {
        for secs in [1u64, 2, 3, 4, 6] {
            let m = Media::for_duration(Duration::from_secs(secs)).unwrap();
            assert_eq!(m.resolution, (64, 36));
            assert_eq!(m.video_codec, "avc1.42c00a");
            assert_eq!(m.audio_codec, "mp4a.40.2");
            let unit = m.template(Flavor::Muxed).unit_90k();
            assert_eq!(unit * u64::from(m.copies), secs * 90_000);
            for f in [Flavor::Muxed, Flavor::Video, Flavor::Audio] {
                assert_eq!(m.template(f).unit_90k(), unit);
            }
        }
    }

    #[test]
    fn rejects_fractional_zero_and_long_durations() {
        for d in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_secs(61),
        ] {
            assert!(Media::for_duration(d).is_err(), "{d:?}");
        }
    }

    #[test]
    fn asset_timestamps_fit_one_unit() {
        // The last PES of each stream in a copy must start before first DTS + unit, so
        // that the next copy (shifted by one unit) keeps DTS increasing per PID. (Frame
        // level, including AAC frames packed inside PES, is covered by tests/origin_ffmpeg.rs.)
        for (data, unit) in [
            (GOP_1S, 90_000u64),
            (GOP_2S, 180_000),
            (GOP_2S_AUDIO, 180_000),
            (GOP_1S_VIDEO, 90_000),
        ] {
            let mut per_pid: std::collections::BTreeMap<u16, (u64, u64)> = Default::default();
            for p in data.chunks_exact(ts::PACKET_LEN) {
                let h = ts::header(p).unwrap();
                if let Some(t) = ts::stamps(p).and_then(|s| s.dts.or(s.pts)) {
                    let e = per_pid.entry(h.pid).or_insert((t, t));
                    e.1 = t;
                }
            }
            assert!(!per_pid.is_empty());
            for (pid, (first, last)) in per_pid {
                assert!(last < first + unit, "pid {pid:#x}: {first}..{last}");
            }
        }
    }

    #[test]
    fn exp_golomb() {
        // bits: 1 | 010 | 011 | 00100 → ue 0, 1, 2, 3
        let data = [0b1010_0110, 0b0100_0000];
        let mut r = Bits {
            data: &data,
            pos: 0,
        };
        assert_eq!(
            [r.ue(), r.ue(), r.ue(), r.ue()],
            [Some(0), Some(1), Some(2), Some(3)]
        );
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), vec![0, 0, 1, 0, 0]);
    }
}
