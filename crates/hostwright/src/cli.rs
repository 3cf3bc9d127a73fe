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
    #[cfg(feature = "dev-tools")]
    Bench {
        #[command(subcommand)]
        command: crate::dev::cli::BenchCommand,
    },
    /// Tools for trying Hostwright at scale: seed data, time pages.
    #[cfg(feature = "dev-tools")]
    Dev {
        #[command(subcommand)]
        command: crate::dev::cli::DevCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Nodes seen (heartbeats), the scheduler lease's holder, the job queue, and the database
    /// server's role and replication lag.
    Status,
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
        #[cfg(feature = "dev-tools")]
        Command::Bench { command } => crate::dev::cli::bench(settings, command).await,
        #[cfg(feature = "dev-tools")]
        Command::Dev { command } => crate::dev::cli::dev(settings, command).await,
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
