//! The one place an amount is rounded to what a currency can represent.
//!
//! Every computed amount in Hostwright — a quantity times a price, a percentage, a tax, a
//! pro-rata share — is an exact [`Decimal`] until it passes through [`round`], and nowhere
//! else is precision dropped. That makes rounding auditable (one function, one rule per
//! currency), and it is why the cart, the invoice and the PDF can never disagree by a cent.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::currency::{Currency, RoundingMode};
use crate::money::{Money, MoneyError};

/// Rounds `amount`, in major units (dollars, not cents), to money in `currency`, following the
/// currency's [`crate::RoundingRule`]: its mode, and its step (the result is a multiple of the
/// rule's `increment_minor` minor units).
///
/// This is the only function in the product that rounds money. Intermediate results are
/// exact decimals (up to the 28 significant digits of [`Decimal`]) and are rounded exactly
/// once, here.
///
/// Fails with [`MoneyError::Overflow`] when the result does not fit in `i64` minor units.
///
/// ```
/// use hostwright_core::{round, Currency, RoundingMode, RoundingRule};
/// use rust_decimal::Decimal;
///
/// let usd = Currency::USD;
/// assert_eq!(round(Decimal::new(12345, 3), &usd)?.to_string(), "12.35 USD");
/// assert_eq!(round(Decimal::new(-12345, 3), &usd)?.to_string(), "-12.35 USD");
///
/// let cash_chf = Currency::CHF.with_rounding(RoundingRule::new(RoundingMode::HalfUp, 5)?);
/// assert_eq!(round(Decimal::new(1012, 2), &cash_chf)?.to_string(), "10.10 CHF");
/// assert_eq!(round(Decimal::new(1013, 2), &cash_chf)?.to_string(), "10.15 CHF");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn round(amount: Decimal, currency: &Currency) -> Result<Money, MoneyError> {
    let rule = currency.rounding();
    let in_minor_units = shift_point_right(amount, u32::from(currency.exponent()))?;
    let strategy = match rule.mode() {
        RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
        RoundingMode::Down => RoundingStrategy::ToZero,
        RoundingMode::Up => RoundingStrategy::AwayFromZero,
    };
    let increment = Decimal::from(rule.increment_minor());
    let minor = if increment == Decimal::ONE {
        in_minor_units.round_dp_with_strategy(0, strategy)
    } else {
        let steps = in_minor_units.checked_div(increment).ok_or(MoneyError::Overflow)?;
        steps.round_dp_with_strategy(0, strategy).checked_mul(increment).ok_or(MoneyError::Overflow)?
    };
    let minor = minor.to_i64().ok_or(MoneyError::Overflow)?;
    Ok(Money::from_minor(minor, *currency))
}

/// `amount × 10^places`, exactly: moving the decimal point by editing the scale avoids the
/// precision a multiplication could drop on a value that already uses all 28 digits.
fn shift_point_right(amount: Decimal, places: u32) -> Result<Decimal, MoneyError> {
    let (mantissa, scale) = (amount.mantissa(), amount.scale());
    let (mantissa, scale) = match scale.checked_sub(places) {
        Some(scale) => (mantissa, scale),
        None => {
            let factor = 10i128.checked_pow(places - scale).ok_or(MoneyError::Overflow)?;
            (mantissa.checked_mul(factor).ok_or(MoneyError::Overflow)?, 0)
        }
    };
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| MoneyError::Overflow)
}

/// Splits `total` into shares proportional to `weights` (which must not be negative) so that
/// the shares add up to `total` exactly. Used to show each invoice line's part of a tax that
/// was rounded once on the invoice total.
///
/// Share `i` is `round(total × (w₀+…+wᵢ) / Σw) − round(total × (w₀+…+wᵢ₋₁) / Σw)`: every
/// share goes through [`round`], the differences telescope to `total`, and each share is
/// within one rounding step of its exact proportion.
pub(crate) fn allocate(total: Money, weights: &[i64]) -> Result<Vec<Money>, MoneyError> {
    let currency = total.currency();
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let mut shares = Vec::with_capacity(weights.len());
    let mut cumulative = 0i128;
    let mut previous = Money::zero(currency);
    for weight in weights {
        cumulative += i128::from(*weight);
        let running = proportion(total, cumulative, sum)?;
        shares.push(running.checked_sub(previous)?);
        previous = running;
    }
    Ok(shares)
}

