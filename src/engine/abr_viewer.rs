//! A native viewer's ABR state (`-variant abr`): its ladder (each rung's media playlist
//! and the audio rendition of the rung's group), its [`Abr`] controller, the rung its
//! tracks follow, and its figures (switches, media played per rung, mean played bitrate).
//!
//! Track 0 plays the current rung's media playlist; track 1, if the start rung's audio
//! group has a rendition with a URI, plays the current rung's audio rendition (a rung
//! whose group has none keeps the one playing). The controller decides only at track 0's
//! segment boundaries; both tracks' playlist loaders follow the rung through a watch
//! channel.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use url::Url;

use crate::engine::abr::abandon::{Emergency, Loading};
use crate::engine::abr::{Abr, AbrSettings, MAX_RUNGS, Rung, RungLedger, Switch};
use crate::hls::{self, MasterPlaylist, MediaPlaylist};

/// One rung of a viewer's ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct LadderRung {
    /// The variant's media playlist.
    pub uri: Url,
    /// The audio rendition (with a URI) of the variant's `AUDIO` group, if any.
    pub audio: Option<Url>,
    /// `BANDWIDTH`, bits per second.
    pub bandwidth: u64,
}

/// The ladder of a master playlist: its variants by ascending `BANDWIDTH`.
pub fn ladder_of(master: &MasterPlaylist) -> Vec<LadderRung> {
    hls::ladder(master)
        .into_iter()
        .map(|v| LadderRung {
            uri: v.uri.clone(),
            audio: hls::audio_renditions_for(master, v)
                .first()
                .and_then(|r| r.uri.clone()),
            bandwidth: v.bandwidth,
        })
        .collect()
}

/// A viewer's figures so far.
#[derive(Debug, Default)]
struct Figures {
    ledger: RungLedger,
    switches_up: u32,
    switches_down: u32,
    /// Σ media played × its rung's BANDWIDTH, bits.
    bits: f64,
    played: Duration,
}

/// What one ABR viewer's tracks share.
#[derive(Debug)]
pub struct AbrViewer {
    ladder: Vec<LadderRung>,
    controller: Mutex<Abr>,
    rung: watch::Sender<usize>,
    figures: Mutex<Figures>,
}

impl AbrViewer {
    /// The ABR state of a viewer of `master` (`None` for a master without variants).
    pub fn new(master: &MasterPlaylist, settings: AbrSettings) -> Option<Self> {
        let ladder = ladder_of(master);
        if ladder.is_empty() {
            return None;
        }
        let rungs = ladder
            .iter()
            .map(|r| Rung {
                bandwidth: r.bandwidth,
                average_bandwidth: None,
            })
            .collect();
        let mut rungs: Vec<Rung> = rungs;
        for (rung, v) in rungs.iter_mut().zip(hls::ladder(master)) {
            rung.average_bandwidth = v.average_bandwidth;
        }
        let controller = Abr::new(rungs, settings);
        let start = controller.current();
        Some(AbrViewer {
            ladder,
            controller: Mutex::new(controller),
            rung: watch::channel(start).0,
            figures: Mutex::new(Figures::default()),
        })
    }

    /// The tracks to play at the start: the start rung's media playlist, then its audio
    /// rendition if it has one.
    pub fn start_tracks(&self) -> Vec<Url> {
        let r = &self.ladder[self.current()];
        std::iter::once(r.uri.clone())
            .chain(r.audio.clone())
            .collect()
    }

    /// The rung playing now.
    pub fn current(&self) -> usize {
        *self.rung.borrow()
    }

