//! Zero-copy relay of a body of known length: origin socket → pipe → FFmpeg socket with
//! splice(2), so segment bytes never enter the proxy's memory.
//!
//! Why: at video bitrates most of the proxy's CPU was copying every segment byte out of
//! the kernel and back in (two copies, many small reads and task wake-ups). With splice
//! the kernel moves page references instead, and a read moves up to a pipe's capacity
//! (64 KiB) per call. Byte counts come from splice's return values on the origin side, so
//! they stay exact. Readiness comes from tokio (`readable()`/`writable()` + `try_io`), so
//! the relay is an ordinary task on the runtime.
//!
//! The pipe is only spliced into when it is empty and never asked for more than its
//! capacity, so an `EAGAIN` always means "the socket is not ready", which is what
//! `try_io` assumes when it clears the socket's readiness.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// A non-blocking pipe used as the splice buffer of one FFmpeg connection.
#[derive(Debug)]
pub struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    cap: usize,
}

impl Pipe {
    /// A new pipe at the kernel's default size (not enlarged: unprivileged users share a
    /// budget of pipe pages with the FFmpeg children's own pipes).
    pub fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into `fds` when it returns 0.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are fresh and owned by nothing else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_GETPIPE_SZ only reads the pipe's size.
        let size = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
        let cap = usize::try_from(size)
            .ok()
            .filter(|c| *c > 0)
            .unwrap_or(4096);
        Ok(Pipe { r, w, cap })
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both are open descriptors of non-seekable files, so the offsets are null.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Throw away `n` bytes sitting in the pipe (FFmpeg went away; the origin's bytes are
/// still read to the end so they are counted as served).
fn discard(pipe: &Pipe, mut n: usize) -> io::Result<()> {
    let mut scratch = [0u8; 16 * 1024];
    while n > 0 {
        let want = n.min(scratch.len());
        // SAFETY: reads at most `want` bytes into a buffer of at least that size.
        let got = unsafe { libc::read(pipe.r.as_raw_fd(), scratch.as_mut_ptr().cast(), want) };
        match usize::try_from(got) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(g) => n -= g,
            Err(_) => return Err(io::Error::last_os_error()),
        }
    }
    Ok(())
}

/// Move exactly `len` body bytes from `up` to `client` through `pipe`, telling
/// `on_bytes` what arrives from the origin as it arrives. A failing or stalled (past
/// `deadline`) FFmpeg side clears `client_ok` and the rest is read and discarded. Errors
/// are the origin side's: `UnexpectedEof` when it closed early, `TimedOut` at `deadline`.
pub async fn relay(
    pipe: &Pipe,
    up: &TcpStream,
    client: &TcpStream,
    client_ok: &mut bool,
    mut len: u64,
    deadline: Instant,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> io::Result<()> {
    while len > 0 {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(pipe.cap);
        let n = loop {
            match timeout_at(deadline, up.readable()).await {
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
                Ok(r) => r?,
            }
            match up.try_io(Interest::READABLE, || {
                splice(up.as_raw_fd(), pipe.w.as_raw_fd(), want)
            }) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len -= n as u64;
        on_bytes(n as u64);
        let mut in_pipe = n;
        while in_pipe > 0 {
            if !*client_ok {
                discard(pipe, in_pipe)?;
                break;
            }
            match timeout_at(deadline, client.writable()).await {
                Ok(Ok(())) => {}
                _ => {
                    *client_ok = false;
                    continue;
                }
            }
            match client.try_io(Interest::WRITABLE, || {
                splice(pipe.r.as_raw_fd(), client.as_raw_fd(), in_pipe)
            }) {
                Ok(0) => *client_ok = false,
                Ok(m) => in_pipe -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => *client_ok = false,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ffmpeg::proxy::test_support::tcp_pair as pair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn relays_exactly_and_survives_a_vanished_client() {
        let (mut origin, up) = pair().await;
        let (client, mut ffmpeg) = pair().await;
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sent = body.clone();
        let w = tokio::spawn(async move {
            origin.write_all(&sent).await.unwrap();
            origin.write_all(b"NEXT").await.unwrap();
            origin
        });
        let r = tokio::spawn(async move {
            let mut got = vec![0u8; 300_000];
            ffmpeg.read_exact(&mut got).await.unwrap();
            got
        });
        let pipe = Pipe::new().unwrap();
        let (mut ok, mut count) = (true, 0);
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let mut up = up;
        relay(&pipe, &up, &client, &mut ok, 300_000, deadline, &mut |n| {
            count += n
        })
        .await
        .unwrap();
        assert!(ok);
        assert_eq!(count, 300_000);
        assert_eq!(r.await.unwrap(), body);
        let mut origin = w.await.unwrap();
        // The bytes after the body are left on the socket.
        let mut next = [0u8; 4];
        up.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"NEXT");

        // FFmpeg gone: the origin's bytes are still read to the end and counted; an early
        // close is an error.
        drop(client);
        let (client, ffmpeg) = pair().await;
        drop(ffmpeg);
        origin.write_all(&body[..100_000]).await.unwrap();
        drop(origin);
        let (mut ok, mut count) = (true, 0);
        let e = relay(&pipe, &up, &client, &mut ok, 200_000, deadline, &mut |n| {
            count += n
        })
        .await;
        assert_eq!(e.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(count, 100_000);
    }
}
