//! [`Money`]: an integer number of minor units in one [`Currency`].
//!
//! Amounts are stored as `i64` minor units (cents) so that storing, adding and comparing them
//! is exact. Anything that can produce a fraction of a minor unit (a quantity, a rate, a
//! percentage) takes a [`Decimal`] and rounds through [`crate::round`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::currency::{Currency, CurrencyError};
use crate::rounding::round;

/// An amount of money: whole minor units (cents, pence, yen) of one currency.
///
/// Arithmetic is checked and refuses to mix currencies; there are deliberately no `+`/`-`
/// operators, because those could only panic on a mismatch or an overflow.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` minor units of `currency`: `Money::from_minor(1230, Currency::USD)` is 12.30 USD.
    pub const fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// The amount in minor units, as stored in the database.
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// The exact amount in major units: 1230 minor USD is `12.30`.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, u32::from(self.currency.exponent()))
    }

    /// Converts an exact decimal amount in major units, refusing (rather than rounding) one
    /// with more decimals than the currency has. Trailing zeros are fine (`12.3000` USD), so
    /// this suits values read from a `NUMERIC` column. To round, use [`crate::round`].
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let normalized = amount.normalize();
        if normalized.scale() > u32::from(currency.exponent()) {
            return Err(MoneyError::TooManyDecimals { input: amount.to_string(), currency });
        }
        // Deliberately not through `round`: the value is exact, and a cash-rounding rule must
        // not bend a stored amount.
        let minor = normalized.mantissa() * 10i128.pow(u32::from(currency.exponent()) - normalized.scale());
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, currency))
    }

    /// Parses an amount in major units typed by a person or read from a form: an optional
    /// `-`, digits, and optionally `.` and up to the currency's number of decimals
    /// (`"12"`, `"12.3"`, `"-0.05"`). Surrounding spaces are ignored.
    ///
    /// Deliberately strict: no thousands separators, no exponent, no decimal comma, and no
    /// more decimals than the currency has, even zeros — `"1.000"` in yen is far more likely
    /// a German "one thousand" than a precise one.
    pub fn parse(input: &str, currency: Currency) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::InvalidAmount { input: input.to_owned() };
        let text = input.trim();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (unsigned.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let exponent = usize::from(currency.exponent());
        if fraction.len() > exponent {
            return Err(MoneyError::TooManyDecimals { input: input.to_owned(), currency });
        }
        let mut minor: i128 = 0;
        let padding = std::iter::repeat_n(b'0', exponent - fraction.len());
        for digit in whole.bytes().chain(fraction.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(digit - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        let minor = if negative { -minor } else { minor };
        Ok(Money::from_minor(i64::try_from(minor).map_err(|_| MoneyError::Overflow)?, currency))
    }

    /// The amount in major units with exactly the currency's number of decimals and no code:
    /// `"12.30"`, `"-0.05"`, `"1230"` for yen. For form fields and exports.
    pub fn to_decimal_string(&self) -> String {
        let exponent = u32::from(self.currency.exponent());
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        if exponent == 0 {
            return format!("{sign}{abs}");
        }
        let unit = 10u64.pow(exponent);
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = exponent as usize)
    }

    /// True for zero.
    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// True below zero.
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// True above zero.
    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// `self + other`; an error if the currencies differ or the sum overflows.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `self − other`; an error if the currencies differ or the difference overflows.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self.minor.checked_sub(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// `−self`; an error only for the one `i64` value without a negation.
    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, ..self })
    }

    /// Adds `amounts` up in `currency` (zero for none), refusing any amount in another
    /// currency. Taking the currency explicitly is what makes an empty sum well defined.
    pub fn sum(currency: Currency, amounts: impl IntoIterator<Item = Money>) -> Result<Money, MoneyError> {
        amounts.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    /// `self × factor` (a quantity, a ratio), rounded once through [`crate::round`].
    pub fn multiply(self, factor: Decimal) -> Result<Money, MoneyError> {
        let exact = self.to_decimal().checked_mul(factor).ok_or(MoneyError::Overflow)?;
        round(exact, &self.currency)
    }

    /// `percent` % of `self` (`percent` 19 means 19 %), rounded once through [`crate::round`].
    pub fn percent(self, percent: Decimal) -> Result<Money, MoneyError> {
        let exact = self
            .to_decimal()
            .checked_mul(percent)
            .and_then(|product| product.checked_div(Decimal::ONE_HUNDRED))
            .ok_or(MoneyError::Overflow)?;
        round(exact, &self.currency)
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { expected: self.currency, found: other.currency })
        }
    }
}

/// Amounts compare only within one currency: across currencies `partial_cmp` is `None`, so
/// `<` and `>` are false both ways rather than comparing numbers that mean different things.
impl PartialOrd for Money {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (self.currency == other.currency).then(|| self.minor.cmp(&other.minor))
    }
}

/// `12.30 USD`: the amount with the currency's decimals, a space, the code.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

/// Parses what [`fmt::Display`] writes, `"12.30 USD"`, with the currency from the built-in
/// table (so with its standard rounding rule).
impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(amount), Some(code), None) => Money::parse(amount, Currency::from_code(code)?),
            _ => Err(MoneyError::InvalidAmount { input: s.to_owned() }),
        }
    }
}

