//! `hostwright bench webhooks`: how many signed Stripe webhooks a node takes and applies per
//! second, over real HTTP, with each event delivered more than once by concurrent senders.
//!
//! In a scratch database it seeds one unpaid invoice and one pending card payment per event,
//! serves the application on a loopback port with the job workers running, and has
//! `--senders` tasks post every event `--repeat` times (the copies of one event close
//! together, so they race), each signed as Stripe signs it. It then waits until every event
//! was applied and checks that each distinct event booked exactly one payment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbBackend};

use hostwright_gateways::stripe::signature_header;

use super::billing_bench::Scratch;
use crate::audit::Actor;
use crate::config::Settings;
use crate::ids::GatewayPaymentId;
use crate::invoices::model::invoice;
use crate::invoices::status::InvoiceStatus;
use crate::payments::gateways::{self, GatewayInput, STRIPE};
use crate::payments::model::payment;
use crate::payments::status::PaymentStatus;
use crate::payments::store::CHECKOUT;
use crate::state::AppState;

const SECRET: &str = "whsec_hostwright_bench";

/// What `bench webhooks` was asked to do.
#[derive(Debug, Clone)]
pub struct WebhookBench {
    pub events: usize,
    pub senders: usize,
    /// How many times each event is delivered.
    pub repeat: usize,
    pub database: Option<String>,
    pub keep: bool,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct WebhookFigures {
    pub backend: &'static str,
    pub requests: usize,
    pub events: usize,
    pub senders: usize,
    pub sending: Duration,
    /// From the first request until every event was applied.
    pub applied: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub refused: usize,
    pub stored_events: i64,
    pub payments: i64,
    pub invoice_payments: i64,
    pub paid_invoices: i64,
}

impl WebhookFigures {
    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.sending.as_secs_f64().max(1e-6)
    }

    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.applied.as_secs_f64().max(1e-6)
    }
}

pub async fn webhooks(settings: Settings, bench: &WebhookBench) -> anyhow::Result<WebhookFigures> {
    if bench.events == 0 || bench.senders == 0 || bench.repeat == 0 {
        bail!("--events, --senders and --repeat must be at least 1");
    }
    let scratch = Scratch::create(bench.database.as_deref()).await?;
    let result = run_in(scratch.settings(settings), bench).await;
    scratch.finish(bench.keep).await;
    result
}

