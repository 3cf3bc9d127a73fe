//! A real SMTP server (mailin) on a loopback port that keeps every message it receives.

use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    /// The decoded plain-text body.
    pub fn text(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .and_then(|m| m.subject().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The first link in the text body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
        Some(link)
    }
}

#[derive(Clone)]
struct Collector {
    store: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    buffer: Vec<u8>,
}

impl Handler for Collector {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.buffer.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buffer.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let message = Received { to: std::mem::take(&mut self.to), raw: std::mem::take(&mut self.buffer) };
        self.store.lock().expect("mail store").push(message);
        response::OK
    }
}

pub struct TestSmtp {
    pub port: u16,
    store: Arc<Mutex<Vec<Received>>>,
}

impl TestSmtp {
    pub fn start() -> Self {
        let store = Arc::new(Mutex::new(Vec::new()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the SMTP server");
        let port = listener.local_addr().expect("address").port();
        let mut server = Server::new(Collector { store: store.clone(), to: Vec::new(), buffer: Vec::new() });
        server.with_name("smtp.hostwright.test").with_num_threads(2).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        TestSmtp { port, store }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.store.lock().expect("mail store").clone()
    }

    /// The messages sent to one address.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.messages().into_iter().filter(|m| m.to.iter().any(|t| t.contains(address))).collect()
    }

    /// Waits briefly for a message to arrive (the server thread may still be writing it).
    pub async fn wait_for(&self, address: &str) -> Received {
        for _ in 0..50 {
            if let Some(message) = self.to(address).pop() {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email arrived for {address}");
    }
}
