//! One-time recovery codes for when the authenticator is lost. A code has 18 characters from
//! a 31-letter alphabet (89 bits); it is stored as an HMAC under the installation key, bound
//! to its owner, so a copy of the table is no list of codes to try. Each works once.

use chrono::Utc;
use rand::Rng;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::PrincipalKind;
use crate::crypto::{SecretKey, token_hash};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_kind: String,
    pub principal_id: i64,
    #[sea_orm(unique)]
    pub code_hash: String,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const COUNT: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Characters in a code: 18 × log2(31) ≈ 89 bits.
const LENGTH: usize = 18;
/// Codes made before they were lengthened (10 characters, stored as a plain SHA-256) keep
/// working until they are used or replaced.
const LEGACY_LENGTH: usize = 10;

fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn hash_for(key: &SecretKey, kind: PrincipalKind, id: i64, code: &str) -> String {
    let normalised = normalise(code);
    let bound = format!("{}:{id}:{normalised}", kind.as_str());
    if normalised.len() == LEGACY_LENGTH { token_hash(&bound) } else { key.sign("recovery-code", bound.as_bytes()) }
}

/// Replaces a person's codes with ten fresh ones and returns them (shown once).
pub async fn regenerate(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    kind: PrincipalKind,
    id: i64,
) -> Result<Vec<String>, DbErr> {
    remove_all(db, kind, id).await?;
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<String> = (0..COUNT)
        .map(|_| {
            let chars: String = (0..LENGTH).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect();
            format!("{}-{}-{}", &chars[..6], &chars[6..12], &chars[12..])
        })
        .collect();
    let now = Utc::now();
    for code in &codes {
        ActiveModel {
            principal_kind: Set(kind.as_str().to_owned()),
            principal_id: Set(id),
            code_hash: Set(hash_for(key, kind, id, code)),
            used_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(codes)
}

/// Uses a code; true only the first time a valid code is given.
pub async fn consume(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    kind: PrincipalKind,
    id: i64,
    code: &str,
) -> Result<bool, DbErr> {
    if ![LENGTH, LEGACY_LENGTH].contains(&normalise(code).len()) {
        return Ok(false);
    }
    let update = Query::update()
        .table(Entity)
        .value(Column::UsedAt, Utc::now())
        .and_where(Expr::col(Column::CodeHash).eq(hash_for(key, kind, id, code)))
        .and_where(Expr::col(Column::UsedAt).is_null())
        .to_owned();
    Ok(db.execute(&update).await?.rows_affected() == 1)
}

pub async fn remaining(db: &impl ConnectionTrait, kind: PrincipalKind, id: i64) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::PrincipalKind.eq(kind.as_str()))
        .filter(Column::PrincipalId.eq(id))
        .filter(Column::UsedAt.is_null())
        .count(db)
        .await
}

pub async fn remove_all(db: &impl ConnectionTrait, kind: PrincipalKind, id: i64) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::PrincipalKind.eq(kind.as_str()))
        .filter(Column::PrincipalId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
