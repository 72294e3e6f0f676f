//! Writing a report file (`--output`, `--report`) without harming what is at the path.
//!
//! hls-swarm often runs as root, so a report path is treated as a request to put bytes
//! *into* what the path names, never to replace it:
//!
//! * nothing there yet: the file is created atomically (a fresh temporary file beside it,
//!   then a rename), so a reader never sees half a report;
//! * a regular file (or a symlink to one): it is replaced atomically the same way; a
//!   symlink is followed and its *target* is replaced, the link itself stays;
//! * a character device or a FIFO (or a symlink to one, such as `/dev/stdout`): the report
//!   is written through to it; the node itself is never replaced or removed. A FIFO with
//!   no reader is an error rather than a hang;
//! * a directory, a block device, a socket or a dangling symlink: refused with an error
//!   that names the flag.
//!
//! [`problem`] checks a path the same way before the run starts, without creating,
//! opening for writing or truncating anything.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// What a report path names, after following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing there yet (its directory exists).
    New,
    /// A regular file: replaced atomically.
    Regular,
    /// A character device or FIFO: written through.
    Stream,
}

/// Classify `path` for writing a report, or say why it can't take one. `flag` names the
/// option in the message.
pub fn classify(flag: &str, path: &Path) -> Result<Target, String> {
    let shown = path.display();
    match fs::metadata(path) {
        Ok(m) => {
            let ft = m.file_type();
            if ft.is_file() {
                Ok(Target::Regular)
            } else if ft.is_char_device() || ft.is_fifo() {
                Ok(Target::Stream)
            } else if ft.is_dir() {
                Err(format!(
                    "{flag}: {shown} is a directory; give a file name (e.g. {flag} {})",
                    path.join(example_name(flag)).display()
                ))
            } else if ft.is_block_device() {
                Err(format!(
                    "{flag}: {shown} is a block device; refusing to write a report onto it"
                ))
            } else {
                Err(format!(
                    "{flag}: {shown} is not a regular file, character device or FIFO"
                ))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(format!(
                    "{flag}: {shown} is a symlink to nothing; point it at a file or remove it"
                ));
            }
            let dir = parent_dir(path);
            if dir.is_dir() {
                Ok(Target::New)
            } else {
                Err(format!(
                    "{flag}: the directory {} does not exist (e.g. {flag} {})",
                    dir.display(),
                    example_name(flag)
                ))
            }
        }
        Err(e) => Err(format!("{flag}: cannot use {shown}: {e}")),
    }
}

/// A file name that suits `flag`, for examples in messages.
fn example_name(flag: &str) -> &'static str {
    match flag {
        "--output" => "run.json",
        "--report" => "run.html",
        "--log-file" => "run.log",
        "--request-log" => "requests.ndjson",
        _ => "run.out",
    }
}

/// Why a report can't be written at `path`, checked before the run starts; `None` when it
/// can. Creates, opens and truncates nothing.
pub fn problem(flag: &str, path: &Path) -> Option<String> {
    let shown = path.display();
    let target = match classify(flag, path) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    // Where the bytes will land must be writable: the directory for a new file or for
    // the temporary file of an atomic replace, the node itself for a device or FIFO.
    let (check, what) = match target {
        Target::New => (parent_dir(path).to_path_buf(), "the directory of"),
        Target::Regular => match fs::canonicalize(path) {
            Ok(real) => (parent_dir(&real).to_path_buf(), "the directory of"),
            Err(e) => return Some(format!("{flag}: cannot resolve {shown}: {e}")),
        },
        Target::Stream => (path.to_path_buf(), ""),
    };
    if writable(&check) {
        None
    } else if what.is_empty() {
        Some(format!("{flag}: {shown} is not writable"))
    } else {
        Some(format!(
            "{flag}: {what} {shown} ({}) is not writable",
            check.display()
        ))
    }
}

/// Write `bytes` as the whole content of what `path` names (see the module doc).
pub fn write(flag: &str, path: &Path, bytes: &[u8]) -> Result<()> {
    let target = classify(flag, path).map_err(anyhow::Error::msg)?;
    match target {
        Target::New | Target::Regular => replace_file(flag, path, target, bytes),
        Target::Stream => write_through(path, bytes),
    }
    .with_context(|| format!("{flag}: writing {}", path.display()))
}

