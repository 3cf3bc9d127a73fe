//! Throttling of sign-in, second-factor, reset and registration attempts, kept in the
//! database so that the limit holds across every node.
//!
//! A bucket (say `login:ip:203.0.113.9` or `login:staff:jo@example.com`) counts hits in a
//! window; at the limit it locks until the window's end. Counting is one atomic UPDATE.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use super::AuthError;
use crate::state::AppState;

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

/// A limit whose lock grows instead of a hard lock: `free` hits pass, then each further hit
/// locks the bucket for twice as long as the one before, from `first` up to `longest`. Hits
/// are counted over `window`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub free: i64,
    pub first: Duration,
    pub longest: Duration,
    pub window: Duration,
}

impl Backoff {
    /// How long the `hits`-th hit locks the bucket.
    pub fn delay(&self, hits: i64) -> Option<Duration> {
        let beyond = hits - self.free;
        if beyond <= 0 {
            return None;
        }
        let doublings = Ord::min(u32::try_from(beyond - 1).unwrap_or(u32::MAX), 20);
        let delay = self.first.checked_mul(1 << doublings).unwrap_or(self.longest);
        Some(delay.min(self.longest))
    }
}

/// Counts one hit in `bucket` and locks it for the delay its count has reached.
pub async fn hit_backoff(db: &impl ConnectionTrait, bucket: &str, backoff: Backoff) -> Result<(), DbErr> {
    let now = Utc::now();
    let counted = Limit { max: i64::MAX, window: backoff.window };
    hit(db, &[bucket.to_owned()], counted).await?;
    let hits = Entity::find_by_id(bucket.to_owned()).one(db).await?.map_or(0, |b| b.hits);
    if let Some(delay) = backoff.delay(hits) {
        let lock = Query::update()
            .table(Entity)
            .value(Column::LockedUntil, now + delay)
            .and_where(Expr::col(Column::Bucket).eq(bucket))
            .to_owned();
        db.execute(&lock).await?;
    }
    Ok(())
}

/// The part of an address a per-address limit counts: an IPv4 address, or the /64 network of
/// an IPv6 address (one customer line gets a whole /64, so its addresses are one sender).
pub fn address_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            let network = std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0);
            format!("{network}/64")
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(|v4| v4.to_string()).unwrap_or_default(),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Forgets every bucket whose name starts with `prefix` (a new password clears the account's
/// buckets at every address).
pub async fn clear_prefix(db: &impl ConnectionTrait, prefix: &str) -> Result<(), DbErr> {
    let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let delete = Query::delete()
        .from_table(Entity)
        .and_where(Expr::col(Column::Bucket).like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// Forgets the hits of buckets (after a successful sign-in, for the account's bucket).
pub async fn clear(db: &impl ConnectionTrait, buckets: &[String]) -> Result<(), DbErr> {
    Entity::delete_many().filter(Column::Bucket.is_in(buckets.iter().cloned())).exec(db).await?;
    Ok(())
}

/// Throttles a kind of request per address (registrations, reset requests).
pub async fn limit_requests(state: &AppState, what: &str, ip: &str) -> Result<(), AuthError> {
    let bucket = vec![format!("{what}:ip:{}", address_key(ip))];
    check(&state.db, &bucket).await?.map_err(AuthError::Locked)?;
    let limit = Limit { max: state.settings.security.requests_per_hour, window: Duration::hours(1) };
    hit(&state.db, &bucket, limit).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_grows_after_the_free_attempts_up_to_the_longest() {
        let backoff = Backoff {
            free: 4,
            first: Duration::minutes(1),
            longest: Duration::minutes(15),
            window: Duration::hours(1),
        };
        let delays: Vec<Option<i64>> = (1..=10).map(|n| backoff.delay(n).map(|d| d.num_minutes())).collect();
        assert_eq!(delays, [None, None, None, None, Some(1), Some(2), Some(4), Some(8), Some(15), Some(15)]);
        assert_eq!(backoff.delay(i64::MAX).map(|d| d.num_minutes()), Some(15));
    }

    #[test]
    fn an_ipv6_network_of_64_bits_is_one_address() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1"));
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("::ffff:203.0.113.9"), "203.0.113.9");
    }
}
