//! The end-to-end journey in headless Chromium (through ChromeDriver's WebDriver API):
//! first-run setup → administrator → 2FA enrolment → sign out → sign in with a TOTP code;
//! then a client registers, confirms the email read from the SMTP server, and signs in. And a
//! visitor's order on each database: store → product with options and prices → cart →
//! inline sign-up at checkout → order placed, with its service and invoice in the database.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hostwright::auth::totp;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, TestDb, fixtures, settings_for, smtp::TestSmtp};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    shots: std::path::PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver is required for the end-to-end journey (scripts/test installs it): {e}")
            });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let created: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("journey");
        std::fs::create_dir_all(&shots).unwrap();
        Browser { http, base, session, driver, shots, _profile: profile }
    }

    async fn try_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let value: Value = request.send().await.unwrap().json().await.unwrap();
        if value["value"].get("error").is_some() { Err(value["value"].clone()) } else { Ok(value["value"].clone()) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {path}: {error}"),
        }
    }

    /// Clicks a submit button or link and waits until the next page has replaced this one.
    async fn submit(&self, css: &str) {
        let old_page = self.find("html").await;
        self.click(css).await;
        for _ in 0..200 {
            let probe = self.try_call(reqwest::Method::GET, &format!("/element/{old_page}/name"), None).await;
            if probe.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("clicking {css} did not load a new page");
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn find(&self, css: &str) -> String {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await;
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None).await.as_str().unwrap().to_owned()
    }

    async fn displayed(&self, css: &str) -> bool {
        let element = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{element}/displayed"), None).await.as_bool().unwrap()
    }

    async fn path(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_owned();
        let parsed = url::Url::parse(&url).unwrap();
        match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        }
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    /// Saves a screenshot for people to look at (target/tmp/journey/NAME.png).
    async fn screenshot(&self, name: &str) {
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap()).unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A real server on a loopback port over `backend`, with links pointing at it; returns the
/// app (for setting things up and looking into the database) and the site's address.
async fn serve(backend: Backend) -> (TestApp, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let site = format!("http://{address}");
    let db = Arc::new(TestDb::create(backend).await);
    let smtp = Arc::new(TestSmtp::start());
    let data = Arc::new(tempfile::tempdir().unwrap());
    let mut settings = settings_for(&db.url, data.path(), smtp.port);
    settings.base_url = url::Url::parse(&format!("{site}/")).unwrap();
    let app = TestApp::with_settings(settings, db, smtp, data).await;
    let router = hostwright::startup::app(app.state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    (app, site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_and_a_client_get_started_in_a_real_browser() {
    let (app, site) = serve(Backend::Sqlite).await;
    let browser = Browser::start().await;

    // First run: the printed setup link creates the administrator.
    let setup = hostwright::staff::service::setup_link_if_needed(&app.state).await.unwrap().unwrap();
    browser.open(&setup).await;
    browser.screenshot("01-setup").await;
    browser.fill("#f-name", "Ada Admin").await;
    browser.fill("#f-email", "ada@hostwright.test").await;
    browser.fill("#f-password", "orchid lantern 42").await;
    browser.fill("#f-password_confirm", "orchid lantern 42").await;
    browser.submit("button[type=submit]").await;
    assert_eq!(browser.path().await, "/admin/login");
    assert!(browser.body().await.contains("Your administrator account is ready"));
    browser.screenshot("02-staff-login").await;

    browser.fill("#f-email", "ada@hostwright.test").await;
    browser.fill("#f-password", "orchid lantern 42").await;
    browser.submit("button[type=submit]").await;
    // A new installation requires staff to use 2FA: the first sign-in goes to enrolment.
    assert_eq!(browser.path().await, "/admin/account/2fa");
    assert!(browser.body().await.contains("requires two-factor authentication"));

    // Enrol two-factor authentication with the key shown next to the QR code.
    browser.screenshot("04-2fa-enrol").await;
    let secret = browser.text("#totp-secret").await;
    let seed = data_encoding::BASE32_NOPAD.decode(secret.trim().as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    browser.fill("#f-code", &totp::code_at_step(&seed, totp::step_at(now))).await;
    browser.submit("form[action='/admin/account/2fa'] button[type=submit]").await;
    assert!(browser.text("#recovery-codes").await.lines().count() >= 10);
    browser.screenshot("05-recovery-codes").await;

    // Sign out, then back in with password and a code.
    browser.submit("form[action='/admin/logout'] button").await;
    assert_eq!(browser.path().await, "/admin/login");
    browser.fill("#f-email", "ada@hostwright.test").await;
    browser.fill("#f-password", "orchid lantern 42").await;
    browser.submit("button[type=submit]").await;
    assert!(browser.path().await.starts_with("/admin/login/2fa"));
    browser.screenshot("06-2fa-challenge").await;
    browser.fill("#f-code", &totp::code_at_step(&seed, totp::step_at(now) + 1)).await;
    browser.submit("button[type=submit]").await;
    assert_eq!(browser.path().await, "/admin");
    assert!(browser.body().await.contains("Ada Admin"));

    // The queue page shows background work by kind, and what failed with its error.
    app.execute(
        "INSERT INTO jobs (kind, payload, priority, status, attempts, max_attempts, run_at_ms, lease_token, \
         last_error, created_at_ms, updated_at_ms, finished_at_ms) VALUES \
         ('invoice.paid', '{\"invoice_id\":7}', 100, 'failed', 8, 8, 1796300000000, 8, \
          'accepting the order of invoice 7: database is locked', 1796290000000, 1796300000000, 1796300000000), \
         ('invoice.paid', '{\"invoice_id\":8}', 100, 'pending', 0, 8, 1796300000000, 0, NULL, \
          1796290000000, 1796290000000, NULL)",
    )
    .await;
    browser.open(&format!("{site}/admin/queue")).await;
    let queue = browser.body().await;
    assert!(queue.contains("database is locked") && queue.contains("8 of 8"), "{queue}");
    browser.screenshot("06b-queue").await;
    browser.open(&format!("{site}/admin/automation?preview=1")).await;
    assert!(browser.body().await.contains("Renewal invoices"));
    browser.screenshot("06c-automation").await;

    // A client registers, confirms the address from the email, and signs in.
    browser.open(&format!("{site}/register")).await;
    browser.fill("#f-first_name", "Grace").await;
    browser.fill("#f-last_name", "Hopper").await;
    browser.fill("#f-email", "grace@example.com").await;
    browser.fill("#f-password", "compass meadow 31").await;
    browser.fill("#f-password_confirm", "compass meadow 31").await;
    browser.screenshot("07-register").await;
    browser.submit("button[type=submit]").await;
    assert_eq!(browser.path().await, "/register/check-email");
    assert!(browser.body().await.contains("Check your inbox"));
    browser.screenshot("07b-check-your-inbox").await;
    app.deliver_email().await;
    let email = app.smtp.wait_for("grace@example.com").await;
    let link = email.link(&format!("{site}/verify-email/")).expect("verification link in the email");
    browser.open(&link).await;
    assert_eq!(browser.path().await, "/account");
    let body = browser.body().await;
    assert!(body.contains("your email address is confirmed") && !body.contains("Please confirm your email address"));
    browser.screenshot("08-client-dashboard").await;
    browser.submit("form[action='/logout'] button").await;
    assert_eq!(browser.path().await, "/login");
    browser.fill("#f-email", "grace@example.com").await;
    browser.fill("#f-password", "compass meadow 31").await;
    browser.submit("button[type=submit]").await;
    assert_eq!(browser.path().await, "/account");
    assert!(browser.body().await.contains("Hello, Grace Hopper"));
    browser.call(reqwest::Method::DELETE, "", None).await;
}

/// A visitor orders hosting: picks a cycle and an add-on on the product page (the price notes
/// follow the chosen cycle), sees the cart's totals, signs up inline at checkout and places
/// the order; the order, its service and its invoice are in the database, stock taken.
async fn a_visitor_orders_hosting_in_a_real_browser(backend: Backend, shots: &str) {
    let (mut app, site) = serve(backend).await;
    fixtures::store(&mut app).stock(3).open().await;
    let browser = Browser::start().await;

    browser.open(&format!("{site}/store")).await;
    assert!(browser.body().await.contains("Web Starter"));
    browser.screenshot(&format!("{shots}-01-store")).await;
    browser.submit("a[href='/store/products/1']").await;
    assert_eq!(browser.path().await, "/store/products/1");
    // The add-on's monthly price shows for the monthly cycle, and goes with another cycle.
    assert!(browser.displayed("label[for='addon-1'] [data-cycle='monthly']").await);
    browser.click("#cycle-annually").await;
    assert!(!browser.displayed("label[for='addon-1'] [data-cycle='monthly']").await);
    browser.click("#cycle-monthly").await;
    assert!(browser.displayed("label[for='addon-1'] [data-cycle='monthly']").await);
    browser.fill("#f-domain", "grace-hopper.example").await;
    browser.click("#addon-1").await;
    browser.screenshot(&format!("{shots}-02-product")).await;
    browser.submit("form[action='/cart/items'] button[type=submit]").await;
    assert_eq!(browser.path().await, "/cart");
    // 10.00 + 5.00 setup + 2.50 add-on = 17.50 net; 19 % VAT 3.33; 20.83.
    let cart = browser.body().await;
    assert!(cart.contains("grace-hopper.example") && cart.contains("20.83 EUR"), "{cart}");
    browser.screenshot(&format!("{shots}-03-cart")).await;

    browser.submit("a[href='/checkout']").await;
    assert_eq!(browser.path().await, "/checkout");
    browser.fill("#f-first_name", "Grace").await;
    browser.fill("#f-last_name", "Hopper").await;
    browser.fill("#f-email", "grace@example.com").await;
    browser.fill("#f-password", "compass meadow 31").await;
    browser.fill("#f-password_confirm", "compass meadow 31").await;
    browser.screenshot(&format!("{shots}-04-checkout-sign-up")).await;
    browser.submit("form[action='/checkout/register'] button[type=submit]").await;
    assert_eq!(browser.path().await, "/register/check-email");
    // The emailed link signs the new client in and brings them back to checkout.
    app.deliver_email().await;
    let email = app.smtp.wait_for("grace@example.com").await;
    let link = email.link(&format!("{site}/verify-email/")).expect("confirmation link in the email");
    browser.open(&link).await;
    assert_eq!(browser.path().await, "/checkout");
    let checkout = browser.body().await;
    assert!(checkout.contains("Place order") && checkout.contains("20.83 EUR"), "{checkout}");
    browser.click("#pay-bank_transfer").await;
    browser.screenshot(&format!("{shots}-05-checkout")).await;
    browser.submit("form[action='/checkout'] button[type=submit]").await;
    assert!(browser.path().await.starts_with("/account/orders/"), "{}", browser.path().await);
    let placed = browser.body().await;
    assert!(placed.contains("is placed") && placed.contains("grace-hopper.example"), "{placed}");
    browser.screenshot(&format!("{shots}-06-order")).await;
    browser.call(reqwest::Method::DELETE, "", None).await;

    assert_eq!(app.scalar("SELECT COUNT(*) FROM orders WHERE total_minor = 2083 AND status = 'pending'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE domain = 'grace-hopper.example'").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM service_addons").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE total_minor = 2083").await, 1);
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cart_items").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_orders_hosting_in_a_real_browser_on_sqlite() {
    a_visitor_orders_hosting_in_a_real_browser(Backend::Sqlite, "order-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_orders_hosting_in_a_real_browser_on_postgres() {
    a_visitor_orders_hosting_in_a_real_browser(Backend::Postgres, "order-postgres").await;
}
