//! Credit notes: which part of an issued invoice is credited, and the tax that goes with it.
//!
//! An issued invoice is never edited; a correction is a credit note that takes back some or
//! all of its lines. Staff choose how much of each line's net to credit; the taxes follow
//! from the invoice's own tax lines, never from today's rules, so a rate change or a client
//! who moved cannot make a credit note disagree with the invoice it corrects.
//!
//! Each tax line is credited **cumulatively in proportion** to the taxable net credited so
//! far: after the notes that credit a share `c / b` of the taxable base, exactly
//! `round(tax × c / b)` of that tax has been credited. The notes of one invoice therefore
//! never take back more than it charged, and the note that credits the rest of the invoice
//! takes back exactly what remains, to the minor unit, however many notes came before.

use crate::currency::Currency;
use crate::money::{Money, MoneyError};
use crate::rounding::{allocate, proportion};

/// A line of the invoice being credited, with what earlier credit notes took back of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoicedLine {
    /// The line's net as invoiced (after discounts, excluding tax).
    pub net: Money,
    /// Whether the line was taxed.
    pub taxable: bool,
    /// The net that earlier credit notes credited.
    pub credited: Money,
}

impl InvoicedLine {
    /// What may still be credited of this line.
    pub fn remaining(&self) -> Result<Money, MoneyError> {
        self.net.checked_sub(self.credited)
    }
}

/// A tax line of the invoice being credited, with what earlier credit notes took back of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoicedTax {
    /// The base the tax was charged on.
    pub base: Money,
    /// The tax charged.
    pub amount: Money,
    /// The base that earlier credit notes credited.
    pub credited_base: Money,
    /// The tax that earlier credit notes credited.
    pub credited_amount: Money,
}

/// One credited line: its net and its share of the credited tax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditedLine {
    /// The net credited.
    pub net: Money,
    /// The line's share of the credited taxes (informative; the tax lines are authoritative).
    pub tax: Money,
}

/// One credited tax line, in the order of the invoice's tax lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditedTax {
    /// The part of the tax base credited.
    pub base: Money,
    /// The tax credited.
    pub amount: Money,
}

/// The amounts of one credit note. All amounts are positive: they are what is taken back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditTotals {
    /// One per invoice line, in the invoice's order (zero for lines not credited).
    pub lines: Vec<CreditedLine>,
    /// One per invoice tax line, in the invoice's order.
    pub taxes: Vec<CreditedTax>,
    /// The sum of the credited nets.
    pub net_total: Money,
    /// The sum of the credited taxes.
    pub tax_total: Money,
    /// What the note credits: net plus tax.
    pub total: Money,
}

/// Why a credit note cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Every amount was zero.
    #[error("nothing to credit: enter an amount on at least one line")]
    Nothing,
    /// The request names more lines than the invoice has, or fewer.
    #[error("the invoice has {expected} lines, but {found} amounts were given")]
    LineCount {
        /// The invoice's line count.
        expected: usize,
        /// The amounts given.
        found: usize,
    },
    /// An amount is negative.
    #[error("line {}: the amount to credit cannot be negative", line + 1)]
    Negative {
        /// The 0-based index of the line.
        line: usize,
    },
    /// An amount exceeds what is left of the line.
    #[error("line {}: at most {remaining} can still be credited", line + 1)]
    ExceedsRemaining {
        /// The 0-based index of the line.
        line: usize,
        /// What may still be credited.
        remaining: Money,
    },
    /// An amount is in another currency than the invoice.
    #[error("line {}: the amount is in {found}, but the invoice is in {expected}", line + 1)]
    CurrencyMismatch {
        /// The 0-based index of the line.
        line: usize,
        /// The invoice's currency.
        expected: Currency,
        /// The amount's.
        found: Currency,
    },
    /// An amount does not fit.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Computes a credit note that credits `amounts[i]` of the net of `lines[i]`, with the taxes
