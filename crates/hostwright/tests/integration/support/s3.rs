//! A real S3-compatible server (s3s-fs) started for the test, on a free loopback port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TestS3 {
    pub endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

pub const ACCESS_KEY: &str = "devkey";
pub const SECRET_KEY: &str = "devsecret";

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("HOSTWRIGHT_TEST_S3_SERVER") {
        return PathBuf::from(path);
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|p| p.join("bin").join("s3s-fs"));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

impl TestS3 {
    /// Starts the server with one bucket; fails (never skips) when it cannot run.
    pub async fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().expect("S3 data directory");
        std::fs::create_dir_all(dir.path().join(bucket)).expect("bucket directory");
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port();
        let mut child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY])
            .args(["--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("the S3 test server (s3s-fs) is required; run scripts/test to install it: {e}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return TestS3 { endpoint, child, _dir: dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the S3 test server did not start on port {port}");
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
