//! Text that must never be shown or logged: gateway keys, panel passwords, API tokens.

use std::fmt;

/// A secret value; `Debug` prints a placeholder, so a secret inside a logged struct stays
/// out of the log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The value itself, for the one request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(empty)" } else { "Secret(redacted)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_as_a_placeholder() {
        assert_eq!(format!("{:?}", Secret::new("hunter22")), "Secret(redacted)");
        assert_eq!(format!("{:?}", Secret::default()), "Secret(empty)");
    }
}
