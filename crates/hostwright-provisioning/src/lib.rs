//! Provisioning modules: what Hostwright asks of a hosting control panel (or of any system
//! that creates accounts), in terms that do not depend on the panel.
//!
//! A module never sees the database. The caller hands it the server (address and
//! credentials, decrypted for the call only) and the account (username, domain, package),
//! and keeps the record of what happened. Every call has a timeout; every request and answer
//! a module reports for the log has gone through [`Redactor`] first.

pub mod cpanel;
pub mod directadmin;
pub mod plesk;
pub mod postgres;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use hostwright_core::Secret;

/// What kind of value a setting takes, for the admin form that asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Stored encrypted, never shown again.
    Secret,
    Number,
    Checkbox,
    /// One of these values.
    Choice(Vec<String>),
}

/// A setting a module needs, of a server or of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub help: &'static str,
}

impl Field {
    pub fn text(key: &'static str, label: &'static str, help: &'static str) -> Self {
        Field { key, label, kind: FieldKind::Text, required: true, help }
    }

    pub fn secret(key: &'static str, label: &'static str, help: &'static str) -> Self {
        Field { key, label, kind: FieldKind::Secret, required: true, help }
    }

    pub fn optional(self) -> Self {
        Field { required: false, ..self }
    }
}

/// What a module can do; the admin and client pages offer only these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub test_connection: bool,
    pub change_package: bool,
    pub change_password: bool,
    pub usage: bool,
    pub single_sign_on: bool,
    /// Lists the server's packages (plans) for a product's settings.
    pub packages: bool,
}

/// A module's name and the settings it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub key: &'static str,
    pub label: &'static str,
    pub server_fields: Vec<Field>,
    pub product_fields: Vec<Field>,
    pub capabilities: Capabilities,
    /// Extra buttons the client area offers on a service (a module's own features).
    pub client_actions: Vec<ClientAction>,
}

/// A module's own action a client may start from the service page ("Reset file permissions").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAction {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
}

/// What a client action did: a message to show, or an address to send the client to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    Message(String),
    Redirect(String),
}

/// The server an account lives on, with its credentials decrypted for this call.
#[derive(Debug, Clone)]
pub struct Server {
    pub hostname: String,
    /// The module's settings of this server (its `server_fields`), secrets included.
    pub settings: BTreeMap<String, Secret>,
    pub timeout: Duration,
}

impl Server {
    /// A setting's value, or empty.
    pub fn setting(&self, key: &str) -> &str {
        self.settings.get(key).map_or("", Secret::expose)
    }
}

/// The account a call acts on.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// Our service's id.
    pub service_ref: String,
    pub username: String,
    pub domain: String,
    pub email: String,
    /// Only for create and change password.
    pub password: Option<Secret>,
    /// The product's settings for this module (its `product_fields`).
    pub product: BTreeMap<String, String>,
    /// The client's own address, for a sign-on a panel ties to it (Plesk).
    pub client_ip: Option<std::net::IpAddr>,
}

/// What a create made on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub username: String,
    pub message: String,
}

/// What an account uses of its limits; `None` is unlimited or unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub disk_used_mb: u64,
    pub disk_limit_mb: Option<u64>,
    pub bandwidth_used_mb: u64,
    pub bandwidth_limit_mb: Option<u64>,
}

/// Why a call did not do what was asked. Every variant's text is safe to show staff.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModuleError {
    /// The panel answered and refused (username taken, package missing): its own words.
    #[error("the server refused: {0}")]
    Refused(String),
    /// The credentials were not accepted.
    #[error("the server did not accept the credentials: {0}")]
    Unauthorized(String),
    /// Nothing reached the server (connection refused, DNS, TLS).
    #[error("could not reach the server: {0}")]
    Unreachable(String),
    /// Sent, but no answer in time: it may or may not have been done.
    #[error("the server did not answer within {0} seconds")]
    Timeout(u64),
    /// An answer that cannot be read.
    #[error("the server's answer could not be read: {0}")]
    Protocol(String),
    #[error("this module does not support that")]
    Unsupported,
}

impl ModuleError {
    /// Whether trying again later may help (the call may also have been carried out, so only
    /// calls that are safe to repeat are retried).
    pub fn transient(&self) -> bool {
        matches!(self, ModuleError::Unreachable(_) | ModuleError::Timeout(_))
    }
}

/// One request and its answer, as the module log keeps them (already redacted).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    pub action: String,
    pub request: String,
    pub response: String,
}

/// Removes every secret it was given from text, before the text is logged or stored.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the server's secrets and the account's password.
    pub fn for_call(server: &Server, account: Option<&Account>) -> Self {
        let mut secrets: Vec<String> = server.settings.values().map(|s| s.expose().to_owned()).collect();
        if let Some(password) = account.and_then(|a| a.password.as_ref()) {
            secrets.push(password.expose().to_owned());
        }
        Redactor::new(secrets)
    }

    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        // Short values (a port, "1") would blank out ordinary text; real secrets are longer.
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.chars().count() >= 6).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            for form in encodings(secret) {
                if !form.is_empty() {
                    out = out.replace(&form, "[redacted]");
                }
            }
        }
        out
    }
}

