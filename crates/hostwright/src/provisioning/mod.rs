//! Provisioning in the app: which module a product uses, the servers accounts live on, the
//! module log, and the jobs that call the modules (decision 0024). The modules themselves
//! live in `hostwright-provisioning` and never see the database.
//!
//! A module is only ever called from a job (`service.module`, `server.test`, the daily run's
//! jobs), never inside a web request: a page queues the work and shows where it stands.

pub mod calls;
pub mod handlers;
pub mod jobs;
pub mod servers;
pub mod views;

use hostwright_provisioning::cpanel::Cpanel;
use hostwright_provisioning::directadmin::DirectAdmin;
use hostwright_provisioning::plesk::Plesk;
use hostwright_provisioning::postgres::Postgres;
use hostwright_provisioning::webhook::Webhook;
use hostwright_provisioning::{
    Account, ActionOutcome, Capabilities, Created, Exchange, ModuleError, ModuleInfo, ProvisioningModule, Server, Usage,
};
use serde::{Deserialize, Serialize};

/// The server pages in their sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    use crate::web::view::Sample;
    let mut out = Vec::new();
    out.extend(views::ServerListPage::samples().iter().map(Sample::page));
    out.extend(views::ServerFormPage::samples().iter().map(Sample::page));
    out
}

/// What a service's module is asked to do, as the `service.module` job carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Create,
    Suspend {
        reason: String,
    },
    Unsuspend,
    Terminate,
    ChangePackage,
    /// The new password travels encrypted with the installation key.
    ChangePassword {
        password_enc: String,
    },
}

impl Command {
    /// The key used in audit records and logs.
    pub fn key(&self) -> &'static str {
        match self {
            Command::Create => "create",
            Command::Suspend { .. } => "suspend",
            Command::Unsuspend => "unsuspend",
            Command::Terminate => "terminate",
            Command::ChangePackage => "change_package",
            Command::ChangePassword { .. } => "change_password",
        }
    }

    pub fn label(&self) -> &'static str {
        label(self.key())
    }
}

/// The label of a command or call key.
pub fn label(key: &str) -> &'static str {
    match key {
        "create" => "Create",
        "suspend" => "Suspend",
        "unsuspend" => "Unsuspend",
        "terminate" => "Terminate",
        "change_package" => "Change package",
        "change_password" => "Change password",
        "usage" => "Usage",
        "sso" => "Single sign-on",
        "test_connection" => "Test connection",
        "packages" => "List packages",
        _ => "Action",
    }
}

/// One call to a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    TestConnection,
    Create,
    Suspend(String),
    Unsuspend,
    Terminate,
    ChangePackage,
    ChangePassword,
    Usage,
    SingleSignOn,
    Packages,
    ClientAction(String),
}

impl Call {
    pub fn key(&self) -> String {
        match self {
            Call::TestConnection => "test_connection".into(),
            Call::Create => "create".into(),
            Call::Suspend(_) => "suspend".into(),
            Call::Unsuspend => "unsuspend".into(),
            Call::Terminate => "terminate".into(),
            Call::ChangePackage => "change_package".into(),
            Call::ChangePassword => "change_password".into(),
            Call::Usage => "usage".into(),
            Call::SingleSignOn => "sso".into(),
            Call::Packages => "packages".into(),
            Call::ClientAction(key) => format!("action:{key}"),
        }
    }
}

/// What a successful call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Nothing,
    Text(String),
    Created(Created),
    Usage(Usage),
    Url(String),
    Packages(Vec<String>),
    Action(ActionOutcome),
}

impl Done {
    /// The line the module log keeps (never a secret: an SSO address is one, so it is left out).
    pub fn summary(&self) -> String {
        match self {
            Done::Nothing => "done".into(),
            Done::Text(text) => text.clone(),
            Done::Created(c) => c.message.clone(),
            Done::Usage(u) => format!("disk {} MB, bandwidth {} MB", u.disk_used_mb, u.bandwidth_used_mb),
            Done::Packages(p) => format!("{} packages: {}", p.len(), p.join(", ")),
            Done::Url(_) | Done::Action(ActionOutcome::Redirect(_)) => "sign-in address made".into(),
            Done::Action(ActionOutcome::Message(m)) => m.clone(),
        }
    }
}

/// The module keys Hostwright has, in the order staff see them.
pub const KEYS: [&str; 6] = ["none", "cpanel", "plesk", "directadmin", "postgres", "webhook"];

/// A module, reached by its key.
pub enum AnyModule {
    /// No panel: staff set the account up by hand, and every command simply succeeds.
    Manual,
    Cpanel(Cpanel),
    Plesk(Plesk),
    DirectAdmin(DirectAdmin),
    Postgres(Postgres),
    Webhook(Webhook),
}

