//! The one parser of the Prometheus text exposition format (version 0.0.4) in hls-swarm:
//! the origin scraper reads node_exporter's and the nginx exporter's scrapes with it
//! ([`parse`], only the families asked for), and tests and tools read the swarm's own
//! `/metrics` with it ([`samples`], every sample in written order).
//!
//! Why not a crate: the `prometheus` crate writes the format but does not read it; the
//! readers on crates.io checked (prometheus-parse 0.2.5, prom-text-format-parser 0.1.0,
//! openmetrics-parser 0.5.1) either skip lines they cannot match (so an HTML error page
//! reads as an empty scrape), split label sets on `,` and `=` without unescaping
//! (a label value holding either is misread), pull in regex and chrono, have a single
//! release, or are LGPL-3.0. The rules below are what the scraper needs.
//!
//! Every line must at least start like a sample (a metric name) or be a comment; a line
//! of a wanted family must parse completely. Lines of other families are skipped after
//! their name, so an exporter adding syntax we do not use (exemplars, new comment kinds)
//! cannot break a scrape, while an HTML error page or binary garbage is rejected.

use std::collections::HashMap;
use std::fmt;

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name (with `_bucket`/`_sum`/`_count` for histogram parts).
    pub name: String,
    /// Label pairs, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value (`+Inf`, `-Inf` and `NaN` allowed).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The samples of each wanted family found, by metric name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Families(HashMap<String, Vec<Sample>>);

impl Families {
    /// The samples of `name` (`None` when the family was absent).
    pub fn get(&self, name: &str) -> Option<&[Sample]> {
        self.0.get(name).map(Vec::as_slice)
    }

    /// The value of an unlabelled (single-sample) family.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.get(name)?.first().map(|s| s.value)
    }

    /// Whether nothing wanted was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a scrape body is not Prometheus text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not Prometheus text format: line {}: {}",
            self.line, self.message
        )
    }
}

impl std::error::Error for ParseError {}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Parse `text`, keeping the samples of the families for which `wanted(name)` is true.
pub fn parse(text: &str, wanted: impl Fn(&str) -> bool) -> Result<Families, ParseError> {
    let mut out: HashMap<String, Vec<Sample>> = HashMap::new();
    each_sample(text, wanted, |s| {
        out.entry(s.name.clone()).or_default().push(s)
    })?;
    Ok(Families(out))
}

/// Every sample of `text`, in the order written.
pub fn samples(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut out = Vec::new();
    each_sample(text, |_| true, |s| out.push(s))?;
    Ok(out)
}

/// Hand each sample of a wanted family to `f`, in the order written.
fn each_sample(
    text: &str,
    wanted: impl Fn(&str) -> bool,
    mut f: impl FnMut(Sample),
) -> Result<(), ParseError> {
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let bytes = line.as_bytes();
        if !is_name_start(bytes[0]) {
            return Err(err(format!(
                "expected a metric name, found '{}'",
                preview(line)
            )));
        }
        let name_len = bytes
            .iter()
            .position(|c| !is_name_char(*c))
            .unwrap_or(bytes.len());
        let name = &line[..name_len];
        if !wanted(name) {
            continue;
        }
        let (labels, value) =
            parse_rest(&line[name_len..]).map_err(|m| err(format!("{name}: {m}")))?;
        f(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(())
}

/// At most 40 characters of a line, for error messages (never the whole of a big body).
fn preview(line: &str) -> String {
    let cut: String = line.chars().take(40).collect();
    cut.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Labels, value and optional timestamp after the metric name.
fn parse_rest(rest: &str) -> Result<(Vec<(String, String)>, f64), String> {
    let mut labels = Vec::new();
    let mut rest = rest;
    if let Some(after) = rest.trim_start_matches([' ', '\t']).strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err("expected a space before the value".into());
    }
    let mut words = rest.split_ascii_whitespace();
    let value_text = words.next().ok_or("missing value")?;
    let value = parse_value(value_text).ok_or_else(|| format!("'{value_text}' is not a number"))?;
    match words.next() {
        None => {}
        // OpenMetrics exemplar: ignored.
        Some(w) if w.starts_with('#') => {}
        Some(ts) => {
            if ts.parse::<i64>().is_err() {
                return Err(format!("'{ts}' is not a timestamp"));
            }
            if let Some(w) = words.next()
                && !w.starts_with('#')
            {
                return Err(format!("unexpected '{w}' after the timestamp"));
            }
        }
    }
    Ok((labels, value))
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c)) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Parses `name="value",…}` and returns what follows the closing brace.
fn parse_labels<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let b = s.as_bytes();
        if b.is_empty() || !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
            return Err("expected a label name or '}'".into());
        }
        let n = b
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            .unwrap_or(b.len());
        let name = s[..n].to_string();
        s = s[n..].trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label {name}"))?
            .trim_start_matches([' ', '\t']);
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to open the value of label {name}"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated value of label {name}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value of label {name}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name, value));
        s = s[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}' after a label".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
