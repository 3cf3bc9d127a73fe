//! proptest generators for currencies, amounts, carts and tax settings, so every crate's
//! property tests draw from the same random carts (the web crate's "the cart and the invoice
//! agree" test among them). Enabled by the `test-strategies` feature.

use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::country::CountryCode;
use crate::currency::{Currency, RoundingMode, RoundingRule};
use crate::money::Money;
use crate::tax::{Buyer, EuConsumerVat, PriceMode, TaxContext, TaxRule, TaxRules, TaxSettings};
use crate::totals::{Discount, Line};
use crate::vat::VatId;

/// A currency with 0, 2 or 3 decimals, with the standard rounding rule or another one
/// (half-even, down, up, Swiss cash rounding to 0.05).
pub fn currency() -> impl Strategy<Value = Currency> {
    let rule = |mode, increment| RoundingRule::new(mode, increment).unwrap_or(RoundingRule::STANDARD);
    prop_oneof![
        Just(Currency::EUR),
        Just(Currency::USD),
        Just(Currency::JPY),
        Just(Currency::KWD),
        Just(Currency::CHF.with_rounding(rule(RoundingMode::HalfUp, 5))),
        Just(Currency::GBP.with_rounding(rule(RoundingMode::HalfEven, 1))),
        Just(Currency::USD.with_rounding(rule(RoundingMode::Down, 1))),
        Just(Currency::EUR.with_rounding(rule(RoundingMode::Up, 1))),
    ]
}

/// A currency rounded to its minor unit (any mode), where every whole amount is already
/// rounded.
pub fn currency_rounded_to_minor_units() -> impl Strategy<Value = Currency> {
    currency().prop_filter("rounds to the minor unit", |currency| currency.rounding().increment_minor() == 1)
}

/// A non-negative price of up to 10,000 major units, in `currency`.
pub fn price(currency: Currency) -> impl Strategy<Value = Money> {
    let max = 10_000 * 10i64.pow(u32::from(currency.exponent()));
    (0..=max).prop_map(move |minor| Money::from_minor(minor, currency))
}

/// A quantity: a whole number up to 100, or up to 100 with two decimals.
pub fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![3 => (0i64..=100).prop_map(Decimal::from), 1 => (0i64..=10_000).prop_map(|hundredths| Decimal::new(hundredths, 2)),]
}

/// A cart line in `currency`: any price and quantity, taxable or not, with no discount, a
/// percentage (up to two decimals) or a fixed amount no larger than the line.
pub fn line(currency: Currency) -> impl Strategy<Value = Line> {
    (price(currency), quantity(), any::<bool>(), 0u8..3, 0i64..=10_000).prop_map(
        move |(unit_price, quantity, taxable, discount_kind, discount_hundredths)| {
            let line = Line::new("Item", unit_price, quantity);
            let line = if taxable { line } else { line.untaxed() };
            let amount = unit_price.multiply(quantity).unwrap_or(Money::zero(currency));
            match discount_kind {
                1 => line.with_discount(Discount::Percent(Decimal::new(discount_hundredths, 2))),
                2 => line.with_discount(Discount::Amount(Money::from_minor(
                    amount.minor() * discount_hundredths / 10_000,
                    currency,
                ))),
                _ => line,
            }
        },
    )
}

/// A currency and up to 12 lines in it.
pub fn cart() -> impl Strategy<Value = (Currency, Vec<Line>)> {
    currency().prop_flat_map(|currency| (Just(currency), prop::collection::vec(line(currency), 0..=12)))
}

/// Like [`cart`], in a currency rounded to its minor unit.
pub fn cart_rounded_to_minor_units() -> impl Strategy<Value = (Currency, Vec<Line>)> {
    currency_rounded_to_minor_units()
        .prop_flat_map(|currency| (Just(currency), prop::collection::vec(line(currency), 0..=12)))
}

/// Tax rules and a buyer: a German seller (so the EU rules are exercised) or a Canadian one,
/// rates with up to three decimals and sometimes a compound second level, buyers at home,
/// elsewhere in the EU (consumers or businesses), outside it, or tax-exempt.
pub fn tax_setup() -> impl Strategy<Value = (TaxRules, TaxContext)> {
    let rate = prop_oneof![Just(Decimal::ZERO), (1i64..=30_000).prop_map(|thousandths| Decimal::new(thousandths, 3))];
    (
        rate.clone(),
        proptest::option::of(rate),
        prop::sample::select(vec!["DE", "CA"]),
        prop::sample::select(vec!["DE", "FR", "CA", "US"]),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![4 => Just(false), 1 => Just(true)],
        any::<bool>(),
    )
        .prop_map(|(rate1, rate2, seller, buyer, inclusive, business, exempt, origin)| {
            let code = |code: &str| CountryCode::parse(code).unwrap_or(CountryCode::from_bytes(*b"DE"));
            let (seller, buyer_country) = (code(seller), code(buyer));
            let mut rules = Vec::new();
            for country in [seller, buyer_country] {
                if rules.iter().any(|rule: &TaxRule| rule.country == Some(country)) {
                    continue;
                }
                rules.push(TaxRule::new("Tax", rate1).in_country(country));
                if let Some(rate2) = rate2 {
                    rules.push(TaxRule::new("Second tax", rate2).in_country(country).compound());
                }
            }
            let vat_id = match buyer {
                "FR" if business => VatId::parse("FRAB123456789").ok(),
                "DE" if business => VatId::parse("DE123456789").ok(),
                _ => None,
            };
            let settings = TaxSettings {
                price_mode: if inclusive { PriceMode::Inclusive } else { PriceMode::Exclusive },
                seller_country: seller,
                eu_consumer_vat: if origin { EuConsumerVat::Origin } else { EuConsumerVat::Destination },
            };
            let buyer = Buyer { vat_id, tax_exempt: exempt, ..Buyer::in_country(buyer_country) };
            (TaxRules::new(rules).unwrap_or_default(), TaxContext { settings, buyer })
        })
}
