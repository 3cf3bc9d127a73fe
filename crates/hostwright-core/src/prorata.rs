//! Pro-rata: charging for part of a billing period, and the product-level "pro-rata billing"
//! plan that aligns every service of a product on one day of the month.
//!
//! Shares are by exact days of the actual period: ten days of a 28-day February cost more than
//! ten days of a 31-day March, because the client pays the same monthly price for both months.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::calendar::{BillingCycle, CalendarError, DueSchedule, Period, days_in_month, shift_months};
use crate::money::{Money, MoneyError};
use crate::rounding::round;

/// The share of `full` (the price of the whole period `[period_start, period_end)`) for the
/// days from `from` to the end of the period, rounded once through [`crate::round`].
///
/// `from == period_start` gives exactly `full`; `from == period_end` gives zero. Use it for a
/// first partial period, and for the unused remainder credited on an upgrade or a cancellation.
pub fn prorate(
    full: Money,
    period_start: NaiveDate,
    period_end: NaiveDate,
    from: NaiveDate,
) -> Result<Money, ProRataError> {
    let period = Period { start: period_start, end: period_end };
    if period.days() <= 0 {
        return Err(ProRataError::EmptyPeriod { start: period_start, end: period_end });
    }
    if from < period_start || from > period_end {
        return Err(ProRataError::OutsidePeriod { date: from, start: period_start, end: period_end });
    }
    if from == period_start {
        return Ok(full);
    }
    let remaining = Decimal::from((period_end - from).num_days());
    // Multiply before dividing: `full × remaining` is exact, so only the division (at 28
    // digits) and the one final rounding touch the result.
    let exact = full
        .to_decimal()
        .checked_mul(remaining)
        .and_then(|product| product.checked_div(Decimal::from(period.days())))
        .ok_or(MoneyError::Overflow)?;
    Ok(round(exact, &full.currency())?)
}

/// A product's pro-rata billing: every service of the product falls due on the same day of
/// the month, and the first invoice charges the days up to that day.
///
/// With a cut-off day, an order placed after the last cut-off day before the billing day also
/// pays the next full cycle on its first invoice, so a client ordering on the 28th for billing
/// on the 1st is not sent a second invoice four days later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProRataPlan {
    billing_day: u32,
    cutoff_day: Option<u32>,
}

impl ProRataPlan {
    /// A plan billing on `billing_day` (1–31, clamped to shorter months) and, if given, adding
    /// a full cycle to orders placed after `cutoff_day` (1–31, clamped likewise).
    pub fn new(billing_day: u32, cutoff_day: Option<u32>) -> Result<ProRataPlan, ProRataError> {
        for day in std::iter::once(billing_day).chain(cutoff_day) {
            if !(1..=31).contains(&day) {
                return Err(CalendarError::InvalidDayOfMonth { day }.into());
            }
        }
        Ok(ProRataPlan { billing_day, cutoff_day })
    }

    /// The day of month services fall due on.
    pub const fn billing_day(&self) -> u32 {
        self.billing_day
    }

    /// The cut-off day, if any.
    pub const fn cutoff_day(&self) -> Option<u32> {
        self.cutoff_day
    }

    /// What the first invoice of a service ordered on `order_date` at `price` per `cycle`
    /// charges, and when the service is next due.
    ///
    /// Ordered on the billing day, the first period is simply one full cycle. Otherwise the
    /// first period runs to the next billing day and costs its share of the cycle that ends
    /// there (so an annual product charges days out of the year); after the cut-off it runs
    /// one cycle further and costs that share plus the full price.
    pub fn first_invoice(
        &self,
        cycle: BillingCycle,
        price: Money,
        order_date: NaiveDate,
    ) -> Result<ProRataStart, ProRataError> {
        let months = i64::from(cycle.months().ok_or(ProRataError::NotRecurring { cycle })?);
        let overflow = || ProRataError::Money(MoneyError::Overflow);
        let billing_date = self.next_billing_date(order_date).ok_or_else(overflow)?;

        if billing_date == order_date {
            let schedule = DueSchedule::with_day_of_month(order_date, self.billing_day, cycle)?;
            let next_due = schedule.due_date(1).ok_or_else(overflow)?;
            return Ok(ProRataStart {
                period: Period { start: order_date, end: next_due },
                prorated_amount: price,
                full_period_added: false,
                amount: price,
                next_due,
                schedule: DueSchedule::with_day_of_month(next_due, self.billing_day, cycle)?,
            });
        }

        let cycle_start = shift_months(billing_date, self.billing_day, -months).ok_or_else(overflow)?;
        let prorated_amount = prorate(price, cycle_start, billing_date, order_date)?;
        let full_period_added = match self.cutoff_day {
            Some(cutoff_day) => order_date > last_day_before(billing_date, cutoff_day).ok_or_else(overflow)?,
            None => false,
        };
        let (next_due, amount) = if full_period_added {
            (
                shift_months(billing_date, self.billing_day, months).ok_or_else(overflow)?,
                prorated_amount.checked_add(price)?,
            )
        } else {
            (billing_date, prorated_amount)
        };
        Ok(ProRataStart {
            period: Period { start: order_date, end: next_due },
            prorated_amount,
            full_period_added,
            amount,
            next_due,
            schedule: DueSchedule::with_day_of_month(next_due, self.billing_day, cycle)?,
        })
    }

