//! MPEG-TS re-stamping: turn one pre-encoded GOP into segment N of a live stream.
//!
//! A [`Template`] is a parsed copy of an embedded GOP (see `asset.rs`). Segment `N` of a
//! stream whose segments hold `k` template copies is copies `N*k .. N*k+k` laid end to
//! end; copy `c` has every PTS/DTS (PES headers) and PCR (adaptation fields) shifted by
//! `c × unit` (90 kHz; 27 MHz for the PCR, whose 9-bit extension is untouched) modulo
//! 2^33, and every continuity counter advanced by `c × (payload packets of that PID in one
//! copy)`, so any two consecutive copies — and so any two consecutive segments — are
//! continuous per PID. The segment is then padded with null packets (PID 0x1FFF) up to
//! the variant's bitrate × duration. Everything here is pure and allocation-bounded.

use std::collections::BTreeMap;

/// Size of one transport stream packet in bytes.
pub const PACKET_LEN: usize = 188;
/// Sync byte opening every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// PID of null (stuffing) packets.
pub const NULL_PID: u16 = 0x1FFF;
/// PTS/DTS/PCR-base wrap (33 bits).
pub const TS_WRAP: u64 = 1 << 33;

/// A null packet: sync, PID 0x1FFF, payload only, CC 0, payload of 0xFF.
const NULL_PACKET: [u8; PACKET_LEN] = {
    let mut p = [0xFFu8; PACKET_LEN];
    p[0] = SYNC_BYTE;
    p[1] = 0x1F;
    p[2] = 0xFF;
    p[3] = 0x10;
    p
};

/// Why a buffer is not a usable GOP template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    /// The length is zero or not a multiple of 188.
    #[error("transport stream length {0} is not a non-zero multiple of 188")]
    BadLength(usize),
    /// A packet does not start with 0x47.
    #[error("packet {0} has no sync byte")]
    NoSync(usize),
    /// An adaptation field or PES header does not fit in its packet.
    #[error("packet {0} has a malformed adaptation field or PES header")]
    Malformed(usize),
    /// The template carries no PTS at all.
    #[error("template carries no timestamps")]
    NoTimestamps,
}

/// Where the fields to patch sit inside one template packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PacketInfo {
    /// Packet PID.
    pid: u16,
    /// Index among the payload-carrying packets of this PID within one copy (the CC
    /// advances only on those), `None` for adaptation-only packets.
    cc_index: Option<u32>,
    /// Offset of the 6-byte PCR field, if any.
    pcr: Option<usize>,
    /// Offset of the 5-byte PTS field, if any.
    pts: Option<usize>,
    /// Offset of the 5-byte DTS field, if any.
    dts: Option<usize>,
}

/// Per-PID continuity data of one template copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PidCc {
    /// CC of the first payload packet of this PID in the template.
    first_cc: u8,
    /// Number of payload packets of this PID in one copy.
    count: u32,
}

/// A parsed GOP ready to be re-stamped into any segment.
#[derive(Debug, Clone)]
pub struct Template {
    data: &'static [u8],
    packets: Vec<PacketInfo>,
    cc: BTreeMap<u16, PidCc>,
    unit_90k: u64,
    frames: Vec<FrameStart>,
}

/// Where one access unit of the template's main stream (video if there is one) starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStart {
    /// Index of the packet that opens the unit's PES.
    pub packet: usize,
    /// DTS (or PTS) relative to the template's first unit, 90 kHz.
    pub offset_90k: u64,
    /// Whether the packet carries the random access indicator (a key frame).
    pub key: bool,
}

/// Tolerance when matching a media offset to a frame start (5 ms in 90 kHz ticks).
const FRAME_MATCH_TOLERANCE_90K: u64 = 450;

