//! One LL-HLS track of a native viewer: a reloader making blocking playlist requests
//! for the next part, and a loader fetching parts in order — the preload-hinted part
//! while the blocking reload for it waits. The scheduling decisions are the pure
//! functions of [`crate::engine::ll`]; this module does the I/O. The rules and their
//! sources are in docs/viewer.md ("LL-HLS").

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;
use tokio::time::Instant;
use url::Url;

use crate::backoff::Backoff;
use crate::engine::http::Connections;
use crate::engine::ll::{self, Locate, MergeError, PartPos, Piece, WaitSplit};
use crate::engine::native::{
    Fetched, LoadedPlaylist, Shared, TrackEnd, end_of, fetch_with_retries, load_init_section,
    parse_error, parse_media, sane_timing,
};
use crate::hls::{InitSection, MediaPlaylist, PreloadHintType};
use crate::stats::event::{Event, LifecycleEvent, PlaybackEvent, RequestKind};

/// How an LL-HLS track ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LlEnd {
    /// Ended for good (end of stream, stopped, failed).
    Done(TrackEnd),
    /// The server did not block: go on as a classic HLS track.
    FellBack,
}

/// Play `first` (the track's first media playlist, loaded from `url`) as LL-HLS until
/// the end, the stop, a failure, or a server that does not block.
pub(crate) async fn run(
    shared: Arc<Shared>,
    track: usize,
    url: Url,
    first: LoadedPlaylist,
    conn: Connections,
) -> LlEnd {
    let (pl, _body, _began) = first;
    let pl = sane_timing(
        &shared,
        &url,
        Arc::try_unwrap(pl).unwrap_or_else(|a| (*a).clone()),
    );
    shared.set_target(track, pl.target_duration);
    let pl = Arc::new(pl);
    let (tx, rx) = watch::channel(pl.clone());
    let reloader = reload_loop(shared.clone(), track, url, pl, conn.handle(), tx);
    let loader = part_loop(shared.clone(), track, conn, rx);
    let (r, l) = tokio::join!(reloader, loader);
    match (r, l) {
        (_, TrackEnd::EndOfStream) => LlEnd::Done(TrackEnd::EndOfStream),
        (LlEnd::FellBack, _) if !shared.cancelled() => LlEnd::FellBack,
        (LlEnd::Done(TrackEnd::Failed), _) | (_, TrackEnd::Failed) => LlEnd::Done(TrackEnd::Failed),
        _ => LlEnd::Done(TrackEnd::Cancelled),
    }
}

/// Blocking reloads, one after the other: each asks for the part after the last one
/// the current copy lists (with `_HLS_skip=YES` when allowed), merges a delta update
/// into the copy and publishes the result. Ends (dropping `tx`) at ENDLIST, on the
/// stop, on a failure, or when the server answers without the part asked for.
async fn reload_loop(
    shared: Arc<Shared>,
    track: usize,
    url: Url,
    mut current: Arc<MediaPlaylist>,
    mut conn: Connections,
    tx: watch::Sender<Arc<MediaPlaylist>>,
) -> LlEnd {
    let params = &shared.params;
    let mut backoff =
        Backoff::standard(params.seed ^ shared.viewer.id ^ ((track as u64) << 32) ^ 0xB1);
    let mut url = url;
    let mut loaded_at = Instant::now();
    let mut retry = false;
    // Set when a delta update could not be merged: the next request asks for it all.
    let mut full_next = false;
    loop {
        if shared.cancelled() {
            return LlEnd::Done(TrackEnd::Cancelled);
        }
        if current.end_list {
            return LlEnd::Done(TrackEnd::EndOfStream);
        }
        let asked = ll::next_part(&current);
        let (now, wall) = (Instant::now(), SystemTime::now());
        let skip = !full_next && ll::ask_skip(&current, now - loaded_at);
        let due = ll::due(&current, asked).map(|d| ll::due_instant(d, now, wall));
        let request = ll::blocking_url(&url, asked, skip);
        let (f, meter) = shared
            .fetch(
                &mut conn,
                &request,
                None,
                true,
                RequestKind::Blocking,
                retry,
            )
            .await;
        let parsed = parse_media(&f);
        let error = parse_error(&f, &parsed);
        let split = match (due, meter.head_at()) {
            (Some(due), Some(head)) if error.is_none() => {
                Some(ll::split_wait(meter.started(), head, due))
            }
            _ => None,
        };
        let Some(Ok(pl)) = parsed else {
            meter.finish_held(&f, RequestKind::Blocking, error, None);
            retry = true;
            if f.connect_error {
                conn.reset();
                if !params.reconnect {
                    return LlEnd::Done(TrackEnd::Failed);
                }
            }
            // A 503 (the part did not appear within the server's limit), a 4xx or a bad
            // body: back off, then ask again.
            if !shared
                .sleep_until(Instant::now() + backoff.next_delay())
                .await
            {
                return LlEnd::Done(TrackEnd::Cancelled);
            }
            if f.connect_error {
                shared.emit(Event::Lifecycle(LifecycleEvent::Reconnected));
            }
            continue;
        };
        let pl = sane_timing(&shared, &f.final_url, pl);
        let merged = match ll::merge_delta(&current, pl) {
            Ok(m) => m,
            Err(MergeError::Gap) => {
                meter.finish_held(&f, RequestKind::Blocking, None, None);
                tracing::debug!(url = %f.final_url, "delta update skips segments this copy lacks; asking for the whole playlist");
                full_next = true;
                continue;
            }
        };
        full_next = false;
        let satisfied = ll::satisfies(&merged, asked);
        meter.finish_held(&f, RequestKind::Blocking, None, split.filter(|_| satisfied));
        if !satisfied {
            tracing::debug!(url = %f.final_url, ?asked, "blocking reload answered without the part asked for");
            return LlEnd::FellBack;
        }
        retry = false;
        backoff.reset();
        url = f.final_url.clone();
        shared.set_target(track, merged.target_duration);
        loaded_at = Instant::now();
        current = Arc::new(merged);
        tx.send_replace(current.clone());
    }
}

