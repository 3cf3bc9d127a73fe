//! Business settings staff change from the admin area (as opposed to the node's
//! configuration file): stored in the database so every node sees the same values. The
//! typed groups several domains read (`automation`, `ordering`) live here too, below every
//! domain; the pages that edit them stay with their domains.

pub mod automation;
pub mod ordering;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "site_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The settings that exist so far, with their defaults.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SiteSettings {
    /// Whether visitors may create client accounts themselves.
    pub registration_open: bool,
    /// Whether every staff member must use two-factor authentication.
    pub require_staff_2fa: bool,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self { registration_open: true, require_staff_2fa: false }
    }
}

const REGISTRATION_OPEN: &str = "registration_open";
const REQUIRE_STAFF_2FA: &str = "require_staff_2fa";

pub async fn load(db: &impl ConnectionTrait) -> Result<SiteSettings, DbErr> {
    let mut settings = SiteSettings::default();
    for row in Entity::find().all(db).await? {
        match row.key.as_str() {
            REGISTRATION_OPEN => settings.registration_open = row.value == "true",
            REQUIRE_STAFF_2FA => settings.require_staff_2fa = row.value == "true",
            _ => {}
        }
    }
    Ok(settings)
}

pub async fn save(db: &impl ConnectionTrait, settings: &SiteSettings) -> Result<(), DbErr> {
    for (key, value) in [
        (REGISTRATION_OPEN, settings.registration_open.to_string()),
        (REQUIRE_STAFF_2FA, settings.require_staff_2fa.to_string()),
    ] {
        Entity::insert(ActiveModel { key: Set(key.into()), value: Set(value), updated_at: Set(Utc::now()) })
            .on_conflict(OnConflict::column(Column::Key).update_columns([Column::Value, Column::UpdatedAt]).to_owned())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A group of settings kept as one JSON value under `key` (billing, ordering …): every node
/// reads the same, and a value that no longer parses falls back to the defaults.
pub async fn load_json<T: DeserializeOwned + Default>(db: &impl ConnectionTrait, key: &str) -> Result<T, DbErr> {
    let row = Entity::find_by_id(key.to_owned()).one(db).await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.value).ok()).unwrap_or_default())
}

pub async fn save_json<T: Serialize>(db: &impl ConnectionTrait, key: &str, value: &T) -> Result<(), DbErr> {
    let value = serde_json::to_string(value).map_err(|e| DbErr::Custom(e.to_string()))?;
    Entity::insert(ActiveModel { key: Set(key.into()), value: Set(value), updated_at: Set(Utc::now()) })
        .on_conflict(OnConflict::column(Column::Key).update_columns([Column::Value, Column::UpdatedAt]).to_owned())
        .exec(db)
        .await?;
    Ok(())
}