impl Template {
    /// Parses `data` (whole packets) as a GOP lasting `unit_90k` ticks of 90 kHz.
    pub fn parse(data: &'static [u8], unit_90k: u64) -> Result<Self, TsError> {
        if data.is_empty() || !data.len().is_multiple_of(PACKET_LEN) {
            return Err(TsError::BadLength(data.len()));
        }
        let mut packets = Vec::with_capacity(data.len() / PACKET_LEN);
        let mut cc: BTreeMap<u16, PidCc> = BTreeMap::new();
        let mut any_pts = false;
        for (i, p) in data.chunks_exact(PACKET_LEN).enumerate() {
            let h = header(p).ok_or(TsError::NoSync(i))?;
            let mut info = PacketInfo {
                pid: h.pid,
                cc_index: None,
                pcr: None,
                pts: None,
                dts: None,
            };
            if h.has_payload {
                let e = cc.entry(h.pid).or_insert(PidCc {
                    first_cc: h.cc,
                    count: 0,
                });
                info.cc_index = Some(e.count);
                e.count += 1;
            }
            if h.has_adaptation {
                let af_len = usize::from(p[4]);
                if 5 + af_len > PACKET_LEN {
                    return Err(TsError::Malformed(i));
                }
                if af_len >= 7 && p[5] & 0x10 != 0 {
                    info.pcr = Some(6);
                }
            }
            if h.has_payload && h.pusi {
                let start = h.payload_offset.ok_or(TsError::Malformed(i))?;
                let (pts, dts) = pes_timestamp_offsets(p, start).ok_or(TsError::Malformed(i))?;
                info.pts = pts;
                info.dts = dts;
                any_pts |= pts.is_some();
            }
            packets.push(info);
        }
        if !any_pts {
            return Err(TsError::NoTimestamps);
        }
        let frames = frame_starts(data);
        Ok(Self {
            data,
            packets,
            cc,
            unit_90k,
            frames,
        })
    }

    /// Access-unit starts of the main stream (video if present, else the first stream
    /// with timestamps), in packet order.
    pub fn frames(&self) -> &[FrameStart] {
        &self.frames
    }

    /// Index of the first packet at or after media offset `offset_90k` within one copy:
    /// 0 for offset 0 (PAT/PMT included), the packet opening the first main-stream unit
    /// starting at or after the offset, or the copy's packet count when none does.
    pub fn packet_at(&self, offset_90k: u64) -> usize {
        if offset_90k == 0 {
            return 0;
        }
        self.frames
            .iter()
            .find(|f| f.offset_90k + FRAME_MATCH_TOLERANCE_90K >= offset_90k)
            .map_or(self.packets.len(), |f| f.packet)
    }

    /// Whether a main-stream key frame starts exactly at `offset_90k` within a copy.
    pub fn key_frame_at(&self, offset_90k: u64) -> bool {
        self.frames
            .iter()
            .any(|f| f.key && f.offset_90k.abs_diff(offset_90k) <= FRAME_MATCH_TOLERANCE_90K)
    }

    /// Duration of one copy in 90 kHz ticks.
    pub fn unit_90k(&self) -> u64 {
        self.unit_90k
    }

    /// Length of one copy in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the template holds no packet (never true for a parsed template).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The raw, un-stamped template bytes.
    pub fn raw(&self) -> &'static [u8] {
        self.data
    }

    /// Appends copy number `copy` (0-based over the whole stream) to `out`.
    fn push_copy(&self, copy: u64, out: &mut Vec<u8>) {
        self.push_copy_range(copy, 0, self.packets.len(), out);
    }

    /// Appends packets `from..to` of copy number `copy` to `out`.
    fn push_copy_range(&self, copy: u64, from: usize, to: usize, out: &mut Vec<u8>) {
        let shift = copy.wrapping_mul(self.unit_90k) % TS_WRAP;
        let to = to.min(self.packets.len());
        let from = from.min(to);
        let raw = &self.data[from * PACKET_LEN..to * PACKET_LEN];
        for (p, info) in raw.chunks_exact(PACKET_LEN).zip(&self.packets[from..to]) {
            let at = out.len();
            out.extend_from_slice(p);
            let q = &mut out[at..at + PACKET_LEN];
            if let (Some(idx), Some(pc)) = (info.cc_index, self.cc.get(&info.pid)) {
                let advance = copy
                    .wrapping_mul(u64::from(pc.count))
                    .wrapping_add(u64::from(idx))
                    .wrapping_add(u64::from(pc.first_cc));
                q[3] = (q[3] & 0xF0) | (advance % 16) as u8;
            }
            if let Some(o) = info.pcr {
                let (base, ext) = read_pcr(&q[o..o + 6]);
                write_pcr(&mut q[o..o + 6], (base + shift) % TS_WRAP, ext);
            }
            for o in [info.pts, info.dts].into_iter().flatten() {
                let ts = read_timestamp(&q[o..o + 5]);
                write_timestamp(&mut q[o..o + 5], (ts + shift) % TS_WRAP);
            }
        }
    }
}

