//! The one TCP accept loop the built-in HTTP servers (origin, metrics) share: bind with a
//! backlog, accept until cancelled, then let in-flight connections finish for a grace.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Bind `addr` with SO_REUSEADDR (a restarted process can rebind while old connections sit
/// in TIME_WAIT; a second live listener still fails) and a listen backlog of `backlog`.
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(backlog)
}

/// Accept connections on `listener` until `cancel`, handing each to `serve_conn`; then stop
/// accepting, wait at most `grace` for the connections in flight, and abort the rest.
/// `name` labels accept-failure warnings.
pub async fn accept_until<F, Fut>(
    listener: TcpListener,
    cancel: CancellationToken,
    grace: Duration,
    name: &'static str,
    serve_conn: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            res = listener.accept() => match res {
                Ok((stream, _)) => {
                    conns.spawn(serve_conn(stream));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, server = name, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}
