//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps), the
//! enrolment QR code, and replay protection by remembering the last step accepted.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;

/// A fresh 160-bit seed.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The seed as people type it into an authenticator app.
pub fn secret_base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn provisioning_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        urlencode(&label),
        secret_base32(secret),
        urlencode(issuer)
    )
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The code for one time step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    format!("{:0width$}", binary % 10u32.pow(DIGITS), width = DIGITS as usize)
}

pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// Checks `code` against the steps around `unix_seconds` (one step of clock drift either
/// way). Returns the matching step, which must be later than `last_used_step`: a code that
/// was accepted once is never accepted again.
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64, last_used_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    (now - 1..=now + 1)
        .filter(|step| last_used_step.is_none_or(|last| *step > last))
        .find(|step| constant_time_eq(code_at_step(secret, *step).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The QR code of the provisioning address as inline SVG (black on white).
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (8-digit values, last 6 kept).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let seed = b"12345678901234567890";
        for (time, expected) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at_step(seed, step_at(time)), expected, "at {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_never_replayed() {
        let seed = generate_secret();
        let now = 1_800_000_000;
        let code = code_at_step(&seed, step_at(now));
        let step = verify(&seed, &code, now, None);
        assert_eq!(step, Some(step_at(now)));
        assert_eq!(verify(&seed, &code, now, step), None);
    }

    #[test]
    fn codes_from_the_neighbouring_steps_are_accepted_but_not_older_ones() {
        let seed = generate_secret();
        let now = 1_800_000_000;
        assert!(verify(&seed, &code_at_step(&seed, step_at(now) - 1), now, None).is_some());
        assert!(verify(&seed, &code_at_step(&seed, step_at(now) + 1), now, None).is_some());
        assert!(verify(&seed, &code_at_step(&seed, step_at(now) - 3), now, None).is_none());
        assert!(verify(&seed, "12345", now, None).is_none());
        assert!(verify(&seed, "abcdef", now, None).is_none());
    }

    #[test]
    fn the_provisioning_uri_names_issuer_and_account() {
        let uri = provisioning_uri(b"12345678901234567890", "Acme Hosting", "jo@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Acme%20Hosting%3Ajo%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        );
        assert!(qr_svg(&uri).starts_with("<?xml"));
    }
}
