//! The security side of a staff member or client, read and written the same way for both:
//! the two tables share the columns this module touches.

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use super::PrincipalKind;
use crate::clients::model::contact;
use crate::clients::store as clients;
use crate::ids::{ClientId, ContactId, StaffId};
use crate::staff::store as staff;

/// One person who can sign in.
#[derive(Debug, Clone)]
pub struct Account {
    pub kind: PrincipalKind,
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub active: bool,
    /// The client account a client or sub-user belongs to.
    pub owner_client: Option<ClientId>,
}

fn table(kind: PrincipalKind) -> Alias {
    Alias::new(match kind {
        PrincipalKind::Staff => "staff",
        PrincipalKind::Client => "clients",
        PrincipalKind::Contact => "client_contacts",
    })
}

pub async fn find(db: &impl ConnectionTrait, kind: PrincipalKind, id: i64) -> Result<Option<Account>, DbErr> {
    Ok(match kind {
        PrincipalKind::Staff => staff::find(db, StaffId(id)).await?.map(from_staff),
        PrincipalKind::Client => clients::find(db, ClientId(id)).await?.map(from_client),
        PrincipalKind::Contact => find_contact(db, ContactId(id)).await?,
    })
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    email: &str,
) -> Result<Option<Account>, DbErr> {
    Ok(match kind {
        PrincipalKind::Staff => staff::find_by_email(db, email).await?.map(from_staff),
        PrincipalKind::Client => clients::find_by_email(db, email).await?.map(from_client),
        PrincipalKind::Contact => match crate::clients::contacts::sub_user_by_address(db, email).await? {
            Some(c) => Some(contact_account(db, c).await?),
            None => None,
        },
    })
}

/// Who signs in with `email` to an area: in the client area the account's owner first, then
/// a sub-user (their addresses are kept apart when sub-users are created).
pub async fn find_for_sign_in(
    db: &impl ConnectionTrait,
    area: PrincipalKind,
    email: &str,
) -> Result<Option<Account>, DbErr> {
    match area.area() {
        PrincipalKind::Staff => find_by_email(db, PrincipalKind::Staff, email).await,
        _ => match find_by_email(db, PrincipalKind::Client, email).await? {
            Some(owner) => Ok(Some(owner)),
            None => find_by_email(db, PrincipalKind::Contact, email).await,
        },
    }
}

/// A sub-user, active while their login is enabled and their client's account is open.
async fn find_contact(db: &impl ConnectionTrait, id: ContactId) -> Result<Option<Account>, DbErr> {
    match contact::Entity::find_by_id(id).one(db).await? {
        Some(c) => Ok(Some(contact_account(db, c).await?)),
        None => Ok(None),
    }
}

async fn contact_account(db: &impl ConnectionTrait, c: contact::Model) -> Result<Account, DbErr> {
    let owner_open = clients::find(db, c.client_id).await?.is_some_and(|owner| owner.status != clients::CLOSED);
    Ok(Account {
        kind: PrincipalKind::Contact,
        id: c.id.0,
        active: c.login_enabled && owner_open,
        name: c.full_name(),
        email: c.email,
        password_hash: c.password_hash,
        totp_secret: c.totp_secret,
        totp_enabled: c.totp_enabled_at.is_some(),
        totp_last_step: c.totp_last_step,
        owner_client: Some(c.client_id),
    })
}

fn from_staff(m: crate::staff::model::staff::Model) -> Account {
    Account {
        kind: PrincipalKind::Staff,
        id: m.id.0,
        active: m.status == staff::ACTIVE,
        email: m.email,
        name: m.name,
        password_hash: m.password_hash,
        totp_secret: m.totp_secret,
        totp_enabled: m.totp_enabled_at.is_some(),
        totp_last_step: m.totp_last_step,
        owner_client: None,
    }
}

fn from_client(m: crate::clients::model::client::Model) -> Account {
    Account {
        kind: PrincipalKind::Client,
        owner_client: Some(m.id),
        id: m.id.0,
        active: m.status != clients::CLOSED,
        name: m.full_name(),
        email: m.email,
        password_hash: m.password_hash,
        totp_secret: m.totp_secret,
        totp_enabled: m.totp_enabled_at.is_some(),
        totp_last_step: m.totp_last_step,
    }
}

async fn update(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    id: i64,
    values: Vec<(&'static str, sea_orm::Value)>,
) -> Result<u64, DbErr> {
    let mut query = Query::update();
    query.table(table(kind));
    for (column, value) in values {
        query.value(Alias::new(column), value);
    }
    query.value(Alias::new("updated_at"), Utc::now());
    query.and_where(Expr::col(Alias::new("id")).eq(id));
    Ok(db.execute(&query).await?.rows_affected())
}

pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    id: i64,
    hash: String,
) -> Result<(), DbErr> {
    update(db, kind, id, vec![("password_hash", hash.into())]).await.map(|_| ())
}

pub async fn record_login(db: &impl ConnectionTrait, kind: PrincipalKind, id: i64) -> Result<(), DbErr> {
    update(db, kind, id, vec![("last_login_at", Utc::now().into())]).await.map(|_| ())
}

/// Stores a TOTP seed (encrypted) that is not yet confirmed, or clears 2FA with `None`.
pub async fn set_totp_secret(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    id: i64,
    encrypted: Option<String>,
) -> Result<(), DbErr> {
    update(
        db,
        kind,
        id,
        vec![
            ("totp_secret", encrypted.into()),
            ("totp_enabled_at", Option::<chrono::DateTime<Utc>>::None.into()),
            ("totp_last_step", Option::<i64>::None.into()),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn enable_totp(db: &impl ConnectionTrait, kind: PrincipalKind, id: i64, step: i64) -> Result<(), DbErr> {
    update(db, kind, id, vec![("totp_enabled_at", Utc::now().into()), ("totp_last_step", step.into())])
        .await
        .map(|_| ())
}

/// Records that the code of `step` was used. False if that step (or a later one) was
/// already used: the same code presented twice, even to two nodes at once, works once.
pub async fn claim_totp_step(
    db: &impl ConnectionTrait,
    kind: PrincipalKind,
    id: i64,
    step: i64,
) -> Result<bool, DbErr> {
    let query = Query::update()
        .table(table(kind))
        .value(Alias::new("totp_last_step"), step)
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(
            Expr::col(Alias::new("totp_last_step")).is_null().or(Expr::col(Alias::new("totp_last_step")).lt(step)),
        )
        .to_owned();
    Ok(db.execute(&query).await?.rows_affected() == 1)
}