/// Like [`write()`], but only into a file: a new or regular file is created or replaced
/// atomically (true); a character device or FIFO is left alone (false). For the interim
/// reports of a running swarm: whoever reads a stream expects one report, the final one.
pub fn write_if_file(flag: &str, path: &Path, bytes: &[u8]) -> Result<bool> {
    let target = classify(flag, path).map_err(anyhow::Error::msg)?;
    if target == Target::Stream {
        return Ok(false);
    }
    replace_file(flag, path, target, bytes)
        .with_context(|| format!("{flag}: writing {}", path.display()))?;
    Ok(true)
}

/// Open what `path` names for a stream of writes over a run (`--request-log`), checked
/// like a report path ([`classify`]): a new file is created (mode 0644), a regular file
/// (or the file a symlink points to) is truncated and written from its start, a
/// character device or FIFO is written through as it is. A FIFO with no reader is an
/// error rather than a hang (it is opened non-blocking, then set blocking again, so a slow
/// reader is waited for). Errors name `flag`.
pub fn open_stream(flag: &str, path: &Path) -> Result<File> {
    let target = classify(flag, path).map_err(anyhow::Error::msg)?;
    let shown = path.display();
    let opened = match target {
        Target::New | Target::Regular => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(libc::O_NOCTTY)
            .open(path),
        Target::Stream => OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .and_then(|f| blocking(&f).map(|()| f)),
    };
    opened.map_err(|e| {
        if e.raw_os_error() == Some(libc::ENXIO) {
            anyhow::anyhow!("{flag}: cannot open {shown}: {e} (a FIFO with no reader)")
        } else {
            anyhow::anyhow!("{flag}: cannot open {shown}: {e}")
        }
    })
}

/// Create (`New`) or replace (`Regular`) the file at `path` atomically.
fn replace_file(flag: &str, path: &Path, target: Target, bytes: &[u8]) -> Result<()> {
    if target == Target::Regular {
        // Replace the file a symlink points to, never the link.
        let real = fs::canonicalize(path)
            .with_context(|| format!("{flag}: cannot resolve {}", path.display()))?;
        return replace_atomically(&real, bytes);
    }
    replace_atomically(path, bytes)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) only reads the NUL-terminated path we own for this call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// A name for the temporary file beside `path` that nothing else uses: the pid and a
/// counter, created with O_EXCL so an existing file of that name is never touched.
fn temp_path(path: &Path) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let mut name: OsString = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    parent_dir(path).join(name)
}

fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let (tmp, mut file) = loop {
        let tmp = temp_path(path);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context(format!("creating {}", tmp.display())),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(())
}

fn write_through(path: &Path, bytes: &[u8]) -> Result<()> {
    // O_NONBLOCK on open: a FIFO without a reader fails (ENXIO) instead of hanging the
    // end of the run. No O_CREAT, no O_TRUNC: the node is used as it is.
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                anyhow::anyhow!("{e} (a FIFO with no reader)")
            } else {
                e.into()
            }
        })?;
    blocking(&file)?;
    (&file).write_all(bytes)?;
    Ok(())
}

