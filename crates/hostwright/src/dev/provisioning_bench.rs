//! `hostwright bench provisioning`: how many module creates the job workers finish per second
//! against a WHM double on loopback, and whether a panel that answers slowly slows the
//! client area (it must not: a module call holds a worker, never a web request).
//!
//! In a scratch database it makes a cPanel server pointing at an in-process double of WHM
//! API 1 (`createacct` answered at once, or after `--slow-seconds`), a product on it and
//! pending services, queues one `service.module` create per service, and runs the workers
//! (`--workers` at a time) until every service is active. Then it measures a signed-in
//! client's service page over HTTP twice: with the queue idle, and while the workers wait on
//! the slow double.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbBackend, TransactionTrait};

use super::bench_product;
use super::billing_bench::Scratch;
use crate::audit::Actor;
use crate::config::Settings;
use crate::ids::{ClientId, ServiceId};
use crate::provisioning::Command;
use crate::provisioning::servers::{self, ServerInput};
use crate::services::lifecycle;
use crate::services::model::service;
use crate::state::AppState;

const TOKEN: &str = "WHMBENCHTOKEN0000000000";
const PASSWORD: &str = "saffron harbour lantern 77";

#[derive(Debug, Clone)]
pub struct ProvisioningBench {
    pub accounts: usize,
    pub workers: usize,
    pub slow_seconds: u64,
    pub page_requests: usize,
    pub readers: usize,
    pub database: Option<String>,
    pub keep: bool,
}

#[derive(Debug, Clone)]
pub struct ProvisioningFigures {
    pub backend: &'static str,
    pub accounts: usize,
    pub workers: usize,
    pub creating: Duration,
    pub active: i64,
    pub panel_calls: usize,
    pub idle: Latency,
    pub loaded: Latency,
    pub slow_calls_in_flight: usize,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub requests: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub failed: usize,
}

impl ProvisioningFigures {
    pub fn jobs_per_s(&self) -> f64 {
        self.accounts as f64 / self.creating.as_secs_f64().max(1e-6)
    }
}

/// The WHM double: counts `createacct` calls and answers after the current delay.
#[derive(Clone, Default)]
struct Panel {
    calls: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

async fn createacct(
    State(panel): State<Panel>,
    Query(_q): Query<std::collections::BTreeMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    panel.calls.fetch_add(1, Ordering::Relaxed);
    panel.in_flight.fetch_add(1, Ordering::Relaxed);
    let delay = panel.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    panel.in_flight.fetch_sub(1, Ordering::Relaxed);
    axum::Json(serde_json::json!({
        "metadata": { "command": "createacct", "version": 1, "result": 1, "reason": "Account Creation Ok" },
        "data": {},
    }))
}

pub async fn provisioning(settings: Settings, bench: &ProvisioningBench) -> anyhow::Result<ProvisioningFigures> {
    if bench.accounts == 0 || bench.workers == 0 || bench.readers == 0 {
        bail!("--accounts, --workers and --readers must be at least 1");
    }
    let scratch = Scratch::create(bench.database.as_deref()).await?;
    let result = run_in(scratch.settings(settings), bench).await;
    scratch.finish(bench.keep).await;
    result
}

async fn run_in(mut settings: Settings, bench: &ProvisioningBench) -> anyhow::Result<ProvisioningFigures> {
    settings.database_max_connections = settings.database_max_connections.max(bench.workers as u32 + 8);
    let state = crate::startup::build_state(settings).await?;
    let backend = match state.db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        _ => "sqlite",
    };

    let panel = Panel::default();
    let panel_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the panel's port")?;
    let panel_address = panel_listener.local_addr()?;
    let panel_app = axum::Router::new().route("/json-api/createacct", get(createacct)).with_state(panel.clone());
    let panel_server = tokio::spawn(async move { axum::serve(panel_listener, panel_app).await });

    eprintln!("seeding {} pending cPanel services on {backend}…", bench.accounts);
    let (client, services) = seed(&state, &format!("http://{panel_address}"), bench.accounts).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let address = listener.local_addr()?;
    let app = crate::startup::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{address}");
    let page = format!("{base}/account/services/{}", services.first().copied().unwrap_or(ServiceId(1)));
    let http = signed_in(&base).await?;
    let idle = measure(&http, &page, bench.page_requests, bench.readers).await;

