//! The one validation convention: every check notes its problem in a [`Problems`] and
//! carries on, so a single run of the flags reports every bad value at once, each message
//! naming its flag. [`Problems::finish`] turns the collection into [`ConfigErrors`] (exit
//! 2) or hands back the value built alongside.
//!
//! A builder that meets a bad value notes it and continues with a stand-in (the default);
//! the stand-in can never escape, because [`Problems::finish`] refuses to return a value
//! once anything was noted.

use std::fmt;

/// All problems found in the flags, one message each.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl std::ops::Deref for ConfigErrors {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

/// The problems noted so far while validating flags.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Note one problem.
    pub fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    /// Note the problem when `bad`.
    pub fn check(&mut self, bad: bool, message: impl FnOnce() -> String) {
        if bad {
            self.push(message());
        }
    }

    /// The value of `r`, or `None` after noting its problem.
    pub fn ok<T>(&mut self, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    /// The value of `r`, or `stand_in` after noting its problem.
    pub fn or<T>(&mut self, r: Result<T, String>, stand_in: T) -> T {
        self.ok(r).unwrap_or(stand_in)
    }

    /// The value of `r`, or the default after noting its problem.
    pub fn or_default<T: Default>(&mut self, r: Result<T, String>) -> T {
        self.ok(r).unwrap_or_default()
    }

    /// A flag given as `Option<String>`: `None` when absent, else its parsed value (or
    /// `None` after noting its problem).
    pub fn optional<T>(
        &mut self,
        given: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        given.and_then(|s| self.ok(parse(s.trim())))
    }

    /// The value of `r`, or `None` after noting every problem it carries.
    pub fn absorb<T>(&mut self, r: Result<T, ConfigErrors>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.extend(e.0);
                None
            }
        }
    }

    /// How many problems were noted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was noted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when nothing was noted, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_never_escape() {
        let mut p = Problems::new();
        let n = p.or(Err("-clients: 'x' is not a whole number".into()), 10);
        assert_eq!(n, 10);
        let m: Option<u8> = p.optional(Some(" 5 "), |s| s.parse().map_err(|_| s.into()));
        assert_eq!(m, Some(5));
        let e = p.finish(n).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e.to_string(), "error: -clients: 'x' is not a whole number");
    }

    #[test]
    fn every_problem_is_kept_in_order() {
        let mut p = Problems::new();
        p.push("a");
        p.check(false, || "never".into());
        p.check(true, || "b".into());
        let _ = p.absorb::<()>(Err(ConfigErrors(vec!["c".into()])));
        assert_eq!(p.finish(()).unwrap_err().0, ["a", "b", "c"]);
        assert_eq!(Problems::new().finish(7), Ok(7));
    }
}
