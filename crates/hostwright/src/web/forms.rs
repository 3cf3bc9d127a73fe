//! Field-level form errors and the small parsers every form shares.

use std::collections::BTreeMap;

use serde::Serialize;

/// Messages keyed by field name; `_form` holds a message for the whole form.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(transparent)]
pub struct FormErrors(BTreeMap<String, String>);

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    pub fn form(message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add("_form", message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// Adds `other`'s messages for the fields that have none here.
    pub fn merge(&mut self, other: FormErrors) {
        for (field, message) in other.0 {
            self.add(&field, message);
        }
    }

    /// The messages alone, for a flash message above a small form.
    pub fn messages(&self) -> String {
        self.0.values().cloned().collect::<Vec<_>>().join(" ")
    }
}

impl std::fmt::Display for FormErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<String> = self.0.iter().map(|(field, message)| format!("{field}: {message}")).collect();
        f.write_str(&messages.join("; "))
    }
}

/// An email address, lower-cased and trimmed; parse, don't validate twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your email address.");
        }
        if email.len() > 254 {
            return Err("That email address is too long.");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("Enter an email address like name@example.com.");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty()
            || local.len() > 64
            || !domain_ok
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err("Enter an email address like name@example.com.");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A required single-line text field: trimmed, not empty, not too long, no control characters.
pub fn required_text(errors: &mut FormErrors, field: &str, value: &str, label: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, format!("Enter {label}."));
    } else if value.chars().count() > max {
        errors.add(field, format!("Use at most {max} characters."));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "Remove the special characters.");
    }
    value.to_owned()
}

/// An optional single-line text field.
pub fn optional_text(errors: &mut FormErrors, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        errors.add(field, format!("Use at most {max} characters."));
    } else if value.chars().any(char::is_control) {
        errors.add(field, "Remove the special characters.");
    }
    value.to_owned()
}

/// Is this database error a unique-constraint violation (a duplicate)?
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

/// The rows a list skips to show page `page` (from 1) of `per_page`: a page beyond any list
/// is an empty page, never an overflow.
pub fn page_offset(page: u64, per_page: u64) -> u64 {
    const BEYOND_ANY_LIST: u64 = 1 << 40;
    page.saturating_sub(1).saturating_mul(per_page).min(BEYOND_ANY_LIST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse("  Jo@Example.COM ").map(|e| e.as_str().to_owned()),
            Ok("jo@example.com".into())
        );
        for bad in ["", "jo", "jo@", "@example.com", "jo@example", "jo @example.com", "jo@exa mple.com", "jo@.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn required_text_reports_blank_and_long_values() {
        let mut errors = FormErrors::new();
        required_text(&mut errors, "name", "   ", "your name", 10);
        required_text(&mut errors, "company", "x".repeat(11).as_str(), "a company", 10);
        assert!(errors.has("name") && errors.has("company"));
    }
}
