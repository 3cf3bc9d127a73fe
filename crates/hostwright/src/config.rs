//! One typed settings tree, layered: defaults, `hostwright.toml`, `HOSTWRIGHT_*` variables.
//!
//! Nested keys use a double underscore in the environment: `HOSTWRIGHT_SMTP__HOST`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The whole configuration of one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Public address customers use; links in emails are built from it.
    pub base_url: Url,
    /// `sqlite://…` (embedded default) or `postgres://…` (clusters).
    #[serde(serialize_with = "redact_database_url")]
    pub database_url: String,
    /// Maximum connections in the database pool.
    pub database_max_connections: u32,
    /// 32 bytes, base64. Generated into `<data_dir>/secret.key` when absent.
    #[serde(serialize_with = "redact_opt", skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<SecretString>,
    /// Where the embedded defaults keep their state (SQLite file, secret key, local files).
    pub data_dir: PathBuf,
    /// A folder whose files override the built-in templates and assets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme_dir: Option<PathBuf>,
    /// Name shown in page titles and emails until the business settings say otherwise.
    pub site_name: String,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub drain_seconds: u64,
    /// Seconds a node keeps serving after SIGTERM with `/readyz` failing, so the load
    /// balancer's health check takes it out before it stops accepting connections.
    pub drain_notice_seconds: u64,
    /// Seconds a request that found the database unreachable or moved (a PostgreSQL
    /// failover) is run again, when it is safe to (reads, and forms idempotent by key),
    /// before it is answered 503 with Retry-After. 0 turns these retries off.
    pub failover_retry_seconds: u64,
    /// Jobs a node's worker runs at a time (`serve` without `--no-worker`, and `worker`).
    pub job_workers: usize,
    /// Seconds the scheduler lease lasts unless renewed; a standby node takes the daily run
    /// over this long after its holder stopped.
    pub automation_lease_seconds: u64,
    /// Seconds a job claim lasts; by default the longest job's timeout and a margin. Only
    /// shorten it when every job is quick.
    pub job_lease_seconds: Option<u64>,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Proxies whose `X-Forwarded-For` is believed (CIDR ranges).
    pub trusted_proxies: Vec<IpNet>,
    /// `/metrics` on the public address answers only requests with `Authorization: Bearer
    /// <this token>`; without a token it is not served there at all.
    #[serde(serialize_with = "redact_opt", skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<SecretString>,
    /// A separate address (e.g. `127.0.0.1:9100`, or one only the monitoring network reaches)
    /// that serves `/metrics` without a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    pub files: FileSettings,
    pub smtp: SmtpSettings,
    pub session: SessionSettings,
    pub security: SecuritySettings,
    pub payments: PaymentSettings,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How payment gateways are reached (their keys are business settings, encrypted in the
/// database).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Stripe's API; only changed to reach a test double.
    pub stripe_api_base: Url,
    /// PayPal's live API; only changed to reach a test double.
    pub paypal_api_base: Url,
    /// PayPal's sandbox API, used while the PayPal gateway is in test mode.
    pub paypal_sandbox_base: Url,
    /// Seconds a gateway has to answer before the outcome is treated as unknown.
    pub gateway_timeout_seconds: u64,
}