/// Fetch parts in order from the start point (PART-HOLD-BACK from the live edge, at an
/// independent part), whole segments where the playlist no longer lists their parts,
/// and the preload-hinted part when it is the one wanted next; feed the player.
async fn part_loop(
    shared: Arc<Shared>,
    track: usize,
    mut conn: Connections,
    mut rx: watch::Receiver<Arc<MediaPlaylist>>,
) -> TrackEnd {
    let params = &shared.params;
    let mut backoff =
        Backoff::standard(params.seed ^ shared.viewer.id.rotate_left(17) ^ track as u64 ^ 0x77);
    let mut current_map: Option<InitSection> = None;
    // The part whose hint was already requested (a failed hint is not asked again; the
    // part is loaded once listed).
    let mut hinted: Option<PartPos> = None;

    // Where to start: wait for a playlist that lists parts.
    let mut cursor = loop {
        let pl = rx.borrow_and_update().clone();
        if let Some((pos, skipped)) = ll::start(&pl) {
            if track == 0 {
                shared.set_start(skipped);
            }
            break pos;
        }
        if pl.end_list {
            return end_of(&shared, &pl, track);
        }
        if !changed(&shared, &mut rx).await {
            return TrackEnd::Cancelled;
        }
    };

    loop {
        if shared.cancelled() {
            return TrackEnd::Cancelled;
        }
        let pl = rx.borrow_and_update().clone();
        match ll::locate(&pl, cursor) {
            Locate::Load(piece, then) => {
                let (uri, range, kind, media, date, map, gap) = match piece {
                    Piece::Part { pos, part } => (
                        &part.uri,
                        part.byte_range,
                        RequestKind::Part,
                        part.duration,
                        part_date(&pl, pos),
                        map_of(&pl, pos.msn),
                        part.gap,
                    ),
                    Piece::Segment { seg, from } => (
                        &seg.uri,
                        seg.byte_range,
                        RequestKind::Segment,
                        seg.duration.saturating_sub(from),
                        seg.program_date_time.map(|d| d + from),
                        seg.map.as_ref(),
                        seg.gap,
                    ),
                };
                if gap {
                    // Marked missing: nothing to load; the buffer continues after it.
                    shared.resync(track);
                    cursor = then;
                    continue;
                }
                if let Err(end) =
                    load_init_section(&shared, &mut conn, &mut backoff, map, &mut current_map).await
                {
                    return end;
                }
                let range = range.map(|r| (r.offset, r.length));
                let uri = uri.clone();
                match fetch_with_retries(&shared, &mut conn, &mut backoff, &uri, range, kind).await
                {
                    Fetched::Ok(_) => shared.buffered(track, media, date),
                    Fetched::GaveUp => {
                        shared.emit(Event::Playback(PlaybackEvent::SegmentSkipped));
                        shared.resync(track);
                    }
                    Fetched::Cancelled => return TrackEnd::Cancelled,
                    Fetched::Failed => return TrackEnd::Failed,
                }
                cursor = then;
            }
            Locate::Skip(next) => cursor = next,
            Locate::Expired => {
                let first = pl.segments.first().map_or(cursor.msn, |s| s.msn);
                shared.emit(Event::Playback(PlaybackEvent::SegmentsExpired {
                    count: first - cursor.msn,
                }));
                shared.resync(track);
                cursor = ll::start(&pl).map_or(ll::next_part(&pl), |(pos, _)| pos);
            }
            Locate::NotYet => {
                if pl.end_list {
                    return end_of(&shared, &pl, track);
                }
                // The hint is only taken when its init section is the one loaded.
                let map_ready =
                    map_of(&pl, cursor.msn).is_none_or(|m| current_map.as_ref() == Some(m));
                if hinted != Some(cursor) && ll::next_part(&pl) == cursor && map_ready {
                    hinted = Some(cursor);
                    match fetch_hint(&shared, track, &mut conn, &pl, cursor).await {
                        Hint::Loaded => {
                            cursor = PartPos::new(cursor.msn, cursor.part + 1);
                            continue;
                        }
                        Hint::Cancelled => return TrackEnd::Cancelled,
                        Hint::Failed => {}
                    }
                }
                if !rx.has_changed().unwrap_or(false) && !changed(&shared, &mut rx).await {
                    // The reloader stopped: ENDLIST (handled on the next pass), the stop,
                    // a failure or a fall back to classic HLS.
                    if rx.borrow().end_list {
                        continue;
                    }
                    return TrackEnd::Cancelled;
                }
            }
        }
    }
}

