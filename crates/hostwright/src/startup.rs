//! Building the application from its settings, and running it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::crypto::SecretKey;
use crate::files::FileStore;
use crate::signin::handlers::{Admin, ClientArea};
use crate::state::AppState;
use crate::theme::{Assets, Templates};
use crate::web::assets::serve_asset;
use crate::web::{AppError, middleware};

/// Connects, migrates and assembles everything a node needs.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    build_state_with_clock(settings, Arc::new(crate::clock::SystemClock)).await
}

/// [`build_state`] with the automation's clock given (tests move it through the calendar).
pub async fn build_state_with_clock(
    settings: Settings,
    clock: Arc<dyn crate::clock::Clock>,
) -> anyhow::Result<AppState> {
    let key = load_secret_key(&settings)?;
    let db = crate::db::connect(&settings).await?;
    crate::db::migrate(&db).await?;
    let files = FileStore::from_settings(&settings)?;
    let assets = Arc::new(Assets::load(settings.theme_dir.as_deref()));
    let templates = Templates::new(settings.theme_dir.clone(), assets.clone());
    let pdf = Arc::new(crate::documents::PdfRenderer::new(settings.theme_dir.as_deref())?);
    Ok(AppState::new(crate::state::Parts {
        settings,
        db,
        key,
        templates,
        assets,
        files,
        pdf,
        metrics: metrics_handle(),
        clock,
    }))
}

/// The configured key, or the one in `<data_dir>/secret.key`, created on first start.
pub fn load_secret_key(settings: &Settings) -> anyhow::Result<SecretKey> {
    if let Some(text) = &settings.secret_key {
        return SecretKey::from_base64(text.expose_secret()).context("secret_key must be 32 bytes of base64");
    }
    let path = settings.data_dir.join("secret.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return SecretKey::from_base64(&text).with_context(|| format!("{} is not a valid key", path.display()));
    }
    let key = SecretKey::generate();
    write_private(&path, &key.to_base64()).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new secret key; set HOSTWRIGHT_SECRET_KEY on every node of a cluster");
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

/// The process-wide Prometheus recorder (installed once, shared by every app in a process).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let max_body = state.settings.max_body_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    let routes = Router::new()
        .merge(crate::clients::router())
        .merge(crate::signin::handlers::router::<ClientArea>())
        .merge(crate::signin::handlers::router::<Admin>())
        .merge(crate::staff::router())
        .merge(crate::overviews::router())
        .merge(crate::catalog::router())
        .merge(crate::invoices::router::<crate::payments::for_invoices::Payments>())
        .merge(crate::payments::router())
        .merge(crate::orders::router())
        .merge(crate::services::router())
        .merge(crate::provisioning::handlers::router())
        .route("/admin/audit", get(crate::ops::audit_log::list_audit))
        .route(
            "/admin/settings",
            get(crate::staff::settings_handlers::settings_form).post(crate::staff::settings_handlers::save_settings),
        )
        .route("/admin/outbox", get(crate::ops::outbox::list_outbox))
        .route("/admin/outbox/{id}/retry", post(crate::ops::outbox::retry_email))
        .route("/admin/queue", get(crate::ops::queue::list_queue))
        .route("/admin/automation", get(crate::automation::handlers::automation_page))
        .route("/admin/automation/settings", post(crate::automation::handlers::save_automation_settings))
        .route("/admin/queue/{id}/retry", post(crate::ops::queue::retry_job))
        .route("/admin/queue/{id}/cancel", post(crate::ops::queue::cancel_job))
        .route("/assets/{hash}/{name}", get(serve_asset))
        .merge(crate::ops::router())
        .route_layer(from_fn(middleware::track_metrics))
        .fallback(|| async { AppError::NotFound });
    routes
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request.id = %id)
                }))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(from_fn_with_state(state.clone(), middleware::error_pages))
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("a request handler panicked");
                    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response_static()
                }))
                .layer(from_fn_with_state(state.clone(), middleware::security_headers))
                .layer(DefaultBodyLimit::max(max_body))
                .layer(from_fn_with_state(state.clone(), middleware::close_when_draining))
                .layer(from_fn_with_state(state.clone(), crate::web::limits::layer))
                .layer(from_fn_with_state(state.clone(), crate::web::csrf::layer))
                .layer(from_fn_with_state(state.clone(), crate::web::retry::layer)),
        )
        .with_state(state)
}