    /// The first billing day on or after `date`.
    fn next_billing_date(&self, date: NaiveDate) -> Option<NaiveDate> {
        let this_month = shift_months(date, self.billing_day, 0)?;
        if this_month >= date { Some(this_month) } else { shift_months(date, self.billing_day, 1) }
    }
}

/// The last date strictly before `date` that falls on `day` (clamped to its month).
fn last_day_before(date: NaiveDate, day: u32) -> Option<NaiveDate> {
    let this_month =
        NaiveDate::from_ymd_opt(date.year(), date.month(), day.min(days_in_month(date.year(), date.month())))?;
    if this_month < date { Some(this_month) } else { shift_months(date, day, -1) }
}

/// The first invoice of a service under a [`ProRataPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProRataStart {
    /// The period the first invoice pays for: from the order date up to `next_due`.
    pub period: Period,
    /// The charge for the days up to the billing day (the full price when ordered on it).
    pub prorated_amount: Money,
    /// Whether the order came after the cut-off, so a full cycle was added.
    pub full_period_added: bool,
    /// What the first invoice charges: `prorated_amount`, plus the price once more when a full
    /// cycle was added.
    pub amount: Money,
    /// When the service is next due; the end of `period`.
    pub next_due: NaiveDate,
    /// The renewals: `schedule.due_date(0)` is `next_due`, and later due dates stay on the
    /// plan's billing day even when `next_due` was clamped to a shorter month.
    pub schedule: DueSchedule,
}

