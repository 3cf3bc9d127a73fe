//! The command line of the tools (`hostwright bench`, `hostwright dev`), built with the
//! `dev-tools` feature (on by default and in the release binary).

use anyhow::bail;
use clap::Subcommand;

use crate::config::Settings;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Add generated clients (they have no password and cannot sign in).
    Seed {
        #[arg(long, default_value_t = 1000)]
        clients: u64,
        /// Issued invoices to add, spread over all clients.
        #[arg(long, default_value_t = 0)]
        invoices: u64,
    },
    /// Time the admin list pages in-process and print p50/p95/max per page.
    Bench {
        /// Requests per page.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    /// Add active services on a mix of cycles for the automation to bill (and clients for
    /// them), `--due-fraction` of them due within the renewal lead time of `--start`.
    SeedServices {
        #[arg(long, default_value_t = 1000)]
        services: u64,
        #[arg(long, default_value_t = 100)]
        clients: u64,
        #[arg(long)]
        start: chrono::NaiveDate,
        #[arg(long, default_value_t = 0.1)]
        due_fraction: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Check that every service stands where its calendar says after the daily runs up to
    /// `--date` (nobody having paid) and that nothing was done twice or lost; exits non-zero
    /// on any violation.
    CheckAutomation {
        #[arg(long)]
        date: chrono::NaiveDate,
    },
    /// Print the confirmation link of the newest sign-up of `--email` that was not emailed yet
    /// (an installation without SMTP, such as the chaos lab).
    SignUpLink {
        #[arg(long)]
        email: String,
    },
    /// Run concurrent buyers through add-to-cart and checkout against a product with too
    /// little stock; print checkouts per second and check stock never went below zero.
    BenchCheckout {
        #[arg(long, default_value_t = 16)]
        buyers: usize,
        /// Checkouts each buyer attempts.
        #[arg(long, default_value_t = 25)]
        rounds: usize,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Renewal invoices per second made by the daily run over many services, in a scratch
    /// database, against a raw batched insert of the same rows into the same database.
    Billing {
        #[arg(long, default_value_t = 1_000_000)]
        services: u64,
        /// Clients owning the services (a quarter of the services by default).
        #[arg(long)]
        clients: Option<u64>,
        /// Share of the services due for renewal on the benchmark's day.
        #[arg(long, default_value_t = 0.1)]
        due_fraction: f64,
        /// A PostgreSQL server (a scratch database is made on it and dropped) or a new SQLite
        /// file; a temporary SQLite file by default.
        #[arg(long)]
        database: Option<String>,
        /// Keep the scratch database afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Signed Stripe webhooks per second taken and applied over HTTP by one node, every
    /// event delivered several times by concurrent senders; checks each event paid once.
    Webhooks {
        /// Distinct events (one unpaid invoice and card payment each).
        #[arg(long, default_value_t = 2_000)]
        events: usize,
        /// Concurrent senders.
        #[arg(long, default_value_t = 32)]
        senders: usize,
        /// Deliveries of each event.
        #[arg(long, default_value_t = 2)]
        repeat: usize,
        /// A PostgreSQL server (a scratch database is made on it and dropped) or a new SQLite
        /// file; a temporary SQLite file by default.
        #[arg(long)]
        database: Option<String>,
        /// Keep the scratch database afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Module creates per second against a WHM double, and a client page's latency while the
    /// panel answers slowly.
    Provisioning {
        /// Accounts to create.
        #[arg(long, default_value_t = 2_000)]
        accounts: usize,
        /// Jobs run at once.
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// How long the slow panel takes per create.
        #[arg(long, default_value_t = 5)]
        slow_seconds: u64,
        /// Requests of the client's service page, per measurement.
        #[arg(long, default_value_t = 2_000)]
        page_requests: usize,
        /// Concurrent readers of the page.
        #[arg(long, default_value_t = 16)]
        readers: usize,
        /// A PostgreSQL server (a scratch database is made on it and dropped) or a new SQLite
        /// file; a temporary SQLite file by default.
        #[arg(long)]
        database: Option<String>,
        /// Keep the scratch database afterwards.
        #[arg(long)]
        keep: bool,
    },
}

pub async fn bench(settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Webhooks { events, senders, repeat, database, keep } => {
            let bench = crate::dev::webhook_bench::WebhookBench { events, senders, repeat, database, keep };
            let f = crate::dev::webhook_bench::webhooks(settings, &bench).await?;
            println!(
                "{} signed webhooks ({} distinct events, each sent {} times) from {} senders on {}",
                f.requests,
                f.events,
                f.requests / f.events.max(1),
                f.senders,
                f.backend
            );
            println!(
                "taken in {:.2} s: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms",
                f.sending.as_secs_f64(),
                f.requests_per_s(),
                f.p50.as_secs_f64() * 1000.0,
                f.p99.as_secs_f64() * 1000.0
            );
            println!(
                "all applied {:.2} s after the first request: {:.0} events/s",
                f.applied.as_secs_f64(),
                f.events_per_s()
            );
            println!(
                "payments {} = distinct events {}; stored events {}, invoice payments {}, paid invoices {}",
                f.payments, f.events, f.stored_events, f.invoice_payments, f.paid_invoices
            );
            Ok(())
        }
        BenchCommand::Provisioning { accounts, workers, slow_seconds, page_requests, readers, database, keep } => {
            let bench = crate::dev::provisioning_bench::ProvisioningBench {
                accounts,
                workers,
                slow_seconds,
                page_requests,
                readers,
                database,
                keep,
            };
            let f = crate::dev::provisioning_bench::provisioning(settings, &bench).await?;
            println!(
                "{} cPanel accounts created by {} workers on {} in {:.2} s: {:.0} jobs/s \
                 ({} active, {} createacct calls)",
                f.accounts,
                f.workers,
                f.backend,
                f.creating.as_secs_f64(),
                f.jobs_per_s(),
                f.active,
                f.panel_calls
            );
            for (what, l) in [("queue idle", f.idle), ("panel answering in --slow-seconds", f.loaded)] {
                println!(
                    "client service page, {what}: {} requests, p50 {:.1} ms, p99 {:.1} ms, {} failed",
                    l.requests,
                    l.p50.as_secs_f64() * 1000.0,
                    l.p99.as_secs_f64() * 1000.0,
                    l.failed
                );
            }
            println!("slow creates in flight while measuring: {}", f.slow_calls_in_flight);
            Ok(())
        }
        BenchCommand::Billing { services, clients, due_fraction, database, keep } => {
            let clients = clients.unwrap_or((services / 4).max(1));
            let bench = crate::dev::billing_bench::BillingBench { services, clients, due_fraction, database, keep };
            let f = crate::dev::billing_bench::billing(settings, &bench).await?;
            println!(
                "{} services, {} clients on {}: {} due, seeded in {:.1} s",
                f.services,
                f.clients,
                f.backend,
                f.due_services,
                f.seeding.as_secs_f64()
            );
            println!(
                "renewal run: {} invoices, {} lines, {} tax lines in {:.2} s",
                f.invoices,
                f.lines,
                f.tax_lines,
                f.run.as_secs_f64()
            );
            println!(
                "invoice emails: {} composed and queued by the job in {:.2} s (one worker, after the run)",
                f.emails,
                f.emails_took.as_secs_f64()
            );
            println!(
                "raw batched insert of the same {} invoice and line rows: {:.2} s",
                f.raw_rows,
                f.raw.as_secs_f64()
            );
            println!(
                "billing: invoices_per_s={:.0} ratio_to_raw_insert={:.2} peak_rss_mb={:.0}",
                f.invoices_per_s(),
                f.ratio_to_raw_insert(),
                f.peak_rss_mb
            );
            Ok(())
        }
    }
}

pub async fn dev(settings: Settings, command: DevCommand) -> anyhow::Result<()> {
    let state = crate::startup::build_state(settings).await?;
    match command {
        DevCommand::Seed { clients, invoices } => {
            if clients > 0 {
                let took = crate::dev::seed_clients(&state, clients).await?;
                let rate = clients as f64 / took.as_secs_f64().max(0.001);
                println!("added {clients} clients in {:.2} s ({rate:.0} rows/s)", took.as_secs_f64());
            }
            if invoices > 0 {
                let took = crate::dev::seed_invoices(&state, invoices).await?;
                let rate = invoices as f64 / took.as_secs_f64().max(0.001);
                println!("added {invoices} invoices in {:.2} s ({rate:.0} rows/s)", took.as_secs_f64());
            }
        }
        DevCommand::SeedServices { services, clients, start, due_fraction, seed } => {
            let took = crate::dev::daily_run_lab::seed(&state, services, clients, start, due_fraction, seed).await?;
            println!("added {services} services in {:.2} s", took.as_secs_f64());
        }
        DevCommand::CheckAutomation { date } => {
            let check = crate::dev::daily_run_lab::check(&state, date).await?;
            println!("check {date}: {}", check.summary());
            for v in &check.violations {
                println!("VIOLATION {v}");
            }
            if !check.violations.is_empty() {
                bail!("{} violations", check.violations.len());
            }
        }
        DevCommand::Bench { rounds } => {
            let paths: Vec<String> = [
                "/admin/clients",
                "/admin/clients?page=500",
                "/admin/clients?q=hopper",
                "/admin/clients?q=lovelace.hamilton",
                "/admin/clients?status=inactive&sort=name",
                "/admin/clients/1",
                "/admin/invoices",
                "/admin/invoices?page=1000",
                "/admin/invoices?status=unpaid",
                "/admin/invoices?overdue=1",
                "/admin/invoices?client=5",
                "/admin/invoices/1",
                "/admin/audit",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect();
            println!("{:<45} {:>9} {:>9} {:>9}", "page", "p50 ms", "p95 ms", "max ms");
            for (path, p50, p95, max) in crate::dev::time_pages(&state, &paths, rounds).await? {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
                println!("{path:<45} {:>9.2} {:>9.2} {:>9.2}", ms(p50), ms(p95), ms(max));
            }
            let per_second = tokio::task::spawn_blocking(|| crate::documents::bench(200)).await??;
            println!("invoice PDFs (12 lines, one thread): {per_second:.0} per second");
        }
        DevCommand::SignUpLink { email } => {
            let address = email.trim().to_lowercase();
            match crate::mail::outbox::unsent_link(&state.db, &state.key, &address, "verify_email").await? {
                Some(link) => println!("{link}"),
                None => bail!("no unsent confirmation email to {address}"),
            }
        }
        DevCommand::BenchCheckout { buyers, rounds } => {
            let f = crate::dev::bench_checkout(&state, buyers, rounds).await?;
            let secs = f.elapsed.as_secs_f64().max(0.001);
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{} buyers, {} checkouts attempted in {secs:.2} s for {} units of stock: {} placed, {} refused (sold out)",
                f.buyers, f.attempts, f.stock, f.placed, f.sold_out
            );
            println!(
                "{:.1} orders placed/s, {:.1} attempts/s ({:.1} requests/s); add to cart + place order p50 {:.1} ms, \
                 p95 {:.1} ms",
                f.placed as f64 / secs,
                f.attempts as f64 / secs,
                f.requests as f64 / secs,
                ms(f.p50),
                ms(f.p95)
            );
            println!("stock left {} (never below zero), {} services for {} orders", f.stock_left, f.services, f.placed);
            anyhow::ensure!(f.stock_left >= 0, "stock went below zero");
            // More buyers than stock: every unit is sold, and only those.
            anyhow::ensure!(
                f.placed == f.stock && f.stock_left == 0,
                "{} orders placed for {} units of stock",
                f.placed,
                f.stock
            );
            anyhow::ensure!(f.services as usize == f.placed, "orders and services disagree");
        }
    }
    Ok(())
}
