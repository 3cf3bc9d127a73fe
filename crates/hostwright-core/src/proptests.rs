//! Properties of the money core, checked on random inputs.

use chrono::{Datelike, Days, NaiveDate};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::calendar::days_in_month;
use crate::calendar::{BillingCycle, DueSchedule, due_date, next_due_after};
use crate::credit::{CreditTotals, InvoicedLine, InvoicedTax, credit_totals};
use crate::currency::Currency;
use crate::money::{Money, MoneyError};
use crate::prorata::{ProRataPlan, prorate};
use crate::rounding::round;
use crate::strategies::{cart, cart_rounded_to_minor_units, currency, tax_setup};
use crate::tax::{PriceMode, TaxContext, TaxSettings};
use crate::totals::{Line, LineError, TotalsError, compute_totals};
use crate::upgrade::{Change, DowngradeCredit, quote_change};

fn sum(currency: Currency, amounts: impl IntoIterator<Item = Money>) -> Money {
    Money::sum(currency, amounts).unwrap()
}

fn date_between(from: (i32, u32, u32), days: u64) -> impl Strategy<Value = NaiveDate> {
    let start = NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap();
    (0..days).prop_map(move |offset| start.checked_add_days(Days::new(offset)).unwrap())
}

fn recurring_cycle() -> impl Strategy<Value = BillingCycle> {
    prop::sample::select(BillingCycle::ALL.into_iter().filter(|cycle| cycle.is_recurring()).collect::<Vec<_>>())
}

