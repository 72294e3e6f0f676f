//! Mapping transport failures onto [`ErrorClass`].

use std::error::Error as StdError;
use std::io;

use crate::stats::event::{ErrorClass, Protocol};

/// Where in the exchange a failure happened; the same I/O error means different things
/// before and after the response head (an EOF before the head is a reset, an EOF inside a
/// body with a known length is a truncation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// TCP connect.
    Connect,
    /// TLS handshake: every failure except a timeout counts as a TLS failure, because TCP
    /// already worked and the usual cause (plain-HTTP port, bad certificate, protocol
    /// mismatch) is a TLS problem.
    Handshake,
    /// Request written, waiting for the response head.
    Head,
    /// Reading the response body.
    Body,
}

/// Classifies a plain I/O error.
pub(crate) fn classify_io(err: &io::Error, phase: Phase) -> ErrorClass {
    if phase == Phase::Handshake {
        return match err.kind() {
            io::ErrorKind::TimedOut => ErrorClass::Timeout,
            _ => ErrorClass::Tls,
        };
    }
    if is_tls_error(err) {
        return ErrorClass::Tls;
    }
    match err.kind() {
        io::ErrorKind::ConnectionRefused => ErrorClass::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::NotConnected => ErrorClass::Reset,
        io::ErrorKind::UnexpectedEof if phase == Phase::Body => ErrorClass::Truncated,
        io::ErrorKind::UnexpectedEof => ErrorClass::Reset,
        io::ErrorKind::TimedOut => ErrorClass::Timeout,
        _ => ErrorClass::Other,
    }
}

/// Classifies an error from hyper (sending the request, or reading the body).
pub(crate) fn classify_hyper(err: &hyper::Error, phase: Phase) -> ErrorClass {
    if let Some(io_err) = find_io(err) {
        return classify_io(io_err, phase);
    }
    if err.is_timeout() {
        return ErrorClass::Timeout;
    }
    // The connection closed under us without an I/O error: before the head that is a
    // reset; inside a body it means fewer bytes than announced.
    if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        return if phase == Phase::Body {
            ErrorClass::Truncated
        } else {
            ErrorClass::Reset
        };
    }
    ErrorClass::Other
}

/// Classifies an error from hyper on a connection speaking `protocol`.
///
/// HTTP/2 adds: a stream reset (`RST_STREAM`) or a `GOAWAY` that ends the request is a
/// [`ErrorClass::Reset`], and so is a stream cut off because its connection died (an
/// I/O error or a close that HTTP/1.1 would call a truncated body): the stream did not
/// end short, it was torn down with its connection. HTTP/2 protocol errors are
/// [`ErrorClass::Other`].
pub(crate) fn classify_hyper_on(
    err: &hyper::Error,
    phase: Phase,
    protocol: Protocol,
) -> ErrorClass {
    if protocol == Protocol::Http1 {
        return classify_hyper(err, phase);
    }
    let class = match find_h2(err) {
        Some(h2) => match h2.get_io() {
            Some(io_err) => classify_io(io_err, phase),
            None if h2.is_reset() || h2.is_go_away() => ErrorClass::Reset,
            None if h2.reason().is_none() => classify_hyper(err, phase),
            None => ErrorClass::Other,
        },
        None => classify_hyper(err, phase),
    };
    if class == ErrorClass::Truncated {
        ErrorClass::Reset
    } else {
        class
    }
}

/// The first `h2::Error` in the source chain, if any.
fn find_h2(err: &hyper::Error) -> Option<&h2::Error> {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(h2_err) = e.downcast_ref::<h2::Error>() {
            return Some(h2_err);
        }
        source = e.source();
    }
    None
}

/// True when a failure on a *reused* keep-alive connection, before any response byte,
/// looks like the server closed the idle connection under us. Such a request never
/// reached the application, so a GET may be retried once on a fresh connection — exactly
/// what browsers and players do.
pub(crate) fn is_stale_connection(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        return true;
    }
    match find_io(err) {
        Some(io_err) => matches!(
            io_err.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::NotConnected
                | io::ErrorKind::UnexpectedEof
        ),
        None => false,
    }
}

/// The first `io::Error` in the source chain, if any.
fn find_io(err: &hyper::Error) -> Option<&io::Error> {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(io_err) = e.downcast_ref::<io::Error>() {
            return Some(io_err);
        }
        source = e.source();
    }
    None
}

/// tokio-rustls reports TLS protocol failures as `io::Error`s wrapping a `rustls::Error`.
fn is_tls_error(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn io_kinds_map_to_classes() {
        use io::ErrorKind as K;
        assert_eq!(
            classify_io(&io(K::ConnectionRefused), Phase::Connect),
            ErrorClass::Refused
        );
        assert_eq!(
            classify_io(&io(K::ConnectionReset), Phase::Head),
            ErrorClass::Reset
        );
        assert_eq!(
            classify_io(&io(K::BrokenPipe), Phase::Head),
            ErrorClass::Reset
        );
        assert_eq!(
            classify_io(&io(K::UnexpectedEof), Phase::Head),
            ErrorClass::Reset
        );
        assert_eq!(
            classify_io(&io(K::UnexpectedEof), Phase::Body),
            ErrorClass::Truncated
        );
        assert_eq!(
            classify_io(&io(K::ConnectionReset), Phase::Body),
            ErrorClass::Reset
        );
        assert_eq!(
            classify_io(&io(K::TimedOut), Phase::Connect),
            ErrorClass::Timeout
        );
        assert_eq!(
            classify_io(&io(K::PermissionDenied), Phase::Connect),
            ErrorClass::Other
        );
    }

    #[test]
    fn handshake_failures_are_tls_except_timeouts() {
        use io::ErrorKind as K;
        assert_eq!(
            classify_io(&io(K::UnexpectedEof), Phase::Handshake),
            ErrorClass::Tls
        );
        assert_eq!(
            classify_io(&io(K::TimedOut), Phase::Handshake),
            ErrorClass::Timeout
        );
    }

    #[test]
    fn wrapped_rustls_errors_are_tls_in_any_phase() {
        let err = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(classify_io(&err, Phase::Body), ErrorClass::Tls);
        assert_eq!(classify_io(&err, Phase::Head), ErrorClass::Tls);
    }
}
