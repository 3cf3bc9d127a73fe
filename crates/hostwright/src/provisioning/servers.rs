//! Servers and server groups. A server names its module and keeps that module's settings:
//! the plain ones as JSON, the secret ones as JSON encrypted with the installation key, never
//! shown again. A product points at a group; a new account goes to the group's server that
//! its fill strategy picks among the enabled ones with room.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use hostwright_provisioning::{FieldKind, ModuleInfo, Secret};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};

use super::AnyModule;
use crate::audit::{self, Actor};
use crate::ids::{ServerGroupId, ServerId};
use crate::state::AppState;
use crate::web::{AppError, FormErrors};

pub mod server {
    use sea_orm::entity::prelude::*;

    use crate::ids::ServerId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "servers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ServerId,
        pub name: String,
        pub hostname: String,
        pub module: String,
        /// The module's settings that are not secret, as a JSON object.
        pub settings: String,
        /// The secret ones, as an encrypted JSON object.
        pub secrets_enc: Option<String>,
        /// 0 = no limit.
        pub max_accounts: i32,
        /// One per line.
        pub nameservers: String,
        pub enabled: bool,
        pub last_test: String,
        pub last_test_at: Option<DateTimeUtc>,
        pub last_test_ok: Option<bool>,
        /// The packages (plans) it offered when last asked, as a JSON array.
        pub packages: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod group {
    use sea_orm::entity::prelude::*;

    use crate::ids::ServerGroupId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_groups")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: ServerGroupId,
        pub name: String,
        /// See [`super::FillStrategy`].
        pub fill_strategy: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ServerGroupId, ServerId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: ServerGroupId,
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: ServerId,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How a group picks the server for a new account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillStrategy {
    /// The server with the fewest accounts (spreads the load).
    LeastAccounts,
    /// The first server (in name order) until it is full, then the next.
    Fill,
}

impl FillStrategy {
    pub const ALL: [FillStrategy; 2] = [FillStrategy::LeastAccounts, FillStrategy::Fill];

    pub fn key(self) -> &'static str {
        match self {
            FillStrategy::LeastAccounts => "least_accounts",
            FillStrategy::Fill => "fill",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FillStrategy::LeastAccounts => "Fewest accounts first",
            FillStrategy::Fill => "Fill one server, then the next",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// The timeout of one module call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<ServerError> for AppError {
    fn from(err: ServerError) -> Self {
        match err {
            ServerError::NotFound => AppError::NotFound,
            ServerError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            ServerError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for ServerError {
    fn from(err: DbErr) -> Self {
        ServerError::Internal(anyhow::Error::new(err).context("database"))
    }
}

pub async fn find(db: &impl ConnectionTrait, id: ServerId) -> Result<Option<server::Model>, DbErr> {
    server::Entity::find_by_id(id).one(db).await
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<server::Model>, DbErr> {
    server::Entity::find().order_by_asc(server::Column::Name).all(db).await
}

pub async fn groups(db: &impl ConnectionTrait) -> Result<Vec<group::Model>, DbErr> {
    group::Entity::find().order_by_asc(group::Column::Name).all(db).await
}

pub async fn find_group(db: &impl ConnectionTrait, id: ServerGroupId) -> Result<Option<group::Model>, DbErr> {
    group::Entity::find_by_id(id).one(db).await
}

pub async fn members(db: &impl ConnectionTrait, id: ServerGroupId) -> Result<Vec<ServerId>, DbErr> {
    Ok(member::Entity::find()
        .filter(member::Column::GroupId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.server_id)
        .collect())
}

/// Every (group, server) membership, for the servers page.
pub async fn memberships(db: &impl ConnectionTrait) -> Result<Vec<(ServerGroupId, ServerId)>, DbErr> {
    Ok(member::Entity::find().all(db).await?.into_iter().map(|m| (m.group_id, m.server_id)).collect())
}

/// The server as a module call needs it: every setting, secrets decrypted for the call.
pub fn for_call(state: &AppState, s: &server::Model) -> anyhow::Result<hostwright_provisioning::Server> {
    let mut settings: BTreeMap<String, Secret> =
        plain_settings(s).into_iter().map(|(k, v)| (k, Secret::new(v))).collect();
    if let Some(stored) = &s.secrets_enc {
        let bytes = state.key.decrypt(stored)?;
        let secrets: BTreeMap<String, String> = serde_json::from_slice(&bytes)?;
        settings.extend(secrets.into_iter().map(|(k, v)| (k, Secret::new(v))));
    }
    Ok(hostwright_provisioning::Server { hostname: s.hostname.clone(), settings, timeout: CALL_TIMEOUT })
}

/// A server without one: what the manual module is called with.
pub fn none() -> hostwright_provisioning::Server {
    hostwright_provisioning::Server { hostname: String::new(), settings: BTreeMap::new(), timeout: CALL_TIMEOUT }
}

pub fn plain_settings(s: &server::Model) -> BTreeMap<String, String> {
    serde_json::from_str(&s.settings).unwrap_or_default()
}

/// Which secret settings a server has stored (their values never leave the database).
pub fn stored_secrets(state: &AppState, s: &server::Model) -> Vec<String> {
    s.secrets_enc
        .as_deref()
        .and_then(|stored| state.key.decrypt(stored).ok())
        .and_then(|bytes| serde_json::from_slice::<BTreeMap<String, String>>(&bytes).ok())
        .map(|m| m.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| k).collect())
        .unwrap_or_default()
}

pub fn nameservers(s: &server::Model) -> Vec<String> {
    s.nameservers.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// What staff typed for a server; the module's settings are `setting.<key>` fields.
#[derive(Debug, Clone, Default)]
pub struct ServerInput {
    pub name: String,
    pub hostname: String,
    pub module: String,
    pub max_accounts: String,
    pub nameservers: String,
    pub enabled: bool,
    pub settings: BTreeMap<String, String>,
    pub groups: Vec<ServerGroupId>,
}

fn validate(
    input: &ServerInput,
    info: Option<&ModuleInfo>,
    existing: Option<&server::Model>,
    stored: &[String],
) -> FormErrors {
    let mut errors = FormErrors::default();
    if input.name.trim().is_empty() || input.name.trim().chars().count() > 100 {
        errors.add("name", "Give the server a name (up to 100 characters).");
    }
    let host = input.hostname.trim();
    if host.is_empty() || host.len() > 255 || host.chars().any(char::is_whitespace) {
        errors.add("hostname", "Give the server's host name or IP address.");
    }
    if input.max_accounts.trim().parse::<i32>().map_or(!input.max_accounts.trim().is_empty(), |n| n < 0) {
        errors.add("max_accounts", "Give a whole number (0 or empty: no limit).");
    }
    for ns in input.nameservers.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if ns.len() > 253
            || !ns.contains('.')
            || ns.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            errors.add("nameservers", format!("\"{ns}\" is not a host name."));
        }
    }
    match info {
        None => errors.add("module", "Choose a module."),
        Some(info) => {
            for field in &info.server_fields {
                let value = input.settings.get(field.key).map_or("", |v| v.trim());
                let kept = field.kind == FieldKind::Secret && stored.iter().any(|k| k == field.key);
                if field.required && value.is_empty() && !kept {
                    errors.add(&format!("setting.{}", field.key), format!("{} is required.", field.label));
                }
                if let FieldKind::Choice(options) = &field.kind
                    && !value.is_empty()
                    && !options.iter().any(|o| o == value)
                {
                    errors.add(&format!("setting.{}", field.key), format!("Choose one of {}.", options.join(", ")));
                }
                if field.kind == FieldKind::Number && !value.is_empty() && value.parse::<u64>().is_err() {
                    errors.add(&format!("setting.{}", field.key), "Give a whole number.");
                }
            }
            if existing.is_some_and(|s| s.module != info.key) {
                errors.add("module", "A server keeps its module; add a new server for another one.");
            }
        }
    }
    errors
}

/// Creates (`id` = None) or updates a server. A secret left empty keeps the stored value.
pub async fn save(
    state: &AppState,
    actor: &Actor,
    id: Option<ServerId>,
    input: &ServerInput,
) -> Result<ServerId, ServerError> {
    let existing = match id {
        Some(id) => Some(find(&state.db, id).await?.ok_or(ServerError::NotFound)?),
        None => None,
    };
    let module = AnyModule::get(input.module.trim(), &state.http).filter(AnyModule::needs_server);
    let info = module.as_ref().map(AnyModule::info);
    let stored = existing.as_ref().map(|s| stored_secrets(state, s)).unwrap_or_default();
    let errors = validate(input, info.as_ref(), existing.as_ref(), &stored);
    let Some(info) = info.filter(|_| errors.is_empty()) else { return Err(ServerError::Invalid(errors)) };
    let mut plain = BTreeMap::new();
    let mut secrets: BTreeMap<String, String> = match existing.as_ref().and_then(|s| s.secrets_enc.as_deref()) {
        Some(enc) => serde_json::from_slice(&state.key.decrypt(enc)?).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    for field in &info.server_fields {
        let value = input.settings.get(field.key).map_or("", |v| v.trim()).to_owned();
        match field.kind {
            FieldKind::Secret if value.is_empty() => {}
            FieldKind::Secret => {
                secrets.insert(field.key.to_owned(), value);
            }
            _ => {
                plain.insert(field.key.to_owned(), value);
            }
        }
    }
    let secrets_enc = (!secrets.is_empty())
        .then(|| serde_json::to_vec(&secrets).map(|json| state.key.encrypt(&json)))
        .transpose()
        .map_err(anyhow::Error::from)?;
    let now = Utc::now();
    let mut row = match &existing {
        Some(s) => server::ActiveModel::from(s.clone()),
        None => server::ActiveModel {
            module: Set(info.key.to_owned()),
            created_at: Set(now),
            last_test: Set(String::new()),
            packages: Set("[]".into()),
            ..Default::default()
        },
    };
    row.name = Set(input.name.trim().to_owned());
    row.hostname = Set(input.hostname.trim().to_owned());
    row.settings = Set(serde_json::to_string(&plain).map_err(anyhow::Error::from)?);
    row.secrets_enc = Set(secrets_enc);
    row.max_accounts = Set(input.max_accounts.trim().parse().unwrap_or(0));
    row.nameservers = Set(nameservers_text(&input.nameservers));
    row.enabled = Set(input.enabled);
    row.updated_at = Set(now);
    let txn = state.db.begin().await?;
    let saved = match existing {
        Some(_) => row.update(&txn).await,
        None => row.insert(&txn).await,
    };
    let saved = saved.map_err(|err| match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            let mut errors = FormErrors::default();
            errors.add("name", "Another server has that name.");
            ServerError::Invalid(errors)
        }
        _ => ServerError::from(err),
    })?;
    member::Entity::delete_many().filter(member::Column::ServerId.eq(saved.id)).exec(&txn).await?;
    for group_id in &input.groups {
        if find_group(&txn, *group_id).await?.is_some() {
            member::ActiveModel { group_id: Set(*group_id), server_id: Set(saved.id) }.insert(&txn).await?;
        }
    }
    let verb = if id.is_some() { "server.updated" } else { "server.created" };
    audit::record(
        &txn,
        actor,
        verb,
        Some(("server", saved.id.0)),
        format!("{} ({}, {})", saved.name, saved.hostname, saved.module),
    )
    .await?;
    txn.commit().await?;
    Ok(saved.id)
}

fn nameservers_text(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_lowercase).collect::<Vec<_>>().join("\n")
}

/// The groups a server belongs to.
pub async fn groups_of(db: &impl ConnectionTrait, id: ServerId) -> Result<Vec<ServerGroupId>, DbErr> {
    Ok(member::Entity::find()
        .filter(member::Column::ServerId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect())
}

/// Creates or renames a group and sets its strategy.
pub async fn save_group(
    state: &AppState,
    actor: &Actor,
    id: Option<ServerGroupId>,
    name: &str,
    strategy: &str,
) -> Result<ServerGroupId, ServerError> {
    let mut errors = FormErrors::default();
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "Give the group a name (up to 100 characters).");
    }
    let strategy = FillStrategy::parse(strategy);
    if strategy.is_none() {
        errors.add("fill_strategy", "Choose how the group picks a server.");
    }
    let (Some(strategy), true) = (strategy, errors.is_empty()) else { return Err(ServerError::Invalid(errors)) };
    let txn = state.db.begin().await?;
    let saved = match id {
        Some(id) => {
            let update = Query::update()
                .table(group::Entity)
                .value(group::Column::Name, name)
                .value(group::Column::FillStrategy, strategy.key())
                .and_where(Expr::col(group::Column::Id).eq(id))
                .to_owned();
            match txn.execute(&update).await {
                Ok(done) if done.rows_affected() == 1 => Ok(id),
                Ok(_) => return Err(ServerError::NotFound),
                Err(err) => Err(err),
            }
        }
        None => group::ActiveModel {
            name: Set(name.to_owned()),
            fill_strategy: Set(strategy.key().to_owned()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map(|g| g.id),
    };
    let saved = saved.map_err(|err| match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            let mut errors = FormErrors::default();
            errors.add("name", "Another group has that name.");
            ServerError::Invalid(errors)
        }
        _ => ServerError::from(err),
    })?;
    audit::record(
        &txn,
        actor,
        "server_group.saved",
        Some(("server_group", saved.0)),
        format!("{name} ({})", strategy.label()),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// The packages a server offered when last asked.
pub fn packages(s: &server::Model) -> Vec<String> {
    serde_json::from_str(&s.packages).unwrap_or_default()
}

/// Keeps the packages a server offers.
pub async fn record_packages(db: &impl ConnectionTrait, id: ServerId, packages: &[String]) -> Result<(), DbErr> {
    let json = serde_json::to_string(packages).unwrap_or_else(|_| "[]".into());
    let update = Query::update()
        .table(server::Entity)
        .value(server::Column::Packages, json)
        .and_where(Expr::col(server::Column::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Records the outcome of a connection test.
pub async fn record_test(db: &impl ConnectionTrait, id: ServerId, ok: bool, message: &str) -> Result<(), DbErr> {
    let update = Query::update()
        .table(server::Entity)
        .value(server::Column::LastTest, message.chars().take(1000).collect::<String>())
        .value(server::Column::LastTestOk, ok)
        .value(server::Column::LastTestAt, Utc::now())
        .and_where(Expr::col(server::Column::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}
