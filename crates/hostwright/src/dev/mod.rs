//! Developer and operator tools: seed a database with realistic volumes and time the admin
//! pages against it (`hostwright dev seed`, `hostwright dev bench`), and run many buyers
//! through checkout at once (`hostwright dev bench-checkout`). The benchmarks of the billing
//! run, webhooks and provisioning (`hostwright bench …`) and the daily-run lab's seeding and
//! checks live here too, out of the domains they measure.

pub mod cli;

pub mod billing_bench;
pub mod daily_run_lab;
pub mod provisioning_bench;
#[cfg(test)]
mod template_check;
pub mod webhook_bench;

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, header};
use chrono::Utc;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use tower::ServiceExt;

use crate::clients::model::client;
use crate::clients::service::search_text;
use crate::state::AppState;

const FIRST: [&str; 12] =
    ["Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Dennis", "Frances", "Ken", "Radia", "Tim", "Hedy"];
const LAST: [&str; 12] = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Turing",
    "Liskov",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
];
const COUNTRIES: [&str; 8] = ["DE", "FR", "NL", "GB", "US", "ES", "IT", "PL"];

/// Adds `count` clients in batched inserts (no passwords: they cannot sign in).
pub async fn seed_clients(state: &AppState, count: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let existing = client::Entity::find().count(&state.db).await?;
    let now = Utc::now();
    let batch = 500;
    let mut done = 0;
    while done < count {
        let txn = state.db.begin().await?;
        let mut insert = Query::insert();
        insert.into_table(client::Entity).columns([
            client::Column::Email,
            client::Column::FirstName,
            client::Column::LastName,
            client::Column::CompanyName,
            client::Column::Status,
            client::Column::Country,
            client::Column::SearchText,
            client::Column::CreatedAt,
            client::Column::UpdatedAt,
        ]);
        for i in done..(done + batch).min(count) {
            let n = existing + i;
            let first = FIRST[(n % 12) as usize];
            let last = LAST[((n / 12) % 12) as usize];
            let company = if n % 3 == 0 { format!("{last} Hosting {n}") } else { String::new() };
            let email = format!("{}.{}.{n}@example.com", first.to_lowercase(), last.to_lowercase());
            let status = if n % 20 == 0 { "inactive" } else { "active" };
            insert.values_panic([
                email.clone().into(),
                first.into(),
                last.into(),
                company.clone().into(),
                status.into(),
                COUNTRIES[(n % 8) as usize].into(),
                search_text(first, last, &company, &email, "").into(),
                now.into(),
                now.into(),
            ]);
        }
        txn.execute(&insert).await.context("inserting clients")?;
        txn.commit().await?;
        done = (done + batch).min(count);
    }
    Ok(started.elapsed())
}

/// Adds `count` issued invoices spread over the existing clients (numbers `S-1`, `S-2`…,
/// most paid, some unpaid and overdue, a few cancelled), for list timings.
pub async fn seed_invoices(state: &AppState, count: u64) -> anyhow::Result<Duration> {
    use crate::invoices::model::invoice;
    use crate::invoices::status::InvoiceStatus;
    let started = Instant::now();
    let clients = client::Entity::find().count(&state.db).await?;
    anyhow::ensure!(clients > 0, "seed clients first (hostwright dev seed --clients N)");
    let existing = invoice::Entity::find().count(&state.db).await?;
    let now = Utc::now();
    let today = now.date_naive();
    let batch = 500;
    let mut done = 0;
    while done < count {
        let txn = state.db.begin().await?;
        let mut insert = Query::insert();
        insert.into_table(invoice::Entity).columns([
            invoice::Column::ClientId,
            invoice::Column::Number,
            invoice::Column::Status,
            invoice::Column::CurrencyCode,
            invoice::Column::IssueDate,
            invoice::Column::DueDate,
            invoice::Column::PaidDate,
            invoice::Column::SubtotalMinor,
            invoice::Column::TaxMinor,
            invoice::Column::TotalMinor,
            invoice::Column::AmountPaidMinor,
            invoice::Column::Buyer,
            invoice::Column::IssuedAt,
            invoice::Column::CreatedAt,
            invoice::Column::UpdatedAt,
        ]);
        for i in done..(done + batch).min(count) {
            let n = existing + i + 1;
            let days_ago = (count - i) / 300;
            let issued = today - chrono::Days::new(days_ago);
            let due = issued + chrono::Days::new(14);
            let status = match n % 20 {
                0 => InvoiceStatus::Cancelled,
                1..=3 => InvoiceStatus::Unpaid,
                _ => InvoiceStatus::Paid,
            };
            let total = 999 + (n % 50) as i64 * 100;
            let buyer = format!(
                r#"{{"name":"Client {}","company":"","address_lines":[],"country":"DE","tax_id":"","registration":"","email":""}}"#,
                n % clients + 1
            );
            insert.values_panic([
                ((n % clients) as i64 + 1).into(),
                format!("S-{n}").into(),
                status.into(),
                "USD".into(),
                issued.into(),
                due.into(),
                (status == InvoiceStatus::Paid).then_some(issued).into(),
                (total * 100 / 119).into(),
                (total - total * 100 / 119).into(),
                total.into(),
                if status == InvoiceStatus::Paid { total } else { 0 }.into(),
                buyer.into(),
                now.into(),
                now.into(),
                now.into(),
            ]);
        }
        txn.execute(&insert).await.context("inserting invoices")?;
        txn.commit().await?;
        done = (done + batch).min(count);
    }
    Ok(started.elapsed())
}