async fn run_in(mut settings: Settings, bench: &WebhookBench) -> anyhow::Result<WebhookFigures> {
    settings.database_max_connections = settings.database_max_connections.max(bench.senders as u32 / 2 + 4);
    let state = crate::startup::build_state(settings).await?;
    let backend = match state.db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    eprintln!("seeding {} unpaid invoices with a card payment each on {backend}…", bench.events);
    let (currency, payments) = seed(&state, bench.events).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let address = listener.local_addr()?;
    let app = crate::startup::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let registry = Arc::new(crate::workflows::job_registry());
    let workers =
        tokio::spawn(crate::jobs::worker::run(state.clone(), registry, state.settings.job_workers.max(1), stop_rx));

    let url = format!("http://{address}/webhooks/stripe");
    let bodies: Arc<Vec<String>> = Arc::new(payments.iter().map(|(id, n)| event(*id, *n, &currency)).collect());
    let total = bench.events * bench.repeat;
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder().pool_max_idle_per_host(bench.senders).build()?;
    eprintln!("posting {total} signed webhooks from {} senders…", bench.senders);
    let started = Instant::now();
    let senders: Vec<_> = (0..bench.senders)
        .map(|_| {
            let (http, url, bodies, next, repeat) =
                (http.clone(), url.clone(), bodies.clone(), next.clone(), bench.repeat);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut refused = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(n / repeat) else { break };
                    let signature = signature_header(SECRET, Utc::now().timestamp(), body.as_bytes());
                    let sent = Instant::now();
                    let answer = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("stripe-signature", signature)
                        .body(body.clone())
                        .send()
                        .await;
                    latencies.push(sent.elapsed());
                    if !answer.is_ok_and(|a| a.status().is_success()) {
                        refused += 1;
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    let mut refused = 0;
    for sender in senders {
        let (mine, not_ok) = sender.await?;
        latencies.extend(mine);
        refused += not_ok;
    }
    let sending = started.elapsed();
    eprintln!("sent in {:.2} s; waiting until every event is applied…", sending.as_secs_f64());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let waiting = count(&state, "SELECT COUNT(*) AS n FROM payment_events WHERE processed_at IS NULL").await?;
        let stored = count(&state, "SELECT COUNT(*) AS n FROM payment_events").await?;
        if waiting == 0 && stored as usize >= bench.events {
            break;
        }
        if Instant::now() > deadline {
            bail!("{waiting} of {stored} events were still not applied after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let applied = started.elapsed();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), workers).await;
    server.abort();

    latencies.sort_unstable();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    let figures = WebhookFigures {
        backend,
        requests: total,
        events: bench.events,
        senders: bench.senders,
        sending,
        applied,
        p50: at(0.5),
        p99: at(0.99),
        refused,
        stored_events: count(&state, "SELECT COUNT(*) AS n FROM payment_events").await?,
        payments: count(&state, "SELECT COUNT(*) AS n FROM payments WHERE status = 'succeeded'").await?,
        invoice_payments: count(&state, "SELECT COUNT(*) AS n FROM invoice_payments").await?,
        paid_invoices: count(&state, "SELECT COUNT(*) AS n FROM invoices WHERE status = 'paid'").await?,
    };
    let n = bench.events as i64;
    if figures.refused > 0
        || figures.stored_events != n
        || figures.payments != n
        || figures.invoice_payments != n
        || figures.paid_invoices != n
    {
        bail!(
            "{n} distinct events, but {} refused requests, {} stored events, {} payments, {} invoice payments, \
             {} paid invoices",
            figures.refused,
            figures.stored_events,
            figures.payments,
            figures.invoice_payments,
            figures.paid_invoices
        );
    }
    Ok(figures)
}

async fn count(state: &AppState, sql: &str) -> anyhow::Result<i64> {
    Ok(crate::db::count(&state.db, sql, Vec::new()).await?)
}

/// One client, `events` unpaid invoices of 11.90 and a pending card payment on each, and
/// Stripe set up with the benchmark's webhook secret. Returns the currency's code and the
/// payments.
async fn seed(state: &AppState, events: usize) -> anyhow::Result<(String, Vec<(GatewayPaymentId, usize)>)> {
    let actor = Actor::system("bench");
    let input = GatewayInput {
        enabled: Some("on".into()),
        display_name: "Card".into(),
        secret_key: "sk_test_hostwright_bench".into(),
        webhook_secrets: SECRET.into(),
        ..GatewayInput::default()
    };
    gateways::save(state, &actor, STRIPE, &input).await.map_err(|e| anyhow::anyhow!("setting Stripe up: {e}"))?;
    let currency = crate::catalog::service::currencies(&state.db)
        .await?
        .into_iter()
        .next()
        .map(|c| c.code)
        .context("no currency is set up")?;
    let registration = crate::clients::service::Registration {
        first_name: "Bench".into(),
        last_name: "Payer".into(),
        company_name: String::new(),
        email: crate::web::forms::EmailAddress::parse("bench.payer@hostwright.invalid").map_err(anyhow::Error::msg)?,
        password: crate::crypto::random_token(),
        custom: Default::default(),
    };
    let client = crate::clients::service::register_account(state, registration, None, "127.0.0.1")
        .await
        .map_err(|e| anyhow::anyhow!("registering the payer: {e}"))?;
    let today = Utc::now().date_naive();
    let now = Utc::now();
    let mut payments = Vec::with_capacity(events);
    for i in 1..=events {
        let issued = invoice::ActiveModel {
            client_id: Set(client.id),
            number: Set(Some(format!("BENCH-{i:07}"))),
            status: Set(InvoiceStatus::Unpaid),
            currency_code: Set(currency.clone()),
            issue_date: Set(Some(today)),
            due_date: Set(today),
            subtotal_minor: Set(1000),
            discount_minor: Set(0),
            tax_minor: Set(190),
            total_minor: Set(1190),
            credit_applied_minor: Set(0),
            amount_paid_minor: Set(0),
            credited_minor: Set(0),
            refunded_minor: Set(0),
            price_mode: Set("exclusive".into()),
            tax_treatment: Set("standard".into()),
            reverse_charge: Set(false),
            buyer: Set("{}".into()),
            seller: Set("{}".into()),
            notes: Set(String::new()),
            issued_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&state.db)
        .await?;
        let pending = payment::ActiveModel {
            client_id: Set(client.id),
            invoice_id: Set(Some(issued.id)),
            gateway: Set(STRIPE.into()),
            kind: Set(CHECKOUT.into()),
            status: Set(PaymentStatus::Pending),
            amount_minor: Set(1190),
            currency_code: Set(currency.clone()),
            refunded_minor: Set(0),
            session_ref: Set(Some(format!("cs_bench_{i}"))),
            attempt_key: Set(format!("bench:{i}")),
            flag: Set(String::new()),
            error: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&state.db)
        .await?;
        payments.push((pending.id, i));
    }
    Ok((currency, payments))
}

/// Stripe's `checkout.session.completed` for payment `id`, paid on page `n`.
fn event(id: GatewayPaymentId, n: usize, currency: &str) -> String {
    serde_json::json!({
        "id": format!("evt_bench_{n}"), "object": "event", "type": "checkout.session.completed",
        "created": Utc::now().timestamp(), "livemode": false, "api_version": hostwright_gateways::stripe::API_VERSION,
        "data": {"object": {
            "id": format!("cs_bench_{n}"), "object": "checkout.session", "mode": "payment", "status": "complete",
            "payment_status": "paid", "amount_total": 1190, "currency": currency.to_lowercase(),
            "payment_intent": format!("pi_bench_{n}"),
            "metadata": {"hostwright_payment": id.to_string()},
        }},
    })
    .to_string()
}
