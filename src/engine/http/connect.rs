//! Opening one connection: address resolution (with `-resolve`), TCP, TLS (with ALPN),
//! hyper HTTP/1.1 or HTTP/2 handshake.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use url::{Host, Url};

use super::classify::{Phase, classify_io};
use super::{Failure, HttpSettings};
use crate::config::Http2Mode;
use crate::stats::event::{ErrorClass, Protocol};

/// hyper's read-buffer ceiling per connection. 8 KiB is hyper's minimum; 16 KiB leaves
/// room for large response heads while keeping thousands of connections cheap. Bodies
/// stream through it frame by frame, so it does not limit body size.
const MAX_BUF_SIZE: usize = 16 * 1024;

/// Where one request goes: scheme, host and port (the URL's authority plus whether it is
/// https), which is also the identity of a pooled connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authority<'a> {
    /// `https` rather than `http`.
    pub(super) https: bool,
    /// Host as parsed by `url` (domains are already lower-cased for http/https).
    pub(super) host: Host<&'a str>,
    /// Explicit or default port.
    pub(super) port: u16,
}

impl<'a> Authority<'a> {
    /// The authority of an http/https URL; `None` for other schemes or host-less URLs.
    pub(crate) fn from_url(url: &'a Url) -> Option<Self> {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        Some(Self {
            https,
            host: url.host()?,
            port: url.port_or_known_default()?,
        })
    }
}

/// Owned copy of an [`Authority`], stored with a pooled connection.
#[derive(Debug, Clone)]
pub(super) struct ConnKey {
    https: bool,
    host: Host<String>,
    port: u16,
}

impl ConnKey {
    /// Whether this connection can carry a request for `authority`.
    pub(super) fn matches(&self, authority: &Authority<'_>) -> bool {
        self.https == authority.https
            && self.port == authority.port
            && match (&self.host, &authority.host) {
                (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
                (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
                (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
                _ => false,
            }
    }
}

/// Aborts the connection task when the last handle on the connection is dropped, so
/// `reset()`, eviction and dropping a `Connections` really close sockets right away.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The request side of one connection: HTTP/1.1 (one request at a time) or HTTP/2
/// (cloneable, requests multiplexed as streams).
#[derive(Debug)]
pub(super) enum Sender {
    /// HTTP/1.1.
    Http1(http1::SendRequest<Empty<Bytes>>),
    /// HTTP/2.
    Http2(http2::SendRequest<Empty<Bytes>>),
}

impl Sender {
    /// The protocol this connection speaks.
    pub(super) fn protocol(&self) -> Protocol {
        match self {
            Sender::Http1(_) => Protocol::Http1,
            Sender::Http2(_) => Protocol::Http2,
        }
    }

    /// Whether the connection is gone (closed by the server, broken, or GOAWAY received).
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }

    /// Waits until the connection can take a request (HTTP/2: a stream slot is free).
    pub(super) async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::Http1(s) => s.ready().await,
            Sender::Http2(s) => s.ready().await,
        }
    }

    /// Sends `req` and waits for the response head.
    pub(super) async fn send_request(
        &mut self,
        req: Request<Empty<Bytes>>,
    ) -> Result<Response<Incoming>, hyper::Error> {
        match self {
            Sender::Http1(s) => s.send_request(req).await,
            Sender::Http2(s) => s.send_request(req).await,
        }
    }
}

/// One open connection: the request sender plus its driver task. An HTTP/2 connection
/// has several of these at once (one in the idle pool, one per request in flight),
/// sharing `id` and the driver task; the connection closes when the last one drops.
#[derive(Debug)]
pub(super) struct PooledConn {
    pub(super) key: ConnKey,
    pub(super) sender: Sender,
    /// Identity of the underlying connection (unique per viewer pool's lifetime).
    pub(super) id: u64,
    /// When it last went back to the idle pool (set by the pool).
    pub(super) idle_since: Instant,
    _task: Arc<AbortOnDrop>,
}

