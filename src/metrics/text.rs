//! A small writer (and reader) for the Prometheus text exposition format, version 0.0.4.
//!
//! Why not the `prometheus` crate: its model is a registry of live metric objects that
//! code updates as things happen. Here every value already exists in the tick's
//! [`Snapshot`](crate::stats::snapshot::Snapshot), so a scrape is a pure function from a
//! snapshot to text; a registry would mean copying each value into a second store first.
//! The format is small: `# HELP` / `# TYPE` once per family, then `name{labels} value`
//! lines. The writer enforces what `promtool check metrics` checks (one header per family,
//! escaped label values, cumulative histogram buckets ending in `+Inf`).

use std::fmt::Write as _;

/// The `Content-Type` of a text exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metric family types used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic count; the name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, `_sum` and `_count`.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A text exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
    families: Vec<String>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Exposition::default()
    }

    /// Start a family: its `# HELP` and `# TYPE` lines. The samples written next belong
    /// to it, so callers write each family in one go. A second header for the same family
    /// is a caller bug: it is skipped (and asserts in debug builds).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        if self.families.iter().any(|f| f == name) {
            debug_assert!(false, "metric family {name} started twice");
            return;
        }
        self.families.push(name.to_string());
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The samples of one histogram series: `buckets` are `(upper bound, cumulative
    /// count)` in increasing bound order, without `+Inf` (added here from `count`).
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        let bucket = format!("{name}_bucket");
        for (le, n) in buckets {
            self.out.push_str(&bucket);
            write_labels(&mut self.out, labels, Some(&format_value(*le)));
            let _ = writeln!(self.out, " {n}");
        }
        self.out.push_str(&bucket);
        write_labels(&mut self.out, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {count}");
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count as f64);
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
    for (k, v) in all {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(&escape_label(v));
        out.push('"');
    }
    out.push('}');
}

/// Escape a label value: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as the format spells it (`+Inf`, `-Inf`, `NaN`, else a plain decimal).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        // Whole numbers without a fraction: counters read as integers.
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One sample read back from a text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name (with `_bucket`/`_sum`/`_count` for histogram parts).
    pub name: String,
    /// Labels in written order.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

impl Sample {
    /// The value of label `k`, if present.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Read the samples of a text exposition (comments skipped). Lines that do not parse are
/// reported as errors with their line number. Used by tests and tooling that check what
/// an endpoint serves.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(line).map_err(|e| format!("line {}: {e}: {line}", i + 1))?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value")?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        loop {
            // Skip separators.
            while let Some((_, c)) = chars.peek() {
                if *c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            match chars.peek() {
                Some((i, '}')) => {
                    end = Some(*i);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut val = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => val.push('\n'),
                        Some(c) => val.push(c),
                        None => return Err("dangling escape".into()),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => val.push(c),
                }
            }
            if !closed {
                return Err("unterminated label value".into());
            }
            labels.push((key.trim().to_string(), val));
        }
        let end = end.ok_or("unterminated label set")?;
        rest = &r[end + 1..];
    }
    let value_text = rest.split_whitespace().next().ok_or("no value")?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse::<f64>().map_err(|_| format!("bad value {v}"))?,
    };
    Ok(Sample {
        name,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "Things.\nMore \\ text");
        e.sample("x_total", &[("kind", "a\"b\\c\nd")], 3.0);
        e.single("y", Kind::Gauge, "A gauge.", 0.25);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP x_total Things.\\nMore \\\\ text\n# TYPE x_total counter\n\
             x_total{kind=\"a\\\"b\\\\c\\nd\"} 3\n# HELP y A gauge.\n# TYPE y gauge\ny 0.25\n"
        );
        let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].label("kind"), Some("a\"b\\c\nd"), "round trip");
        assert_eq!(s[1].value, 0.25);
    }

    #[test]
    fn histogram_lines() {
        let mut e = Exposition::new();
        e.family("h_seconds", Kind::Histogram, "H.");
        e.histogram(
            "h_seconds",
            &[("kind", "segment")],
            &[(0.005, 1), (1.0, 3)],
            1.5,
            4,
        );
        let text = e.finish();
        assert!(text.contains("h_seconds_bucket{kind=\"segment\",le=\"0.005\"} 1\n"));
        assert!(text.contains("h_seconds_bucket{kind=\"segment\",le=\"1\"} 3\n"));
        assert!(text.contains("h_seconds_bucket{kind=\"segment\",le=\"+Inf\"} 4\n"));
        assert!(text.contains("h_seconds_sum{kind=\"segment\"} 1.5\n"));
        assert!(text.contains("h_seconds_count{kind=\"segment\"} 4\n"));
        let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s[2].label("le"), Some("+Inf"));
        assert_eq!(s[2].value, 4.0);
    }

    #[test]
    fn values() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(12345678901.0), "12345678901");
        assert_eq!(format_value(-1.0), "-1");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(1e300).parse::<f64>().ok(), Some(1e300));
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse("x{a=b} 1").is_err());
        assert!(parse("x{a=\"b} 1").is_err());
        assert!(parse("x one").is_err());
        assert!(parse("x").is_err());
        assert_eq!(parse("# only\n\n").map(|v| v.len()), Ok(0));
    }
}
