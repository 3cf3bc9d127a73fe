//! EU VAT: the member states and the format of their VAT identification numbers.
//!
//! Only the format is checked here, which catches typos and numbers from the wrong country at
//! the form. Whether a number is actually registered is a question for the EU's VIES service,
//! which is I/O and belongs to the web crate.

use std::fmt;
use std::str::FromStr;

use crate::country::CountryCode;

/// One member state: ISO code, VAT prefix, accepted formats of the number after the prefix,
/// and how to describe them in an error message.
struct MemberState {
    country: CountryCode,
    prefix: &'static str,
    formats: &'static [&'static [Part]],
    expected: &'static str,
}

/// A run of `min..=max` characters of one class.
#[derive(Clone, Copy)]
struct Part(Class, u8, u8);

#[derive(Clone, Copy)]
enum Class {
    Digit,
    Letter,
    LetterOrDigit,
    OneOf(&'static [u8]),
}

impl Class {
    fn admits(self, byte: u8) -> bool {
        match self {
            Class::Digit => byte.is_ascii_digit(),
            Class::Letter => byte.is_ascii_uppercase(),
            Class::LetterOrDigit => byte.is_ascii_uppercase() || byte.is_ascii_digit(),
            Class::OneOf(set) => set.contains(&byte),
        }
    }
}

const fn digits(count: u8) -> Part {
    Part(Class::Digit, count, count)
}

const fn letter() -> Part {
    Part(Class::Letter, 1, 1)
}

const fn one_of(set: &'static [u8]) -> Part {
    Part(Class::OneOf(set), 1, 1)
}

const fn code(bytes: &[u8; 2]) -> CountryCode {
    CountryCode::from_bytes(*bytes)
}

const A_TO_W: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVW";

/// The 27 member states (as of 2025), in ISO code order. Formats follow the European
/// Commission's VIES documentation.
const MEMBER_STATES: [MemberState; 27] = [
    MemberState {
        country: code(b"AT"),
        prefix: "AT",
        formats: &[&[one_of(b"U"), digits(8)]],
        expected: "U and 8 digits",
    },
    MemberState {
        country: code(b"BE"),
        prefix: "BE",
        formats: &[&[one_of(b"01"), digits(9)]],
        expected: "10 digits starting with 0 or 1",
    },
    MemberState {
        country: code(b"BG"),
        prefix: "BG",
        formats: &[&[digits(9)], &[digits(10)]],
        expected: "9 or 10 digits",
    },
    MemberState {
        country: code(b"CY"),
        prefix: "CY",
        formats: &[&[digits(8), letter()]],
        expected: "8 digits and a letter",
    },
    MemberState {
        country: code(b"CZ"),
        prefix: "CZ",
        formats: &[&[digits(8)], &[digits(9)], &[digits(10)]],
        expected: "8, 9 or 10 digits",
    },
    MemberState { country: code(b"DE"), prefix: "DE", formats: &[&[digits(9)]], expected: "9 digits" },
    MemberState { country: code(b"DK"), prefix: "DK", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState { country: code(b"EE"), prefix: "EE", formats: &[&[digits(9)]], expected: "9 digits" },
    MemberState {
        country: code(b"ES"),
        prefix: "ES",
        formats: &[&[letter(), digits(7), letter()], &[digits(8), letter()], &[letter(), digits(8)]],
        expected: "9 characters: 8 digits and a letter at the start or end, or a letter, 7 digits and a letter",
    },
    MemberState { country: code(b"FI"), prefix: "FI", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState {
        country: code(b"FR"),
        prefix: "FR",
        formats: &[&[Part(Class::LetterOrDigit, 2, 2), digits(9)]],
        expected: "2 letters or digits and 9 digits",
    },
    MemberState { country: code(b"GR"), prefix: "EL", formats: &[&[digits(9)]], expected: "9 digits" },
    MemberState { country: code(b"HR"), prefix: "HR", formats: &[&[digits(11)]], expected: "11 digits" },
    MemberState { country: code(b"HU"), prefix: "HU", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState {
        country: code(b"IE"),
        prefix: "IE",
        formats: &[
            &[digits(7), one_of(A_TO_W), Part(Class::OneOf(b"ABCDEFGHI"), 0, 1)],
            &[digits(1), one_of(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ+*"), digits(5), one_of(A_TO_W)],
        ],
        expected: "7 digits and 1 or 2 letters",
    },
    MemberState { country: code(b"IT"), prefix: "IT", formats: &[&[digits(11)]], expected: "11 digits" },
    MemberState {
        country: code(b"LT"),
        prefix: "LT",
        formats: &[&[digits(9)], &[digits(12)]],
        expected: "9 or 12 digits",
    },
    MemberState { country: code(b"LU"), prefix: "LU", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState { country: code(b"LV"), prefix: "LV", formats: &[&[digits(11)]], expected: "11 digits" },
    MemberState { country: code(b"MT"), prefix: "MT", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState {
        country: code(b"NL"),
        prefix: "NL",
        formats: &[&[digits(9), one_of(b"B"), digits(2)]],
        expected: "9 digits, the letter B and 2 digits",
    },
    MemberState { country: code(b"PL"), prefix: "PL", formats: &[&[digits(10)]], expected: "10 digits" },
    MemberState { country: code(b"PT"), prefix: "PT", formats: &[&[digits(9)]], expected: "9 digits" },
    MemberState {
        country: code(b"RO"),
        prefix: "RO",
        formats: &[&[Part(Class::Digit, 2, 10)]],
        expected: "2 to 10 digits",
    },
    MemberState {
        country: code(b"SE"),
        prefix: "SE",
        formats: &[&[digits(10), one_of(b"0"), one_of(b"1")]],
        expected: "12 digits ending in 01",
    },
    MemberState { country: code(b"SI"), prefix: "SI", formats: &[&[digits(8)]], expected: "8 digits" },
    MemberState { country: code(b"SK"), prefix: "SK", formats: &[&[digits(10)]], expected: "10 digits" },
];

fn member_state(country: CountryCode) -> Option<&'static MemberState> {
    MEMBER_STATES.iter().find(|state| state.country == country)
}

/// The EU member states, by ISO code (Greece is `GR`).
pub fn eu_member_states() -> impl Iterator<Item = CountryCode> {
    MEMBER_STATES.iter().map(|state| state.country)
}

/// True if `country` is an EU member state.
pub fn is_eu_member(country: CountryCode) -> bool {
    member_state(country).is_some()
}

/// The prefix of `country`'s VAT numbers: its ISO code, except `EL` for Greece. `None`
/// outside the EU.
pub fn vat_prefix(country: CountryCode) -> Option<&'static str> {
    member_state(country).map(|state| state.prefix)
}

/// An EU VAT identification number whose format is valid for its member state, normalised
/// (uppercase, no spaces, dots or dashes): `DE123456789`, `EL123456789`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VatId {
    country: CountryCode,
    /// The part after the prefix.
    number: String,
}

impl VatId {
    /// Parses a VAT number with its prefix, as printed on invoices: `"DE 123 456 789"`,
    /// `"nl123456789b01"`, `"EL-123.456.789"`.
    pub fn parse(input: &str) -> Result<VatId, VatIdError> {
        let text = normalise(input);
        if text.is_empty() {
            return Err(VatIdError::Empty);
        }
        let (prefix, number) = match text.get(..2) {
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_uppercase()) => (prefix, &text[2..]),
            _ => return Err(VatIdError::MissingPrefix),
        };
        if prefix == "GR" {
            return Err(VatIdError::GreekPrefix);
        }
        let state = MEMBER_STATES
            .iter()
            .find(|state| state.prefix == prefix)
            .ok_or_else(|| VatIdError::UnknownPrefix { prefix: prefix.to_owned() })?;
        check_format(state, number)
    }

    /// Parses a VAT number for a buyer whose country is already known, so the prefix may be
    /// left out: for `DE`, both `"123456789"` and `"DE123456789"` are accepted, but a number
    /// of another member state is refused.
    pub fn parse_for(country: CountryCode, input: &str) -> Result<VatId, VatIdError> {
        let state = member_state(country).ok_or(VatIdError::NotEuMember { country })?;
        let text = normalise(input);
        if text.is_empty() {
            return Err(VatIdError::Empty);
        }
        if let Some(number) = text.strip_prefix(state.prefix)
            && let Ok(id) = check_format(state, number)
        {
            return Ok(id);
        }
        if let Ok(id) = check_format(state, &text) {
            return Ok(id);
        }
        match VatId::parse(&text) {
            Ok(other) => Err(VatIdError::WrongCountry { expected: country, found: other.country }),
            Err(VatIdError::GreekPrefix) => Err(VatIdError::GreekPrefix),
            Err(_) => Err(VatIdError::BadFormat { prefix: state.prefix, expected: state.expected }),
        }
    }

    /// The member state, by ISO code (`GR` for an `EL` number).
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// The VAT prefix (`EL` for Greece).
    pub fn prefix(&self) -> &'static str {
        vat_prefix(self.country).unwrap_or("")
    }

    /// The number after the prefix.
    pub fn number(&self) -> &str {
        &self.number
    }
}

/// Spaces, dots and dashes are how people group digits; none of them is part of the number.
fn normalise(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace() && *c != '.' && *c != '-').flat_map(char::to_uppercase).collect()
}

fn check_format(state: &MemberState, number: &str) -> Result<VatId, VatIdError> {
    if state.formats.iter().any(|format| matches(number.as_bytes(), format)) {
        Ok(VatId { country: state.country, number: number.to_owned() })
    } else {
        Err(VatIdError::BadFormat { prefix: state.prefix, expected: state.expected })
    }
}

/// Whether `text` is exactly the concatenation of runs described by `parts`.
fn matches(text: &[u8], parts: &[Part]) -> bool {
    let Some((Part(class, min, max), rest)) = parts.split_first() else {
        return text.is_empty();
    };
    (usize::from(*min)..=usize::from(*max))
        .take_while(|length| *length <= text.len())
        .any(|length| text[..length].iter().all(|b| class.admits(*b)) && matches(&text[length..], rest))
}

/// Written as printed on an invoice: prefix and number, `DE123456789`.
impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix(), self.number)
    }
}

