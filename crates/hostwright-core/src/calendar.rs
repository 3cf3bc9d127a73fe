//! The billing calendar: billing cycles and the due dates they produce.
//!
//! Due dates are computed from the anchor (the first due date) and the period number `n`,
//! never by adding a month to the previous due date. Repeated addition drifts: a service
//! started on 31 January would be due on 28 February, then on the 28th for ever. Computed from
//! the anchor, it is due on the last day of each shorter month and back on the 31st whenever
//! the month has one.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// How often a service is billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingCycle {
    /// Never billed.
    Free,
    /// Billed once, when ordered.
    OneTime,
    /// Every month.
    Monthly,
    /// Every 3 months.
    Quarterly,
    /// Every 6 months.
    SemiAnnually,
    /// Every 12 months.
    Annually,
    /// Every 24 months.
    Biennially,
    /// Every 36 months.
    Triennially,
}

impl BillingCycle {
    /// Every cycle, shortest first, for pickers and price tables.
    pub const ALL: [BillingCycle; 8] = [
        BillingCycle::Free,
        BillingCycle::OneTime,
        BillingCycle::Monthly,
        BillingCycle::Quarterly,
        BillingCycle::SemiAnnually,
        BillingCycle::Annually,
        BillingCycle::Biennially,
        BillingCycle::Triennially,
    ];

    /// Months between due dates, or `None` for cycles that do not recur.
    pub const fn months(self) -> Option<u32> {
        match self {
            BillingCycle::Free | BillingCycle::OneTime => None,
            BillingCycle::Monthly => Some(1),
            BillingCycle::Quarterly => Some(3),
            BillingCycle::SemiAnnually => Some(6),
            BillingCycle::Annually => Some(12),
            BillingCycle::Biennially => Some(24),
            BillingCycle::Triennially => Some(36),
        }
    }

    /// True for the cycles that produce renewals.
    pub const fn is_recurring(self) -> bool {
        self.months().is_some()
    }

    /// The stable snake_case key stored in the database and used in forms and URLs
    /// (`monthly`, `semi_annually`, `one_time`).
    pub const fn key(self) -> &'static str {
        match self {
            BillingCycle::Free => "free",
            BillingCycle::OneTime => "one_time",
            BillingCycle::Monthly => "monthly",
            BillingCycle::Quarterly => "quarterly",
            BillingCycle::SemiAnnually => "semi_annually",
            BillingCycle::Annually => "annually",
            BillingCycle::Biennially => "biennially",
            BillingCycle::Triennially => "triennially",
        }
    }

    /// An English label for the default theme ("Semi-annually"); themes may translate the key.
    pub const fn label(self) -> &'static str {
        match self {
            BillingCycle::Free => "Free",
            BillingCycle::OneTime => "One time",
            BillingCycle::Monthly => "Monthly",
            BillingCycle::Quarterly => "Quarterly",
            BillingCycle::SemiAnnually => "Semi-annually",
            BillingCycle::Annually => "Annually",
            BillingCycle::Biennially => "Biennially",
            BillingCycle::Triennially => "Triennially",
        }
    }
}

/// Writes the [`BillingCycle::key`].
impl fmt::Display for BillingCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Reads a [`BillingCycle::key`].
impl FromStr for BillingCycle {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BillingCycle::ALL
            .into_iter()
            .find(|cycle| cycle.key() == s)
            .ok_or_else(|| CalendarError::UnknownCycle { input: s.to_owned() })
    }
}

/// A half-open range of days, `[start, end)`: a billing period runs from one due date up to,
/// not including, the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    /// First day of the period.
    pub start: NaiveDate,
    /// First day after the period (the next due date).
    pub end: NaiveDate,
}

impl Period {
    /// The number of days in the period (0 or negative if it is empty or reversed).
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// True if `date` falls within `[start, end)`.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }
}

/// A service's due dates: due date `n` falls `n` cycles after the anchor's month, on the
/// schedule's day of month, or on the month's last day when the month is shorter.
///
/// The day of month is usually the anchor's own day. It differs when the anchor itself was
/// clamped: a pro-rata product billed on the 31st whose first due date is 28 February keeps
/// day 31 and is due on 31 March.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DueSchedule {
    anchor: NaiveDate,
    day_of_month: u32,
    cycle: BillingCycle,
}

impl DueSchedule {
    /// A schedule whose first due date is `anchor`, repeating on the anchor's day of month.
    pub fn new(anchor: NaiveDate, cycle: BillingCycle) -> DueSchedule {
        DueSchedule { anchor, day_of_month: anchor.day(), cycle }
    }

