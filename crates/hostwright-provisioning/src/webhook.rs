//! The webhook module: each lifecycle action is a signed JSON event posted to a URL, and a
//! 2xx answer means it was done. The generic way to connect any panel or script.
//!
//! The body is signed as `Hostwright-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the server's signing secret>`, so the receiver can check both who sent
//! it and when (and refuse old copies).

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    Account, Capabilities, Created, Exchange, Field, ModuleError, ModuleInfo, ProvisioningModule, Redactor, Server,
    Usage, excerpt, send,
};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Hostwright-Signature";

pub struct Webhook {
    http: reqwest::Client,
}

impl Webhook {
    pub fn new(http: reqwest::Client) -> Self {
        Webhook { http }
    }

    /// Posts event `kind` about `account` (or none, for a ping) and reads the answer.
    async fn post(
        &self,
        server: &Server,
        account: Option<&Account>,
        kind: &str,
        extra: Value,
        now: i64,
        log: &mut Vec<Exchange>,
    ) -> Result<Value, ModuleError> {
        let url = url::Url::parse(server.setting("url"))
            .map_err(|e| ModuleError::Refused(format!("the webhook address is not a URL: {e}")))?;
        let mut event = json!({ "type": kind, "created": now });
        if let Some(a) = account {
            event["id"] = json!(format!("{}.{kind}.{now}", a.service_ref));
            event["service"] = json!({
                "id": a.service_ref, "username": a.username, "domain": a.domain, "email": a.email,
                "product": a.product,
            });
            if let Some(password) = &a.password {
                event["password"] = json!(password.expose());
            }
        }
        if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
            event.extend(extra);
        }
        let body = event.to_string();
        let redactor = Redactor::for_call(server, account);
        let request = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header("Hostwright-Event", kind)
            .header(SIGNATURE_HEADER, signature_header(server.setting("secret"), now, body.as_bytes()))
            .body(body.clone());
        let mut exchange = Exchange {
            action: kind.to_owned(),
            request: redactor.redact(&format!("POST {url} {body}")),
            ..Exchange::default()
        };
        let answer = send(request, server.timeout).await;
        exchange.response = match &answer {
            Ok((status, text)) => redactor.redact(&format!("{status} {}", excerpt(text, 2000))),
            Err(err) => err.to_string(),
        };
        log.push(exchange);
        let (status, text) = answer?;
        match status {
            200..=299 => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
            401 | 403 => Err(ModuleError::Unauthorized(redactor.redact(&excerpt(&text, 300)))),
            _ => Err(ModuleError::Refused(format!("HTTP {status}: {}", redactor.redact(&excerpt(&text, 300))))),
        }
    }
}

