//! The measuring proxy of a run while it runs, and what it tunnelled once it is closed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::proxy::Proxy;

/// Owns the run's [`Proxy`] until the stop closes it.
#[derive(Debug)]
pub struct ProxyHandle {
    running: Mutex<Option<Proxy>>,
    tunnel_at_stop: AtomicU64,
}

impl ProxyHandle {
    /// Hold `proxy`.
    pub fn new(proxy: Proxy) -> Self {
        ProxyHandle {
            running: Mutex::new(Some(proxy)),
            tunnel_at_stop: AtomicU64::new(0),
        }
    }

    /// Bytes tunnelled (https:// streams) so far, or in all once closed.
    pub fn tunnel_bytes(&self) -> u64 {
        self.running
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(Proxy::tunnel_bytes))
            .unwrap_or_else(|| self.tunnel_at_stop.load(Ordering::Relaxed))
    }

    /// Let the proxy report what is in flight (up to `grace`, at least 500 ms), then
    /// close it. Idempotent.
    pub async fn close(&self, grace: Duration) {
        let proxy = self.running.lock().ok().and_then(|mut p| p.take());
        if let Some(p) = proxy {
            p.quiesce(grace.max(Duration::from_millis(500))).await;
            self.tunnel_at_stop
                .store(p.tunnel_bytes(), Ordering::Relaxed);
            p.shutdown().await;
        }
    }
}
