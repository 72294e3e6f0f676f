//! Which variants and renditions a simulated viewer plays.

use std::fmt;
use std::str::FromStr;

use super::model::{MasterPlaylist, Rendition, RenditionType, Variant};

/// Which variant streams of a master playlist each viewer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariantChoice {
    /// Every variant at once, like FFmpeg `-map 0`.
    All,
    /// The variant with the highest `BANDWIDTH`.
    Highest,
    /// The variant with the lowest `BANDWIDTH`.
    Lowest,
    /// The first variant listed.
    First,
    /// Adaptive bitrate: one variant at a time, chosen at each segment boundary from the
    /// ladder (every variant by ascending `BANDWIDTH`, see [`ladder`]); native engine only.
    Abr,
}

impl VariantChoice {
    /// Every choice, in the order shown to users.
    pub const ALL: [VariantChoice; 5] = [
        VariantChoice::All,
        VariantChoice::Highest,
        VariantChoice::Lowest,
        VariantChoice::First,
        VariantChoice::Abr,
    ];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            VariantChoice::All => "all",
            VariantChoice::Highest => "highest",
            VariantChoice::Lowest => "lowest",
            VariantChoice::First => "first",
            VariantChoice::Abr => "abr",
        }
    }
}

impl fmt::Display for VariantChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`VariantChoice`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid variant choice {given:?}; valid values: all, highest, lowest, first, abr")]
pub struct ParseVariantChoiceError {
    /// The string given.
    pub given: String,
}

impl FromStr for VariantChoice {
    type Err = ParseVariantChoiceError;

    /// Parses `all`, `highest`, `lowest`, `first` or `abr` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VariantChoice::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseVariantChoiceError {
                given: s.to_owned(),
            })
    }
}

/// The variants a viewer plays for a choice (`All` = every variant, like FFmpeg `-map 0`;
/// Highest/Lowest by BANDWIDTH, ties → first listed; First = first listed; Abr = the
/// [`ladder`]). Never empty for a master with ≥1 variant.
pub fn select_variants(master: &MasterPlaylist, choice: VariantChoice) -> Vec<&Variant> {
    let mut best: Option<&Variant> = None;
    match choice {
        VariantChoice::All => return master.variants.iter().collect(),
        VariantChoice::Abr => return ladder(master),
        VariantChoice::First => best = master.variants.first(),
        VariantChoice::Highest => {
            for v in &master.variants {
                if best.is_none_or(|b| v.bandwidth > b.bandwidth) {
                    best = Some(v);
                }
            }
        }
        VariantChoice::Lowest => {
            for v in &master.variants {
                if best.is_none_or(|b| v.bandwidth < b.bandwidth) {
                    best = Some(v);
                }
            }
        }
    }
    best.into_iter().collect()
}

/// The ABR ladder: every variant, in ascending order of `BANDWIDTH` (equal ones in the
/// order listed); rung 0 is the lowest.
pub fn ladder(master: &MasterPlaylist) -> Vec<&Variant> {
    let mut rungs: Vec<&Variant> = master.variants.iter().collect();
    rungs.sort_by_key(|v| v.bandwidth);
    rungs
}

/// The alternative renditions (with a URI) that a chosen variant references through its AUDIO
/// group: the DEFAULT=YES one, else the first in the group; none if the group is absent.
///
/// When the chosen rendition has no URI (its audio is muxed into the variant stream), nothing
/// extra is fetched, so the result is empty.
pub fn audio_renditions_for<'a>(
    master: &'a MasterPlaylist,
    variant: &Variant,
) -> Vec<&'a Rendition> {
    let Some(group) = variant.audio_group.as_deref() else {
        return Vec::new();
    };
    let mut in_group = master
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionType::Audio && r.group_id == group);
    let first = in_group.clone().next();
    let chosen = in_group.find(|r| r.default).or(first);
    chosen.filter(|r| r.uri.is_some()).into_iter().collect()
}
