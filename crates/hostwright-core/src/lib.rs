//! Hostwright's money core: every amount in the product goes through this crate.
//!
//! It is pure — no I/O, no database, no web — so it is fast to test exhaustively, and the
//! web crate only parses input into its types and stores what they return:
//!
//! - [`Money`] is an `i64` of minor units in a [`Currency`]; arithmetic refuses to mix
//!   currencies or overflow, and anything fractional rounds through [`round`], the one
//!   rounding function, by the currency's [`RoundingRule`].
//! - [`BillingCycle`] and [`DueSchedule`] compute due dates from the anchor, so they never
//!   drift; [`prorate`] and [`ProRataPlan`] price partial periods by exact days.
//! - [`TaxRules::decide`] picks the taxes for a buyer (tax-exempt clients, EU reverse
//!   charge, destination VAT, exports), with [`VatId`] checking EU VAT number formats.
//! - [`compute_totals`] is the one function the cart and the invoice compute their lines,
//!   taxes and totals with.
//! - [`credit_totals`] computes what a credit note takes back of an issued invoice;
//!   [`quote_change`] what an upgrade, downgrade or billing-cycle change costs mid-period.
//!
//! ```
//! use hostwright_core::{
//!     compute_totals, Buyer, CountryCode, Currency, Line, Money, TaxContext, TaxRule, TaxRules, TaxSettings,
//! };
//! use rust_decimal::Decimal;
//!
//! let de = CountryCode::parse("DE")?;
//! let rules = TaxRules::new(vec![TaxRule::new("VAT", Decimal::from(19)).in_country(de)])?;
//! let ctx = TaxContext { settings: TaxSettings::new(de), buyer: Buyer::in_country(de) };
//! let lines = [Line::new("Web hosting, March", Money::parse("9.99", Currency::EUR)?, 1)];
//!
//! let totals = compute_totals(Currency::EUR, &lines, &ctx, &rules)?;
//! assert_eq!(totals.tax_total.to_string(), "1.90 EUR");
//! assert_eq!(totals.grand_total.to_string(), "11.89 EUR");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod calendar;
pub mod country;
pub mod credit;
pub mod currency;
pub mod money;
pub mod prorata;
pub mod rounding;
pub mod secret;
#[cfg(any(test, feature = "test-strategies"))]
pub mod strategies;
pub mod tax;
pub mod totals;
pub mod upgrade;
pub mod vat;

#[cfg(test)]
mod proptests;

pub use calendar::{
    BillingCycle, CalendarError, DueSchedule, Period, billing_day_for, days_in_month, due_date, next_due_after, period,
};
pub use country::{CountryCode, InvalidCountryCode};
pub use credit::{CreditError, CreditTotals, CreditedLine, CreditedTax, InvoicedLine, InvoicedTax, credit_totals};
pub use currency::{Currency, CurrencyError, RoundingMode, RoundingRule};
pub use money::{Money, MoneyError};
pub use prorata::{ProRataError, ProRataPlan, ProRataStart, prorate};
pub use rounding::round;
/// The decimal type of rates, percentages and quantities, re-exported so callers use the same
/// version as this crate.
pub use rust_decimal::Decimal;
pub use secret::Secret;
pub use tax::{
    Buyer, EuConsumerVat, PriceMode, TaxContext, TaxDecision, TaxError, TaxLevel, TaxRule, TaxRules, TaxSettings,
    TaxTreatment,
};
pub use totals::{
    Discount, Line, LineError, LineTotal, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR, TaxLine, Totals, TotalsError,
    compute_totals,
};
pub use upgrade::{Change, DowngradeCredit, Quote, UpgradeError, quote_change};
pub use vat::{VatId, VatIdError, eu_member_states, is_eu_member, vat_prefix};