/// Why an amount could not be built or computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Two amounts in different currencies were combined.
    #[error("cannot combine an amount in {found} with one in {expected}")]
    CurrencyMismatch {
        /// The currency of the left-hand amount (or of the sum).
        expected: Currency,
        /// The currency of the amount that did not match.
        found: Currency,
    },
    /// The result does not fit in `i64` minor units.
    #[error("the amount is too large")]
    Overflow,
    /// Not a number in the accepted format.
    #[error("{input:?} is not an amount: expected digits with an optional decimal point, such as 12.30")]
    InvalidAmount {
        /// The input as given.
        input: String,
    },
    /// More decimals than the currency has.
    #[error("{input:?} has more decimals than {currency} has ({})", currency.exponent())]
    TooManyDecimals {
        /// The input as given.
        input: String,
        /// The currency it was meant for.
        currency: Currency,
    },
    /// The currency code in `"12.30 XYZ"` was not understood.
    #[error(transparent)]
    Currency(#[from] CurrencyError),
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    #[test]
    fn amounts_print_with_the_currency_decimals_and_code() {
        assert_eq!(usd(1230).to_string(), "12.30 USD");
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        assert_eq!(Money::from_minor(1230, Currency::JPY).to_string(), "1230 JPY");
        assert_eq!(Money::from_minor(1, Currency::KWD).to_string(), "0.001 KWD");
        assert_eq!(usd(i64::MIN).to_decimal_string(), "-92233720368547758.08");
    }

    #[test]
    fn to_decimal_is_the_exact_major_amount() {
        assert_eq!(usd(1230).to_decimal(), dec!(12.30));
        assert_eq!(Money::from_minor(7, Currency::JPY).to_decimal(), dec!(7));
    }

    #[test]
    fn a_typed_amount_parses_with_up_to_the_currency_decimals() {
        assert_eq!(Money::parse("12", Currency::USD).unwrap(), usd(1200));
        assert_eq!(Money::parse(" 12.3 ", Currency::USD).unwrap(), usd(1230));
        assert_eq!(Money::parse("-0.05", Currency::USD).unwrap(), usd(-5));
        assert_eq!(Money::parse("0.125", Currency::KWD).unwrap().minor(), 125);
    }

    #[test]
    fn too_many_decimals_for_the_currency_is_refused() {
        assert!(matches!(Money::parse("12.345", Currency::USD), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(Money::parse("1.000", Currency::JPY), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(Money::parse("12.300", Currency::USD), Err(MoneyError::TooManyDecimals { .. })));
    }

    #[test]
    fn text_that_is_not_an_amount_is_refused() {
        for input in ["abc", "", "-", ".5", "12.", "1,000.00", "1e3", "+5", "12.3.4", "--1", "12 .30", "١٢"] {
            assert!(matches!(Money::parse(input, Currency::USD), Err(MoneyError::InvalidAmount { .. })), "{input:?}");
        }
    }

    #[test]
    fn an_amount_too_large_for_minor_units_is_an_overflow() {
        assert_eq!(Money::parse("92233720368547758.08", Currency::USD), Err(MoneyError::Overflow));
        assert_eq!(Money::parse("-92233720368547758.08", Currency::USD), Ok(usd(i64::MIN)));
        assert_eq!(Money::parse(&"9".repeat(60), Currency::USD), Err(MoneyError::Overflow));
    }

    #[test]
    fn display_and_from_str_round_trip() {
        let amount: Money = "12.30 USD".parse().unwrap();
        assert_eq!(amount, usd(1230));
        assert!("12.30".parse::<Money>().is_err());
        assert!(matches!("12.30 XYZ".parse::<Money>(), Err(MoneyError::Currency(CurrencyError::Unknown { .. }))));
    }

    #[test]
    fn a_decimal_with_trailing_zeros_converts_but_extra_precision_does_not() {
        assert_eq!(Money::from_decimal(dec!(12.3000), Currency::USD).unwrap(), usd(1230));
        assert_eq!(Money::from_decimal(dec!(-7), Currency::USD).unwrap(), usd(-700));
        assert!(matches!(Money::from_decimal(dec!(12.301), Currency::USD), Err(MoneyError::TooManyDecimals { .. })));
    }

    #[test]
    fn adding_amounts_in_different_currencies_is_refused() {
        let eur = Money::from_minor(100, Currency::EUR);
        assert_eq!(
            usd(100).checked_add(eur),
            Err(MoneyError::CurrencyMismatch { expected: Currency::USD, found: Currency::EUR })
        );
        assert!(usd(100).checked_sub(eur).is_err());
        assert!(Money::sum(Currency::USD, [usd(1), eur]).is_err());
    }

    #[test]
    fn overflowing_arithmetic_is_an_error() {
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
    }

    #[test]
    fn an_empty_sum_is_zero_in_the_given_currency() {
        assert_eq!(Money::sum(Currency::EUR, []).unwrap(), Money::zero(Currency::EUR));
        assert_eq!(Money::sum(Currency::USD, [usd(1), usd(2), usd(-4)]).unwrap(), usd(-1));
    }

    #[test]
    fn multiplying_by_a_quantity_or_a_rate_rounds_once() {
        assert_eq!(usd(333).multiply(dec!(3)).unwrap(), usd(999));
        assert_eq!(usd(1000).multiply(dec!(0.3333)).unwrap(), usd(333));
        assert_eq!(usd(1999).percent(dec!(19)).unwrap(), usd(380));
        assert_eq!(usd(5).percent(dec!(10)).unwrap(), usd(1));
    }

    #[test]
    fn amounts_in_different_currencies_do_not_compare() {
        let eur = Money::from_minor(100, Currency::EUR);
        assert!(usd(1) < usd(2));
        assert_eq!(usd(100).partial_cmp(&eur), None);
        let (less, greater) = (usd(100) < eur, usd(100) > eur);
        assert!(!less && !greater);
    }
}
