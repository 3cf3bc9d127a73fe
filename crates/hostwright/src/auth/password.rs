//! Password hashing with argon2id at OWASP's recommended strength, and the password policy.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// 19 MiB, two passes, one lane: OWASP's minimum for argon2id.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_else(|_| unreachable!());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string. CPU-heavy: call through [`hash_async`] from handlers.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| unreachable!("argon2 with valid parameters cannot fail"))
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with weaker parameters: store a fresh hash.
    YesRehash,
}

pub fn verify(password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if hasher().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .map(|p| p.m_cost() >= MEMORY_KIB && p.t_cost() >= ITERATIONS && p.p_cost() >= PARALLELISM)
            .unwrap_or(false);
    if current { Verified::Yes } else { Verified::YesRehash }
}

pub async fn hash_async(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash(&password)).await?)
}

/// Verifies off the async threads. A missing hash still costs one hash's time, so an
/// attacker cannot tell an unknown account from a wrong password by the answer's speed.
pub async fn verify_async(password: String, stored: Option<String>) -> anyhow::Result<Verified> {
    Ok(tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            let _ = hash(&password);
            Verified::No
        }
    })
    .await?)
}

/// Why a new password is refused, in words for the form.
pub fn check_policy(password: &str, identity: &[&str]) -> Result<(), &'static str> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err("Use at least 10 characters.");
    }
    if length > MAX_LENGTH {
        return Err("Use at most 256 characters.");
    }
    let lower = password.to_lowercase();
    if identity.iter().any(|part| part.len() >= 4 && lower.contains(&part.to_lowercase())) {
        return Err("Don't use your name or email address in your password.");
    }
    if password.chars().collect::<std::collections::HashSet<_>>().len() < 4 {
        return Err("That password is too easy to guess.");
    }
    if is_common(&lower) {
        return Err("That password is on lists of passwords stolen from other sites; choose another.");
    }
    Ok(())
}

/// The most common passwords seen in breaches (lowercased, sorted; `common_passwords.txt`
/// holds the 49,233 of the zxcvbn-ts project's list, MIT licence), as ASVS 2.1.7 asks.
const COMMON: &str = include_str!("common_passwords.txt");

fn common_list() -> &'static [&'static str] {
    static LIST: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty()).collect())
}

/// A common password as it is, or with a few digits, spaces or symbols added at its end
/// ("password1234", "qwerty 2024!").
fn is_common(lower: &str) -> bool {
    let list = common_list();
    let known = |candidate: &str| list.binary_search(&candidate).is_ok();
    if known(lower) {
        return true;
    }
    let base = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    let added = lower.chars().count() - base.chars().count();
    base.chars().count() >= 4 && added <= 6 && known(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_with_or_without_digits_added() {
        assert!(common_list().windows(2).all(|w| w[0] < w[1]), "the list is sorted for binary search");
        for weak in ["qwertyuiop", "password1234", "Monkey2024!!", "1q2w3e4r5t6y", "Sunshine 123"] {
            assert!(check_policy(weak, &[]).is_err(), "{weak}");
        }
        for fine in ["compass meadow 31", "orchid lantern 42", "velvet thunder 88", "saffron harbour 77"] {
            assert_eq!(check_policy(fine, &[]), Ok(()), "{fine}");
        }
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify("correct horse battery", &stored), Verified::Yes);
        assert_eq!(verify("wrong horse battery", &stored), Verified::No);
        assert_eq!(verify("anything", "not a hash"), Verified::No);
    }

    #[test]
    fn a_weaker_hash_asks_to_be_rehashed() {
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(4096, 1, 1, None).unwrap_or_default())
            .hash_password(b"secret password", &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert_eq!(verify("secret password", &weak), Verified::YesRehash);
    }

    #[test]
    fn the_policy_explains_what_is_wrong() {
        assert!(check_policy("short", &[]).is_err());
        assert!(check_policy("aaaaaaaaaaaa", &[]).is_err());
        assert!(check_policy("jane.doe-2026!", &["jane.doe@example.com", "jane.doe"]).is_err());
        assert!(check_policy("plum tree harbour 7", &["jane@example.com"]).is_ok());
    }
}