/// Byte length of a segment of `content_len` bytes padded to `bps` over `duration_ms`:
/// `round(bps × duration / 8 / 188)` packets, never less than the content itself.
pub fn padded_len(content_len: usize, bps: u64, duration_ms: u64) -> usize {
    let bits = u128::from(bps) * u128::from(duration_ms);
    let per_packet = (PACKET_LEN as u128) * 8 * 1000;
    let packets = (bits + per_packet / 2) / per_packet;
    let target = usize::try_from(packets.saturating_mul(PACKET_LEN as u128)).unwrap_or(usize::MAX);
    target.max(content_len)
}

/// Builds segment `n` holding `copies` template copies, padded to `target_len` bytes.
pub fn build_segment(t: &Template, n: u64, copies: u32, target_len: usize) -> Vec<u8> {
    let content = t.len() * copies as usize;
    let mut out = Vec::with_capacity(target_len.max(content));
    let first = n.wrapping_mul(u64::from(copies));
    for j in 0..u64::from(copies) {
        t.push_copy(first.wrapping_add(j), &mut out);
    }
    while out.len() + PACKET_LEN <= target_len {
        out.extend_from_slice(&NULL_PACKET);
    }
    out
}

/// How a stream of segments holding `copies` template copies each is cut into parts of
/// `part_90k` ticks (which divides the segment duration `copies × unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartLayout {
    /// Template copies per segment.
    pub copies: u32,
    /// Part duration, 90 kHz ticks.
    pub part_90k: u64,
}

impl PartLayout {
    /// Parts per segment.
    pub fn parts_per_segment(&self, t: &Template) -> u64 {
        (t.unit_90k * u64::from(self.copies)) / self.part_90k.max(1)
    }

    /// (copy within the segment, packet within the copy) where media offset `o` of a
    /// segment starts.
    fn position(&self, t: &Template, o: u64) -> (u64, usize) {
        let unit = t.unit_90k.max(1);
        if o >= unit * u64::from(self.copies) {
            return (u64::from(self.copies), 0);
        }
        (o / unit, t.packet_at(o % unit))
    }

    /// Whether part `k` of every segment opens with a key frame.
    pub fn independent(&self, t: &Template, k: u64) -> bool {
        t.key_frame_at((k * self.part_90k) % t.unit_90k.max(1))
    }
}

/// Builds part `abs` (numbered over the whole stream: segment `abs / K`, part `abs % K`)
/// from contiguous packet ranges of the re-stamped copies, padded with null packets to
/// `target_len`. The parts of segment N, concatenated, hold exactly the packets of
/// [`build_segment`]`(N)` in the same order (each followed by its own padding).
pub fn build_part(t: &Template, layout: PartLayout, abs: u64, target_len: usize) -> Vec<u8> {
    let k_per = layout.parts_per_segment(t).max(1);
    let (n, k) = (abs / k_per, abs % k_per);
    let (c0, p0) = layout.position(t, k * layout.part_90k);
    let (c1, p1) = layout.position(t, (k + 1) * layout.part_90k);
    let base = n.wrapping_mul(u64::from(layout.copies));
    let packets = t.packets.len();
    let mut out = Vec::with_capacity(target_len.max(PACKET_LEN));
    for c in c0..=c1.min(u64::from(layout.copies).saturating_sub(1)) {
        let from = if c == c0 { p0 } else { 0 };
        let to = if c == c1 { p1 } else { packets };
        if from < to {
            t.push_copy_range(base.wrapping_add(c), from, to, &mut out);
        }
    }
    while out.len() + PACKET_LEN <= target_len {
        out.extend_from_slice(&NULL_PACKET);
    }
    out
}