/// Why a pro-rata amount could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProRataError {
    /// The period has no days.
    #[error("the period from {start} to {end} has no days")]
    EmptyPeriod {
        /// Its start.
        start: NaiveDate,
        /// Its end.
        end: NaiveDate,
    },
    /// The start date lies outside the period.
    #[error("{date} is outside the period from {start} to {end}")]
    OutsidePeriod {
        /// The date given.
        date: NaiveDate,
        /// The period's start.
        start: NaiveDate,
        /// The period's end.
        end: NaiveDate,
    },
    /// Pro-rata billing needs a recurring cycle.
    #[error("pro-rata billing needs a recurring billing cycle, not {cycle}")]
    NotRecurring {
        /// The cycle given.
        cycle: BillingCycle,
    },
    /// A day of month or a schedule was invalid.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// The amount could not be computed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::currency::Currency;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::USD)
    }

    #[test]
    fn the_whole_period_costs_exactly_the_full_price() {
        assert_eq!(prorate(usd(999), date(2025, 2, 1), date(2025, 3, 1), date(2025, 2, 1)).unwrap(), usd(999));
    }

    #[test]
    fn a_partial_period_costs_its_share_of_the_actual_days() {
        // 10 of February's 28 days, then 10 of March's 31.
        assert_eq!(prorate(usd(2800), date(2025, 2, 1), date(2025, 3, 1), date(2025, 2, 19)).unwrap(), usd(1000));
        assert_eq!(prorate(usd(3100), date(2025, 3, 1), date(2025, 4, 1), date(2025, 3, 22)).unwrap(), usd(1000));
        // 1/3 of 10.00 rounds half-up once.
        assert_eq!(prorate(usd(1000), date(2025, 1, 1), date(2025, 1, 4), date(2025, 1, 2)).unwrap(), usd(667));
    }

    #[test]
    fn nothing_is_left_of_a_period_on_its_last_day() {
        assert_eq!(prorate(usd(999), date(2025, 2, 1), date(2025, 3, 1), date(2025, 3, 1)).unwrap(), usd(0));
    }

    #[test]
    fn a_date_outside_the_period_or_an_empty_period_is_refused() {
        let (start, end) = (date(2025, 2, 1), date(2025, 3, 1));
        assert!(matches!(prorate(usd(1), start, end, date(2025, 1, 31)), Err(ProRataError::OutsidePeriod { .. })));
        assert!(matches!(prorate(usd(1), start, end, date(2025, 3, 2)), Err(ProRataError::OutsidePeriod { .. })));
        assert!(matches!(prorate(usd(1), end, start, end), Err(ProRataError::EmptyPeriod { .. })));
        assert!(matches!(prorate(usd(1), start, start, start), Err(ProRataError::EmptyPeriod { .. })));
    }

    #[test]
    fn ordering_before_the_cutoff_charges_only_the_days_to_the_billing_day() {
        let plan = ProRataPlan::new(1, Some(25)).unwrap();
        let start = plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 11)).unwrap();
        assert_eq!(start.period, Period { start: date(2025, 1, 11), end: date(2025, 2, 1) });
        assert_eq!(start.prorated_amount, usd(2100));
        assert!(!start.full_period_added);
        assert_eq!(start.amount, usd(2100));
        assert_eq!(start.next_due, date(2025, 2, 1));
        assert_eq!(start.schedule.due_date(1), Some(date(2025, 3, 1)));
    }

    #[test]
    fn ordering_after_the_cutoff_adds_the_next_full_period() {
        let plan = ProRataPlan::new(1, Some(25)).unwrap();
        let start = plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 28)).unwrap();
        assert_eq!(start.prorated_amount, usd(400));
        assert!(start.full_period_added);
        assert_eq!(start.amount, usd(3500));
        assert_eq!(start.period, Period { start: date(2025, 1, 28), end: date(2025, 3, 1) });
        assert_eq!(start.next_due, date(2025, 3, 1));
    }

    #[test]
    fn ordering_on_the_cutoff_day_itself_is_not_after_it() {
        let plan = ProRataPlan::new(1, Some(25)).unwrap();
        assert!(!plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 25)).unwrap().full_period_added);
    }

    #[test]
    fn without_a_cutoff_no_full_period_is_ever_added() {
        let plan = ProRataPlan::new(1, None).unwrap();
        assert!(!plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 31)).unwrap().full_period_added);
    }

    #[test]
    fn ordering_on_the_billing_day_charges_one_full_cycle() {
        let plan = ProRataPlan::new(15, Some(10)).unwrap();
        let start = plan.first_invoice(BillingCycle::Annually, usd(12000), date(2025, 3, 15)).unwrap();
        assert_eq!(start.amount, usd(12000));
        assert!(!start.full_period_added);
        assert_eq!(start.next_due, date(2026, 3, 15));
    }

    #[test]
    fn an_annual_product_charges_the_days_to_the_billing_day_out_of_the_year() {
        let plan = ProRataPlan::new(1, None).unwrap();
        // 2024-02-01..2025-02-01 has 366 days; 10 of them remain after 2025-01-22.
        let start = plan.first_invoice(BillingCycle::Annually, usd(36600), date(2025, 1, 22)).unwrap();
        assert_eq!(start.prorated_amount, usd(1000));
        assert_eq!(start.next_due, date(2025, 2, 1));
        assert_eq!(start.schedule.due_date(1), Some(date(2026, 2, 1)));
    }

    #[test]
    fn a_billing_day_of_31_is_clamped_in_short_months_and_kept_afterwards() {
        let plan = ProRataPlan::new(31, None).unwrap();
        let start = plan.first_invoice(BillingCycle::Monthly, usd(2800), date(2025, 2, 10)).unwrap();
        assert_eq!(start.next_due, date(2025, 2, 28));
        // 18 days of the period 2025-01-31..2025-02-28 (28 days).
        assert_eq!(start.prorated_amount, usd(1800));
        assert_eq!(start.schedule.due_date(1), Some(date(2025, 3, 31)));
    }

    #[test]
    fn the_cutoff_is_the_last_cutoff_day_before_the_billing_day() {
        // Billing on the 15th, cut-off on the 10th: ordering on 12 January leaves three days,
        // so January–February is added; ordering on 20 January leaves 26 days, nothing added.
        let plan = ProRataPlan::new(15, Some(10)).unwrap();
        let early = plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 12)).unwrap();
        assert!(early.full_period_added);
        assert_eq!(early.next_due, date(2025, 2, 15));
        let late = plan.first_invoice(BillingCycle::Monthly, usd(3100), date(2025, 1, 20)).unwrap();
        assert!(!late.full_period_added);
        assert_eq!(late.next_due, date(2025, 2, 15));
    }

    #[test]
    fn a_plan_needs_real_days_and_a_recurring_cycle() {
        assert!(ProRataPlan::new(0, None).is_err());
        assert!(ProRataPlan::new(1, Some(32)).is_err());
        let plan = ProRataPlan::new(1, None).unwrap();
        assert!(matches!(
            plan.first_invoice(BillingCycle::OneTime, usd(1), date(2025, 1, 5)),
            Err(ProRataError::NotRecurring { .. })
        ));
    }
}
