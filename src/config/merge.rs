//! `hls-swarm merge`: its flags as typed configuration, validated the one way
//! ([`super::problems`]).

use std::path::PathBuf;

use super::cli::MergeArgs;
use super::outputs::{JsonTarget, file_flag_problem};
use super::problems::{ConfigErrors, Problems};
use super::slo::Slo;

/// Where the reports to merge come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeInput {
    /// A file holding one or more reports.
    File(PathBuf),
    /// Standard input, holding one or more reports.
    Stdin,
}

/// What `hls-swarm merge` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeConfig {
    /// The inputs, in order (stdin at most once).
    pub inputs: Vec<MergeInput>,
    /// `--output`: where the merged JSON report goes.
    pub json_report: Option<JsonTarget>,
    /// `--report`: the merged HTML report.
    pub html_report: Option<PathBuf>,
    /// The objectives the merged result is judged by.
    pub slo: Slo,
}

impl MergeConfig {
    /// Validate the flags of `hls-swarm merge`.
    pub fn from_args(a: &MergeArgs) -> Result<Self, ConfigErrors> {
        let mut p = Problems::new();
        let mut inputs: Vec<MergeInput> = a
            .files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    MergeInput::Stdin
                } else {
                    MergeInput::File(f.clone())
                }
            })
            .collect();
        if inputs.is_empty() {
            inputs.push(MergeInput::Stdin);
        }
        p.check(
            inputs.iter().filter(|i| **i == MergeInput::Stdin).count() > 1,
            || "merge: `-` (stdin) given more than once".into(),
        );
        let json_report = JsonTarget::from_flag(a.output.as_deref(), &mut p);
        if let Some(e) = a
            .report
            .as_deref()
            .and_then(|path| file_flag_problem("--report", path))
        {
            p.push(e);
        }
        let slo = Slo::from_merge_args(a, &mut p);
        p.finish(MergeConfig {
            inputs,
            json_report,
            html_report: a.report.clone(),
            slo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(files: &[&str]) -> MergeArgs {
        MergeArgs {
            files: files.iter().map(PathBuf::from).collect(),
            ..MergeArgs::default()
        }
    }

    #[test]
    fn no_file_or_dash_reads_stdin_once() {
        let c = MergeConfig::from_args(&args(&[])).expect("valid");
        assert_eq!(c.inputs, vec![MergeInput::Stdin]);
        let c = MergeConfig::from_args(&args(&["a.json", "-"])).expect("valid");
        assert_eq!(
            c.inputs,
            vec![MergeInput::File("a.json".into()), MergeInput::Stdin]
        );
        let e = MergeConfig::from_args(&args(&["-", "-"])).unwrap_err();
        assert!(e[0].contains("more than once"), "{e}");
    }

    #[test]
    fn output_dash_is_stdout_and_report_dash_is_refused() {
        let mut a = args(&["a.json"]);
        a.output = Some("-".into());
        let c = MergeConfig::from_args(&a).expect("valid");
        assert_eq!(c.json_report, Some(JsonTarget::Stdout));
        a.report = Some("-".into());
        let e = MergeConfig::from_args(&a).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("--report: `-`"), "{e}");
    }

    #[test]
    fn slo_flags_are_validated_like_a_runs() {
        let mut a = args(&["a.json"]);
        a.slo.slo_max_error_rate = Some("2".into());
        a.slo.slo_p95_segment_ttfb = Some("300ms".into());
        let e = MergeConfig::from_args(&a).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("--slo-max-error-rate"), "{e}");
        a.slo.slo_max_error_rate = Some("0.01".into());
        let c = MergeConfig::from_args(&a).expect("valid");
        assert_eq!(c.slo.max_error_rate, Some(0.01));
        assert_eq!(
            c.slo.p95_segment_ttfb,
            Some(std::time::Duration::from_millis(300))
        );
    }
}