impl AppError {
    fn into_response_static(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// Runs a node: HTTP, the outbox sender and housekeeping, until SIGTERM or SIGINT.
pub async fn serve(settings: Settings, run_workers: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let listen = settings.listen;
    let drain = Duration::from_secs(settings.drain_seconds);
    let state = build_state(settings).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, ready_ms = started.elapsed().as_millis() as u64, "ready");
    println!("Hostwright is running at {}", state.settings.url("/"));
    println!("  staff area: {}", state.settings.url("/admin"));
    if address.to_string() != listen.to_string() {
        println!("  (listening on {address})");
    }
    if let Some(link) = crate::staff::service::setup_link_if_needed(&state).await? {
        println!();
        println!("No administrator exists yet. Open this one-time link to create the first one:");
        println!("  {link}");
        println!();
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = Vec::new();
    if run_workers {
        workers.extend(background(&state, &stop_rx));
    }
    workers.push(tokio::spawn(housekeeping(state.clone(), stop_rx.clone())));
    workers.push(tokio::spawn(crate::ops::cluster::heartbeat(state.clone(), "serve", stop_rx.clone())));
    if let Some(metrics_address) = state.settings.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_address)
            .await
            .with_context(|| format!("listening for metrics on {metrics_address}"))?;
        println!("  metrics: http://{}/metrics", metrics_listener.local_addr()?);
        let metrics_app = crate::ops::metrics_router(state.clone());
        let mut stop = stop_rx.clone();
        workers.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(err) = axum::serve(metrics_listener, metrics_app).with_graceful_shutdown(stopped).await {
                tracing::error!(error = %err, "serving metrics failed");
            }
        }));
    }

    let app = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let notice = Duration::from_secs(state.settings.drain_notice_seconds);
    let signalled = {
        let state = state.clone();
        async move {
            let signal = shutdown_signal().await;
            state.start_draining();
            let _ = stop_tx.send(true);
            // SIGTERM comes from a service manager or a rolling deploy: keep serving while the
            // balancer's health check sees /readyz fail. Ctrl-C at a terminal stops at once.
            if signal == Signal::Terminate && !notice.is_zero() {
                tracing::info!(notice_seconds = notice.as_secs(), "draining: /readyz fails, still serving");
                tokio::time::sleep(notice).await;
            }
            tracing::info!(drain_seconds = drain.as_secs(), "shutting down: no new connections, finishing requests");
        }
    };
    let (signal_tx, mut signal_rx) = watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        signalled.await;
        let _ = signal_tx.send(true);
    });
    let deadline = async move {
        let _ = signal_rx.wait_for(|s| *s).await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        result = server => result.context("serving HTTP")?,
        () = deadline => tracing::warn!("drain time over; closing remaining connections"),
    }
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The background loops of a node: the email sender, the job workers and the scheduler.
fn background(state: &AppState, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let registry = std::sync::Arc::new(node_registry(&state.settings));
    let concurrency = state.settings.job_workers.max(1);
    vec![
        tokio::spawn(crate::mail::sender::run(state.clone(), stop.clone())),
        tokio::spawn(crate::jobs::worker::run(state.clone(), registry, concurrency, stop.clone())),
        tokio::spawn(crate::automation::scheduler::run(state.clone(), state.node.clone(), stop.clone())),
    ]
}

/// The job kinds this node runs, with the configured claim lease.
fn node_registry(settings: &Settings) -> crate::jobs::Registry {
    crate::workflows::job_registry().with_lease(settings.job_lease_seconds.map(Duration::from_secs))
}

/// Runs the queued jobs until none is left (`hostwright worker --drain`), waiting out the
/// leases of workers that died, for at most ten minutes.
pub async fn drain(settings: Settings) -> anyhow::Result<()> {
    let state = build_state(settings).await?;
    let registry = node_registry(&state.settings);
    let owner = state.node.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut ran = 0;
    loop {
        let batch = crate::jobs::worker::run_once(&state, &registry, &owner, state.settings.job_workers.max(1)).await?;
        ran += batch;
        if batch > 0 {
            continue;
        }
        let open = crate::jobs::store::depth(&state.db)
            .await?
            .iter()
            .filter(|(_, status, _)| status != crate::jobs::store::FAILED)
            .map(|(_, _, n)| *n)
            .sum::<i64>();
        if open == 0 {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{open} jobs are still waiting after ten minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("drained: {ran} jobs ran");
    Ok(())
}

/// Runs the background workers without HTTP (`hostwright worker`), until SIGTERM or SIGINT;
/// a job running then finishes or, past the grace time, is left to its lease.
pub async fn work(settings: Settings) -> anyhow::Result<()> {
    let state = build_state(settings).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = background(&state, &stop_rx);
    workers.push(tokio::spawn(crate::ops::cluster::heartbeat(state.clone(), "worker", stop_rx.clone())));
    println!("Hostwright worker running ({} jobs at a time)", state.settings.job_workers.max(1));
    shutdown_signal().await;
    tracing::info!("stopping the workers");
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(30), worker).await;
    }
    tracing::info!("stopped");
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

async fn shutdown_signal() -> Signal {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => Signal::Interrupt,
        () = terminate => Signal::Terminate,
    }
}

/// Removes expired sessions every few minutes (any node may do it; it is idempotent).
async fn housekeeping(state: AppState, mut stop: watch::Receiver<bool>) {
    loop {
        match crate::auth::session::purge_expired(&state.db, &state.settings).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "purged expired sessions"),
            Err(err) => tracing::warn!(error = %err, "purging sessions failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = stop.changed() => return,
        }
    }
}