/// Byte length of part `k`'s content (before padding) in every segment.
pub fn part_content_len(t: &Template, layout: PartLayout, k: u64) -> usize {
    let (c0, p0) = layout.position(t, k * layout.part_90k);
    let (c1, p1) = layout.position(t, (k + 1) * layout.part_90k);
    let packets = t.packets.len() as u64;
    let first = c0 * packets + p0 as u64;
    let last = c1 * packets + p1 as u64;
    usize::try_from(last.saturating_sub(first)).unwrap_or(usize::MAX) * PACKET_LEN
}

/// Access-unit starts of the main stream of `data` (see [`Template::frames`]).
fn frame_starts(data: &[u8]) -> Vec<FrameStart> {
    let streams = program_streams(data);
    let video = streams.iter().find(|s| s.0 == 0x1B).map(|s| s.1);
    let mut main = video;
    let mut first: Option<u64> = None;
    let mut out = Vec::new();
    for (i, p) in data.chunks_exact(PACKET_LEN).enumerate() {
        let (Some(h), Some(st)) = (header(p), stamps(p)) else {
            continue;
        };
        let Some(ts) = st.dts.or(st.pts) else {
            continue;
        };
        if *main.get_or_insert(h.pid) != h.pid {
            continue;
        }
        let base = *first.get_or_insert(ts);
        let key = h.has_adaptation && p[4] >= 1 && p[5] & 0x40 != 0;
        out.push(FrameStart {
            packet: i,
            offset_90k: ts.wrapping_sub(base) % TS_WRAP,
            key,
        });
    }
    out
}

/// The decoded 4-byte packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Packet identifier.
    pub pid: u16,
    /// payload_unit_start_indicator.
    pub pusi: bool,
    /// Whether an adaptation field is present.
    pub has_adaptation: bool,
    /// Whether a payload is present.
    pub has_payload: bool,
    /// Continuity counter.
    pub cc: u8,
    /// Offset of the payload inside the packet, `None` if the adaptation field fills it.
    pub payload_offset: Option<usize>,
}

/// Decodes the header of one 188-byte packet; `None` without a sync byte.
pub fn header(p: &[u8]) -> Option<Header> {
    if p.len() != PACKET_LEN || p[0] != SYNC_BYTE {
        return None;
    }
    let afc = (p[3] >> 4) & 0x3;
    let has_adaptation = afc & 0x2 != 0;
    let has_payload = afc & 0x1 != 0;
    let payload_offset = if has_adaptation {
        let o = 5 + usize::from(p[4]);
        (o < PACKET_LEN).then_some(o)
    } else {
        Some(4)
    };
    Some(Header {
        pid: (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]),
        pusi: p[1] & 0x40 != 0,
        has_adaptation,
        has_payload,
        cc: p[3] & 0x0F,
        payload_offset,
    })
}