/// The HMAC-SHA256 signature of `body` sent at `timestamp`, hex-encoded.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl ProvisioningModule for Webhook {
    fn info(&self) -> ModuleInfo {
        ModuleInfo {
            key: "webhook",
            label: "Webhook",
            server_fields: vec![
                Field::text("url", "Address", "Where each event is posted (https://…)."),
                Field::secret("secret", "Signing secret", "Events carry Hostwright-Signature made with it."),
            ],
            product_fields: vec![
                Field::text("package", "Package", "Sent with each event as product.package.").optional(),
            ],
            capabilities: Capabilities {
                test_connection: true,
                change_package: true,
                change_password: true,
                ..Capabilities::default()
            },
            client_actions: Vec::new(),
        }
    }

    async fn test_connection(&self, server: &Server, log: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        self.post(server, None, "ping", json!({}), now(), log).await?;
        Ok(format!("{} answered the ping", server.setting("url")))
    }

    async fn create(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<Created, ModuleError> {
        let answer = self.post(server, Some(account), "account.create", json!({}), now(), log).await?;
        // The receiver may choose the username.
        let username = answer["username"].as_str().filter(|u| !u.is_empty()).unwrap_or(&account.username).to_owned();
        Ok(Created { message: format!("created {username}"), username })
    }

    async fn suspend(
        &self,
        server: &Server,
        account: &Account,
        reason: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        self.post(server, Some(account), "account.suspend", json!({ "reason": reason }), now(), log).await.map(|_| ())
    }

    async fn unsuspend(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        self.post(server, Some(account), "account.unsuspend", json!({}), now(), log).await.map(|_| ())
    }

    async fn terminate(&self, server: &Server, account: &Account, log: &mut Vec<Exchange>) -> Result<(), ModuleError> {
        self.post(server, Some(account), "account.terminate", json!({}), now(), log).await.map(|_| ())
    }

    async fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        self.post(server, Some(account), "account.change_package", json!({}), now(), log).await.map(|_| ())
    }

    async fn change_password(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> Result<(), ModuleError> {
        if account.password.is_none() {
            return Err(ModuleError::Refused("no new password was given".into()));
        }
        self.post(server, Some(account), "account.change_password", json!({}), now(), log).await.map(|_| ())
    }

    async fn usage(&self, _: &Server, _: &Account, _: &mut Vec<Exchange>) -> Result<Usage, ModuleError> {
        Err(ModuleError::Unsupported)
    }

    async fn sso_url(&self, _: &Server, _: &Account, _: &mut Vec<Exchange>) -> Result<String, ModuleError> {
        Err(ModuleError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use wiremock::matchers::{header, header_exists, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::Secret;

    const SECRET: &str = "whk_signing_secret_1";

    fn server(url: &str, timeout: Duration) -> Server {
        let mut settings = BTreeMap::new();
        settings.insert("url".to_owned(), Secret::new(url));
        settings.insert("secret".to_owned(), Secret::new(SECRET));
        Server { hostname: "hooks.example".into(), settings, timeout }
    }

    fn account() -> Account {
        Account {
            service_ref: "42".into(),
            username: "acme01".into(),
            domain: "acme.example".into(),
            email: "ops@acme.example".into(),
            password: Some(Secret::new("Tr0ub4dor&3xyz")),
            product: BTreeMap::from([("package".to_owned(), "gold".to_owned())]),
            client_ip: None,
        }
    }

    /// Checks a request's signature the way a receiver would.
    fn signed_by_us(request: &Request) -> bool {
        let Some(value) = request.headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else { return false };
        let Some((t, v1)) = value.split_once(",v1=") else { return false };
        let Ok(t) = t.trim_start_matches("t=").parse::<i64>() else { return false };
        signature(SECRET, t, &request.body) == v1
    }

    #[tokio::test]
    async fn a_create_posts_a_signed_event_and_keeps_secrets_out_of_the_log() {
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hooks"))
            .and(header("hostwright-event", "account.create"))
            .and(header_exists("hostwright-signature"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"username": "acme01x"})))
            .mount(&receiver)
            .await;
        let module = Webhook::new(reqwest::Client::new());
        let mut log = Vec::new();
        let created = module
            .create(&server(&format!("{}/hooks", receiver.uri()), Duration::from_secs(5)), &account(), &mut log)
            .await;
        assert_eq!(created, Ok(Created { username: "acme01x".into(), message: "created acme01x".into() }));
        let requests = receiver.received_requests().await.unwrap_or_default();
        assert!(requests.iter().all(signed_by_us));
        let body: Value = serde_json::from_slice(&requests[0].body).unwrap_or(Value::Null);
        assert_eq!(body["service"]["domain"], "acme.example");
        assert_eq!(body["service"]["product"]["package"], "gold");
        let logged = format!("{log:?}");
        assert!(!logged.contains("Tr0ub4dor") && !logged.contains(SECRET), "{logged}");
        assert!(logged.contains("[redacted]"));
    }

    #[tokio::test]
    async fn a_refusal_a_bad_secret_and_silence_are_told_apart() {
        let receiver = MockServer::start().await;
        Mock::given(path("/refuse"))
            .respond_with(ResponseTemplate::new(422).set_body_string("domain acme.example exists"))
            .mount(&receiver)
            .await;
        Mock::given(path("/auth"))
            .respond_with(ResponseTemplate::new(401).set_body_string("bad signature"))
            .mount(&receiver)
            .await;
        Mock::given(path("/slow"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
            .mount(&receiver)
            .await;
        let module = Webhook::new(reqwest::Client::new());
        let at = |p: &str, t: u64| server(&format!("{}/{p}", receiver.uri()), Duration::from_secs(t));
        let mut log = Vec::new();
        assert_eq!(
            module.suspend(&at("refuse", 5), &account(), "Overdue", &mut log).await,
            Err(ModuleError::Refused("HTTP 422: domain acme.example exists".into()))
        );
        assert!(matches!(
            module.unsuspend(&at("auth", 5), &account(), &mut log).await,
            Err(ModuleError::Unauthorized(_))
        ));
        let silent = module.terminate(&at("slow", 1), &account(), &mut log).await;
        assert_eq!(silent, Err(ModuleError::Timeout(1)));
        assert!(silent.is_err_and(|e| e.transient()));
        assert_eq!(log.len(), 3);
        let closed = module.test_connection(&server("http://127.0.0.1:9/", Duration::from_secs(2)), &mut log).await;
        assert!(matches!(closed, Err(ModuleError::Unreachable(_))), "{closed:?}");
    }
}
