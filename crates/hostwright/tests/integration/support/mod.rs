//! The test harness: a fresh database per test (SQLite file or a new PostgreSQL database),
//! a real SMTP server, the router driven in-process, and a cookie jar.

pub mod fixtures;
pub mod s3;
pub mod smtp;
pub mod snapshot;
pub mod stripe;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use hostwright::config::Settings;
use hostwright::crypto::SecretKey;
use hostwright::state::AppState;
use sea_orm::{ConnectionTrait, Database, Statement};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that is dropped when the test ends.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                TestDb { url, admin_url: None, name: String::new(), _dir: Some(dir), _slot: None }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("HOSTWRIGHT_TEST_DATABASE_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("hw_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for the test suite and is not reachable at {admin_url}: {e}")
                });
                let slot = postgres_slot(&admin).await;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("creating the test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("test database URL");
                url.set_path(&format!("/{name}"));
                TestDb { url: url.to_string(), admin_url: Some(admin_url), name, _dir: None, _slot: Some(slot) }
            }
        }
    }
}

/// Connections one PostgreSQL test may hold at once: its nodes' pools (five each, up to four
/// nodes in the race tests) and the helpers' own connections.
const CONNECTIONS_PER_TEST: i64 = 25;

/// Waits until this test may hold a PostgreSQL database, so the suite as a whole stays below
/// the server's `max_connections` however many tests run side by side (the server is shared
/// with whatever else runs on the machine, so a fifth of it is left alone).
async fn postgres_slot(admin: &sea_orm::DatabaseConnection) -> tokio::sync::OwnedSemaphorePermit {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = match SLOTS.get() {
        Some(slots) => slots.clone(),
        None => {
            let row = admin
                .query_one_raw(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT current_setting('max_connections')::bigint \
                     - current_setting('superuser_reserved_connections')::bigint",
                ))
                .await
                .expect("reading max_connections")
                .expect("a row");
            let usable: i64 = row.try_get_by_index(0).expect("a number");
            let tests = (usable * 4 / 5 / CONNECTIONS_PER_TEST).max(1) as usize;
            SLOTS.get_or_init(|| Arc::new(tokio::sync::Semaphore::new(tests))).clone()
        }
    };
    slots.acquire_owned().await.expect("the semaphore is never closed")
}

impl TestDb {
    /// Runs `sql` as the PostgreSQL superuser on the server's maintenance database, with
    /// `{db}` replaced by this test's database name (PostgreSQL only).
    pub async fn admin_execute(&self, sql: &str) {
        let admin_url = self.admin_url.as_deref().expect("a PostgreSQL test database");
        let admin = Database::connect(admin_url).await.expect("connecting as the superuser");
        admin.execute_unprepared(&sql.replace("{db}", &self.name)).await.expect("running an admin statement");
        admin.close().await.ok();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs outside async; use a runtime of its own on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let admin = Database::connect(&admin_url).await.ok()?;
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// A response, read whole.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_redirect_to(&self, path: &str) {
        assert!(self.status.is_redirection(), "expected a redirect to {path}, got {} {}", self.status, self.body);
        assert_eq!(self.location(), path);
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) {
        assert!(self.body.contains(text), "expected the page to contain {text:?}, got {}:\n{}", self.status, self.body);
    }
}

/// One application instance with a browser-like cookie jar.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub cookies: BTreeMap<String, String>,
    pub ip: SocketAddr,
    pub smtp: Arc<smtp::TestSmtp>,
    pub db: Arc<TestDb>,
    _data: Arc<tempfile::TempDir>,
}

pub fn settings_for(db_url: &str, data: &std::path::Path, smtp_port: u16) -> Settings {
    let mut settings = Settings {
        database_url: db_url.to_owned(),
        database_max_connections: 5,
        data_dir: data.to_path_buf(),
        base_url: url::Url::parse("http://hostwright.test/").expect("base url"),
        ..Settings::default()
    };
    settings.smtp.host = Some("127.0.0.1".into());
    settings.smtp.port = smtp_port;
    settings.smtp.security = hostwright::config::SmtpSecurity::None;
    settings.smtp.from_email = "billing@hostwright.test".into();
    settings.smtp.timeout_seconds = 5;
    settings.secret_key = Some(SecretKey::generate().to_base64().into());
    settings.metrics_token = Some(METRICS_TOKEN.to_owned().into());
    settings
}