/// Offsets of PTS and DTS in a packet whose payload (at `start`) opens a PES packet.
/// Returns `Some((None, None))` for payloads that are not PES with an optional header
/// (e.g. PSI sections), `None` when a PES header is truncated.
fn pes_timestamp_offsets(p: &[u8], start: usize) -> Option<(Option<usize>, Option<usize>)> {
    let pl = &p[start..];
    if pl.len() < 4 || pl[0..3] != [0, 0, 1] {
        return Some((None, None));
    }
    let stream_id = pl[3];
    let no_optional_header = matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF
    );
    if no_optional_header {
        return Some((None, None));
    }
    if pl.len() < 9 {
        return None;
    }
    let flags = pl[7] >> 6;
    let header_len = usize::from(pl[8]);
    let need = match flags {
        0b10 => 5,
        0b11 => 10,
        _ => 0,
    };
    if header_len < need || 9 + need > pl.len() {
        return None;
    }
    let pts = (flags & 0b10 != 0).then_some(start + 9);
    let dts = (flags == 0b11).then_some(start + 14);
    Some((pts, dts))
}

/// Reads a 33-bit PES timestamp from its 5-byte field.
pub fn read_timestamp(b: &[u8]) -> u64 {
    (u64::from(b[0] >> 1) & 0x7) << 30
        | u64::from(b[1]) << 22
        | (u64::from(b[2]) >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4]) >> 1
}

/// Writes a 33-bit PES timestamp, keeping the 4-bit prefix and setting marker bits.
pub fn write_timestamp(b: &mut [u8], ts: u64) {
    let ts = ts % TS_WRAP;
    b[0] = (b[0] & 0xF0) | (((ts >> 30) as u8 & 0x7) << 1) | 1;
    b[1] = (ts >> 22) as u8;
    b[2] = (((ts >> 15) as u8) << 1) | 1;
    b[3] = (ts >> 7) as u8;
    b[4] = ((ts as u8) << 1) | 1;
}

/// Reads a PCR (33-bit base, 9-bit extension) from its 6-byte field.
pub fn read_pcr(b: &[u8]) -> (u64, u16) {
    let base = u64::from(b[0]) << 25
        | u64::from(b[1]) << 17
        | u64::from(b[2]) << 9
        | u64::from(b[3]) << 1
        | u64::from(b[4]) >> 7;
    let ext = (u16::from(b[4] & 0x1) << 8) | u16::from(b[5]);
    (base, ext)
}

/// Writes a PCR, keeping the 6 reserved bits as ones.
pub fn write_pcr(b: &mut [u8], base: u64, ext: u16) {
    let base = base % TS_WRAP;
    b[0] = (base >> 25) as u8;
    b[1] = (base >> 17) as u8;
    b[2] = (base >> 9) as u8;
    b[3] = (base >> 1) as u8;
    b[4] = (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8 & 0x1);
    b[5] = ext as u8;
}

/// Timestamps found in one packet, for inspection and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketStamps {
    /// PCR base (90 kHz) if present.
    pub pcr_base: Option<u64>,
    /// PTS if present.
    pub pts: Option<u64>,
    /// DTS if present.
    pub dts: Option<u64>,
}

/// Decodes the PCR/PTS/DTS carried by one packet (`None` if it is not a valid packet).
pub fn stamps(p: &[u8]) -> Option<PacketStamps> {
    let h = header(p)?;
    let mut s = PacketStamps::default();
    if h.has_adaptation && p[4] >= 7 && p[5] & 0x10 != 0 {
        s.pcr_base = Some(read_pcr(&p[6..12]).0);
    }
    if h.has_payload
        && h.pusi
        && let Some((pts, dts)) = pes_timestamp_offsets(p, h.payload_offset?)
    {
        s.pts = pts.map(|o| read_timestamp(&p[o..o + 5]));
        s.dts = dts.map(|o| read_timestamp(&p[o..o + 5]));
    }
    Some(s)
}

/// Elementary stream types of the program, from the first PAT and PMT in `data`.
/// Returns `(stream_type, pid)` pairs in PMT order.
pub fn program_streams(data: &[u8]) -> Vec<(u8, u16)> {
    let mut pmt_pid = None;
    for p in data.chunks_exact(PACKET_LEN) {
        let Some(h) = header(p) else { continue };
        let Some(o) = h.payload_offset else { continue };
        if !h.pusi {
            continue;
        }
        let Some(section) = psi_section(&p[o..]) else {
            continue;
        };
        if h.pid == 0 && pmt_pid.is_none() && section.first() == Some(&0x00) {
            pmt_pid = pat_first_pmt(section);
        } else if Some(h.pid) == pmt_pid && section.first() == Some(&0x02) {
            return pmt_streams(section);
        }
    }
    Vec::new()
}

