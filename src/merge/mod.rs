//! `hls-swarm merge`: the reports of a test's shards in, the whole test's report out.
//!
//! Each shard's JSON report carries its exact counts and HDR histograms (the `merge`
//! section, docs/json-report.md). This module reads the reports ([`input`]: files or
//! stdin, several per input, other text skipped), checks that they are shards of one test
//! with no shard twice ([`combine`]), and builds one [`RunReport`]; the crate root then
//! judges, writes and prints it with the same code as a single run's.

pub mod combine;
pub mod input;

use std::io::{IsTerminal, Read};

use crate::config::merge::MergeInput;
use crate::stats::report::RunReport;

/// Why a merge did not happen.
#[derive(Debug)]
pub enum MergeError {
    /// The reports do not make one test (different run ids or shard counts, a shard twice,
    /// an older schema): exit 2.
    Refused(String),
    /// An input could not be read: exit 1.
    Read(String),
}

/// The merged report of `inputs`, and the notes to print before it (missing shards,
/// input lines that looked like a report but were not JSON).
pub fn load(inputs: &[MergeInput]) -> Result<(RunReport, Vec<String>), MergeError> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for input in inputs {
        let (name, text) = read(input).map_err(MergeError::Read)?;
        let scan = input::scan(&name, &text).map_err(MergeError::Refused)?;
        if scan.broken > 0 {
            notes.push(format!(
                "{name}: skipped {} line(s) starting with `{{` that were not JSON (a report cut short?)",
                scan.broken
            ));
        }
        found.extend(scan.reports);
    }
    let report = combine::combine(&found).map_err(MergeError::Refused)?;
    if let Some(m) = report.merged.as_ref().filter(|m| !m.complete()) {
        notes.push(format!(
            "run `{}`: {}; the figures are of those shards only",
            report.run.id,
            m.describe()
        ));
    }
    Ok((report, notes))
}

/// The name and text of one input.
fn read(input: &MergeInput) -> Result<(String, String), String> {
    match input {
        MergeInput::File(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
            Ok((name, text))
        }
        MergeInput::Stdin => {
            if std::io::stdin().is_terminal() {
                crate::console::say!(
                    "hls-swarm merge: reading reports from stdin (end with Ctrl-D)"
                );
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("stdin: {e}"))?;
            Ok(("stdin".to_string(), text))
        }
    }
}
