//! Starting and stopping one FFmpeg process, hygienically.
//!
//! * Own process group (`setpgid(0, 0)`), so signals reach FFmpeg and anything it starts,
//!   and a terminal's Ctrl+C goes to the swarm only.
//! * `PR_SET_PDEATHSIG(SIGKILL)`: the kernel kills the child when the thread that spawned it
//!   dies — with the swarm's runtime threads that is when the swarm dies, including by
//!   SIGKILL. (If the swarm died between fork and `prctl`, the child exits at once.)
//! * `-progress` goes to a pipe the child sees as fd 3; stdout is /dev/null; stderr is piped.
//! * Stop: SIGTERM to the group, a grace, then SIGKILL to the group; the process is always
//!   reaped.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStderr, Command};

use super::command::PROGRESS_FD;

/// How long FFmpeg gets to exit after SIGTERM before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// A running FFmpeg with its output pipes.
#[derive(Debug)]
pub struct Spawned {
    /// The process (reaped by `wait`).
    pub child: Child,
    /// Its pid, which is also its process group id.
    pub pid: u32,
    /// Read end of its `-progress` pipe.
    pub progress: pipe::Receiver,
    /// Its stderr.
    pub stderr: ChildStderr,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Exit status 0.
    Clean,
    /// Non-zero exit status.
    Error(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ExitKind {
    /// Classify an exit status.
    pub fn of(status: ExitStatus) -> ExitKind {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => ExitKind::Clean,
            (Some(c), _) => ExitKind::Error(c),
            (None, Some(s)) => ExitKind::Signal(s),
            (None, None) => ExitKind::Error(-1),
        }
    }
}

impl std::fmt::Display for ExitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitKind::Clean => write!(f, "exit 0"),
            ExitKind::Error(c) => write!(f, "exit {c}"),
            ExitKind::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Start `binary args…` as described in the module docs.
pub fn spawn(binary: &str, args: &[String]) -> io::Result<Spawned> {
    let (read_end, write_end) = cloexec_pipe()?;
    let write_fd = write_end.as_raw_fd();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    // SAFETY: runs in the child between fork and exec and only makes async-signal-safe
    // system calls (prctl, getppid, dup2, fcntl, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                // The swarm died before prctl took effect.
                libc::_exit(1);
            }
            if write_fd == PROGRESS_FD {
                let flags = libc::fcntl(write_fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(write_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(write_fd, PROGRESS_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(write_end);
    let pid = child.id().unwrap_or(0);
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| io::Error::other("stderr pipe missing"))?;
    let progress = pipe::Receiver::from_owned_fd(read_end)?;
    Ok(Spawned {
        child,
        pid,
        progress,
        stderr,
    })
}

/// Send `sig` to the process group `pgid`.
pub fn signal_group(pgid: u32, sig: i32) {
    if pgid == 0 {
        return;
    }
    // SAFETY: kill with a negative pid signals that process group; no memory is touched.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), sig);
    }
}

/// Stop a process: SIGTERM to its group, up to `grace`, then SIGKILL; always reaped.
pub async fn stop(child: &mut Child, pgid: u32, grace: Duration) -> io::Result<ExitStatus> {
    if let Ok(Some(st)) = child.try_wait() {
        return Ok(st);
    }
    signal_group(pgid, libc::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(r) => r,
        Err(_) => {
            signal_group(pgid, libc::SIGKILL);
            child.wait().await
        }
    }
}
