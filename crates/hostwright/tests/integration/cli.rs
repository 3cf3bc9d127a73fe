//! The `hostwright` binary itself: configuration checks, creating an administrator from the
//! command line, and a node that starts, answers, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hostwright(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hostwright"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("HOSTWRIGHT_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

#[test]
fn config_check_prints_the_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let output = hostwright(dir.path())
        .args(["config", "check"])
        .env("HOSTWRIGHT_SMTP__PASSWORD", "hunter2-secret")
        .env("HOSTWRIGHT_LISTEN", "127.0.0.1:9999")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("listen = \"127.0.0.1:9999\""), "{stdout}");
    assert!(stdout.contains("[redacted]") && !stdout.contains("hunter2-secret"), "{stdout}");
}

#[test]
fn config_check_fails_on_an_invalid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("HOSTWRIGHT_DATABASE_URL", "mysql://db/hostwright"),
        ("HOSTWRIGHT_SECRET_KEY", "too-short"),
        ("HOSTWRIGHT_LISTEN", "not an address"),
        ("HOSTWRIGHT_FILES__BACKEND", "s3"),
    ] {
        let output = hostwright(dir.path()).args(["config", "check"]).env(key, value).output().unwrap();
        assert!(!output.status.success(), "{key}={value} was accepted");
        assert!(!String::from_utf8_lossy(&output.stderr).is_empty());
    }
    std::fs::write(dir.path().join("hostwright.toml"), "listen = \"127.0.0.1:7000\"\nunknown_setting = 1\n").unwrap();
    let output = hostwright(dir.path()).args(["config", "check"]).output().unwrap();
    assert!(!output.status.success(), "an unknown key in hostwright.toml was accepted");
}

#[test]
fn admin_create_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = hostwright(dir.path())
        .args(["admin", "create", "--email", "Ops@Example.com", "--name", "Ops Team", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"granite willow 55\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("created Ops Team <ops@example.com> as Administrator"), "{stdout}");
    assert!(dir.path().join("data/hostwright.db").exists());
    assert!(dir.path().join("data/secret.key").exists());

    let mut again = hostwright(dir.path())
        .args(["admin", "create", "--email", "ops@example.com", "--name", "Ops", "--password-stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    again.stdin.take().unwrap().write_all(b"granite willow 55\n").unwrap();
    let output = again.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("already belongs to a staff member"));
}

#[test]
fn a_node_starts_prints_the_setup_link_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let mut child = hostwright(dir.path())
        .args(["serve"])
        .env("HOSTWRIGHT_LISTEN", format!("127.0.0.1:{port}"))
        .env("HOSTWRIGHT_BASE_URL", format!("http://127.0.0.1:{port}/"))
        .env("HOSTWRIGHT_DRAIN_SECONDS", "5")
        .env("HOSTWRIGHT_DRAIN_NOTICE_SECONDS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.contains("/admin/setup/");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    assert!(text.contains(&format!("Hostwright is running at http://127.0.0.1:{port}/")), "{text}");
    assert!(text.contains(&format!("http://127.0.0.1:{port}/admin/setup/")), "{text}");
    let ready = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
            let mut answer = String::new();
            std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
            break answer;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the node never answered");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    // For its notice time the node still serves, telling the balancer it is not ready.
    std::thread::sleep(Duration::from_millis(500));
    let draining = get(port, "/readyz");
    assert!(draining.starts_with("HTTP/1.1 503"), "{draining}");
    assert!(draining.contains("\"draining\":true"), "{draining}");
    assert!(draining.to_ascii_lowercase().contains("connection: close"), "{draining}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the node did not stop within its drain time");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    assert!(started.elapsed() >= Duration::from_secs(2), "the node stopped before its notice time");

    // The node's heartbeat is in the database: it stopped cleanly.
    let output = hostwright(dir.path()).args(["cluster", "status"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Nodes: 0 alive of 1 seen"), "{stdout}");
    assert!(stdout.contains(" serve ") && stdout.contains("stopped"), "{stdout}");
    assert!(stdout.contains("Job queue: 0 pending"), "{stdout}");
    assert!(stdout.contains("Database: SQLite") && stdout.contains("(embedded)"), "{stdout}");
}

/// One request over a fresh connection; the whole answer.
fn get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
    answer
}
