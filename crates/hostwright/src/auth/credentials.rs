//! The credentials of a staff member, a client or a sub-user, written the same way for all
//! of them: the three tables share the columns this module touches.

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr};

use super::PrincipalKind;

fn table(kind: PrincipalKind) -> Alias {
    Alias::new(match kind {
        PrincipalKind::Staff => "staff",
        PrincipalKind::Client => "clients",
        PrincipalKind::Contact => "client_contacts",
    })
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