/// An amount in major units with up to 8 decimals, positive or negative.
fn decimal_amount() -> impl Strategy<Value = Decimal> {
    // Up to 10^14 major units: with four decimals that is 10^18 minor units, inside i64.
    (-100_000_000_000_000i64..=100_000_000_000_000, 0u32..=8)
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

proptest! {
    #[test]
    fn totals_are_the_lines_plus_taxes_minus_discounts((currency, lines) in cart(), (rules, ctx) in tax_setup()) {
        let totals = compute_totals(currency, &lines, &ctx, &rules).unwrap();
        prop_assert_eq!(totals.grand_total, totals.net_total.checked_add(totals.tax_total).unwrap());
        let after_discounts = totals.subtotal.checked_sub(totals.discount_total).unwrap();
        match totals.price_mode {
            PriceMode::Exclusive => {
                prop_assert_eq!(totals.net_total, after_discounts);
                prop_assert_eq!(totals.grand_total, after_discounts.checked_add(totals.tax_total).unwrap());
            }
            PriceMode::Inclusive => prop_assert_eq!(totals.grand_total, after_discounts),
        }
        prop_assert_eq!(sum(currency, totals.lines.iter().map(|l| l.amount)), totals.subtotal);
        prop_assert_eq!(sum(currency, totals.lines.iter().map(|l| l.discount)), totals.discount_total);
        prop_assert_eq!(sum(currency, totals.lines.iter().map(|l| l.net)), totals.net_total);
        prop_assert_eq!(sum(currency, totals.lines.iter().map(|l| l.tax)), totals.tax_total);
        prop_assert_eq!(sum(currency, totals.lines.iter().map(|l| l.gross)), totals.grand_total);
        prop_assert_eq!(sum(currency, totals.tax_lines.iter().map(|t| t.amount)), totals.tax_total);
        for line in &totals.lines {
            prop_assert_eq!(line.gross, line.net.checked_add(line.tax).unwrap());
            prop_assert!(!line.tax.is_negative() && !line.net.is_negative());
            prop_assert!(line.taxable || line.tax.is_zero());
        }
    }

    /// Crediting an invoice in random partial steps never takes back more than it charged,
    /// and the note that credits the rest leaves every line and every tax at exactly zero.
    #[test]
    fn credit_notes_in_any_steps_add_up_to_the_invoice(
        (currency, lines) in cart(),
        (rules, ctx) in tax_setup(),
        steps in prop::collection::vec(prop::collection::vec(0u32..=100, 1..=12), 0..4),
    ) {
        let invoice = compute_totals(currency, &lines, &ctx, &rules).unwrap();
        let mut invoiced: Vec<InvoicedLine> = invoice
            .lines
            .iter()
            .map(|l| InvoicedLine { net: l.net, taxable: l.taxable, credited: Money::zero(currency) })
            .collect();
        let mut taxes: Vec<InvoicedTax> = invoice
            .tax_lines
            .iter()
            .map(|t| InvoicedTax { base: t.base, amount: t.amount, credited_base: Money::zero(currency), credited_amount: Money::zero(currency) })
            .collect();
        let mut notes: Vec<CreditTotals> = Vec::new();
        let mut credit = |amounts: Vec<Money>, invoiced: &mut Vec<InvoicedLine>, taxes: &mut Vec<InvoicedTax>| {
            match credit_totals(currency, invoiced, taxes, &amounts) {
                Ok(note) => {
                    for (line, credited) in invoiced.iter_mut().zip(&note.lines) {
                        line.credited = line.credited.checked_add(credited.net).unwrap();
                    }
                    for (tax, credited) in taxes.iter_mut().zip(&note.taxes) {
                        tax.credited_base = tax.credited_base.checked_add(credited.base).unwrap();
                        tax.credited_amount = tax.credited_amount.checked_add(credited.amount).unwrap();
                    }
                    notes.push(note);
                }
                Err(crate::credit::CreditError::Nothing) => {}
                Err(other) => panic!("{other}"),
            }
        };
        for percents in steps {
            // A percentage of what remains of each line, rounded down to whole minor units.
            let amounts: Vec<Money> = invoiced
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    let remaining = line.remaining().unwrap().minor();
                    Money::from_minor(remaining * i64::from(percents[i % percents.len()]) / 100, currency)
                })
                .collect();
            credit(amounts, &mut invoiced, &mut taxes);
            for tax in &taxes {
                prop_assert!(tax.credited_amount <= tax.amount && !tax.credited_amount.is_negative());
            }
        }
        let rest: Vec<Money> = invoiced.iter().map(|line| line.remaining().unwrap()).collect();
        credit(rest, &mut invoiced, &mut taxes);
        for tax in &taxes {
            prop_assert_eq!(tax.credited_amount, tax.amount);
            prop_assert_eq!(tax.credited_base, tax.base);
        }
        let credited_total = sum(currency, notes.iter().map(|note| note.total));
        prop_assert_eq!(credited_total, invoice.grand_total);
        for note in &notes {
            prop_assert_eq!(note.total, note.net_total.checked_add(note.tax_total).unwrap());
            prop_assert_eq!(sum(currency, note.lines.iter().map(|l| l.tax)), note.tax_total);
        }
    }

    #[test]
    fn the_totals_function_is_deterministic((currency, lines) in cart(), (rules, ctx) in tax_setup()) {
        let first = compute_totals(currency, &lines, &ctx, &rules).unwrap();
        let again = compute_totals(currency, &lines.clone(), &ctx.clone(), &rules.clone()).unwrap();
        prop_assert_eq!(&first, &again);
    }

    #[test]
    fn the_order_of_the_lines_does_not_change_the_totals((currency, lines) in cart(), (rules, ctx) in tax_setup()) {
        let forward = compute_totals(currency, &lines, &ctx, &rules).unwrap();
        let reversed: Vec<Line> = lines.into_iter().rev().collect();
        let backward = compute_totals(currency, &reversed, &ctx, &rules).unwrap();
        prop_assert_eq!(forward.tax_lines, backward.tax_lines);
        prop_assert_eq!(forward.grand_total, backward.grand_total);
        prop_assert_eq!(forward.net_total, backward.net_total);
    }

    /// Pricing a cart net, then selling each line at its computed gross price with tax
    /// included, charges the same taxes and the same total.
    #[test]
    fn inclusive_and_exclusive_prices_agree_when_converted(
        (currency, lines) in cart_rounded_to_minor_units(),
        (rules, ctx) in tax_setup(),
    ) {
        let exclusive_ctx = TaxContext { settings: TaxSettings { price_mode: PriceMode::Exclusive, ..ctx.settings }, ..ctx.clone() };
        let inclusive_ctx = TaxContext { settings: TaxSettings { price_mode: PriceMode::Inclusive, ..ctx.settings }, ..ctx };
        let exclusive = compute_totals(currency, &lines, &exclusive_ctx, &rules).unwrap();
        let converted: Vec<Line> = exclusive
            .lines
            .iter()
            .map(|line| Line { taxable: line.taxable, ..Line::new(line.description.clone(), line.gross, 1) })
            .collect();
        let inclusive = compute_totals(currency, &converted, &inclusive_ctx, &rules).unwrap();
        prop_assert_eq!(&inclusive.tax_lines, &exclusive.tax_lines);
        prop_assert_eq!(inclusive.net_total, exclusive.net_total);
        prop_assert_eq!(inclusive.grand_total, exclusive.grand_total);
    }

    #[test]
    fn a_line_in_another_currency_is_always_refused(
        (currency, mut lines) in cart(),
        other in currency(),
        (rules, ctx) in tax_setup(),
        position in any::<prop::sample::Index>(),
    ) {
        prop_assume!(other != currency);
        let index = position.index(lines.len() + 1);
        lines.insert(index, Line::new("Elsewhere", Money::from_minor(100, other), 1));
        let refused = matches!(
            compute_totals(currency, &lines, &ctx, &rules),
            Err(TotalsError::Line { line, kind: LineError::CurrencyMismatch { .. } }) if line == index
        );
        prop_assert!(refused);
    }

    #[test]
    fn amounts_in_different_currencies_never_mix(a in currency(), b in currency(), x in any::<i32>(), y in any::<i32>()) {
        let (left, right) = (Money::from_minor(x.into(), a), Money::from_minor(y.into(), b));
        if a == b {
            prop_assert_eq!(left.checked_add(right).unwrap().minor(), i64::from(x) + i64::from(y));
        } else {
            let mismatch = Err(MoneyError::CurrencyMismatch { expected: a, found: b });
            prop_assert_eq!(left.checked_add(right), mismatch.clone());
            prop_assert_eq!(left.checked_sub(right), mismatch);
            prop_assert!(Money::sum(a, [left, right]).is_err());
        }
    }

    #[test]
    fn rounding_is_idempotent_and_moves_by_less_than_one_step(amount in decimal_amount(), currency in currency()) {
        let once = round(amount, &currency).unwrap();
        prop_assert_eq!(round(once.to_decimal(), &currency).unwrap(), once);
        let step = Decimal::new(i64::from(currency.rounding().increment_minor()), u32::from(currency.exponent()));
        prop_assert!((once.to_decimal() - amount).abs() < step);
        prop_assert_eq!(once.minor() % i64::from(currency.rounding().increment_minor()), 0);
    }

    #[test]
    fn amounts_print_and_parse_back(minor in any::<i64>(), currency in currency()) {
        let money = Money::from_minor(minor, currency);
        prop_assert_eq!(Money::parse(&money.to_decimal_string(), currency).unwrap(), money);
        prop_assert_eq!(money.to_string().parse::<Money>().unwrap(), money);
        prop_assert_eq!(Money::from_decimal(money.to_decimal(), currency).unwrap(), money);
    }

    #[test]
    fn due_dates_strictly_increase_and_are_found_again(
        anchor in date_between((1990, 1, 1), 365 * 80),
        cycle in recurring_cycle(),
        n in 0u32..400,
    ) {
        let (due, next) = (due_date(anchor, cycle, n).unwrap(), due_date(anchor, cycle, n + 1).unwrap());
        prop_assert!(due < next);
        prop_assert_eq!(next_due_after(anchor, cycle, due), Some(next));
        let (found, period) = DueSchedule::new(anchor, cycle).period_containing(due).unwrap();
        prop_assert_eq!(found, n);
        prop_assert_eq!((period.start, period.end), (due, next));
    }

    /// A change on the first day of a period credits everything paid and charges the whole new
    /// price; a later change never credits or charges more, and what is due plus the excess
    /// credit always equals the difference.
    #[test]
    fn upgrades_credit_and_charge_no_more_than_the_prices(
        old in 0i64..=1_000_000,
        new in 0i64..=1_000_000,
        currency in currency(),
        start in date_between((2000, 1, 1), 365 * 50),
        cycle in recurring_cycle(),
        offset in 0u64..1200,
    ) {
        let end = due_date(start, cycle, 1).unwrap();
        let days = u64::try_from((end - start).num_days()).unwrap();
        let on = start.checked_add_days(Days::new(offset % (days + 1))).unwrap();
        let (old, new) = (Money::from_minor(old, currency), Money::from_minor(new, currency));
        let change = |on| Change { period: crate::calendar::Period { start, end }, old_price: old, old_cycle: cycle, new_price: new, new_cycle: cycle, on };
        let first = quote_change(&change(start), DowngradeCredit::ToAccount).unwrap();
        prop_assert_eq!((first.credit, first.charge), (old, new));
        let quote = quote_change(&change(on), DowngradeCredit::ToAccount).unwrap();
        prop_assert!(quote.credit <= old && quote.charge <= new);
        prop_assert_eq!(quote.next_due, end);
        let balance = quote.due_now.checked_sub(quote.account_credit).unwrap();
        prop_assert_eq!(balance, quote.charge.checked_sub(quote.credit).unwrap());
    }

    #[test]
    fn prorating_a_whole_period_charges_the_full_price(
        minor in 0i64..=1_000_000_000,
        currency in currency(),
        start in date_between((2000, 1, 1), 365 * 50),
        cycle in recurring_cycle(),
    ) {
        let full = Money::from_minor(minor, currency);
        let end = due_date(start, cycle, 1).unwrap();
        prop_assert_eq!(prorate(full, start, end, start).unwrap(), full);
        prop_assert!(prorate(full, start, end, end).unwrap().is_zero());
    }

    #[test]
    fn a_later_start_never_costs_more(
        minor in 0i64..=1_000_000_000,
        currency in currency(),
        start in date_between((2000, 1, 1), 365 * 50),
        cycle in recurring_cycle(),
        a in 0u64..1200,
        b in 0u64..1200,
    ) {
        let full = Money::from_minor(minor, currency);
        let end = due_date(start, cycle, 1).unwrap();
        let days = u64::try_from((end - start).num_days()).unwrap();
        let (early, late) = (a.min(b) % (days + 1), a.max(b) % (days + 1));
        let (early, late) = (early.min(late), early.max(late));
        let charge = |offset| prorate(full, start, end, start.checked_add_days(Days::new(offset)).unwrap()).unwrap();
        prop_assert!(charge(late) <= charge(early));
        prop_assert!(charge(early) <= full);
    }

    #[test]
    fn a_pro_rata_start_runs_from_the_order_to_the_billing_day(
        billing_day in 1u32..=31,
        cutoff_day in proptest::option::of(1u32..=31),
        order in date_between((2020, 1, 1), 365 * 15),
        cycle in recurring_cycle(),
        minor in 0i64..=1_000_000_000,
        currency in currency(),
    ) {
        let plan = ProRataPlan::new(billing_day, cutoff_day).unwrap();
        let price = Money::from_minor(minor, currency);
        let start = plan.first_invoice(cycle, price, order).unwrap();
        prop_assert_eq!(start.period.start, order);
        prop_assert_eq!(start.period.end, start.next_due);
        prop_assert!(start.next_due > order);
        prop_assert_eq!(start.schedule.due_date(0), Some(start.next_due));
        prop_assert_eq!(start.next_due.day(), billing_day.min(days_in_month(start.next_due.year(), start.next_due.month())));
        prop_assert!(start.prorated_amount <= price && !start.prorated_amount.is_negative());
        let expected = if start.full_period_added { start.prorated_amount.checked_add(price).unwrap() } else { start.prorated_amount };
        prop_assert_eq!(start.amount, expected);
        prop_assert!(cutoff_day.is_some() || !start.full_period_added);
    }
}