    /// Follow the rung (for a track's playlist loader).
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.rung.subscribe()
    }

    /// What `track` loads at `rung`: track 0 the rung's media playlist, track 1 its audio
    /// rendition (`None`: keep the one playing); other tracks follow nothing.
    pub fn url_for(&self, track: usize, rung: usize) -> Option<Url> {
        let r = self.ladder.get(rung)?;
        match track {
            0 => Some(r.uri.clone()),
            1 => r.audio.clone(),
            _ => None,
        }
    }

    /// Track 0 loaded a segment: fold the download into the estimate.
    pub fn segment_loaded(&self, total: Duration, ttfb: Option<Duration>, bytes: u64) {
        if let Ok(mut c) = self.controller.lock() {
            c.segment_loaded(total, ttfb, bytes);
        }
    }

    /// At a segment boundary of track 0: the rung switch decided, if any (the tracks'
    /// loaders are told; the switch is counted).
    pub fn at_boundary(&self, buffer: Duration, fragment: Duration, live: bool) -> Option<Switch> {
        let switch = self
            .controller
            .lock()
            .ok()?
            .at_boundary(buffer, fragment, live)?;
        self.switched(switch);
        Some(switch)
    }

    /// Track 0's media playlist load took `took` (the abandon rule's cost of a switch).
    pub fn playlist_loaded(&self, took: Duration) {
        if let Ok(mut c) = self.controller.lock() {
            c.playlist_loaded(took);
        }
    }

    /// While track 0 loads a segment of `fragment` from `rung`: the emergency abandon
    /// rule ([`Abr::abandon_check`]); a switch it makes is counted and told to the
    /// tracks' loaders.
    pub fn abandon_check(
        &self,
        rung: usize,
        loading: &Loading,
        buffer: Duration,
        fragment: Duration,
        live: bool,
    ) -> Option<(Emergency, Option<Switch>)> {
        let fired = self
            .controller
            .lock()
            .ok()?
            .abandon_check(rung, loading, buffer, fragment, live)?;
        if let Some(s) = fired.1 {
            self.switched(s);
        }
        Some(fired)
    }

    /// Track 0 aborted the download the rule fired on (its `next` rung): the rung drops
    /// to the lowest switch ([`Abr::abort`]); the switch is counted and told.
    pub fn abort(
        &self,
        next: usize,
        buffer: Duration,
        fragment: Duration,
        live: bool,
    ) -> Option<Switch> {
        let switch = self
            .controller
            .lock()
            .ok()?
            .abort(next, buffer, fragment, live)?;
        self.switched(switch);
        Some(switch)
    }

    fn switched(&self, switch: Switch) {
        if let Ok(mut f) = self.figures.lock() {
            if switch.to > switch.from {
                f.switches_up += 1;
            } else {
                f.switches_down += 1;
            }
        }
        self.rung.send_replace(switch.to);
    }

    /// Track 0 buffered `media` of `rung`.
    pub fn buffered(&self, rung: usize, media: Duration) {
        if let Ok(mut f) = self.figures.lock() {
            f.ledger.buffered(rung, media);
        }
    }

    /// `played` media was played: the (rung, media) pieces, rungs capped at
    /// [`MAX_RUNGS`] − 1, also folded into the mean played bitrate.
    pub fn played(&self, played: Duration) -> Vec<(u8, Duration)> {
        let Ok(mut f) = self.figures.lock() else {
            return Vec::new();
        };
        let pieces = f.ledger.played(played);
        for &(rung, media) in &pieces {
            let bw = self.ladder.get(rung).map_or(0, |r| r.bandwidth);
            f.bits += media.as_secs_f64() * bw as f64;
            f.played += media;
        }
        pieces
            .into_iter()
            .map(|(r, m)| (r.min(MAX_RUNGS - 1) as u8, m))
            .collect()
    }

    /// The viewer's totals: (switches up, switches down, mean played bitrate in bit/s
    /// or `None` if nothing was played, media played).
    pub fn totals(&self) -> (u32, u32, Option<u64>, Duration) {
        let Ok(f) = self.figures.lock() else {
            return (0, 0, None, Duration::ZERO);
        };
        let mean = (!f.played.is_zero()).then(|| (f.bits / f.played.as_secs_f64()).round() as u64);
        (f.switches_up, f.switches_down, mean, f.played)
    }
}