    /// A schedule whose first due date is `anchor`, repeating on `day_of_month` (1–31).
    /// `anchor` must be that day, clamped to its month: 28 February 2025 for day 30 is
    /// fine, 27 February is not.
    pub fn with_day_of_month(
        anchor: NaiveDate,
        day_of_month: u32,
        cycle: BillingCycle,
    ) -> Result<DueSchedule, CalendarError> {
        if !(1..=31).contains(&day_of_month) {
            return Err(CalendarError::InvalidDayOfMonth { day: day_of_month });
        }
        if anchor.day() != day_of_month.min(days_in_month(anchor.year(), anchor.month())) {
            return Err(CalendarError::AnchorNotOnDay { anchor, day: day_of_month });
        }
        Ok(DueSchedule { anchor, day_of_month, cycle })
    }

    /// The first due date.
    pub const fn anchor(&self) -> NaiveDate {
        self.anchor
    }

    /// The day of month due dates fall on (clamped in shorter months).
    pub const fn day_of_month(&self) -> u32 {
        self.day_of_month
    }

    /// The billing cycle.
    pub const fn cycle(&self) -> BillingCycle {
        self.cycle
    }

    /// Due date number `n`, `n = 0` being the anchor. `None` for a free service, for any
    /// `n > 0` of a one-time service, and past the end of the calendar.
    pub fn due_date(&self, n: u32) -> Option<NaiveDate> {
        match self.cycle.months() {
            Some(months) => shift_months(self.anchor, self.day_of_month, i64::from(n) * i64::from(months)),
            None if self.cycle == BillingCycle::OneTime && n == 0 => Some(self.anchor),
            None => None,
        }
    }

    /// The billing period `n`: `[due_date(n), due_date(n + 1))`. `None` when the cycle does
    /// not recur.
    pub fn period(&self, n: u32) -> Option<Period> {
        Some(Period { start: self.due_date(n)?, end: self.due_date(n.checked_add(1)?)? })
    }

    /// The first due date strictly after `date`: the anchor for any date before it.
    pub fn next_due_after(&self, date: NaiveDate) -> Option<NaiveDate> {
        if date < self.anchor {
            return self.due_date(0);
        }
        let n = self.periods_started_by(date)?;
        let next = self.due_date(n.checked_add(1)?)?;
        Some(next)
    }

    /// The period containing `date`, with its number: `None` before the anchor or when the
    /// cycle does not recur.
    pub fn period_containing(&self, date: NaiveDate) -> Option<(u32, Period)> {
        if date < self.anchor {
            return None;
        }
        let n = self.periods_started_by(date)?;
        Some((n, self.period(n)?))
    }

    /// The largest `n` with `due_date(n) <= date`, for `date` on or after the anchor.
    fn periods_started_by(&self, date: NaiveDate) -> Option<u32> {
        let months = i64::from(self.cycle.months()?);
        let months_apart = month_index(date) - month_index(self.anchor);
        // Due date `n` lies in month `anchor + n × months`, so this estimate is exact or one
        // too many (when `date` is in that month but before its due day).
        let n = u32::try_from(months_apart / months).ok()?;
        match self.due_date(n)? {
            due if due <= date => Some(n),
            _ => n.checked_sub(1),
        }
    }
}

/// Due date number `n` of a service anchored on `anchor` (see [`DueSchedule`]).
pub fn due_date(anchor: NaiveDate, cycle: BillingCycle, n: u32) -> Option<NaiveDate> {
    DueSchedule::new(anchor, cycle).due_date(n)
}

/// The first due date strictly after `date` of a service anchored on `anchor`.
pub fn next_due_after(anchor: NaiveDate, cycle: BillingCycle, date: NaiveDate) -> Option<NaiveDate> {
    DueSchedule::new(anchor, cycle).next_due_after(date)
}

/// Billing period `n`, `[due_n, due_{n+1})`, of a service anchored on `anchor`.
pub fn period(anchor: NaiveDate, cycle: BillingCycle, n: u32) -> Option<Period> {
    DueSchedule::new(anchor, cycle).period(n)
}

/// The billing day (day of month a service's periods start on) that a due date someone typed
/// stands for. A date on the last day of a short month that an existing, later billing day
/// clamps to keeps that day: moving a service billed on the 31st to 28 February keeps it on
/// the 31st, where 28 February on a service billed on the 15th makes it the 28th.
pub fn billing_day_for(due: NaiveDate, current: Option<u32>) -> u32 {
    let last = days_in_month(due.year(), due.month());
    match current {
        Some(day) if (1..=31).contains(&day) && due.day() == last && day > last => day,
        _ => due.day(),
    }
}