impl fmt::Debug for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VatId({self})")
    }
}

impl FromStr for VatId {
    type Err = VatIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VatId::parse(s)
    }
}

/// Why a VAT number was refused. The messages are written for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VatIdError {
    /// Nothing but spaces and punctuation.
    #[error("enter a VAT number")]
    Empty,
    /// Does not start with two letters.
    #[error("a VAT number starts with its country's two-letter prefix, such as DE")]
    MissingPrefix,
    /// Starts with two letters that are no member state's prefix.
    #[error("{prefix} is not the VAT prefix of an EU member state")]
    UnknownPrefix {
        /// The prefix found.
        prefix: String,
    },
    /// Greek numbers use `EL`, and VIES rejects `GR`.
    #[error("Greek VAT numbers start with EL, not GR")]
    GreekPrefix,
    /// The number after the prefix has the wrong shape for its member state.
    #[error("a {prefix} VAT number is {prefix} followed by {expected}")]
    BadFormat {
        /// The member state's prefix.
        prefix: &'static str,
        /// The accepted formats, in words.
        expected: &'static str,
    },
    /// A valid number, but of another member state than the buyer's.
    #[error("this is a VAT number from {found}, but the country is {expected}")]
    WrongCountry {
        /// The buyer's country.
        expected: CountryCode,
        /// The number's member state.
        found: CountryCode,
    },
    /// The buyer's country is not in the EU, so it has no EU VAT number.
    #[error("{country} is not an EU member state, so it has no EU VAT number")]
    NotEuMember {
        /// The country given.
        country: CountryCode,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code).unwrap()
    }

    #[test]
    fn the_member_states_are_the_27_of_the_eu_in_code_order() {
        assert_eq!(eu_member_states().count(), 27);
        assert!(MEMBER_STATES.windows(2).all(|pair| pair[0].country < pair[1].country));
        assert!(is_eu_member(country("GR")) && is_eu_member(country("HR")));
        assert!(!is_eu_member(country("GB")) && !is_eu_member(country("CH")) && !is_eu_member(country("NO")));
        assert_eq!(vat_prefix(country("GR")), Some("EL"));
        assert_eq!(vat_prefix(country("US")), None);
    }

    #[test]
    fn a_well_formed_number_of_every_member_state_is_accepted() {
        let examples = [
            ("ATU12345678", "AT"),
            ("BE0123456789", "BE"),
            ("BE1123456789", "BE"),
            ("BG123456789", "BG"),
            ("BG1234567890", "BG"),
            ("CY12345678X", "CY"),
            ("CZ12345678", "CZ"),
            ("CZ1234567890", "CZ"),
            ("DE123456789", "DE"),
            ("DK12345678", "DK"),
            ("EE123456789", "EE"),
            ("EL123456789", "GR"),
            ("ESX1234567X", "ES"),
            ("ES12345678Z", "ES"),
            ("ESA12345678", "ES"),
            ("FI12345678", "FI"),
            ("FRAB123456789", "FR"),
            ("FR12345678901", "FR"),
            ("HR12345678901", "HR"),
            ("HU12345678", "HU"),
            ("IE1234567T", "IE"),
            ("IE1234567WA", "IE"),
            ("IE1A23456T", "IE"),
            ("IE1+23456T", "IE"),
            ("IT12345678901", "IT"),
            ("LT123456789", "LT"),
            ("LT123456789012", "LT"),
            ("LU12345678", "LU"),
            ("LV12345678901", "LV"),
            ("MT12345678", "MT"),
            ("NL123456789B01", "NL"),
            ("PL1234567890", "PL"),
            ("PT123456789", "PT"),
            ("RO12", "RO"),
            ("RO1234567890", "RO"),
            ("SE123456789001", "SE"),
            ("SI12345678", "SI"),
            ("SK1234567890", "SK"),
        ];
        for (input, iso) in examples {
            let id = VatId::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(id.country(), country(iso), "{input}");
            assert_eq!(id.to_string(), input);
        }
    }

    #[test]
    fn a_number_of_the_wrong_shape_is_refused_with_the_expected_format() {
        for input in [
            "DE12345678",
            "DE1234567890",
            "ATX12345678",
            "BE2123456789",
            "NL123456789A01",
            "NL123456789B1",
            "FR1234567890",
            "ES123456789",
            "SE123456789012",
            "RO1",
            "RO12345678901",
            "IE1234567TZ",
            "CY123456789",
        ] {
            assert!(matches!(VatId::parse(input), Err(VatIdError::BadFormat { .. })), "{input}");
        }
        assert_eq!(VatId::parse("DE12345678").unwrap_err().to_string(), "a DE VAT number is DE followed by 9 digits");
    }

    #[test]
    fn spaces_dots_dashes_and_case_are_normalised_away() {
        assert_eq!(VatId::parse(" de 123.456-789 ").unwrap().to_string(), "DE123456789");
        assert_eq!(VatId::parse("nl 1234.56.789.b01").unwrap().to_string(), "NL123456789B01");
    }

    #[test]
    fn greek_numbers_must_use_el() {
        assert_eq!(VatId::parse("GR123456789"), Err(VatIdError::GreekPrefix));
        assert_eq!(VatId::parse_for(country("GR"), "GR123456789"), Err(VatIdError::GreekPrefix));
        assert_eq!(VatId::parse_for(country("GR"), "123456789").unwrap().to_string(), "EL123456789");
    }

    #[test]
    fn a_missing_or_foreign_prefix_is_a_clear_error() {
        assert_eq!(VatId::parse(""), Err(VatIdError::Empty));
        assert_eq!(VatId::parse(" - . "), Err(VatIdError::Empty));
        assert_eq!(VatId::parse("123456789"), Err(VatIdError::MissingPrefix));
        assert_eq!(VatId::parse("GB123456789"), Err(VatIdError::UnknownPrefix { prefix: "GB".into() }));
        assert_eq!(VatId::parse("XI123456789"), Err(VatIdError::UnknownPrefix { prefix: "XI".into() }));
    }

    #[test]
    fn a_number_for_a_known_country_may_leave_out_the_prefix() {
        assert_eq!(VatId::parse_for(country("DE"), "123 456 789").unwrap().to_string(), "DE123456789");
        assert_eq!(VatId::parse_for(country("AT"), "U12345678").unwrap().to_string(), "ATU12345678");
        assert_eq!(VatId::parse_for(country("FR"), "FRAB123456789").unwrap().to_string(), "FRAB123456789");
        assert_eq!(VatId::parse_for(country("FR"), "AB123456789").unwrap().to_string(), "FRAB123456789");
    }

    #[test]
    fn a_number_from_another_member_state_than_the_buyers_is_refused() {
        assert_eq!(
            VatId::parse_for(country("DE"), "FR12345678901"),
            Err(VatIdError::WrongCountry { expected: country("DE"), found: country("FR") })
        );
        assert!(matches!(VatId::parse_for(country("DE"), "12345"), Err(VatIdError::BadFormat { prefix: "DE", .. })));
        assert_eq!(VatId::parse_for(country("CH"), "CHE123"), Err(VatIdError::NotEuMember { country: country("CH") }));
    }
}