/// Clear O_NONBLOCK again so a slow reader is waited for rather than failing with EAGAIN.
pub(crate) fn blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, reading and then setting its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn examples_in_messages_suit_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/x");
        let log = classify("--log-file", &missing).unwrap_err();
        assert!(log.contains("e.g. --log-file run.log"), "{log}");
        let out = classify("--output", &missing).unwrap_err();
        assert!(out.contains("e.g. --output run.json"), "{out}");
        let report = classify("--report", dir.path()).unwrap_err();
        assert!(report.ends_with("run.html)"), "{report}");
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// A character device node `major:minor` made inside `dir` (root only).
    fn mknod_char(dir: &Path, name: &str, major: u32, minor: u32) -> PathBuf {
        let p = dir.join(name);
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path");
        // SAFETY: mknod on a path inside our own temporary directory.
        let rc = unsafe {
            libc::mknod(
                c.as_ptr(),
                libc::S_IFCHR | 0o666,
                libc::makedev(major, minor),
            )
        };
        assert_eq!(
            rc,
            0,
            "mknod {}: {}",
            p.display(),
            io::Error::last_os_error()
        );
        p
    }

    fn mkfifo(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path");
        // SAFETY: mkfifo on a path inside our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        p
    }

    fn only_entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_file_is_created_and_no_temporary_file_is_left() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("r.json");
        write("--output", &p, b"{}\n").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"{}\n");
        assert_eq!(only_entries(d.path()), vec!["r.json"]);
    }

    #[test]
    fn a_file_named_like_the_old_temporary_file_is_not_clobbered() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("r.json");
        let old_tmp = d.path().join("r.json.tmp");
        fs::write(&old_tmp, "keep me").expect("write");
        write("--output", &p, b"x").expect("write");
        assert_eq!(fs::read_to_string(&old_tmp).expect("read"), "keep me");
    }

    #[test]
    fn a_symlink_is_followed_and_its_target_replaced() {
        let d = tempfile::tempdir().expect("tempdir");
        let sub = d.path().join("real");
        fs::create_dir(&sub).expect("mkdir");
        let real = sub.join("data.json");
        fs::write(&real, "old").expect("write");
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write("--output", &link, b"new").expect("write");
        assert!(
            fs::symlink_metadata(&link)
                .expect("lstat")
                .file_type()
                .is_symlink(),
            "the link stays a link"
        );
        assert_eq!(fs::read_to_string(&real).expect("read"), "new");
        assert_eq!(only_entries(&sub), vec!["data.json"]);
    }

    #[test]
    fn a_dangling_symlink_a_directory_and_a_missing_directory_are_refused() {
        let d = tempfile::tempdir().expect("tempdir");
        let link = d.path().join("dangling");
        std::os::unix::fs::symlink(d.path().join("nowhere"), &link).expect("symlink");
        let e = write("--report", &link, b"x").expect_err("dangling");
        assert!(e.to_string().contains("--report"), "{e:#}");
        assert!(problem("--report", &link).is_some());
        assert!(!d.path().join("nowhere").exists(), "nothing created");
        let e = write("--output", d.path(), b"x").expect_err("directory");
        assert!(format!("{e:#}").contains("is a directory"), "{e:#}");
        assert!(problem("--output", &d.path().join("no/such/r.json")).is_some());
        assert_eq!(problem("--output", &d.path().join("r.json")), None);
    }

    #[test]
    fn a_fifo_is_written_through_and_stays_a_fifo() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = mkfifo(d.path(), "pipe");
        assert_eq!(problem("--output", &f), None);
        // No reader: an error, not a hang.
        let e = write("--output", &f, b"x").expect_err("no reader");
        assert!(format!("{e:#}").contains("no reader"), "{e:#}");
        let reader = {
            let f = f.clone();
            std::thread::spawn(move || fs::read(&f).expect("read fifo"))
        };
        // The reader opens first (the writer then finds it), retried while it starts.
        let mut tries = 0;
        while let Err(e) = write("--output", &f, b"through the fifo") {
            tries += 1;
            assert!(tries < 500, "{e:#}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(reader.join().expect("join"), b"through the fifo");
        assert!(
            fs::symlink_metadata(&f)
                .expect("lstat")
                .file_type()
                .is_fifo()
        );
    }

    #[test]
    fn write_if_file_writes_files_and_leaves_streams_alone() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("r.json");
        assert!(write_if_file("--output", &file, b"first").expect("new file"));
        assert!(write_if_file("--output", &file, b"second").expect("regular file"));
        assert_eq!(fs::read_to_string(&file).expect("read"), "second");
        // A FIFO without a reader: left alone, neither an error nor a hang.
        let f = mkfifo(d.path(), "pipe");
        assert!(!write_if_file("--output", &f, b"x").expect("fifo"));
        assert!(
            fs::symlink_metadata(&f)
                .expect("lstat")
                .file_type()
                .is_fifo()
        );
        assert!(
            write_if_file("--output", d.path(), b"x").is_err(),
            "a directory"
        );
        assert_eq!(only_entries(d.path()), vec!["pipe", "r.json"]);
    }

    #[test]
    fn device_nodes_are_written_through_not_replaced() {
        if !is_root() {
            eprintln!("skipped: mknod needs root");
            return;
        }
        let d = tempfile::tempdir().expect("tempdir");
        let null = mknod_char(d.path(), "null", 1, 3);
        let full = mknod_char(d.path(), "full", 1, 7);
        let null_link = d.path().join("null-link");
        std::os::unix::fs::symlink(&null, &null_link).expect("symlink");
        write("--output", &null, b"into the void").expect("null takes it");
        write("--output", &null_link, b"via the link").expect("link to null");
        let e = write("--report", &full, b"x").expect_err("/dev/full is full");
        assert!(format!("{e:#}").contains("--report"), "{e:#}");
        for p in [&null, &full] {
            let ft = fs::symlink_metadata(p).expect("lstat").file_type();
            assert!(ft.is_char_device(), "{} is still a device", p.display());
        }
        assert!(
            fs::symlink_metadata(&null_link)
                .expect("lstat")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            only_entries(d.path()),
            vec!["full", "null", "null-link"],
            "no temporary files"
        );
    }
}
