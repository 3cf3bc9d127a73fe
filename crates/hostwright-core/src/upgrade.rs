//! Upgrades and downgrades: what changing a service's product, options or billing cycle costs
//! in the middle of a period the client has already paid for.
//!
//! The unused part of what was paid is credited and the new price is charged for the same
//! remaining days, both by exact days through [`prorate`], each rounded once. A change of
//! billing cycle cannot be used to stretch a cheap period: the new cycle starts on the day of
//! the change and is paid in full then, less the credit for the unused old period.

use chrono::NaiveDate;

use crate::calendar::{BillingCycle, DueSchedule, Period};
use crate::currency::Currency;
use crate::money::{Money, MoneyError};
use crate::prorata::{ProRataError, prorate};

/// A change to a service, as of one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The period the client has paid for: from the last due date up to the next.
    pub period: Period,
    /// The recurring amount paid for `period`.
    pub old_price: Money,
    /// The cycle the service is billed in now.
    pub old_cycle: BillingCycle,
    /// The recurring price of the new product and options, for `new_cycle`.
    pub new_price: Money,
    /// The cycle the service will be billed in (the same, or a new one).
    pub new_cycle: BillingCycle,
    /// The day the change takes effect (today in the business's time zone).
    pub on: NaiveDate,
}

/// Whether a downgrade's excess credit goes to the client's account credit (a setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DowngradeCredit {
    /// The excess is added to the client's account credit.
    ToAccount,
    /// The excess is forfeited: a downgrade simply costs nothing now.
    Forfeit,
}

/// What a change costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The unused part of what was paid for the current period.
    pub credit: Money,
    /// The new price for the rest of the period, or for a whole new cycle.
    pub charge: Money,
    /// What the upgrade invoice asks for: `charge − credit`, never below zero.
    pub due_now: Money,
    /// What a downgrade adds to the account credit (zero unless the policy says so).
    pub account_credit: Money,
    /// The service's next due date after the change.
    pub next_due: NaiveDate,
}

