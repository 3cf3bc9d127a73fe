//! Single-use tokens for links sent by email or printed at start-up: first-administrator
//! setup, email verification, password reset, staff invitations.
//!
//! Only the token's hash is stored; consuming one is a single conditional UPDATE, so two
//! nodes racing on the same link cannot both succeed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::PrincipalKind;
use crate::crypto::{random_token, token_hash};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "one_time_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purpose: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub principal_kind: Option<String>,
    pub principal_id: Option<i64>,
    pub expires_at: Option<DateTimeUtc>,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a token is for; a token never works for another purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Setup,
    VerifyEmail,
    PasswordReset,
    StaffInvite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Setup => "setup",
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
            Purpose::StaffInvite => "staff_invite",
        }
    }
}

/// Creates a token and returns the only copy of its plain text.
pub async fn issue(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    principal: Option<(PrincipalKind, i64)>,
    valid_for: Option<Duration>,
) -> Result<String, DbErr> {
    let token = random_token();
    let now = Utc::now();
    ActiveModel {
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(token_hash(&token)),
        principal_kind: Set(principal.map(|(kind, _)| kind.as_str().to_owned())),
        principal_id: Set(principal.map(|(_, id)| id)),
        expires_at: Set(valid_for.map(|d| now + d)),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// A token that is still usable, without using it (to show the form behind a link).
pub async fn peek(db: &impl ConnectionTrait, purpose: Purpose, token: &str) -> Result<Option<Model>, DbErr> {
    let now = Utc::now();
    let found = Entity::find()
        .filter(Column::TokenHash.eq(token_hash(token)))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .one(db)
        .await?;
    Ok(found.filter(|t| is_live(t, now)))
}

fn is_live(token: &Model, now: DateTime<Utc>) -> bool {
    token.used_at.is_none() && token.expires_at.is_none_or(|e| e > now)
}

/// Marks the token used and returns it, or `None` if it is unknown, used or expired.
/// Call inside the transaction that performs what the token allows.
pub async fn consume(db: &impl ConnectionTrait, purpose: Purpose, token: &str) -> Result<Option<Model>, DbErr> {
    let Some(found) = peek(db, purpose, token).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let update = Query::update()
        .table(Entity)
        .value(Column::UsedAt, now)
        .and_where(Expr::col(Column::Id).eq(found.id))
        .and_where(Expr::col(Column::UsedAt).is_null())
        .to_owned();
    let result = db.execute(&update).await?;
    Ok((result.rows_affected() == 1).then_some(found))
}

/// Voids every open token of one purpose for a principal (e.g. older reset links).
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    kind: PrincipalKind,
    id: i64,
) -> Result<(), DbErr> {
    let update = Query::update()
        .table(Entity)
        .value(Column::UsedAt, Utc::now())
        .and_where(Expr::col(Column::Purpose).eq(purpose.as_str()))
        .and_where(Expr::col(Column::PrincipalKind).eq(kind.as_str()))
        .and_where(Expr::col(Column::PrincipalId).eq(id))
        .and_where(Expr::col(Column::UsedAt).is_null())
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}