impl PooledConn {
    /// Another handle on the same HTTP/2 connection (a request multiplexed on it);
    /// `None` for HTTP/1.1, whose connection carries one request at a time.
    pub(super) fn share(&self) -> Option<PooledConn> {
        match &self.sender {
            Sender::Http1(_) => None,
            Sender::Http2(s) => Some(PooledConn {
                key: self.key.clone(),
                sender: Sender::Http2(s.clone()),
                id: self.id,
                idle_since: self.idle_since,
                _task: Arc::clone(&self._task),
            }),
        }
    }
}

/// Source of connection identities.
static NEXT_CONN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Opens a new connection to `authority`, all of it bounded by `deadline`, speaking the
/// protocol `settings.http2` and (on TLS) the server's ALPN choice select.
pub(super) async fn connect(
    settings: &HttpSettings,
    authority: &Authority<'_>,
    deadline: Instant,
) -> Result<PooledConn, Failure> {
    let addrs = resolve(settings, authority, deadline).await?;
    let tcp = connect_tcp(&addrs, deadline).await?;
    // Small requests and latency measurements: never wait for Nagle.
    let _ = tcp.set_nodelay(true);

    let (sender, task) = if authority.https {
        let tls = tls_handshake(settings, authority, tcp, deadline).await?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
        if settings.http2 == Http2Mode::On && !h2 {
            tracing::warn!(
                host = %authority.host,
                "--http2 on: the server did not select h2 in ALPN; connection refused as a TLS failure"
            );
            return Err(Failure::transport(ErrorClass::Tls));
        }
        if h2 {
            start_http2(tls, deadline).await?
        } else {
            start_http1(tls).await?
        }
    } else if settings.http2 == Http2Mode::On {
        start_http2(tcp, deadline).await?
    } else {
        start_http1(tcp).await?
    };
    let key = ConnKey {
        https: authority.https,
        host: authority.host.to_owned(),
        port: authority.port,
    };
    Ok(PooledConn {
        key,
        sender,
        id: NEXT_CONN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        idle_since: Instant::now(),
        _task: Arc::new(task),
    })
}

/// The addresses to try, in order. `-resolve` short-circuits DNS for its host.
pub(crate) async fn resolve(
    settings: &HttpSettings,
    authority: &Authority<'_>,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, Failure> {
    if let Some(ip) = settings.resolve_override(&authority.host) {
        return Ok(vec![SocketAddr::new(ip, authority.port)]);
    }
    match &authority.host {
        Host::Ipv4(ip) => Ok(vec![SocketAddr::new(IpAddr::V4(*ip), authority.port)]),
        Host::Ipv6(ip) => Ok(vec![SocketAddr::new(IpAddr::V6(*ip), authority.port)]),
        Host::Domain(name) => {
            match timeout_at(deadline, tokio::net::lookup_host((*name, authority.port))).await {
                Err(_) => Err(Failure::transport(ErrorClass::Timeout)),
                Ok(Err(_)) => Err(Failure::transport(ErrorClass::Dns)),
                Ok(Ok(found)) => {
                    let addrs: Vec<SocketAddr> = found.collect();
                    if addrs.is_empty() {
                        Err(Failure::transport(ErrorClass::Dns))
                    } else {
                        Ok(addrs)
                    }
                }
            }
        }
    }
}

/// Tries each address in turn (like curl without happy eyeballs); the last error wins.
pub(crate) async fn connect_tcp(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<TcpStream, Failure> {
    let mut last = ErrorClass::Other;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(Failure::transport(ErrorClass::Timeout)),
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => {
                tracing::debug!(%addr, error = %e, "tcp connect failed");
                last = classify_io(&e, Phase::Connect);
            }
        }
    }
    Err(Failure::transport(last))
}