/// Times admin pages in-process (no network): each path `rounds` times, as a signed-in
/// administrator. Returns (path, p50, p95, max) per path.
pub async fn time_pages(
    state: &AppState,
    paths: &[String],
    rounds: usize,
) -> anyhow::Result<Vec<(String, Duration, Duration, Duration)>> {
    anyhow::ensure!(rounds > 0, "time each page at least once (--rounds 1 or more)");
    let cookie = bench_session(state).await?;
    let app = crate::startup::app(state.clone());
    let mut results = Vec::new();
    for path in paths {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let request = Request::get(path.as_str()).header(header::COOKIE, &cookie).body(Body::empty())?;
            let started = Instant::now();
            let response = app.clone().oneshot(request).await?;
            let status = response.status();
            let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            times.push(started.elapsed());
            anyhow::ensure!(status.is_success(), "{path} answered {status}");
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
        results.push((path.clone(), at(0.5), at(0.95), times[times.len() - 1]));
    }
    Ok(results)
}

/// A session for a benchmark administrator, created if missing.
async fn bench_session(state: &AppState) -> anyhow::Result<String> {
    use crate::auth::{PrincipalKind, session};
    let email = "bench@hostwright.invalid";
    let member = match crate::staff::store::find_by_email(&state.db, email).await? {
        Some(member) => member,
        None => {
            let new = crate::staff::service::NewStaff {
                name: "Benchmark".into(),
                email: crate::web::forms::EmailAddress::parse(email).map_err(anyhow::Error::msg)?,
                role_id: crate::ids::RoleId(1),
                password: Some(crate::crypto::random_token()),
            };
            crate::staff::service::create_from_cli(state, new).await.map_err(anyhow::Error::from)?
        }
    };
    let (token, _) = session::create(
        &state.db,
        &state.settings,
        PrincipalKind::Staff,
        member.id.0,
        session::Stage::Authenticated,
        "127.0.0.1",
        "bench",
    )
    .await?;
    Ok(format!("{}={token}", session::STAFF_COOKIE))
}

/// What the checkout benchmark measured.
pub struct CheckoutFigures {
    pub buyers: usize,
    pub attempts: usize,
    /// The units the product had in stock at the start (fewer than the attempts).
    pub stock: usize,
    /// HTTP requests sent (an add refused for stock is not followed by a checkout).
    pub requests: usize,
    pub placed: usize,
    pub sold_out: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub stock_left: i64,
    pub services: u64,
}