/// The PSI section (table_id onwards) of a payload that starts one.
fn psi_section(payload: &[u8]) -> Option<&[u8]> {
    let ptr = usize::from(*payload.first()?);
    let s = payload.get(1 + ptr..)?;
    let len = (usize::from(*s.get(1)? & 0x0F) << 8) | usize::from(*s.get(2)?);
    s.get(..3 + len)
}

/// PMT PID of the first program listed in a PAT section.
fn pat_first_pmt(s: &[u8]) -> Option<u16> {
    let body = s.get(8..s.len().checked_sub(4)?)?;
    body.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        (program != 0).then_some((u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]))
    })
}

/// `(stream_type, pid)` of each elementary stream in a PMT section.
fn pmt_streams(s: &[u8]) -> Vec<(u8, u16)> {
    let mut out = Vec::new();
    let Some(end) = s.len().checked_sub(4) else {
        return out;
    };
    let Some(info_len) = s
        .get(10..12)
        .map(|b| (usize::from(b[0] & 0x0F) << 8) | usize::from(b[1]))
    else {
        return out;
    };
    let mut i = 12 + info_len;
    while i + 5 <= end {
        let stream_type = s[i];
        let pid = (u16::from(s[i + 1] & 0x1F) << 8) | u16::from(s[i + 2]);
        let es_info = (usize::from(s[i + 3] & 0x0F) << 8) | usize::from(s[i + 4]);
        out.push((stream_type, pid));
        i += 5 + es_info;
    }
    out
}

