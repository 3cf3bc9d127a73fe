//! The one totals function: the cart, the checkout page and the invoice all compute their
//! lines, taxes and totals with [`compute_totals`], so they cannot disagree.
//!
//! Tax is computed once per tax rule on the sum of the taxable lines, and rounded once, as EU
//! VAT rules ask; each line's share is then allocated so lines still add up to the totals.
//! The reasoning is in `docs/decisions/0005-tax-and-rounding.md`.

use rust_decimal::Decimal;

use crate::currency::Currency;
use crate::money::{Money, MoneyError};
use crate::rounding::{allocate, round};
use crate::tax::{PriceMode, TaxContext, TaxLevel, TaxRule, TaxRules, TaxTreatment};

/// The largest quantity a line may have.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// The largest unit price, in minor units: 10¹⁵, ten trillion dollars. Anything near it is a
/// typo or an attack, and the bound keeps every total far from `i64` overflow.
pub const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000_000_000;

/// A discount on one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    /// A percentage of the line amount: 10 means 10 %.
    Percent(Decimal),
    /// A fixed amount off the line amount (not per unit), on the same basis as the price (net
    /// for exclusive prices, gross for inclusive ones).
    Amount(Money),
}

/// One line of a cart or an invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// What is sold, as printed.
    pub description: String,
    /// The price of one unit (net or gross according to [`PriceMode`]); never negative.
    pub unit_price: Money,
    /// How many units; may be fractional (hours of work), never negative.
    pub quantity: Decimal,
    /// Whether the tax rules apply to this line.
    pub taxable: bool,
    /// A discount on the line.
    pub discount: Option<Discount>,
}

impl Line {
    /// A taxable line without discount. `quantity` takes integers or decimals.
    pub fn new(description: impl Into<String>, unit_price: Money, quantity: impl Into<Decimal>) -> Line {
        Line { description: description.into(), unit_price, quantity: quantity.into(), taxable: true, discount: None }
    }

    /// The line, not taxed.
    #[must_use]
    pub fn untaxed(self) -> Line {
        Line { taxable: false, ..self }
    }

    /// The line, with `discount`.
    #[must_use]
    pub fn with_discount(self, discount: Discount) -> Line {
        Line { discount: Some(discount), ..self }
    }
}

/// One computed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineTotal {
    /// As given.
    pub description: String,
    /// As given.
    pub quantity: Decimal,
    /// As given.
    pub unit_price: Money,
    /// As given.
    pub taxable: bool,
    /// Unit price × quantity, on the price's basis (net or gross), before the discount.
    pub amount: Money,
    /// The discount, on the same basis; zero without one.
    pub discount: Money,
    /// Excluding tax, after the discount.
    pub net: Money,
    /// This line's share of the taxes.
    pub tax: Money,
    /// Including tax, after the discount: `net + tax`.
    pub gross: Money,
}

/// One tax on the document: a rule, the base it was charged on, and the amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxLine {
    /// The rule's name.
    pub name: String,
    /// The rule's rate in percent.
    pub rate: Decimal,
    /// The rule's level.
    pub level: TaxLevel,
    /// What the tax was charged on: the taxable lines' nets for level 1, plus the level-1
    /// tax for level 2.
    pub base: Money,
    /// The tax, rounded once.
    pub amount: Money,
}

/// The totals of a cart or an invoice.
///
/// Always `grand_total = net_total + tax_total`, and the lines add up to each total. With
/// exclusive prices `net_total = subtotal − discount_total`; with inclusive prices
/// `grand_total = subtotal − discount_total`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// The document's currency.
    pub currency: Currency,
    /// Whether prices included tax.
    pub price_mode: PriceMode,
    /// Why tax was, or was not, charged.
    pub treatment: TaxTreatment,
    /// Whether the invoice must carry the reverse-charge wording.
    pub reverse_charge: bool,
    /// The computed lines, in input order.
    pub lines: Vec<LineTotal>,
    /// The sum of line amounts before discounts, on the price's basis.
    pub subtotal: Money,
    /// The sum of line discounts.
    pub discount_total: Money,
    /// The sum of line nets: everything excluding tax, after discounts.
    pub net_total: Money,
    /// One line per tax rule applied, level 1 first; none when no line is taxable.
    pub tax_lines: Vec<TaxLine>,
    /// The sum of the tax lines.
    pub tax_total: Money,
    /// What the buyer pays.
    pub grand_total: Money,
}

