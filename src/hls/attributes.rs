//! Attribute lists (RFC 8216 §4.2): `NAME=value,NAME="quoted value",...`.
//!
//! The lexer follows the RFC: an attribute name is `[A-Z0-9-]`, a value is either a
//! quoted-string (anything up to the next `"`, commas included) or an unquoted token that
//! ends at the next comma. It tolerates what real servers emit: spaces around `=` and `,`,
//! a trailing comma, lowercase names. Typed accessors ([`AttributeList::decimal_integer`],
//! [`AttributeList::decimal_float`], …) check the value's syntax; quoting is treated as
//! lexical only, so `URI=x` and `LAST-MSN="4"` are accepted as well.

use std::time::Duration;

/// Longest duration accepted anywhere in a playlist: one day. Larger values are rejected as
/// absurd instead of being passed on (and `Duration::from_secs_f64` would panic on some).
pub const MAX_DURATION_SECS: f64 = 86_400.0;

/// One attribute value as written, borrowed from the playlist's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// A quoted-string, without its quotes.
    Quoted(&'a str),
    /// An unquoted token: decimal-integer, hexadecimal-sequence, decimal-floating-point,
    /// enumerated-string or decimal-resolution.
    Unquoted(&'a str),
}

impl<'a> AttributeValue<'a> {
    /// The value's text, without quotes.
    pub fn as_str(&self) -> &'a str {
        match *self {
            AttributeValue::Quoted(s) | AttributeValue::Unquoted(s) => s,
        }
    }
}

/// A parsed attribute list, in the order written, borrowing names and values from the
/// text it was parsed from (a reloaded LL-HLS playlist is parsed several times a second
/// per viewer, so this allocates nothing but its one vector). When a name repeats (which
/// the RFC forbids), the first occurrence wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeList<'a> {
    entries: Vec<(&'a str, AttributeValue<'a>)>,
}

/// What is wrong with an attribute list or one attribute; turned into
/// [`PlaylistError::InvalidTag`](super::PlaylistError::InvalidTag) by the parser.
pub type AttrResult<T> = Result<T, String>;

