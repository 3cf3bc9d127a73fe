//! Sessions live in the database, so any node can serve any request.
//!
//! The cookie holds a random token; the table holds only its SHA-256. Sessions end after an
//! idle period and at an absolute deadline; signing in, passing 2FA or changing a password
//! issues a fresh token (the old one stops working).

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::PrincipalKind;
use crate::config::Settings;
use crate::crypto::{random_token, token_hash};
use crate::state::AppState;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub principal_kind: String,
    pub principal_id: i64,
    pub stage: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The cookie of the staff area (scoped to `/admin`).
pub const STAFF_COOKIE: &str = crate::web::cookies::STAFF_SESSION;
/// The cookie of the client area.
pub const CLIENT_COOKIE: &str = crate::web::cookies::CLIENT_SESSION;

/// How far a session has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; a second factor is still owed.
    SecondFactor,
    Authenticated,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::SecondFactor => "second_factor",
            Stage::Authenticated => "authenticated",
        }
    }
}

/// How long someone has to type their code after the password was accepted.
const SECOND_FACTOR_MINUTES: i64 = 10;
/// `last_seen_at` is written at most this often, not on every request.
const TOUCH_EVERY_SECONDS: i64 = 60;

impl Model {
    pub fn stage(&self) -> Stage {
        if self.stage == Stage::Authenticated.as_str() { Stage::Authenticated } else { Stage::SecondFactor }
    }

    fn is_live(&self, now: DateTime<Utc>, idle: Duration) -> bool {
        self.expires_at > now && self.last_seen_at + idle > now
    }
}

pub fn cookie_name(kind: PrincipalKind) -> &'static str {
    match kind.area() {
        PrincipalKind::Staff => STAFF_COOKIE,
        PrincipalKind::Client | PrincipalKind::Contact => CLIENT_COOKIE,
    }
}

/// The session token the request's cookies carry for `kind`'s area.
pub fn token_in(
    settings: &Settings,
    jar: &axum_extra::extract::cookie::CookieJar,
    kind: PrincipalKind,
) -> Option<String> {
    jar.get(&settings.cookie_name(cookie_name(kind))).map(|c| c.value().to_owned())
}

fn cookie_path(kind: PrincipalKind) -> &'static str {
    match kind.area() {
        PrincipalKind::Staff => "/admin",
        PrincipalKind::Client | PrincipalKind::Contact => "/",
    }
}