/// Computes a cart's or an invoice's lines and totals in `currency`, with the taxes that
/// `rules` give for `ctx` (see [`TaxRules::decide`]).
///
/// Deterministic: the same input gives the same output, so a cart and the invoice made from
/// it always agree.
pub fn compute_totals(
    currency: Currency,
    lines: &[Line],
    ctx: &TaxContext,
    rules: &TaxRules,
) -> Result<Totals, TotalsError> {
    let decision = rules.decide(ctx);
    let priced = lines
        .iter()
        .enumerate()
        .map(|(index, line)| price_line(currency, index, line))
        .collect::<Result<Vec<_>, _>>()?;

    let mut shares = vec![Money::zero(currency); lines.len()];
    let mut tax_lines = Vec::with_capacity(decision.rules.len());
    if !decision.rules.is_empty() && lines.iter().any(|line| line.taxable) {
        let rule_for = |level| decision.rules.iter().find(|rule| rule.level == level);
        let (normal, compound) = (rule_for(TaxLevel::Normal), rule_for(TaxLevel::Compound));
        let rate = |rule: Option<&TaxRule>| rule.map_or(Decimal::ZERO, |rule| rule.rate);
        // Untaxed lines weigh zero, so they get no share of the tax.
        let taxable: Vec<Money> = lines
            .iter()
            .zip(&priced)
            .map(|(line, priced)| if line.taxable { priced.after_discount } else { Money::zero(currency) })
            .collect();
        let split = match decision.price_mode {
            PriceMode::Exclusive => add_taxes(currency, &taxable, rate(normal), rate(compound))?,
            PriceMode::Inclusive => extract_taxes(currency, &taxable, rate(normal), rate(compound))?,
        };
        for (rule, base, amount) in [(normal, split.base1, split.tax1), (compound, split.base2, split.tax2)] {
            if let Some(rule) = rule {
                tax_lines.push(TaxLine { name: rule.name.clone(), rate: rule.rate, level: rule.level, base, amount });
            }
        }
        shares = add_each(&split.shares1, &split.shares2)?;
    }

    let mut computed = Vec::with_capacity(lines.len());
    for ((line, priced), tax) in lines.iter().zip(&priced).zip(shares) {
        let (net, gross) = match decision.price_mode {
            PriceMode::Exclusive => (priced.after_discount, priced.after_discount.checked_add(tax)?),
            PriceMode::Inclusive => (priced.after_discount.checked_sub(tax)?, priced.after_discount),
        };
        computed.push(LineTotal {
            description: line.description.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            taxable: line.taxable,
            amount: priced.amount,
            discount: priced.discount,
            net,
            tax,
            gross,
        });
    }

    let sum = |field: fn(&LineTotal) -> Money| Money::sum(currency, computed.iter().map(field));
    let subtotal = sum(|line| line.amount)?;
    let discount_total = sum(|line| line.discount)?;
    let net_total = sum(|line| line.net)?;
    let tax_total = Money::sum(currency, tax_lines.iter().map(|tax| tax.amount))?;
    let grand_total = net_total.checked_add(tax_total)?;
    Ok(Totals {
        currency,
        price_mode: decision.price_mode,
        treatment: decision.treatment,
        reverse_charge: decision.reverse_charge(),
        lines: computed,
        subtotal,
        discount_total,
        net_total,
        tax_lines,
        tax_total,
        grand_total,
    })
}

struct PricedLine {
    amount: Money,
    discount: Money,
    after_discount: Money,
}

/// Validates a line and computes its amount and discount, each rounded once.
fn price_line(currency: Currency, index: usize, line: &Line) -> Result<PricedLine, TotalsError> {
    let line_error = |kind| TotalsError::Line { line: index, kind };
    if line.unit_price.currency() != currency {
        return Err(line_error(LineError::CurrencyMismatch { expected: currency, found: line.unit_price.currency() }));
    }
    if line.unit_price.is_negative() {
        return Err(line_error(LineError::NegativePrice { price: line.unit_price }));
    }
    if line.unit_price.minor() > MAX_UNIT_PRICE_MINOR {
        return Err(line_error(LineError::PriceTooLarge { price: line.unit_price }));
    }
    if line.quantity.is_sign_negative() && !line.quantity.is_zero() {
        return Err(line_error(LineError::NegativeQuantity { quantity: line.quantity }));
    }
    if line.quantity > MAX_QUANTITY {
        return Err(line_error(LineError::QuantityTooLarge { quantity: line.quantity }));
    }
    let amount = line.unit_price.multiply(line.quantity)?;
    let discount = match line.discount {
        None => Money::zero(currency),
        Some(Discount::Percent(percent)) => {
            if percent < Decimal::ZERO || percent > Decimal::ONE_HUNDRED {
                return Err(line_error(LineError::InvalidDiscountPercent { percent }));
            }
            amount.percent(percent)?
        }
        Some(Discount::Amount(discount)) => {
            if discount.currency() != currency {
                return Err(line_error(LineError::CurrencyMismatch { expected: currency, found: discount.currency() }));
            }
            if discount.is_negative() {
                return Err(line_error(LineError::NegativeDiscount { discount }));
            }
            if discount > amount {
                return Err(line_error(LineError::DiscountExceedsAmount { discount, amount }));
            }
            discount
        }
    };
    Ok(PricedLine { amount, discount, after_discount: amount.checked_sub(discount)? })
}