impl<'a> AttributeList<'a> {
    /// Parses an attribute list (the text after `TAG:`).
    pub fn parse(text: &'a str) -> AttrResult<AttributeList<'a>> {
        let bytes = text.as_bytes();
        let mut pos = 0usize;
        let mut entries: Vec<(&'a str, AttributeValue<'a>)> = Vec::new();
        let skip_ws = |mut p: usize| {
            while p < bytes.len() && (bytes[p] == b' ' || bytes[p] == b'\t') {
                p += 1;
            }
            p
        };
        loop {
            pos = skip_ws(pos);
            if pos >= bytes.len() {
                break;
            }
            let name_start = pos;
            while pos < bytes.len() && (bytes[pos].is_ascii_alphanumeric() || bytes[pos] == b'-') {
                pos += 1;
            }
            let name = text.get(name_start..pos).unwrap_or_default();
            if name.is_empty() {
                return Err(format!(
                    "attribute list: expected an attribute name at column {}",
                    name_start + 1
                ));
            }
            pos = skip_ws(pos);
            if bytes.get(pos) != Some(&b'=') {
                return Err(format!("attribute list: expected '=' after {name}"));
            }
            pos = skip_ws(pos + 1);
            let value = if bytes.get(pos) == Some(&b'"') {
                let start = pos + 1;
                let len = bytes
                    .get(start..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'"'))
                    .ok_or_else(|| format!("attribute {name}: unterminated quoted string"))?;
                pos = start + len + 1;
                AttributeValue::Quoted(text.get(start..start + len).unwrap_or_default())
            } else {
                let start = pos;
                while pos < bytes.len() && !matches!(bytes[pos], b',' | b'"' | b' ' | b'\t') {
                    pos += 1;
                }
                let raw = text.get(start..pos).unwrap_or_default();
                if raw.is_empty() {
                    return Err(format!("attribute {name}: empty value"));
                }
                AttributeValue::Unquoted(raw)
            };
            // Lists are short (a dozen attributes at most), so a scan beats a set.
            if !entries.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                entries.push((name, value));
            }
            pos = skip_ws(pos);
            match bytes.get(pos) {
                None => break,
                Some(b',') => pos += 1,
                Some(_) => {
                    return Err(format!(
                        "attribute list: expected ',' after the value of {name}"
                    ));
                }
            }
        }
        Ok(AttributeList { entries })
    }

    /// The attributes in the order written, names as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, AttributeValue<'a>)> + '_ {
        self.entries.iter().copied()
    }

    /// The raw value of `name` (names are matched case-insensitively).
    pub fn get(&self, name: &str) -> Option<AttributeValue<'a>> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// The text of `name`, quoted or not.
    pub fn string(&self, name: &str) -> Option<&'a str> {
        self.get(name).map(|v| v.as_str())
    }

    /// The text of a required attribute.
    pub fn required_string(&self, name: &str) -> AttrResult<&'a str> {
        self.string(name)
            .ok_or_else(|| format!("missing required attribute {name}"))
    }

    /// A decimal-integer (`[0-9]+`, fitting in `u64`).
    pub fn decimal_integer(&self, name: &str) -> AttrResult<Option<u64>> {
        self.string(name)
            .map(|s| parse_decimal_integer(s).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
    }

    /// A non-negative decimal-floating-point (`[0-9]+(.[0-9]*)?` or `.[0-9]+`).
    pub fn decimal_float(&self, name: &str) -> AttrResult<Option<f64>> {
        self.string(name)
            .map(|s| parse_decimal_float(s).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
    }

    /// A decimal-floating-point number of seconds, as a [`Duration`] of at most one day.
    pub fn duration(&self, name: &str) -> AttrResult<Option<Duration>> {
        self.string(name)
            .map(|s| parse_duration(s).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
    }

    /// A hexadecimal-sequence (`0x` or `0X` followed by hex digits), as bytes. An odd number
    /// of digits is read as if padded with a leading zero.
    pub fn hexadecimal(&self, name: &str) -> AttrResult<Option<Vec<u8>>> {
        self.string(name)
            .map(|s| parse_hexadecimal(s).map_err(|e| format!("attribute {name}: {e}")))
            .transpose()
    }

    /// A decimal-resolution (`<width>x<height>`).
    pub fn resolution(&self, name: &str) -> AttrResult<Option<(u32, u32)>> {
        self.string(name)
            .map(|s| {
                let bad = || format!("attribute {name}: expected WIDTHxHEIGHT, got {s:?}");
                let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
                let w = parse_decimal_integer(w).map_err(|_| bad())?;
                let h = parse_decimal_integer(h).map_err(|_| bad())?;
                Ok((
                    u32::try_from(w).map_err(|_| bad())?,
                    u32::try_from(h).map_err(|_| bad())?,
                ))
            })
            .transpose()
    }

    /// A `YES`/`NO` enumerated-string; absent means `false`.
    pub fn yes_no(&self, name: &str) -> AttrResult<bool> {
        match self.string(name) {
            None => Ok(false),
            Some(s) if s.eq_ignore_ascii_case("YES") => Ok(true),
            Some(s) if s.eq_ignore_ascii_case("NO") => Ok(false),
            Some(s) => Err(format!("attribute {name}: expected YES or NO, got {s:?}")),
        }
    }
}

/// Parses a decimal-integer: 1 to 20 ASCII digits whose value fits in `u64`.
pub fn parse_decimal_integer(s: &str) -> AttrResult<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a decimal integer, got {s:?}"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("integer {s:?} does not fit in 64 bits"))
}

/// Parses a non-negative decimal-floating-point number: digits with at most one `.`.
/// Signs, exponents, `inf` and `NaN` are rejected.
pub fn parse_decimal_float(s: &str) -> AttrResult<f64> {
    let s = s.trim();
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let dots = s.bytes().filter(|&b| b == b'.').count();
    if s.starts_with('-') {
        return Err(format!("negative value {s:?}"));
    }
    if digits == 0 || dots > 1 || digits + dots != s.len() {
        return Err(format!("expected a decimal number, got {s:?}"));
    }
    s.parse::<f64>()
        .map_err(|_| format!("expected a decimal number, got {s:?}"))
}

/// Converts seconds to a [`Duration`], rejecting negative, non-finite and absurd
/// (> [`MAX_DURATION_SECS`]) values instead of panicking.
pub fn seconds_to_duration(secs: f64) -> AttrResult<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("invalid duration {secs}"));
    }
    if secs > MAX_DURATION_SECS {
        return Err(format!("duration {secs} s is longer than one day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a decimal-floating-point number of seconds into a [`Duration`] (≤ one day).
pub fn parse_duration(s: &str) -> AttrResult<Duration> {
    seconds_to_duration(parse_decimal_float(s)?)
}

/// Parses a hexadecimal-sequence (`0x…`/`0X…`) into bytes.
pub fn parse_hexadecimal(s: &str) -> AttrResult<Vec<u8>> {
    let s = s.trim();
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("expected a hexadecimal sequence (0x…), got {s:?}"))?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("expected a hexadecimal sequence (0x…), got {s:?}"));
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    };
    let digits = hex.as_bytes();
    let mut out = Vec::with_capacity(digits.len().div_ceil(2));
    let (head, rest) = if digits.len() % 2 == 1 {
        digits.split_at(1)
    } else {
        digits.split_at(0)
    };
    if let Some(&d) = head.first() {
        out.push(nibble(d));
    }
    for pair in rest.chunks_exact(2) {
        out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> AttributeList<'_> {
        match AttributeList::parse(s) {
            Ok(list) => list,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn quoted_values_keep_commas_and_equals() {
        let a = parse(r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",URI="a.m3u8?x=1,2""#);
        assert_eq!(a.decimal_integer("BANDWIDTH"), Ok(Some(1_280_000)));
        assert_eq!(a.string("CODECS"), Some("avc1.4d401f,mp4a.40.2"));
        assert_eq!(a.get("URI"), Some(AttributeValue::Quoted("a.m3u8?x=1,2")));
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["BANDWIDTH", "CODECS", "URI"]);
    }

    #[test]
    fn empty_quoted_string_is_allowed() {
        let a = parse(r#"NAME="",X=1"#);
        assert_eq!(a.get("NAME"), Some(AttributeValue::Quoted("")));
        assert_eq!(a.decimal_integer("X"), Ok(Some(1)));
    }

    #[test]
    fn tolerates_spaces_trailing_comma_lowercase() {
        let a = parse(r#" BANDWIDTH = 5 , type=AUDIO, "#);
        assert_eq!(a.decimal_integer("BANDWIDTH"), Ok(Some(5)));
        assert_eq!(a.string("TYPE"), Some("AUDIO"));
    }

    #[test]
    fn first_duplicate_wins() {
        let a = parse("A=1,A=2");
        assert_eq!(a.decimal_integer("A"), Ok(Some(1)));
    }

    #[test]
    fn lexical_errors() {
        for bad in [
            "=1",
            "A",
            "A=",
            "A=1,,B=2",
            r#"A="open"#,
            r#"A="x"B=1"#,
            "A=1 B=2",
            "A=1,=",
            "Ä=1",
        ] {
            assert!(AttributeList::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(AttributeList::parse(""), Ok(AttributeList::default()));
    }

    #[test]
    fn decimal_integer_rules() {
        assert_eq!(parse_decimal_integer("0"), Ok(0));
        assert_eq!(parse_decimal_integer("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_decimal_integer("18446744073709551616").is_err());
        assert!(parse_decimal_integer("-1").is_err());
        assert!(parse_decimal_integer("+1").is_err());
        assert!(parse_decimal_integer("1.0").is_err());
        assert!(parse_decimal_integer("").is_err());
        assert!(parse_decimal_integer("0x10").is_err());
    }

    #[test]
    fn decimal_float_rules() {
        assert_eq!(parse_decimal_float("2"), Ok(2.0));
        assert_eq!(parse_decimal_float("2.5"), Ok(2.5));
        assert_eq!(parse_decimal_float("2."), Ok(2.0));
        assert_eq!(parse_decimal_float(".5"), Ok(0.5));
        for bad in [
            "", ".", "-1", "1e3", "inf", "NaN", "1.2.3", "+1", "0x1", "1,5",
        ] {
            assert!(parse_decimal_float(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn durations_are_guarded() {
        assert_eq!(parse_duration("2.002"), Ok(Duration::from_secs_f64(2.002)));
        assert_eq!(parse_duration("86400"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("86400.5").is_err());
        assert!(parse_duration(&"9".repeat(400)).is_err());
        assert!(seconds_to_duration(f64::NAN).is_err());
        assert!(seconds_to_duration(f64::INFINITY).is_err());
        assert!(seconds_to_duration(-0.5).is_err());
    }

    #[test]
    fn hexadecimal_sequences() {
        assert_eq!(parse_hexadecimal("0x00ff10"), Ok(vec![0x00, 0xff, 0x10]));
        assert_eq!(parse_hexadecimal("0XABC"), Ok(vec![0x0a, 0xbc]));
        assert!(parse_hexadecimal("ff").is_err());
        assert!(parse_hexadecimal("0x").is_err());
        assert!(parse_hexadecimal("0xgg").is_err());
        let a = parse("IV=0x0102");
        assert_eq!(a.hexadecimal("IV"), Ok(Some(vec![1, 2])));
    }

    #[test]
    fn resolution_and_yes_no() {
        let a = parse("RESOLUTION=1920x1080,DEFAULT=YES,AUTOSELECT=NO,BAD=maybe,R2=10x");
        assert_eq!(a.resolution("RESOLUTION"), Ok(Some((1920, 1080))));
        assert!(a.resolution("R2").is_err());
        assert_eq!(a.resolution("MISSING"), Ok(None));
        assert_eq!(a.yes_no("DEFAULT"), Ok(true));
        assert_eq!(a.yes_no("AUTOSELECT"), Ok(false));
        assert_eq!(a.yes_no("MISSING"), Ok(false));
        assert!(a.yes_no("BAD").is_err());
        assert!(parse("R=99999999999x1").resolution("R").is_err());
    }
}
