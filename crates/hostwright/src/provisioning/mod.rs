//! The provisioning interface: what creates, suspends, unsuspends, terminates and changes a
//! client's account on a server. A product names its module (`products.module`); the
//! lifecycle (`services::lifecycle`) calls it and records the outcome.
//!
//! Only the manual module exists so far: nothing is called and staff set the account up by
//! hand. Panel modules (cPanel, Plesk, DirectAdmin …) implement the same trait, and their calls
//! move onto the job queue without the callers changing.

use futures::future::BoxFuture;

use crate::catalog::model::product;
use crate::services::model::service;

/// What a module is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Create,
    Suspend { reason: String },
    Unsuspend,
    Terminate,
    ChangePackage,
    ChangePassword,
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
            Command::ChangePassword => "change_password",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Command::Create => "Create",
            Command::Suspend { .. } => "Suspend",
            Command::Unsuspend => "Unsuspend",
            Command::Terminate => "Terminate",
            Command::ChangePackage => "Change package",
            Command::ChangePassword => "Change password",
        }
    }
}

/// Everything a module needs about the service it acts on. The password is decrypted only
/// for the call and never logged.
pub struct Target<'a> {
    pub service: &'a service::Model,
    pub product: &'a product::Model,
    pub password: Option<secrecy::SecretString>,
}

/// What a successful call changed that the service record should keep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The account's username on the server, when the module chose it.
    pub username: Option<String>,
    /// A note for the service's log (never a secret).
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The panel refused: the message is safe to show staff.
    #[error("{0}")]
    Refused(String),
    /// The panel could not be reached or answered nonsense.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A provisioning module.
pub trait Module: Send + Sync {
    fn key(&self) -> &'static str;
    fn label(&self) -> &'static str;
    fn run<'a>(&'a self, target: &'a Target<'a>, command: &'a Command) -> BoxFuture<'a, Result<Outcome, ModuleError>>;
}

/// No panel: staff do the work by hand, and every command simply succeeds.
pub struct Manual;

impl Module for Manual {
    fn key(&self) -> &'static str {
        "none"
    }

    fn label(&self) -> &'static str {
        "None (manual)"
    }

    fn run<'a>(&'a self, _target: &'a Target<'a>, command: &'a Command) -> BoxFuture<'a, Result<Outcome, ModuleError>> {
        let message = format!("{}: no provisioning module, done by hand", command.label());
        Box::pin(async move { Ok(Outcome { username: None, message }) })
    }
}

/// The module a product names; unknown names fail rather than silently doing nothing.
pub fn module(key: &str) -> Result<&'static dyn Module, ModuleError> {
    match key {
        "none" | "" => Ok(&Manual),
        other => Err(ModuleError::Refused(format!("The provisioning module \"{other}\" is not installed."))),
    }
}
