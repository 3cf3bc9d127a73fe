//! Currencies: an ISO 4217 code, how many decimals its minor unit has, and how amounts in it
//! are rounded.
//!
//! The rounding rule travels with the [`Currency`] value rather than living in a global
//! setting, so an installation can configure it per currency (Swiss francs rounded to 0.05 for
//! a cash business, say) and every amount computed in that currency obeys it without anyone
//! having to remember to look it up.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How [`crate::round`] resolves an amount that falls between two representable steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Nearest step; halves go away from zero (0.125 → 0.13, −0.125 → −0.13). What customers
    /// and most tax offices expect, hence the default.
    #[default]
    HalfUp,
    /// Nearest step; halves go to the even neighbour (0.125 → 0.12, 0.135 → 0.14).
    HalfEven,
    /// Toward zero (truncation).
    Down,
    /// Away from zero.
    Up,
}

impl RoundingMode {
    /// Every mode, for settings forms.
    pub const ALL: [RoundingMode; 4] =
        [RoundingMode::HalfUp, RoundingMode::HalfEven, RoundingMode::Down, RoundingMode::Up];

    /// The stable snake_case key stored in settings (`half_up`, `half_even`, `down`, `up`).
    pub const fn key(self) -> &'static str {
        match self {
            RoundingMode::HalfUp => "half_up",
            RoundingMode::HalfEven => "half_even",
            RoundingMode::Down => "down",
            RoundingMode::Up => "up",
        }
    }
}

impl fmt::Display for RoundingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for RoundingMode {
    type Err = CurrencyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoundingMode::ALL
            .into_iter()
            .find(|mode| mode.key() == s)
            .ok_or_else(|| CurrencyError::UnknownRoundingMode { input: s.to_owned() })
    }
}

/// How amounts in a currency are rounded: a [`RoundingMode`] and the step, in minor units,
/// that every rounded amount is a multiple of (1 normally; 5 for Swiss cash rounding to 0.05).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoundingRule {
    mode: RoundingMode,
    increment_minor: u32,
}

impl RoundingRule {
    /// Half-up to the minor unit: the rule every built-in currency starts with.
    pub const STANDARD: RoundingRule = RoundingRule { mode: RoundingMode::HalfUp, increment_minor: 1 };

    /// The largest step accepted; anything coarser is a configuration mistake.
    pub const MAX_INCREMENT_MINOR: u32 = 1_000_000;

    /// A rule rounding with `mode` to multiples of `increment_minor` minor units.
    pub fn new(mode: RoundingMode, increment_minor: u32) -> Result<Self, CurrencyError> {
        if increment_minor == 0 || increment_minor > Self::MAX_INCREMENT_MINOR {
            return Err(CurrencyError::InvalidIncrement { increment: increment_minor, max: Self::MAX_INCREMENT_MINOR });
        }
        Ok(RoundingRule { mode, increment_minor })
    }

    /// The rounding mode.
    pub const fn mode(&self) -> RoundingMode {
        self.mode
    }

    /// The step, in minor units, that rounded amounts are multiples of. Never zero.
    pub const fn increment_minor(&self) -> u32 {
        self.increment_minor
    }
}

impl Default for RoundingRule {
    fn default() -> Self {
        Self::STANDARD
    }
}

/// A currency: its three-letter code, the number of decimals of its minor unit (its
/// "exponent": 0 for JPY, 2 for EUR, 3 for KWD) and its [`RoundingRule`].
///
/// Two values are equal when they denote the same money (same code and exponent); the
/// rounding rule is policy, not identity, so a Swiss franc configured for cash rounding still
/// adds up with a Swiss franc read from the built-in table.
#[derive(Clone, Copy)]
pub struct Currency {
    /// Uppercase ASCII letters, checked on construction.
    code: [u8; 3],
    exponent: u8,
    rounding: RoundingRule,
}

impl Currency {
    /// The most decimals a currency may have. ISO 4217's finest is 4 (CLF, UYW); the bound
    /// keeps every amount representable as `i64` minor units with a wide margin.
    pub const MAX_EXPONENT: u8 = 4;

