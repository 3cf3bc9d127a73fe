//! [`CountryCode`]: an ISO 3166-1 alpha-2 country code, the key tax rules are looked up by.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 country code, uppercase: `DE`, `US`, `GR` (Greece is `GR` here even
/// though its VAT numbers start with `EL`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters, in either case, ignoring surrounding spaces. Only the shape is
    /// checked, not that the code is assigned.
    pub fn parse(input: &str) -> Result<CountryCode, InvalidCountryCode> {
        let invalid = || InvalidCountryCode { input: input.to_owned() };
        let bytes: [u8; 2] = input.trim().as_bytes().try_into().map_err(|_| invalid())?;
        if !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(invalid());
        }
        Ok(CountryCode(bytes.map(|b| b.to_ascii_uppercase())))
    }

    /// For the crate's own tables, which are checked by tests.
    pub(crate) const fn from_bytes(bytes: [u8; 2]) -> CountryCode {
        CountryCode(bytes)
    }

    /// The code, e.g. `"DE"`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters get in, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = InvalidCountryCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CountryCode::parse(s)
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidCountryCode;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> Self {
        code.as_str().to_owned()
    }
}

/// Not two ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a country code: expected two letters such as DE")]
pub struct InvalidCountryCode {
    /// The input as given.
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_code_is_two_letters_in_either_case() {
        assert_eq!(CountryCode::parse(" de ").unwrap().as_str(), "DE");
        assert!(CountryCode::parse("DEU").is_err());
        assert!(CountryCode::parse("D1").is_err());
        assert!(CountryCode::parse("").is_err());
    }

    #[test]
    fn a_country_code_serialises_as_its_text() {
        let code = CountryCode::parse("fr").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"FR\"");
        assert_eq!(serde_json::from_str::<CountryCode>("\"fr\"").unwrap(), code);
        assert!(serde_json::from_str::<CountryCode>("\"France\"").is_err());
    }
}