/// Payload of the first PES packet on `pid` (header stripped), reassembled across packets.
pub fn first_pes_payload(data: &[u8], pid: u16) -> Option<Vec<u8>> {
    let mut buf: Option<Vec<u8>> = None;
    for p in data.chunks_exact(PACKET_LEN) {
        let Some(h) = header(p) else { continue };
        if h.pid != pid || !h.has_payload {
            continue;
        }
        let Some(o) = h.payload_offset else { continue };
        match (&mut buf, h.pusi) {
            (None, true) => buf = Some(p[o..].to_vec()),
            (Some(_), true) => break,
            (Some(b), false) => b.extend_from_slice(&p[o..]),
            (None, false) => {}
        }
    }
    let pes = buf?;
    if pes.len() < 9 || pes[0..3] != [0, 0, 1] {
        return None;
    }
    let start = 9 + usize::from(pes[8]);
    pes.get(start..).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::asset;

    fn template() -> Template {
        Template::parse(asset::GOP_2S, 180_000).expect("embedded asset parses")
    }

    fn packets(seg: &[u8]) -> impl Iterator<Item = &[u8]> {
        seg.chunks_exact(PACKET_LEN)
    }

    #[test]
    fn parts_are_contiguous_packet_ranges_of_the_segment() {
        for (secs, part_ms) in [(2u64, 200u64), (1, 200), (3, 300), (2, 1000), (4, 2000)] {
            let m = asset::Media::for_duration(std::time::Duration::from_secs(secs)).unwrap();
            let t = m.template(asset::Flavor::Muxed);
            let layout = PartLayout {
                copies: m.copies,
                part_90k: part_ms * 90,
            };
            let k = layout.parts_per_segment(t);
            assert_eq!(k, secs * 1000 / part_ms);
            for n in [0u64, 7] {
                let seg = build_segment(t, n, m.copies, 0);
                let mut joined = Vec::new();
                for j in 0..k {
                    let part = build_part(t, layout, n * k + j, 0);
                    assert!(!part.is_empty(), "{secs}s/{part_ms}ms: part {j} is empty");
                    assert_eq!(part.len(), part_content_len(t, layout, j));
                    // A part that does not start a GOP copy (which opens with PAT/PMT)
                    // opens with the main-stream unit due at its start.
                    let in_copy = (j * part_ms * 90) % t.unit_90k();
                    if in_copy != 0 {
                        let dts = |p: &[u8]| {
                            let s = stamps(&p[..PACKET_LEN]).unwrap();
                            s.dts.or(s.pts).expect("opens a PES")
                        };
                        let seg_start = dts(&seg[t.frames()[0].packet * PACKET_LEN..]);
                        let got = dts(&part) - seg_start;
                        assert!(
                            got.abs_diff(j * part_ms * 90) <= 450,
                            "{secs}s/{part_ms}ms part {j}: {got}"
                        );
                    }
                    assert_eq!(
                        layout.independent(t, j),
                        (j * part_ms) % (t.unit_90k() / 90) == 0,
                        "key frames open each GOP copy only"
                    );
                    joined.extend_from_slice(&part);
                }
                assert_eq!(joined, seg, "{secs}s/{part_ms}ms segment {n}");
            }
        }
    }

    #[test]
    fn part_padding_reaches_the_bitrate_share() {
        let m = asset::Media::for_duration(std::time::Duration::from_secs(1)).unwrap();
        let t = m.template(asset::Flavor::Muxed);
        let layout = PartLayout {
            copies: 1,
            part_90k: 18_000,
        };
        let target = padded_len(part_content_len(t, layout, 2), 2_000_000, 200);
        let p = build_part(t, layout, 12, target);
        assert_eq!(p.len(), target);
        assert_eq!(target, 266 * PACKET_LEN);
    }

    #[test]
    fn timestamp_and_pcr_roundtrip() {
        for ts in [0u64, 1, 126_000, TS_WRAP - 1, 0x1_2345_6789 % TS_WRAP] {
            let mut b = [0x21u8, 0, 0, 0, 0];
            write_timestamp(&mut b, ts);
            assert_eq!(read_timestamp(&b), ts);
            assert_eq!(b[0] >> 4, 0x2, "prefix kept");
            assert_eq!(b[0] & 1 & b[2] & b[4], 1, "marker bits");
            let mut p = [0u8; 6];
            write_pcr(&mut p, ts, 299);
            assert_eq!(read_pcr(&p), (ts, 299));
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Template::parse(&[], 1).unwrap_err(), TsError::BadLength(0));
        assert_eq!(
            Template::parse(&[0u8; 100], 1).unwrap_err(),
            TsError::BadLength(100)
        );
        assert_eq!(
            Template::parse(&[0u8; 188], 1).unwrap_err(),
            TsError::NoSync(0)
        );
        assert_eq!(
            Template::parse(&NULL_PACKET, 1).unwrap_err(),
            TsError::NoTimestamps
        );
    }

    #[test]
    fn restamps_pts_dts_pcr_by_segment_index() {
        let t = template();
        let raw: Vec<PacketStamps> = packets(t.raw()).map(|p| stamps(p).unwrap()).collect();
        assert!(raw.iter().any(|s| s.pcr_base.is_some()), "asset has a PCR");
        assert!(raw.iter().filter(|s| s.pts.is_some()).count() > 10);
        for n in [0u64, 1, 7, 1_000_000] {
            let seg = build_segment(&t, n, 1, 0);
            let shift = (n * 180_000) % TS_WRAP;
            for (a, b) in raw.iter().zip(packets(&seg).map(|p| stamps(p).unwrap())) {
                let f = |x: Option<u64>| x.map(|v| (v + shift) % TS_WRAP);
                assert_eq!(b.pts, f(a.pts));
                assert_eq!(b.dts, f(a.dts));
                assert_eq!(b.pcr_base, f(a.pcr_base));
            }
        }
    }

    #[test]
    fn only_cc_pcr_pts_dts_bytes_change() {
        let t = template();
        let seg = build_segment(&t, 3, 1, 0);
        for ((a, b), info) in packets(t.raw()).zip(packets(&seg)).zip(&t.packets) {
            let mut patched = [false; PACKET_LEN];
            for (o, len) in [(info.pcr, 6), (info.pts, 5), (info.dts, 5)] {
                if let Some(o) = o {
                    patched[o..o + len].iter_mut().for_each(|x| *x = true);
                }
            }
            assert_eq!(a[3] & 0xF0, b[3] & 0xF0);
            if info.pcr.is_some() {
                assert_eq!(
                    a[10] & 0x7F,
                    b[10] & 0x7F,
                    "reserved bits and extension kept"
                );
                assert_eq!(a[11], b[11]);
            }
            for i in (0..PACKET_LEN).filter(|&i| i != 3 && !patched[i]) {
                assert_eq!(a[i], b[i], "byte {i} pid {:#x}", info.pid);
            }
        }
    }

    #[test]
    fn continuity_counters_continue_across_copies_and_segments() {
        let t = template();
        for copies in [1u32, 2, 3] {
            let mut stream = Vec::new();
            for n in 5..9 {
                stream.extend(build_segment(&t, n, copies, 0));
            }
            let mut last: BTreeMap<u16, u8> = BTreeMap::new();
            for p in packets(&stream) {
                let h = header(p).unwrap();
                if !h.has_payload {
                    continue;
                }
                if let Some(prev) = last.insert(h.pid, h.cc) {
                    assert_eq!(h.cc, (prev + 1) % 16, "pid {:#x} copies {copies}", h.pid);
                }
            }
            assert!(last.len() >= 3, "PAT, PMT and elementary streams seen");
        }
    }

    #[test]
    fn segments_are_built_independently_of_each_other() {
        let t = template();
        let a = build_segment(&t, 42, 2, 0);
        let mut b = build_segment(&t, 41, 2, 0);
        b.extend(build_segment(&t, 42, 2, 0));
        assert_eq!(&b[b.len() - a.len()..], &a[..]);
    }

    #[test]
    fn padding_size_and_packets() {
        let t = template();
        for (bps, ms) in [
            (200_000u64, 2000u64),
            (800_000, 2000),
            (2_000_000, 1000),
            (1_000, 1000),
        ] {
            let want = padded_len(t.len(), bps, ms);
            let seg = build_segment(&t, 9, 1, want);
            assert_eq!(seg.len(), want);
            assert_eq!(seg.len() % PACKET_LEN, 0);
            assert!(packets(&seg).all(|p| p[0] == SYNC_BYTE));
            let nulls = packets(&seg)
                .filter(|p| header(p).unwrap().pid == NULL_PID)
                .count();
            assert_eq!(nulls, (want - t.len()) / PACKET_LEN);
        }
        // 200 kbit/s × 2 s = 50 000 B = 265.96 packets → 266 packets.
        assert_eq!(padded_len(0, 200_000, 2000), 266 * PACKET_LEN);
        assert_eq!(padded_len(99_999, 200_000, 2000), 99_999);
    }

    #[test]
    fn timestamps_wrap_at_33_bits() {
        let t = template();
        let n = TS_WRAP / 180_000 + 1;
        let seg = build_segment(&t, n, 1, 0);
        for p in packets(&seg) {
            let s = stamps(p).unwrap();
            assert!(s.pts.unwrap_or(0) < TS_WRAP && s.pcr_base.unwrap_or(0) < TS_WRAP);
        }
    }

    #[test]
    fn finds_program_streams_and_first_pes() {
        let streams = program_streams(asset::GOP_2S);
        assert_eq!(
            streams.iter().map(|s| s.0).collect::<Vec<_>>(),
            vec![0x1B, 0x0F]
        );
        let video = first_pes_payload(asset::GOP_2S, streams[0].1).unwrap();
        assert_eq!(&video[..4], &[0, 0, 0, 1]);
    }
}
