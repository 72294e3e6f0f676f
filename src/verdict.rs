//! One line of the `--check` verdict: what was checked, whether it passed, what was found
//! and how to fix a failure. A leaf module, so the checks of every part (the stream, the
//! host, an engine) produce lines without depending on `--check` itself.

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it (for failures).
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &str, detail: String) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail,
            fix: None,
        }
    }
    /// A failed check, with how to fix it.
    pub fn fail(name: &str, detail: String, fix: &str) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail,
            fix: Some(fix.into()),
        }
    }
}
