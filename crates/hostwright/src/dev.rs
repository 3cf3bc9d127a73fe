//! Developer and operator tools: seed a database with realistic volumes and time the admin
//! pages against it (`hostwright dev seed`, `hostwright dev bench`).

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, header};
use chrono::Utc;
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};
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
                0 => "cancelled",
                1..=3 => "unpaid",
                _ => "paid",
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
                (status == "paid").then_some(issued).into(),
                (total * 100 / 119).into(),
                (total - total * 100 / 119).into(),
                total.into(),
                if status == "paid" { total } else { 0 }.into(),
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
            crate::staff::service::create_from_cli(state, new).await.map_err(|e| anyhow::anyhow!("{e}"))?
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