/// of `taxes` credited in proportion (see the module documentation).
pub fn credit_totals(
    currency: Currency,
    lines: &[InvoicedLine],
    taxes: &[InvoicedTax],
    amounts: &[Money],
) -> Result<CreditTotals, CreditError> {
    if amounts.len() != lines.len() {
        return Err(CreditError::LineCount { expected: lines.len(), found: amounts.len() });
    }
    for (line, (invoiced, amount)) in lines.iter().zip(amounts).enumerate() {
        if amount.currency() != currency {
            return Err(CreditError::CurrencyMismatch { line, expected: currency, found: amount.currency() });
        }
        if amount.is_negative() {
            return Err(CreditError::Negative { line });
        }
        let remaining = invoiced.remaining()?;
        if *amount > remaining {
            return Err(CreditError::ExceedsRemaining { line, remaining });
        }
    }
    if amounts.iter().all(Money::is_zero) {
        return Err(CreditError::Nothing);
    }

    let taxable = |amount: &Money, line: &InvoicedLine| if line.taxable { amount.minor() } else { 0 };
    let whole: i128 = lines.iter().map(|line| i128::from(taxable(&line.net, line))).sum();
    let before: i128 = lines.iter().map(|line| i128::from(taxable(&line.credited, line))).sum();
    let now: i128 = lines.iter().zip(amounts).map(|(line, amount)| i128::from(taxable(amount, line))).sum();
    let mut credited_taxes = Vec::with_capacity(taxes.len());
    for tax in taxes {
        let take_back = |total: Money, already: Money| -> Result<Money, MoneyError> {
            let after = proportion(total, before + now, whole)?;
            let this = after.checked_sub(already)?;
            Ok(if this.is_negative() { Money::zero(currency) } else { this })
        };
        credited_taxes.push(CreditedTax {
            base: take_back(tax.base, tax.credited_base)?,
            amount: take_back(tax.amount, tax.credited_amount)?,
        });
    }
    let net_total = Money::sum(currency, amounts.iter().copied())?;
    let tax_total = Money::sum(currency, credited_taxes.iter().map(|tax| tax.amount))?;
    let weights: Vec<i64> = lines.iter().zip(amounts).map(|(line, amount)| taxable(amount, line)).collect();
    let shares = allocate(tax_total, &weights)?;
    Ok(CreditTotals {
        lines: amounts.iter().zip(shares).map(|(net, tax)| CreditedLine { net: *net, tax }).collect(),
        taxes: credited_taxes,
        net_total,
        tax_total,
        total: net_total.checked_add(tax_total)?,
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::{Buyer, CountryCode, Line, TaxContext, TaxRule, TaxRules, TaxSettings, compute_totals};

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn invoiced(nets: &[(i64, bool)]) -> Vec<InvoicedLine> {
        nets.iter().map(|(net, taxable)| InvoicedLine { net: eur(*net), taxable: *taxable, credited: eur(0) }).collect()
    }

    fn vat(base: i64, amount: i64) -> InvoicedTax {
        InvoicedTax { base: eur(base), amount: eur(amount), credited_base: eur(0), credited_amount: eur(0) }
    }

    #[test]
    fn a_full_credit_takes_back_exactly_what_was_invoiced() {
        let de = CountryCode::parse("DE").unwrap();
        let rules = TaxRules::new(vec![TaxRule::new("VAT", Decimal::from(19)).in_country(de)]).unwrap();
        let ctx = TaxContext { settings: TaxSettings::new(de), buyer: Buyer::in_country(de) };
        let lines = [
            Line::new("Hosting", eur(999), 1),
            Line::new("Setup", eur(1_001), 3),
            Line::new("Domain", eur(1_200), 1).untaxed(),
        ];
        let invoice = compute_totals(Currency::EUR, &lines, &ctx, &rules).unwrap();
        let invoiced: Vec<InvoicedLine> =
            invoice.lines.iter().map(|l| InvoicedLine { net: l.net, taxable: l.taxable, credited: eur(0) }).collect();
        let taxes: Vec<InvoicedTax> = invoice.tax_lines.iter().map(|t| vat(t.base.minor(), t.amount.minor())).collect();
        let amounts: Vec<Money> = invoiced.iter().map(|l| l.net).collect();
        let credit = credit_totals(Currency::EUR, &invoiced, &taxes, &amounts).unwrap();
        assert_eq!(credit.total, invoice.grand_total);
        assert_eq!(credit.tax_total, invoice.tax_total);
        assert_eq!(credit.taxes[0].base, invoice.tax_lines[0].base);
        assert_eq!(credit.lines[2].tax, eur(0));
    }

    #[test]
    fn partial_credits_add_up_to_the_invoice_to_the_cent() {
        // 3 × 3.33 taxed at 19 %: the tax of 10.00 is 1.90; thirds of it do not divide evenly.
        let lines = invoiced(&[(333, true), (333, true), (334, true)]);
        let taxes = [vat(1_000, 190)];
        let first = credit_totals(Currency::EUR, &lines, &taxes, &[eur(333), eur(0), eur(0)]).unwrap();
        assert_eq!(first.tax_total, eur(63)); // 1.90 × 333 / 1000 = 0.6327
        let mut lines = lines;
        lines[0].credited = eur(333);
        let taxes = [InvoicedTax { credited_base: first.taxes[0].base, credited_amount: eur(63), ..vat(1_000, 190) }];
        let rest = credit_totals(Currency::EUR, &lines, &taxes, &[eur(0), eur(333), eur(334)]).unwrap();
        assert_eq!(rest.tax_total, eur(127));
        assert_eq!(first.taxes[0].base.checked_add(rest.taxes[0].base).unwrap(), eur(1_000));
        assert_eq!(first.total.checked_add(rest.total).unwrap(), eur(1_190));
    }

    #[test]
    fn untaxed_lines_carry_no_tax_back() {
        let lines = invoiced(&[(1_000, true), (500, false)]);
        let credit = credit_totals(Currency::EUR, &lines, &[vat(1_000, 200)], &[eur(0), eur(500)]).unwrap();
        assert_eq!(credit.tax_total, eur(0));
        assert_eq!(credit.total, eur(500));
    }

    #[test]
    fn bad_requests_are_refused_with_the_line() {
        let lines = invoiced(&[(1_000, true), (500, false)]);
        let taxes = [vat(1_000, 200)];
        let err = credit_totals(Currency::EUR, &lines, &taxes, &[eur(0), eur(0)]).unwrap_err();
        assert_eq!(err, CreditError::Nothing);
        let err = credit_totals(Currency::EUR, &lines, &taxes, &[eur(-1), eur(0)]).unwrap_err();
        assert_eq!(err, CreditError::Negative { line: 0 });
        let err = credit_totals(Currency::EUR, &lines, &taxes, &[eur(0), eur(501)]).unwrap_err();
        assert_eq!(err, CreditError::ExceedsRemaining { line: 1, remaining: eur(500) });
        assert_eq!(err.to_string(), "line 2: at most 5.00 EUR can still be credited");
        let usd = Money::from_minor(1, Currency::USD);
        let err = credit_totals(Currency::EUR, &lines, &taxes, &[usd, eur(0)]).unwrap_err();
        assert!(matches!(err, CreditError::CurrencyMismatch { line: 0, .. }));
        let err = credit_totals(Currency::EUR, &lines, &taxes, &[eur(1)]).unwrap_err();
        assert_eq!(err, CreditError::LineCount { expected: 2, found: 1 });
    }
}