# TYPE node_cpu_seconds_total counter\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 404.1\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1.5e+03\n\
node_memory_MemTotal_bytes 2.5276510208e+10\n\
node_filesystem_avail_bytes{device=\"/dev/x\",fstype=\"ext4\",mountpoint=\"/a \\\"b\\\\c\\nd\"} 12\n\
go_gc_duration_seconds{quantile=\"1\"} NaN\r\n\
weird_metric_with_exemplar 1 # {trace_id=\"x\"} 1\n\
\n";

    fn all(_: &str) -> bool {
        true
    }

    #[test]
    fn samples_labels_escapes_and_special_values() {
        let f = parse(TEXT, all).unwrap_or_else(|e| panic!("{e}"));
        let cpu = f.get("node_cpu_seconds_total").unwrap_or_default();
        assert_eq!(cpu.len(), 2);
        assert_eq!(cpu[0].label("mode"), Some("idle"));
        assert_eq!(cpu[1].value, 1500.0);
        assert_eq!(
            f.scalar("node_memory_MemTotal_bytes"),
            Some(2.5276510208e10)
        );
        let fs = f.get("node_filesystem_avail_bytes").unwrap_or_default();
        assert_eq!(fs[0].label("mountpoint"), Some("/a \"b\\c\nd"));
        assert!(f.scalar("go_gc_duration_seconds").is_some_and(f64::is_nan));
        assert_eq!(f.scalar("weird_metric_with_exemplar"), Some(1.0));
    }

    #[test]
    fn only_wanted_families_are_kept() {
        let f = parse(TEXT, |n| n.starts_with("node_memory_")).unwrap_or_else(|e| panic!("{e}"));
        assert!(f.get("node_cpu_seconds_total").is_none());
        assert!(f.get("node_memory_MemTotal_bytes").is_some());
        let none = parse("# only comments\n", all).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
    }

    #[test]
    fn timestamps_infinities_and_trailing_commas() {
        let f = parse(
            "a{x=\"1\",} +Inf 1700000000000\nb -Inf\nc{} 3\nd { y = \"2\" } 4\n",
            all,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.scalar("a"), Some(f64::INFINITY));
        assert_eq!(f.scalar("b"), Some(f64::NEG_INFINITY));
        assert_eq!(f.scalar("c"), Some(3.0));
        assert_eq!(f.get("d").unwrap_or_default()[0].label("y"), Some("2"));
    }

    #[test]
    fn garbage_is_rejected_with_a_line_number() {
        let e = parse("<html><body>502 Bad Gateway</body></html>\n", all)
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.line, 1);
        assert!(e.to_string().contains("expected a metric name"), "{e}");

        for bad in [
            "m{a=\"1\" 2\n",
            "m{a=1} 2\n",
            "m 1.2.3\n",
            "m\n",
            "m{a=\"x} 1\n",
            "m 1 notatime\n",
            "m{=\"1\"} 1\n",
            "m 1 2 3\n",
        ] {
            let e = parse(&format!("ok 1\n{bad}"), all).err();
            assert_eq!(e.map(|e| e.line), Some(2), "{bad:?} must fail on line 2");
        }
    }

    #[test]
    fn samples_keep_names_and_written_order() {
        let s = samples(TEXT).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "node_cpu_seconds_total",
                "node_cpu_seconds_total",
                "node_memory_MemTotal_bytes",
                "node_filesystem_avail_bytes",
                "go_gc_duration_seconds",
                "weird_metric_with_exemplar"
            ]
        );
        assert_eq!(s[1].label("mode"), Some("user"));
    }

    #[test]
    fn unwanted_lines_are_skipped_after_their_name() {
        // A syntax we do not parse, in a family we do not want, does not fail the scrape.
        let f = parse("other{\"utf8.name\"} 1\nwanted 2\n", |n| n == "wanted")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.scalar("wanted"), Some(2.0));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_parsed_or_rejected_never_a_panic(text in "\\PC*") {
            let _ = samples(&text);
        }

        #[test]
        fn any_line_after_good_ones_fails_on_its_own_line_or_parses(
            line in "[a-z_{}=\",. #\\\\0-9+\\-eEInfNa]{0,40}",
        ) {
            let text = format!("ok 1\n{line}\n");
            match samples(&text) {
                Ok(s) => proptest::prop_assert!(!s.is_empty()),
                Err(e) => proptest::prop_assert_eq!(e.line, 2),
            }
        }
    }
}