/// Both tax levels of a document and each line's share of them.
struct TaxSplit {
    /// The level-1 base: the taxable lines' nets.
    base1: Money,
    tax1: Money,
    /// The level-2 base: `base1 + tax1`.
    base2: Money,
    tax2: Money,
    shares1: Vec<Money>,
    shares2: Vec<Money>,
}

/// Exclusive prices: `taxable` holds the lines' nets; each tax is charged on the total of its
/// base and rounded once, level 1 first because level 2 is charged on it too.
fn add_taxes(currency: Currency, taxable: &[Money], rate1: Decimal, rate2: Decimal) -> Result<TaxSplit, MoneyError> {
    let base1 = Money::sum(currency, taxable.iter().copied())?;
    let tax1 = base1.percent(rate1)?;
    let base2 = base1.checked_add(tax1)?;
    let tax2 = base2.percent(rate2)?;
    let shares1 = allocate(tax1, &weights(taxable))?;
    let shares2 = allocate(tax2, &weights(&add_each(taxable, &shares1)?))?;
    Ok(TaxSplit { base1, tax1, base2, tax2, shares1, shares2 })
}

/// Inclusive prices: `taxable` holds the lines' grosses; the taxes are peeled off their total
/// in the reverse order they were put on, each rounded once, so that an exclusive price
/// converted to its gross and back gives the same taxes.
fn extract_taxes(
    currency: Currency,
    taxable: &[Money],
    rate1: Decimal,
    rate2: Decimal,
) -> Result<TaxSplit, MoneyError> {
    let gross = Money::sum(currency, taxable.iter().copied())?;
    let tax2 = extract(gross, rate2)?;
    let base2 = gross.checked_sub(tax2)?;
    let tax1 = extract(base2, rate1)?;
    let base1 = base2.checked_sub(tax1)?;
    let shares2 = allocate(tax2, &weights(taxable))?;
    let shares1 = allocate(tax1, &weights(&sub_each(taxable, &shares2)?))?;
    Ok(TaxSplit { base1, tax1, base2, tax2, shares1, shares2 })
}

/// The tax contained in `gross` at `rate` percent: `gross × rate / (100 + rate)`, rounded once.
fn extract(gross: Money, rate: Decimal) -> Result<Money, MoneyError> {
    let exact = gross
        .to_decimal()
        .checked_mul(rate)
        .and_then(|product| product.checked_div(Decimal::ONE_HUNDRED + rate))
        .ok_or(MoneyError::Overflow)?;
    round(exact, &gross.currency())
}

fn weights(amounts: &[Money]) -> Vec<i64> {
    amounts.iter().map(Money::minor).collect()
}

fn add_each(a: &[Money], b: &[Money]) -> Result<Vec<Money>, MoneyError> {
    a.iter().zip(b).map(|(a, b)| a.checked_add(*b)).collect()
}

fn sub_each(a: &[Money], b: &[Money]) -> Result<Vec<Money>, MoneyError> {
    a.iter().zip(b).map(|(a, b)| a.checked_sub(*b)).collect()
}

