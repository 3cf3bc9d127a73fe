//! The command line: `serve`, `worker`, `migrate`, `automation`, `admin create`, `config check`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::config::{LogFormat, Settings};

#[derive(Parser)]
#[command(name = "hostwright", version, about = "Billing, automation and support for web-hosting businesses")]
pub struct Cli {
    /// Configuration file (default: ./hostwright.toml if present).
    #[arg(long, global = true, env = "HOSTWRIGHT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (and, unless --no-worker, the background workers).
    Serve {
        /// Serve HTTP only; leave background work to other nodes.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run the background workers only (the job queue, the email outbox, the scheduler), no HTTP.
    Worker {
        /// Run the queued jobs until none is left (waiting out the leases of dead workers),
        /// then exit; no email sender, no scheduler.
        #[arg(long)]
        drain: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// The daily run: run it now, or show what it would do.
    Automation {
        #[command(subcommand)]
        command: AutomationCommand,
    },
    /// The cluster as the database sees it.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Manage staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Tools for trying Hostwright at scale: seed data, time pages.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Nodes seen (heartbeats), the scheduler lease's holder, the job queue, and the database
    /// server's role and replication lag.
    Status,
}

#[derive(Subcommand)]
enum DevCommand {
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
enum BenchCommand {
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

#[derive(Subcommand)]
enum AutomationCommand {
    /// Run the daily run's tasks now as the lease holder (waiting for the lease if another
    /// node holds it), or with --dry-run print what they would do without writing anything.
    Run {
        /// Only this task (repeat for several); all of them by default.
        #[arg(long = "task")]
        tasks: Vec<crate::automation::Task>,
        /// The business date to run for (YYYY-MM-DD); today in the business's time zone by default.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for the lease when another node holds it.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Who holds the scheduler lease, and the last run of each task.
    Status,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff member (an Administrator unless --role says otherwise).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Role name: Administrator, Billing, Support or Sales.
        #[arg(long, default_value = "Administrator")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted); fail if it is invalid.
    Check,
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref());
    if let Command::Config { command: ConfigCommand::Check } = &cli.command {
        let settings = settings?;
        print!("{}", settings.to_redacted_toml()?);
        println!("# configuration is valid");
        return Ok(());
    }
    let settings = settings?;
    init_logging(settings.log_format);
    match cli.command {
        Command::Serve { no_worker } => crate::startup::serve(settings, !no_worker).await,
        Command::Worker { drain: false } => crate::startup::work(settings).await,
        Command::Worker { drain: true } => crate::startup::drain(settings).await,
        Command::Migrate => {
            let db = crate::db::connect(&settings).await?;
            crate::db::migrate(&db).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Automation { command } => automation(settings, command).await,
        Command::Cluster { command: ClusterCommand::Status } => {
            let db = crate::db::connect(&settings).await?;
            print!("{}", crate::ops::cluster::status(&db).await?);
            Ok(())
        }
        Command::Admin { command: AdminCommand::Create { email, name, role, password_stdin } } => {
            create_admin(settings, email, name, role, password_stdin).await
        }
        Command::Config { .. } => Ok(()),
        Command::Bench { command } => bench(settings, command).await,
        Command::Dev { command } => dev(settings, command).await,
    }
}

async fn bench(settings: Settings, command: BenchCommand) -> anyhow::Result<()> {
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

async fn automation(settings: Settings, command: AutomationCommand) -> anyhow::Result<()> {
    let state = crate::startup::build_state(settings).await?;
    match command {
        AutomationCommand::Run { tasks, date, dry_run, wait } => {
            let tasks = if tasks.is_empty() { crate::automation::Task::ALL.to_vec() } else { tasks };
            let wait = std::time::Duration::from_secs(wait);
            let outcome = crate::automation::run_now(&state, date, &tasks, dry_run, wait).await?;
            print!("{}", crate::automation::describe_run(&outcome, dry_run));
            if outcome.reports.iter().any(|r| r.error.is_some()) {
                bail!("a task failed");
            }
            Ok(())
        }
        AutomationCommand::Status => {
            print!("{}", crate::automation::describe_status(&state).await?);
            Ok(())
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

async fn create_admin(
    settings: Settings,
    email: String,
    name: String,
    role: String,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = crate::web::forms::EmailAddress::parse(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let name = name.trim().to_owned();
    if name.is_empty() {
        bail!("--name must not be empty");
    }
    let password = read_password(password_stdin)?;
    let state = crate::startup::build_state(settings).await?;
    let roles = crate::staff::store::roles(&state.db).await?;
    let Some(role) = roles.iter().find(|r| r.name.eq_ignore_ascii_case(&role)) else {
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        bail!("no role named {role:?}; roles are: {}", names.join(", "));
    };
    let new = crate::staff::service::NewStaff { name, email, role_id: role.id, password: Some(password) };
    match crate::staff::service::create_from_cli(&state, new).await {
        Ok(member) => {
            println!("created {} <{}> as {}", member.name, member.email, role.name);
            println!("sign in at {}", state.settings.url("/admin/login"));
            Ok(())
        }
        Err(err) => bail!("{err}"),
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
        let _ = std::process::Command::new("stty").arg("-echo").status();
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
        read.context("reading the password")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

async fn dev(settings: Settings, command: DevCommand) -> anyhow::Result<()> {
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