/// Runs `buyers` clients concurrently, each adding a product to its cart and placing the
/// order `rounds` times through the real router (sessions, CSRF, cart cookie), against a
/// product with less stock than they want. Checks afterwards that stock never went below
/// zero and that every order placed has its service.
pub async fn bench_checkout(state: &AppState, buyers: usize, rounds: usize) -> anyhow::Result<CheckoutFigures> {
    use crate::auth::{PrincipalKind, session};
    use crate::catalog::model::product;
    anyhow::ensure!(buyers > 0 && rounds > 0, "use at least one buyer and one round");
    let wanted = buyers * rounds;
    let stock = i32::try_from(wanted * 3 / 4).context("too many orders")?;
    let product_id = bench_product(state, stock).await?;
    let app = crate::startup::app(state.clone());
    let mut sessions = Vec::new();
    for n in 0..buyers {
        let email =
            format!("bench.buyer.{n}.{}@hostwright.invalid", crate::crypto::random_token().get(..8).unwrap_or("x"));
        let registration = crate::clients::service::Registration {
            first_name: "Bench".into(),
            last_name: format!("Buyer {n}"),
            company_name: String::new(),
            email: crate::web::forms::EmailAddress::parse(&email).map_err(anyhow::Error::msg)?,
            password: crate::crypto::random_token(),
            custom: Default::default(),
        };
        let client = crate::clients::service::register_account(state, registration, None, "127.0.0.1")
            .await
            .map_err(|e| anyhow::anyhow!("registering a buyer: {e}"))?;
        let (token, _) = session::create(
            &state.db,
            &state.settings,
            PrincipalKind::Client,
            client.id.0,
            session::Stage::Authenticated,
            "127.0.0.1",
            "bench",
        )
        .await?;
        let secret = crate::crypto::random_token();
        let cookies = format!("{}={token}; {}={secret}", session::CLIENT_COOKIE, crate::web::csrf::COOKIE);
        let csrf = form_token(state, &cookies)?;
        sessions.push((cookies, csrf));
    }
    let started = Instant::now();
    let tasks = sessions.into_iter().enumerate().map(|(n, (cookies, csrf))| {
        let app = app.clone();
        let state = state.clone();
        async move {
            let mut times = Vec::new();
            let (mut placed, mut sold_out, mut requests) = (0usize, 0usize, 0usize);
            for round in 0..rounds {
                let begun = Instant::now();
                let add = format!(
                    "csrf_token={csrf}&product_id={product_id}&cycle=monthly&quantity=1&domain=bench{n}-{round}.example"
                );
                let response = post(&app, "/cart/items", &cookies, add).await?;
                requests += 1;
                let cart = response
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find(|v| v.starts_with("hw_cart="))
                    .and_then(|v| v.split(';').next())
                    .map(str::to_owned);
                let status = response.status();
                if status.as_u16() == 422 {
                    sold_out += 1;
                    times.push(begun.elapsed());
                    continue;
                }
                anyhow::ensure!(status.as_u16() == 303, "adding to the cart answered {status}");
                let with_cart = match &cart {
                    Some(c) => format!("{cookies}; {c}"),
                    None => cookies.clone(),
                };
                let key = crate::crypto::random_token();
                // The form token is bound to the cart the checkout page was shown with.
                let csrf = form_token(&state, &with_cart)?;
                let place = format!("csrf_token={csrf}&payment_method=bank_transfer&key={key}");
                let response = post(&app, "/checkout", &with_cart, place).await?;
                requests += 1;
                let status = response.status();
                match status.as_u16() {
                    303 => placed += 1,
                    422 => sold_out += 1,
                    _ => anyhow::bail!("placing the order answered {status}"),
                }
                times.push(begun.elapsed());
            }
            anyhow::Ok((times, placed, sold_out, requests))
        }
    });
    let outcomes = futures::future::join_all(tasks).await;
    let elapsed = started.elapsed();
    let mut times = Vec::new();
    let (mut placed, mut sold_out, mut requests) = (0, 0, 0);
    for outcome in outcomes {
        let (t, p, s, r) = outcome?;
        times.extend(t);
        placed += p;
        sold_out += s;
        requests += r;
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)];
    let stock_left = i64::from(
        product::Entity::find_by_id(product_id).one(&state.db).await?.context("bench product")?.stock_quantity,
    );
    let services = crate::services::model::service::Entity::find()
        .filter(crate::services::model::service::Column::ProductId.eq(product_id))
        .count(&state.db)
        .await?;
    Ok(CheckoutFigures {
        buyers,
        attempts: wanted,
        stock: usize::try_from(stock).unwrap_or(0),
        requests,
        placed,
        sold_out,
        elapsed,
        p50: at(0.5),
        p95: at(0.95),
        stock_left,
        services,
    })
}

async fn post(app: &axum::Router, path: &str, cookies: &str, body: String) -> anyhow::Result<axum::response::Response> {
    let request = Request::post(path)
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))?;
    let response = app.clone().oneshot(request).await?;
    Ok(response)
}

/// A fresh stocked product to sell in the benchmark (and billing details, when none are set,
/// so its invoices can be issued).
pub(crate) async fn bench_product(state: &AppState, stock: i32) -> anyhow::Result<crate::ids::ProductId> {
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;

    use crate::catalog::model::{group, price, product};
    let mut billing = crate::invoices::settings::load(&state.db).await?;
    if billing.company_name.trim().is_empty() {
        billing.company_name = "Benchmark Hosting".into();
        billing.country = "DE".into();
        crate::invoices::settings::save(&state.db, &billing).await?;
    }
    let now = Utc::now();
    let currency = crate::catalog::service::currencies(&state.db)
        .await?
        .into_iter()
        .find(|c| c.is_default)
        .context("no default currency")?;
    let g = group::ActiveModel {
        name: Set("Benchmark".into()),
        headline: Set(String::new()),
        sort_order: Set(99),
        visible: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    let p = product::ActiveModel {
        group_id: Set(g.id),
        name: Set(format!("Benchmark hosting {}", now.timestamp())),
        product_type: Set("shared_hosting".into()),
        description: Set(String::new()),
        payment_type: Set("recurring".into()),
        taxable: Set(true),
        hidden: Set(true),
        retired: Set(false),
        stock_enabled: Set(true),
        stock_quantity: Set(stock),
        prorata_enabled: Set(false),
        prorata_day: Set(1),
        prorata_cutoff_day: Set(None),
        module: Set("none".into()),
        module_settings: Set("{}".into()),
        sort_order: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    price::ActiveModel {
        product_id: Set(p.id),
        currency_code: Set(currency.code),
        cycle: Set("monthly".into()),
        price_minor: Set(999),
        setup_fee_minor: Set(0),
    }
    .insert(&state.db)
    .await?;
    Ok(p.id)
}

/// The form token a browser holding `cookies` (a `Cookie` header) would post.
fn form_token(state: &AppState, cookies: &str) -> anyhow::Result<String> {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(header::COOKIE, cookies.parse()?);
    crate::web::csrf::form_token(state, &headers).ok_or_else(|| anyhow::anyhow!("no CSRF cookie in {cookies}"))
}