/// Starts a session and returns its token (for the cookie) and record.
pub async fn create(
    db: &impl ConnectionTrait,
    settings: &Settings,
    kind: PrincipalKind,
    principal_id: i64,
    stage: Stage,
    ip: &str,
    user_agent: &str,
) -> Result<(String, Model), DbErr> {
    let token = random_token();
    let now = Utc::now();
    let expires_at = match stage {
        Stage::SecondFactor => now + Duration::minutes(SECOND_FACTOR_MINUTES),
        Stage::Authenticated => now + Duration::hours(settings.session.absolute_hours),
    };
    let model = ActiveModel {
        id: Set(token_hash(&token)),
        principal_kind: Set(kind.as_str().to_owned()),
        principal_id: Set(principal_id),
        stage: Set(stage.as_str().to_owned()),
        ip: Set(ip.chars().take(64).collect()),
        user_agent: Set(user_agent.chars().take(250).collect()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db)
    .await?;
    Ok((token, model))
}

/// The live session for a cookie token, touching its last-seen time now and then.
pub async fn load(
    db: &impl ConnectionTrait,
    settings: &Settings,
    kind: PrincipalKind,
    token: &str,
) -> Result<Option<Model>, DbErr> {
    let Some(found) = Entity::find_by_id(token_hash(token)).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let same_area = PrincipalKind::parse(&found.principal_kind).map(PrincipalKind::area) == Some(kind.area());
    if !same_area || !found.is_live(now, Duration::minutes(settings.session.idle_minutes)) {
        return Ok(None);
    }
    if now - found.last_seen_at > Duration::seconds(TOUCH_EVERY_SECONDS) {
        let update = Query::update()
            .table(Entity)
            .value(Column::LastSeenAt, now)
            .and_where(Expr::col(Column::Id).eq(found.id.clone()))
            .to_owned();
        // A database that refuses writes for a moment (a primary being replaced) must not
        // stop people reading pages: the touch is done again on a later request.
        match db.execute(&update).await {
            Ok(_) => {}
            Err(err) if crate::db::interrupted(&err) => tracing::warn!(error = %err, "could not touch a session"),
            Err(err) => return Err(err),
        }
    }
    Ok(Some(found))
}

/// Ends one session.
pub async fn delete(db: &impl ConnectionTrait, token: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(token_hash(token)).exec(db).await?;
    Ok(())
}

/// Ends every session of a person, optionally keeping one (the one making the request).
pub async fn delete_all_for(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    principal_id: i64,
    keep_token: Option<&str>,
) -> Result<u64, DbErr> {
    let mut delete = Entity::delete_many()
        .filter(Column::PrincipalKind.eq(kind.as_str()))
        .filter(Column::PrincipalId.eq(principal_id));
    if let Some(keep) = keep_token {
        delete = delete.filter(Column::Id.ne(token_hash(keep)));
    }
    Ok(delete.exec(db).await?.rows_affected)
}

/// Removes expired sessions; run now and then by any node.
pub async fn purge_expired(db: &impl ConnectionTrait, settings: &Settings) -> Result<u64, DbErr> {
    let now = Utc::now();
    let idle_cutoff = now - Duration::minutes(settings.session.idle_minutes);
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lte(now).or(Column::LastSeenAt.lte(idle_cutoff)))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The cookie carrying a session token: HttpOnly, SameSite=Lax, Secure behind https.
pub fn cookie(settings: &Settings, kind: PrincipalKind, token: String) -> Cookie<'static> {
    // `__Host-` cookies must be on `/`; the staff cookie keeps `/admin` on plain http only.
    let path = if settings.secure_cookies() { "/" } else { cookie_path(kind) };
    Cookie::build((settings.cookie_name(cookie_name(kind)), token))
        .path(path)
        .http_only(true)
        .secure(settings.secure_cookies())
        .same_site(SameSite::Lax)
        .build()
}

/// A cookie that makes the browser forget the session.
pub fn removal_cookie(settings: &Settings, kind: PrincipalKind) -> Cookie<'static> {
    let mut cookie = cookie(settings, kind, String::new());
    cookie.make_removal();
    cookie
}

/// The live sessions of a person, newest first (for "where you are signed in").
pub async fn list_for(
    db: &impl ConnectionTrait,
    settings: &Settings,
    kind: PrincipalKind,
    principal_id: i64,
) -> Result<Vec<Model>, DbErr> {
    use sea_orm::QueryOrder;
    let now = Utc::now();
    let idle = Duration::minutes(settings.session.idle_minutes);
    let rows = Entity::find()
        .filter(Column::PrincipalKind.eq(kind.as_str()))
        .filter(Column::PrincipalId.eq(principal_id))
        .filter(Column::Stage.eq(Stage::Authenticated.as_str()))
        .order_by_desc(Column::LastSeenAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter(|s| s.is_live(now, idle)).collect())
}

/// Every stored session of a person, live or not (for a data export).
pub async fn list_all_for(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    principal_id: i64,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::PrincipalKind.eq(kind.as_str()))
        .filter(Column::PrincipalId.eq(principal_id))
        .all(db)
        .await
}

/// A session that has passed the password and owes a second factor.
pub struct PendingSecondFactor {
    pub session: Model,
    pub token: String,
}

impl PendingSecondFactor {
    pub async fn load(state: &AppState, parts_headers: &axum::http::HeaderMap, kind: PrincipalKind) -> Option<Self> {
        let jar = axum_extra::extract::cookie::CookieJar::from_headers(parts_headers);
        let token = token_in(&state.settings, &jar, kind)?;
        let found = load(&state.db, &state.settings, kind, &token).await.ok().flatten()?;
        (found.stage() == Stage::SecondFactor).then_some(PendingSecondFactor { session: found, token })
    }
}