/// Why a change cannot be priced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The old and new prices are in different currencies.
    #[error("the new price is in {found}, but the service is billed in {expected}")]
    CurrencyMismatch {
        /// The service's currency.
        expected: Currency,
        /// The new price's.
        found: Currency,
    },
    /// Free and one-time services have no period to prorate.
    #[error("only recurring services can be upgraded or downgraded mid-cycle")]
    NotRecurring,
    /// A price is negative.
    #[error("prices cannot be negative")]
    NegativePrice,
    /// The change date or the period is not usable.
    #[error(transparent)]
    ProRata(#[from] ProRataError),
    /// An amount does not fit.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Prices `change` (see the module documentation).
pub fn quote_change(change: &Change, policy: DowngradeCredit) -> Result<Quote, UpgradeError> {
    let currency = change.old_price.currency();
    if change.new_price.currency() != currency {
        return Err(UpgradeError::CurrencyMismatch { expected: currency, found: change.new_price.currency() });
    }
    if !change.old_cycle.is_recurring() || !change.new_cycle.is_recurring() {
        return Err(UpgradeError::NotRecurring);
    }
    if change.old_price.is_negative() || change.new_price.is_negative() {
        return Err(UpgradeError::NegativePrice);
    }
    let Period { start, end } = change.period;
    let credit = prorate(change.old_price, start, end, change.on)?;
    let (charge, next_due) = if change.new_cycle == change.old_cycle {
        (prorate(change.new_price, start, end, change.on)?, end)
    } else {
        let next = DueSchedule::new(change.on, change.new_cycle).due_date(1).ok_or(MoneyError::Overflow)?;
        (change.new_price, next)
    };
    let difference = charge.checked_sub(credit)?;
    let zero = Money::zero(currency);
    let (due_now, excess) =
        if difference.is_negative() { (zero, difference.checked_neg()?) } else { (difference, zero) };
    let account_credit = match policy {
        DowngradeCredit::ToAccount => excess,
        DowngradeCredit::Forfeit => zero,
    };
    Ok(Quote { credit, charge, due_now, account_credit, next_due })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn money(text: &str, currency: Currency) -> Money {
        Money::parse(text, currency).unwrap()
    }

    struct Case {
        name: &'static str,
        currency: Currency,
        period: (&'static str, &'static str),
        old: (&'static str, BillingCycle),
        new: (&'static str, BillingCycle),
        on: &'static str,
        policy: DowngradeCredit,
        /// credit, charge, due now, account credit, next due
        expect: (&'static str, &'static str, &'static str, &'static str, &'static str),
    }

    use BillingCycle::{Annually, Monthly};
    use DowngradeCredit::{Forfeit, ToAccount};

    const MARCH: (&str, &str) = ("2026-03-01", "2026-04-01");

    #[rustfmt::skip]
    const CASES: [Case; 11] = [
        // 21 of March's 31 days remain: 10.00 × 21/31 = 6.774, 20.00 × 21/31 = 13.548.
        Case { name: "mid-cycle upgrade", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("20.00", Monthly), on: "2026-03-11", policy: ToAccount,
               expect: ("6.77", "13.55", "6.78", "0.00", "2026-04-01") },
        Case { name: "upgrade on the due date that started the period", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("20.00", Monthly), on: "2026-03-01", policy: ToAccount,
               expect: ("10.00", "20.00", "10.00", "0.00", "2026-04-01") },
        Case { name: "upgrade on the next due date: nothing left to prorate", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("20.00", Monthly), on: "2026-04-01", policy: ToAccount,
               expect: ("0.00", "0.00", "0.00", "0.00", "2026-04-01") },
        Case { name: "downgrade credits the account", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("5.00", Monthly), on: "2026-03-11", policy: ToAccount,
               expect: ("6.77", "3.39", "0.00", "3.38", "2026-04-01") },
        Case { name: "downgrade without account credit", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("5.00", Monthly), on: "2026-03-11", policy: Forfeit,
               expect: ("6.77", "3.39", "0.00", "0.00", "2026-04-01") },
        // 10.00 + 2 × 2.50 becomes 10.00 + 4 × 2.50 with 16 days left.
        Case { name: "option quantity change", currency: Currency::EUR, period: MARCH, old: ("15.00", Monthly), new: ("20.00", Monthly), on: "2026-03-16", policy: ToAccount,
               expect: ("7.74", "10.32", "2.58", "0.00", "2026-04-01") },
        Case { name: "monthly to annually: the new cycle starts now and is paid now", currency: Currency::USD, period: MARCH, old: ("10.00", Monthly), new: ("100.00", Annually), on: "2026-03-11", policy: ToAccount,
               expect: ("6.77", "100.00", "93.23", "0.00", "2027-03-11") },
        // 310 of 365 days of the year remain: 100.00 × 310/365 = 84.93.
        Case { name: "annually to monthly", currency: Currency::USD, period: ("2026-01-15", "2027-01-15"), old: ("100.00", Annually), new: ("10.00", Monthly), on: "2026-03-11", policy: ToAccount,
               expect: ("84.93", "10.00", "0.00", "74.93", "2026-04-11") },
        Case { name: "a currency without decimals", currency: Currency::JPY, period: MARCH, old: ("1000", Monthly), new: ("2500", Monthly), on: "2026-03-11", policy: ToAccount,
               expect: ("677", "1694", "1017", "0", "2026-04-01") },
        Case { name: "a currency with three decimals", currency: Currency::KWD, period: MARCH, old: ("3.000", Monthly), new: ("4.500", Monthly), on: "2026-03-11", policy: ToAccount,
               expect: ("2.032", "3.048", "1.016", "0.000", "2026-04-01") },
        Case { name: "a service started on the 31st keeps its due day", currency: Currency::USD, period: ("2026-01-31", "2026-02-28"), old: ("10.00", Monthly), new: ("10.00", Annually), on: "2026-02-14", policy: ToAccount,
               expect: ("5.00", "10.00", "5.00", "0.00", "2027-02-14") },
    ];

    #[test]
    fn changes_are_priced_by_the_table() {
        for case in CASES {
            let c = case.currency;
            let change = Change {
                period: Period { start: date(case.period.0), end: date(case.period.1) },
                old_price: money(case.old.0, c),
                old_cycle: case.old.1,
                new_price: money(case.new.0, c),
                new_cycle: case.new.1,
                on: date(case.on),
            };
            let quote = quote_change(&change, case.policy).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let (credit, charge, due, account, next) = case.expect;
            let got = (quote.credit, quote.charge, quote.due_now, quote.account_credit, quote.next_due);
            let want = (money(credit, c), money(charge, c), money(due, c), money(account, c), date(next));
            assert_eq!(got, want, "{}", case.name);
            let excess = quote.credit.checked_sub(quote.charge).unwrap();
            if excess.is_positive() {
                assert!(quote.due_now.is_zero(), "{}: a downgrade asks for nothing", case.name);
            } else {
                assert_eq!(quote.due_now, excess.checked_neg().unwrap(), "{}", case.name);
            }
        }
    }

    #[test]
    fn changes_that_cannot_be_priced_are_refused() {
        let base = Change {
            period: Period { start: date("2026-03-01"), end: date("2026-04-01") },
            old_price: money("10.00", Currency::USD),
            old_cycle: Monthly,
            new_price: money("20.00", Currency::USD),
            new_cycle: Monthly,
            on: date("2026-03-11"),
        };
        let euro = Change { new_price: money("20.00", Currency::EUR), ..base };
        assert!(matches!(quote_change(&euro, ToAccount), Err(UpgradeError::CurrencyMismatch { .. })));
        let once = Change { new_cycle: BillingCycle::OneTime, ..base };
        assert_eq!(quote_change(&once, ToAccount), Err(UpgradeError::NotRecurring));
        let late = Change { on: date("2026-04-02"), ..base };
        assert!(matches!(
            quote_change(&late, ToAccount),
            Err(UpgradeError::ProRata(ProRataError::OutsidePeriod { .. }))
        ));
        let negative = Change { new_price: money("-1.00", Currency::USD), ..base };
        assert_eq!(quote_change(&negative, ToAccount), Err(UpgradeError::NegativePrice));
    }
}
