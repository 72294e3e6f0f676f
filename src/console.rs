//! Printing to stdout and stderr that never panics or aborts the caller.
//!
//! After a SIGHUP (a dropped ssh session) the terminal is gone and every write fails with
//! EIO; with a closed pipe it fails with EPIPE. `print!`/`eprintln!` panic on such an
//! error, which would lose the reports still to be written. These helpers drop the text
//! instead: what is printed is a courtesy, what is written to files is the record.
//!
//! Everything goes through [`printable`] on the way: text from a hostile origin (error
//! messages, FFmpeg's log, URLs) can't send escape sequences to the terminal.

use std::fmt;
use std::io::Write;

/// Write `text` to stdout and flush; false if stdout is gone.
pub fn out(text: &str) -> bool {
    let text = printable(text);
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_ok()
}

/// Write one line to stderr; false if stderr is gone.
pub fn err_line(args: fmt::Arguments<'_>) -> bool {
    let line = args.to_string();
    let mut e = std::io::stderr().lock();
    writeln!(e, "{}", printable(&line)).is_ok()
}

/// `eprintln!` that ignores a stderr that has gone away.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::console::err_line(format_args!($($t)*))
    };
}
pub(crate) use say;

/// `text` made safe to put on a terminal: every control character except newline and
/// tab (ESC starting an escape sequence, C1 controls such as CSI U+009B, BEL, backspace,
/// carriage return, DEL) is shown as a visible `\x1b`-style escape instead of being sent
/// to the terminal. Strings from a hostile origin (error texts, URLs, FFmpeg's log) can
/// then neither recolour, move the cursor, retitle the window nor hide text.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let n = u32::from(c);
            if n <= 0xFF {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_neutralises_terminal_escapes() {
        assert_eq!(printable("plain\ttext\n"), "plain\ttext\n");
        let hostile = "a\x1b[2J\x1b]0;pwned\x07b\u{9b}31mc\rd\x7f";
        let p = printable(hostile);
        assert!(
            !p.contains(|c: char| c.is_control() && c != '\n' && c != '\t'),
            "{p}"
        );
        assert_eq!(p, "a\\x1b[2J\\x1b]0;pwned\\x07b\\x9b31mc\\x0dd\\x7f");
    }
}