/// Where a track continues after its playlist changed source (a rung switch): the
/// segment of `pl` covering `next_date` (the date the buffer reaches), when both are
/// dated; else the same media sequence number `next_msn` (rungs numbered alike).
pub fn continue_at(pl: &MediaPlaylist, next_msn: u64, next_date: Option<SystemTime>) -> u64 {
    let Some(date) = next_date else {
        return next_msn;
    };
    // A millisecond of slack so rounding in the dates does not pick the segment before.
    let at = date + Duration::from_millis(1);
    pl.segments
        .iter()
        .find(|s| {
            s.program_date_time
                .is_some_and(|start| start <= at && at < start + s.duration)
        })
        .map_or(next_msn, |s| s.msn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"lo\",NAME=\"a\",DEFAULT=YES,URI=\"a-lo.m3u8\"\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"hi\",NAME=\"a\",DEFAULT=YES,URI=\"a-hi.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO=\"hi\"\nhi.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=200000,AUDIO=\"lo\"\nlo.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000,AVERAGE-BANDWIDTH=600000,AUDIO=\"lo\"\nmid.m3u8\n";

    fn master() -> MasterPlaylist {
        let base = Url::parse("http://h/x/master.m3u8").unwrap();
        match hls::parse(MASTER.as_bytes(), &base) {
            Ok(hls::Playlist::Master(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_ladder_ascends_and_audio_follows_the_group() {
        let l = ladder_of(&master());
        let names: Vec<_> = l.iter().map(|r| r.uri.path().to_string()).collect();
        assert_eq!(names, ["/x/lo.m3u8", "/x/mid.m3u8", "/x/hi.m3u8"]);
        let audio: Vec<_> = l
            .iter()
            .map(|r| r.audio.as_ref().map(|u| u.path().to_string()))
            .collect();
        assert_eq!(
            audio,
            [
                Some("/x/a-lo.m3u8".into()),
                Some("/x/a-lo.m3u8".into()),
                Some("/x/a-hi.m3u8".into())
            ]
        );
        let v = AbrViewer::new(&master(), AbrSettings::default()).unwrap();
        assert_eq!(v.start_tracks().len(), 2);
        assert_eq!(v.url_for(1, 2).unwrap().path(), "/x/a-hi.m3u8");
        assert_eq!(v.url_for(0, 1).unwrap().path(), "/x/mid.m3u8");
    }

    #[test]
    fn a_switch_moves_the_rung_and_counts() {
        let v = AbrViewer::new(&master(), AbrSettings::default()).unwrap();
        let mut rx = v.subscribe();
        assert_eq!(
            v.at_boundary(Duration::from_secs(4), Duration::from_secs(2), true),
            None
        );
        // 10 Mbit/s measured: up to the top.
        v.segment_loaded(Duration::from_secs(1), None, 1_250_000);
        let s = v.at_boundary(Duration::from_secs(4), Duration::from_secs(2), true);
        assert_eq!(s, Some(Switch { from: 0, to: 2 }));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 2);
        v.buffered(0, Duration::from_secs(2));
        v.buffered(2, Duration::from_secs(2));
        let pieces = v.played(Duration::from_secs(4));
        assert_eq!(
            pieces,
            vec![(0, Duration::from_secs(2)), (2, Duration::from_secs(2))]
        );
        let (up, down, mean, played) = v.totals();
        assert_eq!((up, down, played), (1, 0, Duration::from_secs(4)));
        assert_eq!(mean, Some(1_100_000), "(2 s × 200 k + 2 s × 2 M) / 4 s");
    }

    #[test]
    fn continuity_by_date_or_by_number() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n\
            #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n#EXTINF:2,\ns100.ts\n\
            #EXTINF:2,\ns101.ts\n#EXTINF:2,\ns102.ts\n";
        let base = Url::parse("http://h/p.m3u8").unwrap();
        let Ok(hls::Playlist::Media(pl)) = hls::parse(text.as_bytes(), &base) else {
            panic!()
        };
        // The buffer reaches t0 + 2 s: segment 101 starts there.
        assert_eq!(continue_at(&pl, 7, Some(t0 + Duration::from_secs(2))), 101);
        // A date inside 102 picks 102.
        assert_eq!(
            continue_at(&pl, 7, Some(t0 + Duration::from_millis(4_500))),
            102
        );
        // Undated, or a date outside the window: the same number.
        assert_eq!(continue_at(&pl, 101, None), 101);
        assert_eq!(continue_at(&pl, 99, Some(t0 + Duration::from_secs(60))), 99);
    }
}