/// Where files (attachments, invoice PDFs) live.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// `local` (a directory) or `s3` (any S3-compatible store).
    pub backend: FileBackend,
    /// For `local`: the directory; defaults to `<data_dir>/files`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FileBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// Empty for AWS itself; e.g. `http://127.0.0.1:3900` for Garage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub access_key_id: String,
    #[serde(serialize_with = "redact")]
    pub secret_access_key: SecretString,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most self-hosted stores.
    pub path_style: bool,
    /// Key prefix inside the bucket, e.g. `hostwright/`.
    pub prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Empty means email is queued but not sent (visible in the admin outbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: SmtpSecurity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(serialize_with = "redact_opt", skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretString>,
    pub from_email: String,
    pub from_name: String,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// A session unused for this long ends.
    pub idle_minutes: i64,
    /// A session ends this long after sign-in, used or not.
    pub absolute_hours: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Failures per account or per IP before sign-in is refused for a while.
    pub max_failures: i64,
    /// Window in which failures are counted, and how long the lock lasts.
    pub lockout_minutes: i64,
    /// Registrations and reset requests accepted per IP per hour.
    pub requests_per_hour: i64,
}

impl Default for Settings {
    fn default() -> Self {
        let listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
        Self {
            listen,
            base_url: Url::parse("http://127.0.0.1:8080/").unwrap_or_else(|_| unreachable!()),
            database_url: "sqlite://data/hostwright.db?mode=rwc".into(),
            database_max_connections: 10,
            secret_key: None,
            data_dir: PathBuf::from("data"),
            theme_dir: None,
            site_name: "Hostwright".into(),
            max_body_bytes: 10 * 1024 * 1024,
            drain_seconds: 20,
            drain_notice_seconds: 3,
            failover_retry_seconds: 20,
            job_workers: 4,
            automation_lease_seconds: 30,
            job_lease_seconds: None,
            log_format: LogFormat::Pretty,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_listen: None,
            files: FileSettings {
                backend: FileBackend::Local,
                path: None,
                s3: S3Settings {
                    bucket: String::new(),
                    region: "us-east-1".into(),
                    endpoint: None,
                    access_key_id: String::new(),
                    secret_access_key: SecretString::from(""),
                    path_style: true,
                    prefix: String::new(),
                },
            },
            smtp: SmtpSettings {
                host: None,
                port: 587,
                security: SmtpSecurity::Starttls,
                username: None,
                password: None,
                from_email: "billing@example.com".into(),
                from_name: "Hostwright".into(),
                timeout_seconds: 30,
            },
            session: SessionSettings { idle_minutes: 120, absolute_hours: 12 },
            security: SecuritySettings { max_failures: 5, lockout_minutes: 15, requests_per_hour: 10 },
            payments: PaymentSettings {
                stripe_api_base: Url::parse("https://api.stripe.com/").unwrap_or_else(|_| unreachable!()),
                paypal_api_base: Url::parse("https://api-m.paypal.com/").unwrap_or_else(|_| unreachable!()),
                paypal_sandbox_base: Url::parse("https://api-m.sandbox.paypal.com/").unwrap_or_else(|_| unreachable!()),
                gateway_timeout_seconds: 30,
            },
        }
    }
}

impl Settings {
    /// Loads defaults, then `hostwright.toml` (or `HOSTWRIGHT_CONFIG`), then the environment.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<Self> {
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("HOSTWRIGHT_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("hostwright.toml"));
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(&file)).merge(
            // HOSTWRIGHT_CONFIG names the file; HOSTWRIGHT_TEST_* belong to the test suite.
            Env::prefixed("HOSTWRIGHT_")
                .ignore(&["CONFIG"])
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                .split("__"),
        );
        Self::from_figment(figment)
    }

    pub fn from_figment(figment: Figment) -> anyhow::Result<Self> {
        let settings: Settings = figment.extract().context("reading the configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    /// Rejects settings that would fail later in a less obvious way.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres")) {
            bail!("database_url must start with sqlite:// or postgres://");
        }
        if !matches!(self.base_url.scheme(), "http" | "https") {
            bail!("base_url must be an http:// or https:// address");
        }
        if let Some(key) = &self.secret_key {
            crate::crypto::SecretKey::from_base64(key.expose_secret())
                .context("secret_key must be 32 bytes encoded as base64")?;
        }
        if self.files.backend == FileBackend::S3 && self.files.s3.bucket.is_empty() {
            bail!("files.s3.bucket is required when files.backend = \"s3\"");
        }
        if self.session.idle_minutes <= 0 || self.session.absolute_hours <= 0 {
            bail!("session timeouts must be positive");
        }
        if self.security.max_failures <= 0 || self.security.lockout_minutes <= 0 {
            bail!("security.max_failures and security.lockout_minutes must be positive");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        Ok(())
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The name a cookie goes by: on https with the `__Host-` prefix, which browsers accept
    /// only from this very host over https with `Path=/` (a sibling subdomain cannot plant
    /// or overwrite it).
    pub fn cookie_name(&self, base: &str) -> String {
        if self.secure_cookies() { format!("__Host-{base}") } else { base.to_owned() }
    }

    /// An absolute link to `path` on the public address.
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(self).context("printing the configuration")
    }
}

fn redact<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() { s.serialize_str("") } else { s.serialize_str("[redacted]") }
}

/// The URL with any password replaced, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn redact_database_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

fn redact_opt<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => redact(secret, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use figment::Jail;

    use super::*;

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure returns figment::Error")]
    fn the_environment_overrides_the_file_which_overrides_the_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "hostwright.toml",
                "listen = \"0.0.0.0:9000\"\nsite_name = \"Acme Hosting\"\n[smtp]\nhost = \"mail.acme.test\"\n",
            )?;
            jail.set_env("HOSTWRIGHT_LISTEN", "127.0.0.1:9100");
            jail.set_env("HOSTWRIGHT_SMTP__PORT", "2525");
            jail.set_env("HOSTWRIGHT_TRUSTED_PROXIES", "[\"10.0.0.0/8\"]");
            jail.set_env("HOSTWRIGHT_TEST_DATABASE_URL", "postgres://ignored");
            let settings = Settings::load(None).map_err(|e| format!("{e:#}"))?;
            assert_eq!(settings.listen.to_string(), "127.0.0.1:9100");
            assert_eq!(settings.site_name, "Acme Hosting");
            assert_eq!(settings.smtp.host.as_deref(), Some("mail.acme.test"));
            assert_eq!(settings.smtp.port, 2525);
            assert_eq!(settings.trusted_proxies.len(), 1);
            assert_eq!(settings.database_url, "sqlite://data/hostwright.db?mode=rwc");
            Ok(())
        });
    }

    #[test]
    fn secrets_never_appear_in_the_printed_configuration() {
        let settings = Settings {
            secret_key: Some(crate::crypto::SecretKey::generate().to_base64().into()),
            smtp: SmtpSettings { password: Some("hunter2".to_owned().into()), ..Settings::default().smtp },
            ..Settings::default()
        };
        let printed = settings.to_redacted_toml().unwrap();
        assert!(!printed.contains("hunter2"));
        let with_password = Settings { database_url: "postgres://app:hunter2@db:5432/hw".into(), ..settings.clone() };
        let printed_url = with_password.to_redacted_toml().unwrap();
        assert!(!printed_url.contains("hunter2"), "{printed_url}");
        assert!(printed_url.contains("postgres://app:redacted@db:5432/hw"), "{printed_url}");
        assert!(printed.contains("secret_key = \"[redacted]\""));
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