/// A secret as it may appear in a request: as is, form-encoded, JSON-escaped.
fn encodings(secret: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let json = serde_json::to_string(secret).unwrap_or_default();
    vec![secret.to_owned(), form, json.trim_matches('"').to_owned()]
}

/// What Hostwright asks of a provisioning module. Every call reports its exchanges with the
/// server (redacted) through `log`, successful or not.
pub trait ProvisioningModule: Send + Sync {
    fn info(&self) -> ModuleInfo;

    /// A harmless authenticated request; the answer says what the server is.
    fn test_connection(
        &self,
        server: &Server,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<String, ModuleError>> + Send;

    fn create(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<Created, ModuleError>> + Send;

    fn suspend(
        &self,
        server: &Server,
        account: &Account,
        reason: &str,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send;

    fn unsuspend(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send;

    fn terminate(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send;

    fn change_package(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send;

    /// Sets `account.password` as the account's password.
    fn change_password(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send;

    fn usage(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<Usage, ModuleError>> + Send;

    /// An address that signs the client into the panel, valid for a short time.
    fn sso_url(
        &self,
        server: &Server,
        account: &Account,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<String, ModuleError>> + Send;

    /// The packages (hosting plans) the server offers, by name, for a product's settings.
    fn packages(
        &self,
        server: &Server,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<Vec<String>, ModuleError>> + Send {
        let _ = (server, log);
        async { Err(ModuleError::Unsupported) }
    }

    /// Runs one of `info().client_actions`.
    fn client_action(
        &self,
        server: &Server,
        account: &Account,
        action: &str,
        log: &mut Vec<Exchange>,
    ) -> impl Future<Output = Result<ActionOutcome, ModuleError>> + Send {
        let _ = (server, account, action, log);
        async { Err(ModuleError::Unsupported) }
    }
}

/// Sends a request with the server's timeout and reads the answer as text, mapping what went
/// wrong on the way to a [`ModuleError`].
pub async fn send(request: reqwest::RequestBuilder, timeout: Duration) -> Result<(u16, String), ModuleError> {
    let response = request.timeout(timeout).send().await.map_err(|e| {
        if e.is_connect() {
            ModuleError::Unreachable(without_url(&e))
        } else {
            // Sent, perhaps, but no answer: it may have been carried out.
            ModuleError::Timeout(timeout.as_secs())
        }
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|_| ModuleError::Timeout(timeout.as_secs()))?;
    Ok((status, body))
}

/// An error's text without the URL (which may carry credentials in its query).
fn without_url(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut deepest = String::new();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    if deepest.is_empty() { "the connection failed".to_owned() } else { deepest }
}

/// Where a panel answers: the server's hostname itself when written with a scheme
/// (`https://whm.example:2087`, or a test double's `http://127.0.0.1:…`), else
/// `https://<hostname>:<port>` with the server's port setting or `default_port`.
pub fn panel_address(server: &Server, default_port: u16) -> Result<url::Url, ModuleError> {
    let host = server.hostname.trim();
    let address = if host.contains("://") {
        host.to_owned()
    } else {
        let port = match server.setting("port").trim() {
            "" => default_port,
            port => port.parse().map_err(|_| ModuleError::Refused(format!("the port {port:?} is not a number")))?,
        };
        format!("https://{host}:{port}")
    };
    url::Url::parse(&address)
        .map_err(|e| ModuleError::Refused(format!("the server address {address:?} is not usable: {e}")))
}

/// Takes live login tokens (a panel session, a sign-in address) out of the last logged
/// answer: the log outlives the session.
pub fn forget(log: &mut [Exchange], tokens: &[&str]) {
    let redactor = Redactor::new(tokens.iter().map(|t| (*t).to_owned()));
    if let Some(last) = log.last_mut() {
        last.response = redactor.redact(&last.response);
    }
}

/// The first `chars` characters of an answer, for messages and the log.
pub fn excerpt(text: &str, chars: usize) -> String {
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(chars).collect();
    if trimmed.chars().count() > chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_however_they_are_written() {
        let redactor = Redactor::new(["p@ss word&1".to_owned(), "tok_ABCDEF123".to_owned(), "1".to_owned()]);
        let text = r#"password=p%40ss+word%261&auth=tok_ABCDEF123 {"pw":"p@ss word&1"} port 1"#;
        let clean = redactor.redact(text);
        assert!(!clean.contains("p@ss") && !clean.contains("p%40ss") && !clean.contains("tok_ABC"), "{clean}");
        assert!(clean.contains("port 1"), "short values are not secrets: {clean}");
    }
}
