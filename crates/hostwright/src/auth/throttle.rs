//! Throttling of sign-in, second-factor, reset and registration attempts, kept in the
//! database so that the limit holds across every node.
//!
//! A bucket (say `login:ip:203.0.113.9` or `login:staff:jo@example.com`) counts hits in a
//! window; at the limit it locks until the window's end. Counting is one atomic UPDATE.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "throttles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: String,
    pub hits: i64,
    pub window_started_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A limit: `max` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: i64,
    pub window: Duration,
}

/// Refused until this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: DateTime<Utc>,
}

impl Locked {
    /// Whole minutes left, at least one, for "try again in N minutes".
    pub fn minutes_left(&self) -> i64 {
        let seconds = Ord::max((self.until - Utc::now()).num_seconds(), 1);
        (seconds + 59) / 60
    }
}

/// Is any of these buckets locked right now?
pub async fn check(db: &impl ConnectionTrait, buckets: &[String]) -> Result<Result<(), Locked>, DbErr> {
    let now = Utc::now();
    let found = Entity::find().filter(Column::Bucket.is_in(buckets.iter().cloned())).all(db).await?;
    let latest = found.into_iter().filter_map(|b| b.locked_until).filter(|until| *until > now).max();
    Ok(match latest {
        Some(until) => Err(Locked { until }),
        None => Ok(()),
    })
}

/// Counts one hit in each bucket; a bucket reaching its limit locks until its window ends.
pub async fn hit(db: &impl ConnectionTrait, buckets: &[String], limit: Limit) -> Result<(), DbErr> {
    let now = Utc::now();
    for bucket in buckets {
        // Open the bucket, or restart it if its window has passed.
        let insert = Query::insert()
            .into_table(Entity)
            .columns([Column::Bucket, Column::Hits, Column::WindowStartedAt])
            .values_panic([bucket.clone().into(), 0_i64.into(), now.into()])
            .on_conflict(OnConflict::column(Column::Bucket).do_nothing().to_owned())
            .to_owned();
        db.execute(&insert).await?;
        let reset = Query::update()
            .table(Entity)
            .value(Column::Hits, 0_i64)
            .value(Column::WindowStartedAt, now)
            .value(Column::LockedUntil, Option::<DateTime<Utc>>::None)
            .and_where(Expr::col(Column::Bucket).eq(bucket.clone()))
            .and_where(Expr::col(Column::WindowStartedAt).lt(now - limit.window))
            .and_where(Expr::col(Column::LockedUntil).is_null().or(Expr::col(Column::LockedUntil).lt(now)))
            .to_owned();
        db.execute(&reset).await?;
        let count = Query::update()
            .table(Entity)
            .value(Column::Hits, Expr::col(Column::Hits).add(1))
            .and_where(Expr::col(Column::Bucket).eq(bucket.clone()))
            .to_owned();
        db.execute(&count).await?;
        let lock = Query::update()
            .table(Entity)
            .value(Column::LockedUntil, now + limit.window)
            .and_where(Expr::col(Column::Bucket).eq(bucket.clone()))
            .and_where(Expr::col(Column::Hits).gte(limit.max))
            .and_where(Expr::col(Column::LockedUntil).is_null().or(Expr::col(Column::LockedUntil).lt(now)))
            .to_owned();
        db.execute(&lock).await?;
    }
    Ok(())
}

/// Forgets the hits of buckets (after a successful sign-in, for the account's bucket).
pub async fn clear(db: &impl ConnectionTrait, buckets: &[String]) -> Result<(), DbErr> {
    Entity::delete_many().filter(Column::Bucket.is_in(buckets.iter().cloned())).exec(db).await?;
    Ok(())
}