/// `total × part / whole`, rounded once through [`round`]; zero when `whole` is zero. A
/// whole part gives back `total` exactly, whatever the currency's rounding step.
pub(crate) fn proportion(total: Money, part: i128, whole: i128) -> Result<Money, MoneyError> {
    let currency = total.currency();
    if whole == 0 {
        return Ok(Money::zero(currency));
    }
    if part == whole {
        return Ok(total);
    }
    let to_decimal = |n: i128| Decimal::try_from_i128_with_scale(n, 0).map_err(|_| MoneyError::Overflow);
    let (part, whole, total) = (to_decimal(part)?, to_decimal(whole)?, total.to_decimal());
    // Multiply before dividing so exact proportions stay exact; fall back to the ratio only
    // for totals large enough to overflow the product.
    let exact = match total.checked_mul(part) {
        Some(product) => product.checked_div(whole),
        None => part.checked_div(whole).and_then(|ratio| ratio.checked_mul(total)),
    }
    .ok_or(MoneyError::Overflow)?;
    round(exact, &currency)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::currency::RoundingRule;

    fn with_mode(currency: Currency, mode: RoundingMode, increment: u32) -> Currency {
        currency.with_rounding(RoundingRule::new(mode, increment).unwrap())
    }

    fn minor(amount: Decimal, currency: Currency) -> i64 {
        round(amount, &currency).unwrap().minor()
    }

    #[test]
    fn half_up_rounds_halves_away_from_zero() {
        assert_eq!(minor(dec!(0.125), Currency::USD), 13);
        assert_eq!(minor(dec!(-0.125), Currency::USD), -13);
        assert_eq!(minor(dec!(0.1249999), Currency::USD), 12);
    }

    #[test]
    fn half_even_rounds_halves_to_the_even_neighbour() {
        let usd = with_mode(Currency::USD, RoundingMode::HalfEven, 1);
        assert_eq!(minor(dec!(0.125), usd), 12);
        assert_eq!(minor(dec!(0.135), usd), 14);
        assert_eq!(minor(dec!(-0.125), usd), -12);
    }

    #[test]
    fn down_truncates_and_up_moves_away_from_zero() {
        let down = with_mode(Currency::USD, RoundingMode::Down, 1);
        let up = with_mode(Currency::USD, RoundingMode::Up, 1);
        assert_eq!(minor(dec!(0.129), down), 12);
        assert_eq!(minor(dec!(-0.129), down), -12);
        assert_eq!(minor(dec!(0.121), up), 13);
        assert_eq!(minor(dec!(-0.121), up), -13);
        assert_eq!(minor(dec!(0.12), up), 12);
    }

    #[test]
    fn swiss_cash_rounding_lands_on_five_centimes() {
        let chf = with_mode(Currency::CHF, RoundingMode::HalfUp, 5);
        assert_eq!(minor(dec!(10.02), chf), 1000);
        assert_eq!(minor(dec!(10.025), chf), 1005);
        assert_eq!(minor(dec!(10.075), chf), 1010);
        assert_eq!(minor(dec!(-10.075), chf), -1010);
    }

    #[test]
    fn currencies_without_minor_units_round_to_whole_units() {
        assert_eq!(minor(dec!(1234.5), Currency::JPY), 1235);
        assert_eq!(minor(dec!(1.0005), Currency::KWD), 1001);
    }

    #[test]
    fn an_amount_beyond_i64_minor_units_is_an_overflow_not_a_panic() {
        assert_eq!(round(Decimal::MAX, &Currency::USD), Err(MoneyError::Overflow));
        assert_eq!(round(dec!(92233720368547758.08), &Currency::USD), Err(MoneyError::Overflow));
        assert!(round(dec!(92233720368547758.07), &Currency::USD).is_ok());
    }

    #[test]
    fn a_value_using_all_28_digits_is_rounded_exactly() {
        let third = dec!(0.3333333333333333333333333333);
        assert_eq!(minor(third, Currency::USD), 33);
        assert_eq!(minor(dec!(0.0049999999999999999999999999), Currency::USD), 0);
    }

    #[test]
    fn allocated_shares_add_up_to_the_total() {
        let total = Money::from_minor(100, Currency::USD);
        let shares = allocate(total, &[1, 1, 1]).unwrap();
        assert_eq!(shares.iter().map(Money::minor).collect::<Vec<_>>(), vec![33, 34, 33]);
        let shares = allocate(total, &[0, 0]).unwrap();
        assert!(shares.iter().all(Money::is_zero));
        let shares = allocate(Money::from_minor(0, Currency::USD), &[5, 7]).unwrap();
        assert!(shares.iter().all(Money::is_zero));
    }
}