/// The number of days in `month` (1–12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// The date `months` months after (or before, if negative) the month of `from`, on
/// `day_of_month` clamped to that month's length.
pub(crate) fn shift_months(from: NaiveDate, day_of_month: u32, months: i64) -> Option<NaiveDate> {
    let index = month_index(from).checked_add(months)?;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    NaiveDate::from_ymd_opt(year, month, day_of_month.min(days_in_month(year, month)))
}

/// Months since year 0, so that month differences are plain subtraction.
fn month_index(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

/// Why a calendar value could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not one of the [`BillingCycle::key`]s.
    #[error(
        "{input:?} is not a billing cycle: expected one of free, one_time, monthly, quarterly, semi_annually, annually, biennially, triennially"
    )]
    UnknownCycle {
        /// The input as given.
        input: String,
    },
    /// A day of month outside 1–31.
    #[error("{day} is not a day of the month: expected 1 to 31")]
    InvalidDayOfMonth {
        /// The day given.
        day: u32,
    },
    /// A schedule's anchor that is not on its day of month.
    #[error("{anchor} is not on day {day} of its month")]
    AnchorNotOnDay {
        /// The anchor given.
        anchor: NaiveDate,
        /// The day of month given.
        day: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn dues(anchor: NaiveDate, cycle: BillingCycle, count: u32) -> Vec<NaiveDate> {
        (0..count).map(|n| due_date(anchor, cycle, n).unwrap()).collect()
    }

    #[test]
    fn a_typed_due_date_keeps_a_later_billing_day_it_clamps_to() {
        assert_eq!(billing_day_for(date(2027, 2, 28), Some(31)), 31);
        assert_eq!(billing_day_for(date(2028, 2, 29), Some(30)), 30);
        assert_eq!(billing_day_for(date(2027, 2, 28), Some(15)), 28);
        assert_eq!(billing_day_for(date(2027, 2, 27), Some(31)), 27);
        assert_eq!(billing_day_for(date(2027, 4, 30), None), 30);
        assert_eq!(billing_day_for(date(2027, 3, 31), Some(30)), 31);
    }

    #[test]
    fn a_service_started_on_the_31st_returns_to_the_31st() {
        let got = dues(date(2025, 1, 31), BillingCycle::Monthly, 5);
        assert_eq!(
            got,
            vec![date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31)]
        );
    }

    #[test]
    fn a_service_started_on_the_31st_is_due_on_29_february_in_a_leap_year() {
        assert_eq!(due_date(date(2024, 1, 31), BillingCycle::Monthly, 1), Some(date(2024, 2, 29)));
        assert_eq!(due_date(date(2023, 11, 30), BillingCycle::Quarterly, 1), Some(date(2024, 2, 29)));
    }

    #[test]
    fn an_annual_service_started_on_29_february_is_due_on_the_28th_until_the_next_leap_year() {
        let got = dues(date(2024, 2, 29), BillingCycle::Annually, 5);
        assert_eq!(
            got,
            vec![date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]
        );
    }

    #[test]
    fn every_recurring_cycle_steps_by_its_months() {
        let anchor = date(2025, 1, 15);
        for (cycle, expected) in [
            (BillingCycle::Monthly, date(2025, 2, 15)),
            (BillingCycle::Quarterly, date(2025, 4, 15)),
            (BillingCycle::SemiAnnually, date(2025, 7, 15)),
            (BillingCycle::Annually, date(2026, 1, 15)),
            (BillingCycle::Biennially, date(2027, 1, 15)),
            (BillingCycle::Triennially, date(2028, 1, 15)),
        ] {
            assert_eq!(due_date(anchor, cycle, 1), Some(expected), "{cycle}");
        }
    }

    #[test]
    fn a_one_time_service_is_due_once_and_a_free_one_never() {
        let anchor = date(2025, 3, 1);
        assert_eq!(due_date(anchor, BillingCycle::OneTime, 0), Some(anchor));
        assert_eq!(due_date(anchor, BillingCycle::OneTime, 1), None);
        assert_eq!(next_due_after(anchor, BillingCycle::OneTime, anchor), None);
        assert_eq!(next_due_after(anchor, BillingCycle::OneTime, date(2025, 2, 1)), Some(anchor));
        assert_eq!(due_date(anchor, BillingCycle::Free, 0), None);
        assert_eq!(period(anchor, BillingCycle::OneTime, 0), None);
    }

    #[test]
    fn the_next_due_date_after_a_due_date_is_the_following_one() {
        let anchor = date(2025, 1, 31);
        assert_eq!(next_due_after(anchor, BillingCycle::Monthly, date(2025, 1, 31)), Some(date(2025, 2, 28)));
        assert_eq!(next_due_after(anchor, BillingCycle::Monthly, date(2025, 2, 27)), Some(date(2025, 2, 28)));
        assert_eq!(next_due_after(anchor, BillingCycle::Monthly, date(2025, 2, 28)), Some(date(2025, 3, 31)));
        assert_eq!(next_due_after(anchor, BillingCycle::Monthly, date(2024, 6, 1)), Some(anchor));
    }

    #[test]
    fn the_period_containing_a_date_is_found_by_number() {
        let schedule = DueSchedule::new(date(2025, 1, 31), BillingCycle::Monthly);
        let (n, found) = schedule.period_containing(date(2025, 3, 15)).unwrap();
        assert_eq!(n, 1);
        assert_eq!(found, Period { start: date(2025, 2, 28), end: date(2025, 3, 31) });
        assert_eq!(found.days(), 31);
        assert!(found.contains(date(2025, 2, 28)) && !found.contains(date(2025, 3, 31)));
        assert_eq!(schedule.period_containing(date(2025, 1, 30)), None);
    }

    #[test]
    fn a_schedule_can_keep_a_day_of_month_its_anchor_could_not_show() {
        let schedule = DueSchedule::with_day_of_month(date(2025, 2, 28), 31, BillingCycle::Monthly).unwrap();
        assert_eq!(schedule.due_date(1), Some(date(2025, 3, 31)));
        assert!(DueSchedule::with_day_of_month(date(2025, 2, 27), 31, BillingCycle::Monthly).is_err());
        assert!(DueSchedule::with_day_of_month(date(2025, 3, 28), 31, BillingCycle::Monthly).is_err());
        assert!(DueSchedule::with_day_of_month(date(2025, 3, 1), 0, BillingCycle::Monthly).is_err());
    }

    #[test]
    fn due_dates_past_the_end_of_the_calendar_are_none_not_a_panic() {
        let anchor = date(2025, 1, 1);
        assert_eq!(due_date(anchor, BillingCycle::Triennially, u32::MAX), None);
        assert_eq!(next_due_after(anchor, BillingCycle::Monthly, NaiveDate::MAX), None);
    }

    #[test]
    fn cycles_round_trip_through_their_snake_case_keys() {
        for cycle in BillingCycle::ALL {
            assert_eq!(cycle.to_string().parse::<BillingCycle>().unwrap(), cycle);
            assert_eq!(serde_json::to_string(&cycle).unwrap(), format!("\"{}\"", cycle.key()));
        }
        assert_eq!("semi_annually".parse::<BillingCycle>().unwrap(), BillingCycle::SemiAnnually);
        assert!(matches!("Monthly".parse::<BillingCycle>(), Err(CalendarError::UnknownCycle { .. })));
    }

    /// Every anchor from 2024 to 2033, every cycle, ten years of due dates: each due date is in
    /// the right month on the clamped day, the sequence strictly increases, and
    /// `next_due_after` finds each one from the day before and from the previous due date.
    #[test]
    fn ten_years_of_anchors_never_drift() {
        let mut anchor = date(2024, 1, 1);
        while anchor <= date(2033, 12, 31) {
            for cycle in BillingCycle::ALL.into_iter().filter(|c| c.is_recurring()) {
                let months = cycle.months().unwrap();
                let mut previous: Option<NaiveDate> = None;
                for n in 0..=(120 / months) {
                    let due = due_date(anchor, cycle, n).unwrap();
                    let expected_month = month_index(anchor) + i64::from(n * months);
                    assert_eq!(month_index(due), expected_month, "{anchor} {cycle} {n}");
                    assert_eq!(
                        due.day(),
                        anchor.day().min(days_in_month(due.year(), due.month())),
                        "{anchor} {cycle} {n}"
                    );
                    if let Some(previous) = previous {
                        assert!(due > previous, "{anchor} {cycle} {n}");
                        assert_eq!(next_due_after(anchor, cycle, previous), Some(due), "{anchor} {cycle} {n}");
                        assert_eq!(
                            next_due_after(anchor, cycle, due.pred_opt().unwrap()),
                            Some(due),
                            "{anchor} {cycle} {n}"
                        );
                    }
                    previous = Some(due);
                }
            }
            anchor = anchor.succ_opt().unwrap();
        }
    }
}
