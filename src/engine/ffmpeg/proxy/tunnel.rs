//! `CONNECT host:port` (https:// streams): a TCP connection to the origin (`-resolve`
//! applied) spliced to FFmpeg's. The requests inside are encrypted; the tunnel only
//! counts bytes, both ways.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::Url;

use super::Shared;
use super::head::{RequestHead, plain_response};
use crate::engine::http::connect::{Authority, connect_tcp, resolve};
use crate::stats::event::ErrorClass;

/// Serve a CONNECT on `client` until either side closes. `early` holds bytes FFmpeg sent
/// after the CONNECT head (forwarded first).
pub async fn run(client: &mut TcpStream, req: &RequestHead, early: Vec<u8>, shared: &Shared) {
    let Ok(url) = Url::parse(&format!("https://{}/", req.target)) else {
        let _ = client
            .write_all(&plain_response(
                400,
                "Bad Request",
                "hls-swarm measuring proxy: CONNECT host:port expected\n",
                true,
            ))
            .await;
        return;
    };
    let Some(authority) = Authority::from_url(&url) else {
        let _ = client
            .write_all(&plain_response(
                400,
                "Bad Request",
                "hls-swarm measuring proxy: bad CONNECT target\n",
                true,
            ))
            .await;
        return;
    };
    let deadline = Instant::now() + shared.settings.timeout;
    let tcp = match resolve(&shared.settings, &authority, deadline).await {
        Ok(addrs) => connect_tcp(&addrs, deadline).await,
        Err(f) => Err(f),
    };
    let mut tcp = match tcp {
        Ok(t) => t,
        Err(f) => {
            let _ = client.write_all(&super::gateway_error(f.class, true)).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    if !early.is_empty() {
        if tcp.write_all(&early).await.is_err() {
            return;
        }
        shared
            .tunnel_bytes
            .fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    let mut counted = Counted {
        io: client,
        bytes: &shared.tunnel_bytes,
    };
    if let Err(e) = tokio::io::copy_bidirectional(&mut counted, &mut tcp).await {
        tracing::trace!(error = %e, class = ?ErrorClass::Reset, "measuring proxy: tunnel ended");
    }
}

/// FFmpeg's side of a tunnel, counting bytes both ways.
struct Counted<'a, T> {
    io: &'a mut T,
    bytes: &'a AtomicU64,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<'_, T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut *self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<'_, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut *self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.bytes.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }
}