/// Runs `$body` with `$m` bound to the module inside whichever variant this is; `$manual`
/// is what the manual module answers.
macro_rules! each {
    ($module:expr, $m:ident => $body:expr, manual => $manual:expr) => {
        match $module {
            AnyModule::Manual => $manual,
            AnyModule::Cpanel($m) => $body,
            AnyModule::Plesk($m) => $body,
            AnyModule::DirectAdmin($m) => $body,
            AnyModule::Postgres($m) => $body,
            AnyModule::Webhook($m) => $body,
        }
    };
}

impl AnyModule {
    /// The module called `key`; `None` for a key this version does not have.
    pub fn get(key: &str, http: &reqwest::Client) -> Option<Self> {
        match key {
            "none" | "" => Some(AnyModule::Manual),
            "cpanel" => Some(AnyModule::Cpanel(Cpanel::new(http.clone()))),
            "plesk" => Some(AnyModule::Plesk(Plesk::new(http.clone()))),
            "directadmin" => Some(AnyModule::DirectAdmin(DirectAdmin::new(http.clone()))),
            "postgres" => Some(AnyModule::Postgres(Postgres)),
            "webhook" => Some(AnyModule::Webhook(Webhook::new(http.clone()))),
            _ => None,
        }
    }

    pub fn info(&self) -> ModuleInfo {
        each!(self, m => m.info(), manual => ModuleInfo {
            key: "none",
            label: "None (set up by hand)",
            server_fields: Vec::new(),
            product_fields: Vec::new(),
            capabilities: Capabilities::default(),
            client_actions: Vec::new(),
        })
    }

    /// Whether its accounts live on a server Hostwright calls.
    pub fn needs_server(&self) -> bool {
        !matches!(self, AnyModule::Manual)
    }

    /// Whether the module offers `call` at all (pages offer only these).
    pub fn supports(&self, call: &Call) -> bool {
        let info = self.info();
        let c = info.capabilities;
        match call {
            Call::TestConnection => c.test_connection,
            Call::ChangePackage => c.change_package || !self.needs_server(),
            Call::ChangePassword => c.change_password || !self.needs_server(),
            Call::Usage => c.usage,
            Call::SingleSignOn => c.single_sign_on,
            Call::Packages => c.packages,
            Call::ClientAction(key) => info.client_actions.iter().any(|a| a.key == key),
            Call::Create | Call::Suspend(_) | Call::Unsuspend | Call::Terminate => true,
        }
    }

    /// Makes one call; every exchange with the server lands in `log`, redacted.
    pub async fn call(
        &self,
        server: &Server,
        account: &Account,
        call: &Call,
        log: &mut Vec<Exchange>,
    ) -> Result<Done, ModuleError> {
        each!(self, m => match call {
            Call::TestConnection => m.test_connection(server, log).await.map(Done::Text),
            Call::Create => m.create(server, account, log).await.map(Done::Created),
            Call::Suspend(reason) => m.suspend(server, account, reason, log).await.map(|()| Done::Nothing),
            Call::Unsuspend => m.unsuspend(server, account, log).await.map(|()| Done::Nothing),
            Call::Terminate => m.terminate(server, account, log).await.map(|()| Done::Nothing),
            Call::ChangePackage => m.change_package(server, account, log).await.map(|()| Done::Nothing),
            Call::ChangePassword => m.change_password(server, account, log).await.map(|()| Done::Nothing),
            Call::Usage => m.usage(server, account, log).await.map(Done::Usage),
            Call::SingleSignOn => m.sso_url(server, account, log).await.map(Done::Url),
            Call::Packages => m.packages(server, log).await.map(Done::Packages),
            Call::ClientAction(key) => m.client_action(server, account, key, log).await.map(Done::Action),
        }, manual => match call {
            Call::Create => Ok(Done::Created(Created {
                username: account.username.clone(),
                message: "no provisioning module: set up by hand".into(),
            })),
            Call::Suspend(_) | Call::Unsuspend | Call::Terminate | Call::ChangePackage | Call::ChangePassword => {
                Ok(Done::Text("no provisioning module: done by hand".into()))
            }
            _ => Err(ModuleError::Unsupported),
        })
    }
}

/// The modules staff may choose for a product or a server: (key, label).
pub fn choices(http: &reqwest::Client) -> Vec<(&'static str, String)> {
    KEYS.iter().filter_map(|k| AnyModule::get(k, http).map(|m| (*k, m.info().label.to_owned()))).collect()
}