    /// Euro.
    pub const EUR: Currency = Currency::builtin(*b"EUR", 2);
    /// US dollar.
    pub const USD: Currency = Currency::builtin(*b"USD", 2);
    /// Pound sterling.
    pub const GBP: Currency = Currency::builtin(*b"GBP", 2);
    /// Swiss franc.
    pub const CHF: Currency = Currency::builtin(*b"CHF", 2);
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency::builtin(*b"JPY", 0);
    /// Kuwaiti dinar (three decimals).
    pub const KWD: Currency = Currency::builtin(*b"KWD", 3);

    const fn builtin(code: [u8; 3], exponent: u8) -> Currency {
        Currency { code, exponent, rounding: RoundingRule::STANDARD }
    }

    /// Looks a code up in the built-in ISO 4217 table (case-insensitive, surrounding spaces
    /// ignored). The currency comes with [`RoundingRule::STANDARD`]; apply an installation's
    /// rule with [`Currency::with_rounding`].
    pub fn from_code(code: &str) -> Result<Currency, CurrencyError> {
        let code = parse_code(code)?;
        ISO_4217
            .binary_search_by(|(known, _, _)| known.as_bytes().cmp(&code[..]))
            .map(|index| Currency::builtin(code, ISO_4217[index].1))
            .map_err(|_| CurrencyError::Unknown { code: String::from_utf8_lossy(&code).into_owned() })
    }

    /// A currency the built-in table does not know, or knows differently (an installation that
    /// bills Hungarian forints without decimals, say). `code` must be three ASCII letters.
    pub fn new(code: &str, exponent: u8) -> Result<Currency, CurrencyError> {
        let code = parse_code(code)?;
        if exponent > Self::MAX_EXPONENT {
            return Err(CurrencyError::ExponentTooLarge { exponent, max: Self::MAX_EXPONENT });
        }
        Ok(Currency::builtin(code, exponent))
    }

    /// The same currency, rounded by `rule` from now on.
    #[must_use]
    pub const fn with_rounding(self, rule: RoundingRule) -> Currency {
        Currency { rounding: rule, ..self }
    }

    /// The three-letter code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // Construction only admits ASCII letters, so this cannot fail; "XXX" is ISO 4217's
        // "no currency" should that invariant ever be broken.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Decimals of the minor unit: 0 for JPY, 2 for USD, 3 for BHD.
    pub const fn exponent(&self) -> u8 {
        self.exponent
    }

    /// How amounts in this currency are rounded.
    pub const fn rounding(&self) -> RoundingRule {
        self.rounding
    }

    /// The English name from the ISO 4217 table, or `None` for a currency not in it.
    pub fn name(&self) -> Option<&'static str> {
        ISO_4217
            .iter()
            .find(|(code, exponent, _)| code.as_bytes() == self.code && *exponent == self.exponent)
            .map(|e| e.2)
    }

    /// Every currency of the built-in table, in code order, for pickers and settings forms.
    pub fn iso_currencies() -> impl Iterator<Item = Currency> {
        ISO_4217
            .iter()
            .filter_map(|(code, exponent, _)| Some(Currency::builtin(code.as_bytes().try_into().ok()?, *exponent)))
    }
}

fn parse_code(input: &str) -> Result<[u8; 3], CurrencyError> {
    let trimmed = input.trim();
    let invalid = || CurrencyError::InvalidCode { code: input.to_owned() };
    let bytes: [u8; 3] = trimmed.as_bytes().try_into().map_err(|_| invalid())?;
    if !bytes.iter().all(u8::is_ascii_alphabetic) {
        return Err(invalid());
    }
    Ok(bytes.map(|b| b.to_ascii_uppercase()))
}

impl PartialEq for Currency {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.exponent == other.exponent
    }
}

impl Eq for Currency {}

impl Hash for Currency {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
        self.exponent.hash(state);
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Currency")
            .field("code", &self.code())
            .field("exponent", &self.exponent)
            .field("rounding", &self.rounding)
            .finish()
    }
}

/// Shows the code, e.g. `USD`.
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