/// TLS over an established TCP stream. SNI and certificate checks use the URL's host,
/// never the `-resolve` address.
async fn tls_handshake(
    settings: &HttpSettings,
    authority: &Authority<'_>,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let tls_fail = || Failure::transport(ErrorClass::Tls);
    let config = settings.tls_config().map_err(|e| {
        tracing::warn!(error = %e, "cannot build TLS client configuration");
        tls_fail()
    })?;
    let server_name = match &authority.host {
        Host::Domain(name) => {
            rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|_| tls_fail())?
        }
        Host::Ipv4(ip) => rustls::pki_types::ServerName::IpAddress(IpAddr::V4(*ip).into()),
        Host::Ipv6(ip) => rustls::pki_types::ServerName::IpAddress(IpAddr::V6(*ip).into()),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
    match timeout_at(deadline, connector.connect(server_name, tcp)).await {
        Err(_) => Err(Failure::transport(ErrorClass::Timeout)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "tls handshake failed");
            Err(Failure::transport(classify_io(&e, Phase::Handshake)))
        }
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// hyper HTTP/1.1 handshake (no I/O) and the task that drives the connection.
async fn start_http1<S>(io: S) -> Result<(Sender, AbortOnDrop), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder.max_buf_size(MAX_BUF_SIZE);
    // We only ever write small GET heads: one flat buffer is simplest and cheapest.
    builder.writev(false);
    let (sender, conn) = builder
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|_| Failure::transport(ErrorClass::Other))?;
    let task = tokio::spawn(async move {
        if let Err(e) = conn.await {
            // The request that was in flight sees this error itself; this is for tracing.
            tracing::trace!(error = %e, "http1 connection ended with error");
        }
    });
    Ok((Sender::Http1(sender), AbortOnDrop(task)))
}

/// hyper HTTP/2 handshake (sends the preface and SETTINGS, bounded by `deadline`) and the
/// task that drives the connection.
async fn start_http2<S>(io: S, deadline: Instant) -> Result<(Sender, AbortOnDrop), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Requests are small GETs; hyper's defaults (fixed flow-control windows) bound the
    // memory of each connection.
    let builder = http2::Builder::new(TokioExecutor::new());
    let handshake = builder.handshake::<_, Empty<Bytes>>(TokioIo::new(io));
    let (sender, conn) = match timeout_at(deadline, handshake).await {
        Err(_) => return Err(Failure::transport(ErrorClass::Timeout)),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "http2 handshake failed");
            return Err(Failure::transport(super::classify::classify_hyper(
                &e,
                Phase::Head,
            )));
        }
        Ok(Ok(pair)) => pair,
    };
    let task = tokio::spawn(async move {
        if let Err(e) = conn.await {
            // Requests in flight see this error themselves; this is for tracing.
            tracing::trace!(error = %e, "http2 connection ended with error");
        }
    });
    Ok((Sender::Http2(sender), AbortOnDrop(task)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_from_url_covers_defaults_and_rejects_other_schemes() {
        let u = Url::parse("https://Example.COM/x").expect("url");
        let t = Authority::from_url(&u).expect("authority");
        assert!(t.https);
        assert_eq!(t.port, 443);
        assert_eq!(t.host, Host::Domain("example.com"));

        let u = Url::parse("http://[::1]:8080/x").expect("url");
        let t = Authority::from_url(&u).expect("authority");
        assert_eq!(t.port, 8080);
        assert!(matches!(t.host, Host::Ipv6(_)));

        let u = Url::parse("ftp://example.com/x").expect("url");
        assert!(Authority::from_url(&u).is_none());
    }

    #[test]
    fn key_matches_same_scheme_host_port_only() {
        let a = Url::parse("http://example.com:8080/a").expect("url");
        let key = {
            let t = Authority::from_url(&a).expect("authority");
            ConnKey {
                https: t.https,
                host: t.host.to_owned(),
                port: t.port,
            }
        };
        for (u, want) in [
            ("http://example.com:8080/other?q", true),
            ("https://example.com:8080/a", false),
            ("http://example.com/a", false),
            ("http://other.com:8080/a", false),
        ] {
            let u = Url::parse(u).expect("url");
            let t = Authority::from_url(&u).expect("authority");
            assert_eq!(key.matches(&t), want, "{u}");
        }
    }
}