/// The bearer token the test nodes serve `/metrics` with.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789";

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let db = Arc::new(TestDb::create(backend).await);
        let smtp = Arc::new(smtp::TestSmtp::start());
        let data = Arc::new(tempfile::tempdir().expect("data directory"));
        let settings = settings_for(&db.url, data.path(), smtp.port);
        Self::with_settings(settings, db, smtp, data).await
    }

    pub async fn with_settings(
        settings: Settings,
        db: Arc<TestDb>,
        smtp: Arc<smtp::TestSmtp>,
        data: Arc<tempfile::TempDir>,
    ) -> Self {
        let state = hostwright::startup::build_state(settings).await.expect("building the app");
        let router = hostwright::startup::app(state.clone());
        TestApp {
            state,
            router,
            cookies: BTreeMap::new(),
            ip: "203.0.113.10:40000".parse().expect("address"),
            smtp,
            db,
            _data: data,
        }
    }

    /// A second node on the same database and secret key, with its own empty cookie jar.
    pub async fn second_node(&self) -> TestApp {
        let settings = self.state.settings.clone();
        TestApp::with_settings(settings, self.db.clone(), self.smtp.clone(), self._data.clone()).await
    }

    /// Another node on the same database whose settings `change` altered (a gateway's test
    /// double, say), with its own empty cookie jar.
    pub async fn reconfigured(&self, change: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.state.settings.clone();
        change(&mut settings);
        TestApp::with_settings(settings, self.db.clone(), self.smtp.clone(), self._data.clone()).await
    }

    /// The form token the pages this browser sees carry (bound to its sessions and cart).
    pub fn csrf_token(&self) -> String {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::COOKIE, self.cookie_header().parse().expect("cookie header"));
        hostwright::web::csrf::form_token(&self.state, &headers).unwrap_or_default()
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn send(&mut self, request: Request<Body>) -> TestResponse {
        let mut request = request;
        if !self.cookies.is_empty() {
            request.headers_mut().insert(header::COOKIE, self.cookie_header().parse().expect("cookie header"));
        }
        request.extensions_mut().insert(ConnectInfo(self.ip));
        let response = self.router.clone().oneshot(request).await.expect("infallible router");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let Ok(cookie) = axum_extra::extract::cookie::Cookie::parse(text.to_owned()) else { continue };
            let expired = cookie.max_age().is_some_and(|a| a.is_zero() || a.is_negative())
                || cookie.expires_datetime().is_some_and(|t| t.unix_timestamp() < Utc::now().timestamp());
            if expired || cookie.value().is_empty() {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).expect("request")).await
    }

    /// `/metrics`, as the monitoring system asks for it (with the bearer token).
    pub async fn get_metrics(&mut self) -> TestResponse {
        let request = Request::get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {METRICS_TOKEN}"))
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// Posts a form with the CSRF token a browser would have from the page.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        if !self.cookies.contains_key("hw_csrf") {
            self.get("/healthz").await;
        }
        let token = self.csrf_token();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        self.post_form_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_form_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Runs the outbox once, as the background sender would.
    pub async fn deliver_email(&self) -> usize {
        hostwright::mail::sender::deliver_due(&self.state).await.expect("delivering email")
    }

    /// Runs the queued jobs that are due, as a node's worker would, until none is left;
    /// returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        self.run_jobs_of(&hostwright::workflows::job_registry()).await
    }

    /// [`TestApp::run_jobs`] for the kinds of `registry`.
    pub async fn run_jobs_of(&self, registry: &hostwright::jobs::Registry) -> usize {
        let mut ran = 0;
        loop {
            let batch =
                hostwright::jobs::worker::run_once(&self.state, registry, "test", 8).await.expect("running jobs");
            if batch == 0 {
                return ran;
            }
            ran += batch;
        }
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let backend = self.state.db.get_database_backend();
        let row =
            self.state.db.query_one_raw(Statement::from_string(backend, sql)).await.expect("query").expect("a row");
        row.try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
            .or_else(|_| row.try_get_by_index::<i16>(0).map(i64::from))
            .expect("an integer")
    }

    pub async fn execute(&self, sql: &str) {
        let backend = self.state.db.get_database_backend();
        self.state.db.execute_raw(Statement::from_string(backend, sql)).await.expect("statement");
    }

    // --- named requests -------------------------------------------------------------

    /// Uses the printed setup link to create the first administrator, then lifts the "staff
    /// must use 2FA" policy a new installation starts with (tests of 2FA enrol on purpose).
    pub async fn create_first_admin(&mut self, email: &str, password: &str) {
        let link = hostwright::staff::service::setup_link_if_needed(&self.state).await.expect("setup").expect("link");
        let path = link.trim_start_matches("http://hostwright.test").to_owned();
        let response = self
            .post_form(
                &path,
                &[("name", "Ada Admin"), ("email", email), ("password", password), ("password_confirm", password)],
            )
            .await;
        response.assert_redirect_to("/admin/login");
        let mut policy = hostwright::site_settings::load(&self.state.db).await.expect("site settings");
        assert!(policy.require_staff_2fa, "a new installation requires 2FA of staff");
        policy.require_staff_2fa = false;
        hostwright::site_settings::save(&self.state.db, &policy).await.expect("site settings");
    }

    pub async fn post_staff_login(&mut self, email: &str, password: &str) -> TestResponse {
        self.post_form("/admin/login", &[("email", email), ("password", password), ("next", "")]).await
    }

    pub async fn post_client_login(&mut self, email: &str, password: &str) -> TestResponse {
        self.post_form("/login", &[("email", email), ("password", password), ("next", "")]).await
    }

    /// An administrator, signed in.
    pub async fn signed_in_admin(&mut self) -> (String, String) {
        let (email, password) = ("ada@hostwright.test".to_owned(), "orchid lantern 42".to_owned());
        self.create_first_admin(&email, &password).await;
        self.post_staff_login(&email, &password).await.assert_redirect_to("/admin");
        (email, password)
    }

    /// Signs up at `/register` and follows the confirmation link, as the visitor does; returns
    /// the link's answer (signed in, on the way to the account).
    pub async fn register_client(&mut self, email: &str, password: &str) -> TestResponse {
        self.sign_up(email, password).await.assert_redirect_to("/register/check-email");
        self.finish_sign_up(email).await
    }

    /// Posts the sign-up form; returns its answer (the same for a new and a known address).
    pub async fn sign_up(&mut self, email: &str, password: &str) -> TestResponse {
        self.post_form(
            "/register",
            &[
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("company_name", ""),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
    }

    /// Opens the link of the newest sign-up confirmation sent to `email`.
    pub async fn finish_sign_up(&mut self, email: &str) -> TestResponse {
        let path = self.emailed_link(email, "verify_email").await;
        self.get(&path).await
    }

    /// The one-time link (as a path) of the newest `template` email to `to`, unsealed from the
    /// outbox as the sender would put it into the message.
    pub async fn emailed_link(&self, to: &str, template: &str) -> String {
        let link = hostwright::mail::outbox::unsent_link(&self.state.db, &self.state.key, to, template)
            .await
            .expect("reading the outbox")
            .expect("an unsent email with a one-time link");
        link.trim_start_matches("http://hostwright.test").to_owned()
    }

    /// Delivers the outbox, then returns the link in the newest email to `to` that starts with
    /// `prefix`, as a path (the link as the recipient receives it).
    pub async fn emailed_path(&self, to: &str, prefix: &str) -> String {
        self.deliver_email().await;
        let link = self
            .smtp
            .to(to)
            .into_iter()
            .rev()
            .find_map(|m| m.link(&format!("http://hostwright.test{prefix}")))
            .unwrap_or_else(|| panic!("an email to {to} with a {prefix} link"));
        link.trim_start_matches("http://hostwright.test").to_owned()
    }

    /// Creates a staff member directly through the service (as an administrator would).
    pub async fn create_staff(&self, email: &str, role: &str, password: &str) -> hostwright::ids::StaffId {
        let roles = hostwright::staff::store::roles(&self.state.db).await.expect("roles");
        let role = roles.iter().find(|r| r.name == role).expect("role");
        let new = hostwright::staff::service::NewStaff {
            name: format!("{role} person", role = role.name),
            email: hostwright::web::forms::EmailAddress::parse(email).expect("email"),
            role_id: role.id,
            password: Some(password.to_owned()),
        };
        hostwright::staff::service::create_from_cli(&self.state, new).await.expect("staff").id
    }
}

/// The text between the first `start` in `text` and the `end` after it, trimmed.
pub fn extract_between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not in page")) + start.len();
    let rest = &text[from..];
    rest[..rest.find(end).unwrap()].trim().to_owned()
}

/// Runs each listed test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Postgres).await).await;
                }
            )*
        }
    };
}