/// Why totals could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    /// A line was refused; `line` is its 0-based index (the message counts from 1).
    #[error("line {}: {kind}", line + 1)]
    Line {
        /// The 0-based index of the line.
        line: usize,
        /// What is wrong with it.
        kind: LineError,
    },
    /// A total does not fit (only with amounts far beyond any real invoice).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The price or the discount is in another currency than the document.
    #[error("the amount is in {found}, but the document is in {expected}")]
    CurrencyMismatch {
        /// The document's currency.
        expected: Currency,
        /// The line's.
        found: Currency,
    },
    /// Negative unit prices are refused; a reduction is a [`Discount`], a refund a credit note.
    #[error("the unit price {price} is negative")]
    NegativePrice {
        /// The price given.
        price: Money,
    },
    /// Above [`MAX_UNIT_PRICE_MINOR`].
    #[error("the unit price {price} is not plausible")]
    PriceTooLarge {
        /// The price given.
        price: Money,
    },
    /// Below zero.
    #[error("the quantity {quantity} is negative")]
    NegativeQuantity {
        /// The quantity given.
        quantity: Decimal,
    },
    /// Above [`MAX_QUANTITY`].
    #[error("the quantity {quantity} is more than {MAX_QUANTITY}")]
    QuantityTooLarge {
        /// The quantity given.
        quantity: Decimal,
    },
    /// A percentage outside 0–100.
    #[error("a discount of {percent} % is not between 0 and 100 %")]
    InvalidDiscountPercent {
        /// The percentage given.
        percent: Decimal,
    },
    /// A negative fixed discount.
    #[error("the discount {discount} is negative")]
    NegativeDiscount {
        /// The discount given.
        discount: Money,
    },
    /// A fixed discount larger than the line.
    #[error("the discount {discount} is more than the line's {amount}")]
    DiscountExceedsAmount {
        /// The discount given.
        discount: Money,
        /// The line amount.
        amount: Money,
    },
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::country::CountryCode;
    use crate::tax::{Buyer, TaxSettings};
    use crate::vat::VatId;

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code).unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn german_vat() -> TaxRules {
        TaxRules::new(vec![TaxRule::new("VAT", dec!(19)).in_country(country("DE"))]).unwrap()
    }

    fn german_consumer(price_mode: PriceMode) -> TaxContext {
        TaxContext {
            settings: TaxSettings { price_mode, ..TaxSettings::new(country("DE")) },
            buyer: Buyer::in_country(country("DE")),
        }
    }

    fn totals(lines: &[Line], mode: PriceMode) -> Totals {
        compute_totals(Currency::EUR, lines, &german_consumer(mode), &german_vat()).unwrap()
    }

    #[test]
    fn tax_is_rounded_once_on_the_total_not_on_each_line() {
        // Ten lines of 0.10: 19 % of each is 0.019, which per line would round to 0.02 and
        // make 0.20; 19 % of the 1.00 total is 0.19.
        let lines: Vec<Line> = (0..10).map(|i| Line::new(format!("item {i}"), eur(10), 1)).collect();
        let result = totals(&lines, PriceMode::Exclusive);
        assert_eq!(result.tax_total, eur(19));
        assert_eq!(result.tax_lines.len(), 1);
        assert_eq!(result.tax_lines[0].base, eur(100));
        assert_eq!(result.grand_total, eur(119));
        assert_eq!(Money::sum(Currency::EUR, result.lines.iter().map(|l| l.tax)).unwrap(), eur(19));
        assert_eq!(Money::sum(Currency::EUR, result.lines.iter().map(|l| l.gross)).unwrap(), eur(119));
    }

    #[test]
    fn exclusive_prices_get_tax_added_on_top() {
        let lines = [Line::new("Hosting", eur(1000), 3), Line::new("Setup", eur(500), 1).untaxed()];
        let result = totals(&lines, PriceMode::Exclusive);
        assert_eq!(result.subtotal, eur(3500));
        assert_eq!(result.net_total, eur(3500));
        assert_eq!(result.tax_total, eur(570));
        assert_eq!(result.grand_total, eur(4070));
        assert_eq!(result.lines[0].gross, eur(3570));
        assert_eq!(result.lines[1].tax, eur(0));
        assert_eq!(result.lines[1].gross, eur(500));
    }

    #[test]
    fn inclusive_prices_have_their_tax_extracted() {
        let result = totals(&[Line::new("Hosting", eur(1190), 1)], PriceMode::Inclusive);
        assert_eq!(result.grand_total, eur(1190));
        assert_eq!(result.tax_total, eur(190));
        assert_eq!(result.net_total, eur(1000));
        assert_eq!(result.lines[0].net, eur(1000));
        assert_eq!(result.tax_lines[0].base, eur(1000));
    }

    #[test]
    fn discounts_reduce_the_taxable_base() {
        let lines = [
            Line::new("Hosting", eur(1000), 2).with_discount(Discount::Percent(dec!(25))),
            Line::new("Domain", eur(1000), 1).with_discount(Discount::Amount(eur(100))),
        ];
        let result = totals(&lines, PriceMode::Exclusive);
        assert_eq!(result.subtotal, eur(3000));
        assert_eq!(result.discount_total, eur(600));
        assert_eq!(result.net_total, eur(2400));
        assert_eq!(result.tax_total, eur(456));
        assert_eq!(result.grand_total, eur(2856));
    }

    #[test]
    fn a_compound_tax_is_charged_on_the_base_plus_the_first_tax() {
        let rules = TaxRules::new(vec![
            TaxRule::new("GST", dec!(5)).in_country(country("CA")),
            TaxRule::new("QST", dec!(10)).in_country(country("CA")).compound(),
        ])
        .unwrap();
        let ctx = TaxContext { settings: TaxSettings::new(country("CA")), buyer: Buyer::in_country(country("CA")) };
        let cad = Currency::from_code("CAD").unwrap();
        let result = compute_totals(cad, &[Line::new("VPS", Money::from_minor(10000, cad), 1)], &ctx, &rules).unwrap();
        let amounts: Vec<(i64, i64)> = result.tax_lines.iter().map(|t| (t.base.minor(), t.amount.minor())).collect();
        assert_eq!(amounts, vec![(10000, 500), (10500, 1050)]);
        assert_eq!(result.grand_total.minor(), 11550);
    }

    #[test]
    fn reverse_charge_sets_the_flag_and_charges_no_tax() {
        let ctx = TaxContext {
            settings: TaxSettings::new(country("DE")),
            buyer: Buyer { vat_id: Some(VatId::parse("NL123456789B01").unwrap()), ..Buyer::in_country(country("NL")) },
        };
        let result = compute_totals(Currency::EUR, &[Line::new("Hosting", eur(1000), 1)], &ctx, &german_vat()).unwrap();
        assert!(result.reverse_charge);
        assert_eq!(result.treatment, TaxTreatment::ReverseCharge);
        assert!(result.tax_lines.is_empty());
        assert_eq!(result.grand_total, eur(1000));
    }

    #[test]
    fn an_empty_cart_totals_zero() {
        let result = totals(&[], PriceMode::Exclusive);
        assert_eq!(result.grand_total, eur(0));
        assert!(result.tax_lines.is_empty() && result.lines.is_empty());
    }

    #[test]
    fn a_fractional_quantity_rounds_the_line_once() {
        let result = totals(&[Line::new("Support, hours", eur(4999), dec!(1.5))], PriceMode::Exclusive);
        assert_eq!(result.lines[0].amount, eur(7499));
    }

    #[test]
    fn mixed_currencies_negative_quantities_and_absurd_values_are_refused() {
        let ctx = german_consumer(PriceMode::Exclusive);
        let refused =
            |line: Line| compute_totals(Currency::EUR, &[Line::new("ok", eur(1), 1), line], &ctx, &german_vat());
        let kind = |result: Result<Totals, TotalsError>| match result {
            Err(TotalsError::Line { line: 1, kind }) => kind,
            other => panic!("expected a refused second line, got {other:?}"),
        };
        assert!(matches!(
            kind(refused(Line::new("x", Money::from_minor(1, Currency::USD), 1))),
            LineError::CurrencyMismatch { .. }
        ));
        assert!(matches!(kind(refused(Line::new("x", eur(1), -1))), LineError::NegativeQuantity { .. }));
        assert!(matches!(kind(refused(Line::new("x", eur(-1), 1))), LineError::NegativePrice { .. }));
        assert!(matches!(kind(refused(Line::new("x", eur(1), 1_000_001))), LineError::QuantityTooLarge { .. }));
        assert!(matches!(kind(refused(Line::new("x", eur(i64::MAX), 1))), LineError::PriceTooLarge { .. }));
        let percent = Line::new("x", eur(1), 1).with_discount(Discount::Percent(dec!(101)));
        assert!(matches!(kind(refused(percent)), LineError::InvalidDiscountPercent { .. }));
        let too_much = Line::new("x", eur(100), 1).with_discount(Discount::Amount(eur(101)));
        assert!(matches!(kind(refused(too_much)), LineError::DiscountExceedsAmount { .. }));
        let negative = Line::new("x", eur(100), 1).with_discount(Discount::Amount(eur(-1)));
        assert!(matches!(kind(refused(negative)), LineError::NegativeDiscount { .. }));
        let dollars_off =
            Line::new("x", eur(100), 1).with_discount(Discount::Amount(Money::from_minor(1, Currency::USD)));
        assert!(matches!(kind(refused(dollars_off)), LineError::CurrencyMismatch { .. }));
    }

    #[test]
    fn a_refused_line_is_reported_counting_from_one() {
        let error = compute_totals(
            Currency::EUR,
            &[Line::new("x", eur(1), -2)],
            &german_consumer(PriceMode::Exclusive),
            &german_vat(),
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "line 1: the quantity -2 is negative");
    }

    #[test]
    fn a_zero_quantity_line_is_allowed_and_costs_nothing() {
        let result = totals(&[Line::new("Free trial", eur(1000), 0)], PriceMode::Exclusive);
        assert_eq!(result.grand_total, eur(0));
        assert_eq!(result.tax_lines[0].amount, eur(0));
    }
}