    // Every create queued (as order acceptance does), then the workers run them.
    let actor = Actor::system("bench");
    for chunk in services.chunks(500) {
        let txn = state.db.begin().await?;
        for id in chunk {
            lifecycle::request(&txn, &actor, *id, Command::Create, Some(format!("service.create:{id}")))
                .await
                .map_err(|e| anyhow::anyhow!("queueing: {e}"))?;
        }
        txn.commit().await?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let registry = Arc::new(crate::workflows::job_registry());
    eprintln!("creating {} accounts with {} workers…", bench.accounts, bench.workers);
    let started = Instant::now();
    let workers = tokio::spawn(crate::jobs::worker::run(state.clone(), registry.clone(), bench.workers, stop_rx));
    let deadline = Instant::now() + Duration::from_secs(900);
    let total = i64::try_from(bench.accounts).unwrap_or(i64::MAX);
    loop {
        let active = count(&state, "SELECT COUNT(*) AS n FROM services WHERE status = 'active'").await?;
        if active >= total {
            break;
        }
        let failed = count(&state, "SELECT COUNT(*) AS n FROM jobs WHERE status = 'failed'").await?;
        if failed > 0 || Instant::now() > deadline {
            bail!("{active} of {total} services active, {failed} failed jobs");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let creating = started.elapsed();
    let active = count(&state, "SELECT COUNT(*) AS n FROM services WHERE status = 'active'").await?;
    let panel_calls = panel.calls.load(Ordering::Relaxed);

    // The panel now takes `slow_seconds` per create: fill every worker with one, then measure
    // the client's page while they wait.
    panel.delay_ms.store(bench.slow_seconds * 1000, Ordering::Relaxed);
    let slow = add_services(&state, client, bench.workers * 2).await?;
    let txn = state.db.begin().await?;
    for id in &slow {
        lifecycle::request(&txn, &actor, *id, Command::Create, None).await.map_err(anyhow::Error::from)?;
    }
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    let waiting = Instant::now() + Duration::from_secs(10);
    while panel.in_flight.load(Ordering::Relaxed) < bench.workers && Instant::now() < waiting {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let slow_calls_in_flight = panel.in_flight.load(Ordering::Relaxed);
    eprintln!("{slow_calls_in_flight} creates are waiting on the slow panel; measuring the client's page…");
    let loaded = measure(&http, &page, bench.page_requests, bench.readers).await;

    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(bench.slow_seconds + 15), workers).await;
    server.abort();
    panel_server.abort();
    if active != total || panel_calls != bench.accounts {
        bail!("{total} services, but {active} active and {panel_calls} createacct calls");
    }
    Ok(ProvisioningFigures {
        backend,
        accounts: bench.accounts,
        workers: bench.workers,
        creating,
        active,
        panel_calls,
        idle,
        loaded,
        slow_calls_in_flight,
    })
}

async fn count(state: &AppState, sql: &str) -> anyhow::Result<i64> {
    crate::db::count(&state.db, sql, Vec::new()).await.context("counting")
}

/// A registered client (who signs in over HTTP), a cPanel server at `panel`, a product on it
/// and `n` pending services.
async fn seed(state: &AppState, panel: &str, n: usize) -> anyhow::Result<(ClientId, Vec<ServiceId>)> {
    let actor = Actor::system("bench");
    let group = servers::save_group(state, &actor, None, "Bench", "least_accounts")
        .await
        .map_err(|e| anyhow::anyhow!("group: {e}"))?;
    let input = ServerInput {
        name: "bench-whm".into(),
        hostname: panel.to_owned(),
        module: "cpanel".into(),
        max_accounts: String::new(),
        nameservers: String::new(),
        enabled: true,
        settings: [("api_token".to_owned(), TOKEN.to_owned())].into(),
        groups: vec![group],
    };
    servers::save(state, &actor, None, &input).await.map_err(|e| anyhow::anyhow!("server: {e}"))?;
    let product_id = bench_product(state, 1_000_000).await?;
    let mut product: crate::catalog::model::product::ActiveModel =
        crate::catalog::service::find_product(&state.db, product_id).await?.context("the product")?.into();
    product.module = Set("cpanel".into());
    product.module_settings = Set(r#"{"package":"bench"}"#.into());
    product.server_group_id = Set(Some(group));
    product.update(&state.db).await?;
    let registration = crate::clients::service::Registration {
        first_name: "Bench".into(),
        last_name: "Client".into(),
        company_name: String::new(),
        email: crate::web::forms::EmailAddress::parse("bench.client@hostwright.invalid").map_err(anyhow::Error::msg)?,
        password: PASSWORD.into(),
        custom: Default::default(),
    };
    let client = crate::clients::service::register_account(state, registration, None, "127.0.0.1")
        .await
        .map_err(|e| anyhow::anyhow!("registering the client: {e}"))?;
    let services = add_services(state, client.id, n).await?;
    Ok((client.id, services))
}

async fn add_services(state: &AppState, client: ClientId, n: usize) -> anyhow::Result<Vec<ServiceId>> {
    let product = crate::catalog::service::products(&state.db)
        .await?
        .into_iter()
        .find(|p| p.module == "cpanel")
        .context("the bench product")?;
    let currency = crate::catalog::service::currencies(&state.db).await?.into_iter().next().context("a currency")?;
    let today = Utc::now().date_naive();
    let now = Utc::now();
    let first = count(state, "SELECT COUNT(*) AS n FROM services").await?;
    let mut ids = Vec::with_capacity(n);
    let txn = state.db.begin().await?;
    for i in 0..n {
        let s = service::ActiveModel {
            client_id: Set(client),
            product_id: Set(product.id),
            status: Set("pending".into()),
            currency_code: Set(currency.code.clone()),
            billing_cycle: Set("monthly".into()),
            recurring_minor: Set(999),
            first_payment_minor: Set(999),
            use_current_price: Set(false),
            registration_date: Set(today),
            next_due_date: Set(None),
            next_invoice_date: Set(None),
            domain: Set(format!("site{}.bench.example", first + i as i64)),
            hostname: Set(String::new()),
            username: Set(String::new()),
            password_enc: Set(None),
            server_id: Set(None),
            notes: Set(String::new()),
            suspend_reason: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.push(s.id);
    }
    txn.commit().await?;
    Ok(ids)
}

/// An HTTP client signed in as the bench client (cookies kept).
async fn signed_in(base: &str) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build()?;
    let form = http.get(format!("{base}/login")).send().await?.text().await?;
    let token = form
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("the sign-in form has no CSRF token")?
        .to_owned();
    let answer = http
        .post(format!("{base}/login"))
        .form(&[("csrf_token", token.as_str()), ("email", "bench.client@hostwright.invalid"), ("password", PASSWORD)])
        .send()
        .await?;
    if !answer.status().is_redirection() {
        bail!("signing in failed with {}", answer.status());
    }
    Ok(http)
}

/// `requests` GETs of `page` from `readers` concurrent readers: p50, p99 and failures.
async fn measure(http: &reqwest::Client, page: &str, requests: usize, readers: usize) -> Latency {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let (http, page, next) = (http.clone(), page.to_owned(), next.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut failed = 0;
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let sent = Instant::now();
                    let ok = match http.get(&page).send().await {
                        Ok(answer) => answer.status().is_success() && answer.text().await.is_ok(),
                        Err(_) => false,
                    };
                    times.push(sent.elapsed());
                    if !ok {
                        failed += 1;
                    }
                }
                (times, failed)
            })
        })
        .collect();
    let mut times = Vec::with_capacity(requests);
    let mut failed = 0;
    for task in tasks {
        if let Ok((mine, f)) = task.await {
            times.extend(mine);
            failed += f;
        }
    }
    times.sort_unstable();
    let at = |q: f64| times.get(((times.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    Latency { requests: times.len(), p50: at(0.5), p99: at(0.99), failed }
}
