//! What a new account is called and its first password: a username made from the domain
//! under the module's rules and unique on its server, a strong random password, and a check
//! that the domain is not hosted by another live service already.

use rand::Rng;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;

use super::model::service;
use super::status::Status;
use crate::ids::{ServerId, ServiceId};

/// The longest username a module's panel takes. cPanel allows 16 characters, DirectAdmin 10
/// by default, PostgreSQL 63 (kept to 16 here so names stay readable).
pub fn username_max(module: &str) -> usize {
    match module {
        "directadmin" => 10,
        _ => 16,
    }
}

/// A username for `domain`: the first label without `www.`, lowercase letters and digits
/// only, starting with a letter, at most `max` characters.
pub fn username_base(domain: &str, max: usize) -> String {
    let domain = domain.trim().to_ascii_lowercase();
    let domain = domain.strip_prefix("www.").unwrap_or(&domain);
    let label = domain.split('.').next().unwrap_or("");
    let mut name: String = label.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit()).collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert(0, 'u');
    }
    if name.len() < 2 {
        name = "user".into();
    }
    name.chars().take(max.max(4)).collect()
}

/// A username for `domain` no live service on `server_id` uses: the base, or the base cut
/// short with a number after it.
pub async fn unique_username(
    db: &impl ConnectionTrait,
    server_id: Option<ServerId>,
    domain: &str,
    max: usize,
) -> Result<String, DbErr> {
    let base = username_base(domain, max);
    let mut query = service::Entity::find()
        .select_only()
        .column(service::Column::Username)
        .filter(service::Column::Status.is_in(Status::LIVE.map(Status::key)))
        .filter(service::Column::Username.starts_with(base.get(..3).unwrap_or(&base)));
    query = match server_id {
        Some(id) => query.filter(service::Column::ServerId.eq(id)),
        None => query.filter(service::Column::ServerId.is_null()),
    };
    let taken: Vec<String> = query.into_tuple().all(db).await?;
    if !taken.contains(&base) {
        return Ok(base);
    }
    for n in 1..100_000u32 {
        let suffix = n.to_string();
        let keep = max.saturating_sub(suffix.len()).min(base.len());
        let candidate = format!("{}{suffix}", base.get(..keep).unwrap_or(&base));
        if !taken.contains(&candidate) {
            return Ok(candidate);
        }
    }
    Ok(format!("u{}", rand::thread_rng().gen_range(100_000..999_999)))
}

/// A strong password: 20 characters with lower- and upper-case letters, digits and symbols
/// every panel accepts.
pub fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#%+-=_";
    let mut rng = rand::rngs::OsRng;
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<u8> = Vec::with_capacity(20);
    for set in [LOWER, UPPER, DIGITS, SYMBOLS] {
        chars.push(set[rng.gen_range(0..set.len())]);
    }
    for _ in 0..16 {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    // The four required classes go to random places.
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.gen_range(0..=i));
    }
    String::from_utf8(chars).unwrap_or_default()
}

/// Another live service with a module that hosts `domain` already, if any.
pub async fn domain_hosted_elsewhere(
    db: &impl ConnectionTrait,
    domain: &str,
    except: ServiceId,
) -> Result<Option<ServiceId>, DbErr> {
    let domain = domain.trim().to_ascii_lowercase();
    if domain.is_empty() {
        return Ok(None);
    }
    let found: Option<ServiceId> = service::Entity::find()
        .select_only()
        .column(service::Column::Id)
        .filter(service::Column::Domain.eq(domain))
        .filter(service::Column::Id.ne(except))
        .filter(service::Column::ServerId.is_not_null())
        .filter(service::Column::Status.is_in([Status::Active.key(), Status::Suspended.key()]))
        .into_tuple()
        .one(db)
        .await?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_come_from_the_domain() {
        assert_eq!(username_base("www.Acme-Shop.example.com", 16), "acmeshop");
        assert_eq!(username_base("123host.net", 8), "u123host");
        assert_eq!(username_base("averyveryverylongdomainname.com", 10), "averyveryv");
        assert_eq!(username_base("", 16), "user");
    }

    #[test]
    fn passwords_are_strong() {
        let p = generate_password();
        assert_eq!(p.len(), 20);
        assert!(p.chars().any(|c| c.is_ascii_lowercase()) && p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| "!#%+-=_".contains(c)));
        assert_ne!(p, generate_password());
    }
}