/// Why a currency or rounding rule could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    /// Not three ASCII letters.
    #[error("{code:?} is not a currency code: expected three letters such as USD")]
    InvalidCode {
        /// The input as given.
        code: String,
    },
    /// Well-formed, but not in the built-in ISO 4217 table.
    #[error("{code} is not a currency in the ISO 4217 table; configure it with its number of decimals")]
    Unknown {
        /// The code, uppercased.
        code: String,
    },
    /// More decimals than [`Currency::MAX_EXPONENT`].
    #[error("a currency cannot have {exponent} decimals; at most {max} are supported")]
    ExponentTooLarge {
        /// The exponent asked for.
        exponent: u8,
        /// [`Currency::MAX_EXPONENT`].
        max: u8,
    },
    /// A rounding step of zero or beyond [`RoundingRule::MAX_INCREMENT_MINOR`].
    #[error("the rounding step must be between 1 and {max} minor units, not {increment}")]
    InvalidIncrement {
        /// The step asked for.
        increment: u32,
        /// [`RoundingRule::MAX_INCREMENT_MINOR`].
        max: u32,
    },
    /// Not one of the [`RoundingMode`] keys.
    #[error("{input:?} is not a rounding mode: expected half_up, half_even, down or up")]
    UnknownRoundingMode {
        /// The input as given.
        input: String,
    },
}

