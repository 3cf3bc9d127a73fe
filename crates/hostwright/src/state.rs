//! What every request handler can reach. Nothing here is per-node state that another node
//! would need: the database holds sessions, throttles, tokens and the outbox.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::crypto::SecretKey;
use crate::files::FileStore;
use crate::theme::Assets;
use crate::theme::Templates;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub key: SecretKey,
    pub templates: Templates,
    pub assets: Arc<Assets>,
    pub files: FileStore,
    /// Renders invoices and credit notes (fonts and template loaded once).
    pub pdf: Arc<crate::documents::PdfRenderer>,
    pub metrics: Option<PrometheusHandle>,
    /// What day it is for the automation (decision 0017).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Wakes the outbox sender when an email is queued.
    pub outbox_wakeup: Notify,
    /// Wakes this node's job workers when a job is queued.
    pub jobs_wakeup: Notify,
    /// The online payment gateways this node built from their settings.
    pub gateways: hostwright_gateways::GatewayCache,
    /// The HTTP client provisioning modules share (each call sets its own timeout).
    pub http: reqwest::Client,
    /// This process's name in the cluster: its job claims, leases and heartbeat.
    pub node: String,
    /// Set when shutdown starts, so `/readyz` tells the load balancer to stop sending.
    draining: AtomicBool,
    /// When `/readyz` first found the database unreachable, since it last reached it.
    unreachable_since: std::sync::Mutex<Option<std::time::Instant>>,
}

/// What a node is built from (see `startup::build_state`).
pub struct Parts {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub key: SecretKey,
    pub templates: Templates,
    pub assets: Arc<Assets>,
    pub files: FileStore,
    pub pdf: Arc<crate::documents::PdfRenderer>,
    pub metrics: Option<PrometheusHandle>,
    pub clock: Arc<dyn crate::clock::Clock>,
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let Parts { settings, db, key, templates, assets, files, pdf, metrics, clock } = parts;
        Self(Arc::new(Inner {
            settings,
            db,
            key,
            templates,
            assets,
            files,
            pdf,
            metrics,
            clock,
            outbox_wakeup: Notify::new(),
            jobs_wakeup: Notify::new(),
            gateways: Default::default(),
            http: reqwest::Client::builder()
                .user_agent(concat!("Hostwright/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
            node: owner_name(),
            draining: AtomicBool::new(false),
            unreachable_since: std::sync::Mutex::new(None),
        }))
    }

    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Notes whether the database answered; returns how long it has been unreachable.
    pub fn database_reached(&self, reached: bool) -> std::time::Duration {
        let mut since = self.0.unreachable_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if reached {
            *since = None;
            return std::time::Duration::ZERO;
        }
        since.get_or_insert_with(std::time::Instant::now).elapsed()
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The machine's name, as nodes are listed.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// A name for this process (its claims, leases and heartbeat): host, process id and a
/// random part.
pub fn owner_name() -> String {
    let random = crate::crypto::random_token();
    format!("{}:{}:{}", host_name(), std::process::id(), random.get(..6).unwrap_or("0"))
}
