//! Keys, tokens and encryption at rest.
//!
//! One 32-byte secret key per installation (shared by every node of a cluster) is the root
//! of everything here; purpose-specific keys are derived from it so that a token signed for
//! one purpose can never be replayed for another.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The installation's root secret.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let bytes = STANDARD.decode(text.trim()).context("not valid base64")?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("expected 32 bytes, got {}", b.len()))?;
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A key for one purpose, derived so purposes never share key material.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(b"hostwright/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `message` under the key derived for `purpose`, base64url.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> String {
        let key = self.derive(purpose);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        mac.update(message);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a signature made by [`SecretKey::sign`] in constant time.
    pub fn verify(&self, purpose: &str, message: &[u8], signature: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let key = self.derive(purpose);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        mac.update(message);
        mac.verify_slice(&given).is_ok()
    }

    /// Encrypts a secret for storage (TOTP seeds, panel passwords, gateway keys).
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new(&self.derive("encryption-v1").into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .unwrap_or_else(|_| unreachable!("encryption with a valid key cannot fail"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> anyhow::Result<Vec<u8>> {
        let Some(body) = stored.strip_prefix("v1:") else {
            bail!("unknown ciphertext version");
        };
        let bytes = STANDARD.decode(body).context("ciphertext is not base64")?;
        if bytes.len() < 24 {
            bail!("ciphertext too short");
        }
        let (nonce, sealed) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new(&self.derive("encryption-v1").into());
        cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| anyhow::anyhow!("ciphertext does not decrypt with this secret key"))
    }
}

/// A random token suitable for cookies and links (256 bits, base64url).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored: its SHA-256, so a copy of the database opens no session or link.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_secrets_round_trip_and_differ_each_time() {
        let key = SecretKey::generate();
        let a = key.encrypt(b"panel-password");
        let b = key.encrypt(b"panel-password");
        assert_ne!(a, b);
        assert_eq!(key.decrypt(&a).ok().as_deref(), Some(&b"panel-password"[..]));
    }

    #[test]
    fn a_secret_does_not_decrypt_under_another_key() {
        let sealed = SecretKey::generate().encrypt(b"x");
        assert!(SecretKey::generate().decrypt(&sealed).is_err());
    }

    #[test]
    fn signatures_are_bound_to_their_purpose() {
        let key = SecretKey::generate();
        let sig = key.sign("csrf", b"abc");
        assert!(key.verify("csrf", b"abc", &sig));
        assert!(!key.verify("flash", b"abc", &sig));
        assert!(!key.verify("csrf", b"abd", &sig));
    }

    #[test]
    fn keys_parse_only_from_32_bytes() {
        assert!(SecretKey::from_base64(&SecretKey::generate().to_base64()).is_ok());
        assert!(SecretKey::from_base64("c2hvcnQ=").is_err());
        assert!(SecretKey::from_base64("not base64!").is_err());
    }
}
