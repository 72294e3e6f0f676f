//! A real Prometheus (Debian's `prometheus` binary) on loopback, in a temp dir, with a
//! configuration the test writes; stopped by its pid when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::get;

/// The Prometheus child, stopped (by its pid) when dropped.
pub struct Prometheus {
    child: Child,
    /// Its HTTP address (API and UI).
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Start `binary` with the configuration text `config`, its data and log in `dir`
    /// (a temp dir of the caller), listening on a free loopback port.
    pub fn start(binary: &Path, config: &str, dir: &Path) -> Prometheus {
        let cfg_path = dir.join("prometheus.yml");
        std::fs::write(&cfg_path, config).expect("write config");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let log = dir.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start prometheus");
        Prometheus { child, addr, log }
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until `/-/ready` answers 200 (panics after `within`).
    pub async fn ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok()
                && get(self.addr, "/-/ready").await.0 == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within {within:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run an instant query; `Err` carries Prometheus's error for invalid PromQL.
    pub async fn query(&self, promql: &str) -> Result<serde_json::Value, String> {
        let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let (status, body) = get(self.addr, &format!("/api/v1/query?query={q}")).await;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("HTTP {status}: {e}: {body}"))?;
        if v["status"] == "success" {
            Ok(v["data"]["result"].clone())
        } else {
            Err(format!("{promql}: {}", v["error"]))
        }
    }

    /// The value of a single-series result, if there is exactly one series.
    pub async fn scalar(&self, promql: &str) -> Option<String> {
        let r = self.query(promql).await.ok()?;
        let series = r.as_array()?;
        (series.len() == 1)
            .then(|| series[0]["value"][1].as_str().map(str::to_string))
            .flatten()
    }

    /// Every series of `promql` as (the value of its label `label`, its value); panics on
    /// an error or a value that is not a number.
    pub async fn by_label(&self, promql: &str, label: &str) -> Vec<(String, f64)> {
        let r = self.query(promql).await.unwrap_or_else(|e| panic!("{e}"));
        r.as_array()
            .expect("a vector")
            .iter()
            .map(|s| {
                let key = s["metric"][label].as_str().unwrap_or_default().to_string();
                let v = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{promql}: bad value in {s}"));
                (key, v)
            })
            .collect()
    }
}

/// A loopback port free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
