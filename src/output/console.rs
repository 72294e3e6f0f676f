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

use super::format::printable;

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
        $crate::output::console::err_line(format_args!($($t)*))
    };
}
pub(crate) use say;
