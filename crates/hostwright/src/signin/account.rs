//! Who can sign in: a staff member, a client or a client's sub-user, read the same way for
//! all of them. Writing their credentials is `auth::credentials`.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::auth::PrincipalKind;
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