/// Active ISO 4217 currencies (fund codes and precious metals left out): code, exponent, name.
/// Sorted by code, which [`Currency::from_code`]'s binary search relies on (a test checks).
const ISO_4217: &[(&str, u8, &str)] = &[
    ("AED", 2, "UAE Dirham"),
    ("AFN", 2, "Afghani"),
    ("ALL", 2, "Lek"),
    ("AMD", 2, "Armenian Dram"),
    ("ANG", 2, "Netherlands Antillean Guilder"),
    ("AOA", 2, "Kwanza"),
    ("ARS", 2, "Argentine Peso"),
    ("AUD", 2, "Australian Dollar"),
    ("AWG", 2, "Aruban Florin"),
    ("AZN", 2, "Azerbaijan Manat"),
    ("BAM", 2, "Convertible Mark"),
    ("BBD", 2, "Barbados Dollar"),
    ("BDT", 2, "Taka"),
    ("BGN", 2, "Bulgarian Lev"),
    ("BHD", 3, "Bahraini Dinar"),
    ("BIF", 0, "Burundi Franc"),
    ("BMD", 2, "Bermudian Dollar"),
    ("BND", 2, "Brunei Dollar"),
    ("BOB", 2, "Boliviano"),
    ("BRL", 2, "Brazilian Real"),
    ("BSD", 2, "Bahamian Dollar"),
    ("BTN", 2, "Ngultrum"),
    ("BWP", 2, "Pula"),
    ("BYN", 2, "Belarusian Ruble"),
    ("BZD", 2, "Belize Dollar"),
    ("CAD", 2, "Canadian Dollar"),
    ("CDF", 2, "Congolese Franc"),
    ("CHF", 2, "Swiss Franc"),
    ("CLF", 4, "Unidad de Fomento"),
    ("CLP", 0, "Chilean Peso"),
    ("CNY", 2, "Yuan Renminbi"),
    ("COP", 2, "Colombian Peso"),
    ("CRC", 2, "Costa Rican Colon"),
    ("CUP", 2, "Cuban Peso"),
    ("CVE", 2, "Cabo Verde Escudo"),
    ("CZK", 2, "Czech Koruna"),
    ("DJF", 0, "Djibouti Franc"),
    ("DKK", 2, "Danish Krone"),
    ("DOP", 2, "Dominican Peso"),
    ("DZD", 2, "Algerian Dinar"),
    ("EGP", 2, "Egyptian Pound"),
    ("ERN", 2, "Nakfa"),
    ("ETB", 2, "Ethiopian Birr"),
    ("EUR", 2, "Euro"),
    ("FJD", 2, "Fiji Dollar"),
    ("FKP", 2, "Falkland Islands Pound"),
    ("GBP", 2, "Pound Sterling"),
    ("GEL", 2, "Lari"),
    ("GHS", 2, "Ghana Cedi"),
    ("GIP", 2, "Gibraltar Pound"),
    ("GMD", 2, "Dalasi"),
    ("GNF", 0, "Guinean Franc"),
    ("GTQ", 2, "Quetzal"),
    ("GYD", 2, "Guyana Dollar"),
    ("HKD", 2, "Hong Kong Dollar"),
    ("HNL", 2, "Lempira"),
    ("HTG", 2, "Gourde"),
    ("HUF", 2, "Forint"),
    ("IDR", 2, "Rupiah"),
    ("ILS", 2, "New Israeli Sheqel"),
    ("INR", 2, "Indian Rupee"),
    ("IQD", 3, "Iraqi Dinar"),
    ("IRR", 2, "Iranian Rial"),
    ("ISK", 0, "Iceland Krona"),
    ("JMD", 2, "Jamaican Dollar"),
    ("JOD", 3, "Jordanian Dinar"),
    ("JPY", 0, "Yen"),
    ("KES", 2, "Kenyan Shilling"),
    ("KGS", 2, "Som"),
    ("KHR", 2, "Riel"),
    ("KMF", 0, "Comorian Franc"),
    ("KPW", 2, "North Korean Won"),
    ("KRW", 0, "Won"),
    ("KWD", 3, "Kuwaiti Dinar"),
    ("KYD", 2, "Cayman Islands Dollar"),
    ("KZT", 2, "Tenge"),
    ("LAK", 2, "Lao Kip"),
    ("LBP", 2, "Lebanese Pound"),
    ("LKR", 2, "Sri Lanka Rupee"),
    ("LRD", 2, "Liberian Dollar"),
    ("LSL", 2, "Loti"),
    ("LYD", 3, "Libyan Dinar"),
    ("MAD", 2, "Moroccan Dirham"),
    ("MDL", 2, "Moldovan Leu"),
    ("MGA", 2, "Malagasy Ariary"),
    ("MKD", 2, "Denar"),
    ("MMK", 2, "Kyat"),
    ("MNT", 2, "Tugrik"),
    ("MOP", 2, "Pataca"),
    ("MRU", 2, "Ouguiya"),
    ("MUR", 2, "Mauritius Rupee"),
    ("MVR", 2, "Rufiyaa"),
    ("MWK", 2, "Malawi Kwacha"),
    ("MXN", 2, "Mexican Peso"),
    ("MYR", 2, "Malaysian Ringgit"),
    ("MZN", 2, "Mozambique Metical"),
    ("NAD", 2, "Namibia Dollar"),
    ("NGN", 2, "Naira"),
    ("NIO", 2, "Cordoba Oro"),
    ("NOK", 2, "Norwegian Krone"),
    ("NPR", 2, "Nepalese Rupee"),
    ("NZD", 2, "New Zealand Dollar"),
    ("OMR", 3, "Rial Omani"),
    ("PAB", 2, "Balboa"),
    ("PEN", 2, "Sol"),
    ("PGK", 2, "Kina"),
    ("PHP", 2, "Philippine Peso"),
    ("PKR", 2, "Pakistan Rupee"),
    ("PLN", 2, "Zloty"),
    ("PYG", 0, "Guarani"),
    ("QAR", 2, "Qatari Rial"),
    ("RON", 2, "Romanian Leu"),
    ("RSD", 2, "Serbian Dinar"),
    ("RUB", 2, "Russian Ruble"),
    ("RWF", 0, "Rwanda Franc"),
    ("SAR", 2, "Saudi Riyal"),
    ("SBD", 2, "Solomon Islands Dollar"),
    ("SCR", 2, "Seychelles Rupee"),
    ("SDG", 2, "Sudanese Pound"),
    ("SEK", 2, "Swedish Krona"),
    ("SGD", 2, "Singapore Dollar"),
    ("SHP", 2, "Saint Helena Pound"),
    ("SLE", 2, "Leone"),
    ("SOS", 2, "Somali Shilling"),
    ("SRD", 2, "Surinam Dollar"),
    ("SSP", 2, "South Sudanese Pound"),
    ("STN", 2, "Dobra"),
    ("SVC", 2, "El Salvador Colon"),
    ("SYP", 2, "Syrian Pound"),
    ("SZL", 2, "Lilangeni"),
    ("THB", 2, "Baht"),
    ("TJS", 2, "Somoni"),
    ("TMT", 2, "Turkmenistan New Manat"),
    ("TND", 3, "Tunisian Dinar"),
    ("TOP", 2, "Pa'anga"),
    ("TRY", 2, "Turkish Lira"),
    ("TTD", 2, "Trinidad and Tobago Dollar"),
    ("TWD", 2, "New Taiwan Dollar"),
    ("TZS", 2, "Tanzanian Shilling"),
    ("UAH", 2, "Hryvnia"),
    ("UGX", 0, "Uganda Shilling"),
    ("USD", 2, "US Dollar"),
    ("UYI", 0, "Uruguay Peso en Unidades Indexadas"),
    ("UYU", 2, "Peso Uruguayo"),
    ("UYW", 4, "Unidad Previsional"),
    ("UZS", 2, "Uzbekistan Sum"),
    ("VED", 2, "Bolívar Soberano"),
    ("VES", 2, "Bolívar Soberano"),
    ("VND", 0, "Dong"),
    ("VUV", 0, "Vatu"),
    ("WST", 2, "Tala"),
    ("XAF", 0, "CFA Franc BEAC"),
    ("XCD", 2, "East Caribbean Dollar"),
    ("XCG", 2, "Caribbean Guilder"),
    ("XOF", 0, "CFA Franc BCEAO"),
    ("XPF", 0, "CFP Franc"),
    ("YER", 2, "Yemeni Rial"),
    ("ZAR", 2, "Rand"),
    ("ZMW", 2, "Zambian Kwacha"),
    ("ZWG", 2, "Zimbabwe Gold"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_is_sorted_and_has_no_duplicates() {
        assert!(ISO_4217.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert!(ISO_4217.iter().all(|(code, exponent, _)| code.len() == 3 && *exponent <= Currency::MAX_EXPONENT));
    }

    #[test]
    fn common_currencies_have_their_iso_exponents() {
        for (code, exponent) in [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3), ("KWD", 3), ("CLF", 4), ("KRW", 0)] {
            assert_eq!(Currency::from_code(code).unwrap().exponent(), exponent, "{code}");
        }
    }

    #[test]
    fn a_code_is_found_whatever_its_case_and_surrounding_spaces() {
        assert_eq!(Currency::from_code(" usd ").unwrap(), Currency::USD);
        assert_eq!("eur".parse::<Currency>().unwrap().code(), "EUR");
    }

    #[test]
    fn an_unknown_or_malformed_code_is_a_clear_error() {
        assert_eq!(Currency::from_code("ABC"), Err(CurrencyError::Unknown { code: "ABC".into() }));
        assert!(matches!(Currency::from_code("US"), Err(CurrencyError::InvalidCode { .. })));
        assert!(matches!(Currency::from_code("U$D"), Err(CurrencyError::InvalidCode { .. })));
        assert!(matches!(Currency::from_code("€€€"), Err(CurrencyError::InvalidCode { .. })));
    }

    #[test]
    fn the_rounding_rule_is_policy_not_identity() {
        let cash = Currency::CHF.with_rounding(RoundingRule::new(RoundingMode::HalfUp, 5).unwrap());
        assert_eq!(cash, Currency::CHF);
        assert_eq!(cash.rounding().increment_minor(), 5);
        assert_ne!(Currency::new("HUF", 0).unwrap(), Currency::from_code("HUF").unwrap());
    }

    #[test]
    fn a_rounding_step_of_zero_is_refused() {
        assert!(RoundingRule::new(RoundingMode::Down, 0).is_err());
        assert!(RoundingRule::new(RoundingMode::Down, RoundingRule::MAX_INCREMENT_MINOR + 1).is_err());
    }

    #[test]
    fn a_custom_currency_cannot_have_absurd_decimals() {
        assert!(Currency::new("XBT", 8).is_err());
        assert_eq!(Currency::new("xbt", 4).unwrap().name(), None);
    }

    #[test]
    fn rounding_modes_round_trip_through_their_keys() {
        for mode in RoundingMode::ALL {
            assert_eq!(mode.key().parse::<RoundingMode>().unwrap(), mode);
            assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{}\"", mode.key()));
        }
        assert!("bankers".parse::<RoundingMode>().is_err());
    }

    #[test]
    fn every_iso_currency_can_be_listed() {
        assert_eq!(Currency::iso_currencies().count(), ISO_4217.len());
        assert_eq!(Currency::EUR.name(), Some("Euro"));
    }
}