/// How a preload-hinted part's request ended.
enum Hint {
    /// Loaded and buffered.
    Loaded,
    /// Not loaded (no usable hint, or the request failed): load the part once listed.
    Failed,
    /// The swarm stopped the viewer.
    Cancelled,
}

/// Request the part `pos` from `pl`'s `EXT-X-PRELOAD-HINT:TYPE=PART` (one attempt: a
/// failed hint is requested again as a listed part), timing its hold and lateness from
/// its first body byte (the origin sends it once the part is complete).
async fn fetch_hint(
    shared: &Shared,
    track: usize,
    conn: &mut Connections,
    pl: &MediaPlaylist,
    pos: PartPos,
) -> Hint {
    let Some(hint) = pl
        .preload_hints
        .iter()
        .find(|h| h.kind == PreloadHintType::Part)
    else {
        return Hint::Failed;
    };
    let range = match (hint.byte_range_start, hint.byte_range_length) {
        (None, None) => None,
        (start, Some(length)) => Some((start.unwrap_or(0), length)),
        // An open-ended range ("from START to the end") cannot be asked for exactly.
        (Some(_), None) => return Hint::Failed,
    };
    if shared.cancelled() {
        return Hint::Cancelled;
    }
    let (now, wall) = (Instant::now(), SystemTime::now());
    let due = ll::due(pl, pos).map(|d| ll::due_instant(d, now, wall));
    let (f, meter) = shared
        .fetch(conn, &hint.uri, range, false, RequestKind::Hint, false)
        .await;
    let error = match f.error {
        None if f.bytes == 0 => Some(crate::stats::event::ErrorClass::EmptyBody),
        e => e,
    };
    let split: Option<WaitSplit> = match (due, meter.first_byte_at()) {
        (Some(due), Some(first)) if error.is_none() => {
            Some(ll::split_wait(meter.started(), first, due))
        }
        _ => None,
    };
    meter.finish_held(&f, RequestKind::Hint, error, split);
    if error.is_some() {
        if f.connect_error {
            conn.reset();
        }
        return Hint::Failed;
    }
    let media = pl.part_target.unwrap_or_default();
    let date = ll::due(pl, pos).and_then(|end| end.checked_sub(media));
    shared.buffered(track, media, date);
    Hint::Loaded
}

/// The date of the first sample of the part at `pos` (its due time minus its length).
fn part_date(pl: &MediaPlaylist, pos: PartPos) -> Option<SystemTime> {
    let end = ll::due(pl, pos)?;
    let length = match ll::locate(pl, pos) {
        Locate::Load(Piece::Part { part, .. }, _) => part.duration,
        _ => return None,
    };
    end.checked_sub(length)
}

/// The `EXT-X-MAP` in effect for segment `msn` (the segment in production uses the
/// last listed one's).
fn map_of(pl: &MediaPlaylist, msn: u64) -> Option<&InitSection> {
    match pl.segment(msn) {
        Some(seg) => seg.map.as_ref(),
        None => pl.segments.last().and_then(|s| s.map.as_ref()),
    }
}

/// Wait for a newer playlist; false if the viewer stopped or the reloader is gone.
async fn changed(shared: &Shared, rx: &mut watch::Receiver<Arc<MediaPlaylist>>) -> bool {
    tokio::select! {
        r = rx.changed() => r.is_ok(),
        _ = shared.viewer.cancel.cancelled() => false,
    }
}
