//! Which taxes apply to a sale: tax rules by country and region, tax-exempt clients, and the
//! EU VAT rules (reverse charge between businesses, the buyer's country's rate for consumers,
//! no EU VAT on exports).
//!
//! This module decides *which* rules apply ([`TaxRules::decide`]); how much tax that makes is
//! computed once, for carts and invoices alike, by [`crate::compute_totals`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::country::CountryCode;
use crate::vat::{VatId, is_eu_member};

/// Whether a tax is charged on the net amount, or on the net amount plus the level-1 tax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxLevel {
    /// Level 1: charged on the net amount.
    Normal,
    /// Level 2: charged on the net amount plus the level-1 tax (Québec's QST before 2013, some
    /// state taxes on top of a federal one).
    Compound,
}

impl TaxLevel {
    /// 1 or 2, as stored in the database.
    pub const fn number(self) -> u8 {
        match self {
            TaxLevel::Normal => 1,
            TaxLevel::Compound => 2,
        }
    }

    /// The level stored as `number`.
    pub fn from_number(number: u8) -> Result<TaxLevel, TaxError> {
        match number {
            1 => Ok(TaxLevel::Normal),
            2 => Ok(TaxLevel::Compound),
            _ => Err(TaxError::InvalidLevel { level: number }),
        }
    }
}

/// Whether catalogue prices include tax (an installation-wide setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceMode {
    /// Prices are net; tax is added on top. Usual for business customers.
    #[default]
    Exclusive,
    /// Prices are what the buyer pays; the tax that applies is extracted from them. Usual for
    /// consumers in the EU. When no tax applies (exempt, reverse charge, export), the buyer
    /// still pays the listed price.
    Inclusive,
}

/// Where an EU seller's sales to consumers in other member states are taxed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EuConsumerVat {
    /// The buyer's member state's rate (the OSS rule for electronically supplied services).
    #[default]
    Destination,
    /// The seller's own rate: allowed while cross-border consumer sales stay under the EU's
    /// €10,000 a year threshold.
    Origin,
}

/// One tax rule: a named rate charged to buyers in a country, or a region of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxRule {
    /// The name printed on invoices: "VAT", "GST", "State tax".
    pub name: String,
    /// The country the rule applies to; `None` means every country, which only applies to a
    /// seller outside the EU (see [`TaxRules::decide`]).
    pub country: Option<CountryCode>,
    /// The state or region (compared without regard to case or surrounding spaces); `None`
    /// means the whole country.
    pub region: Option<String>,
    /// The rate in percent: 19 means 19 %.
    pub rate: Decimal,
    /// Level 1 (normal) or 2 (compound).
    pub level: TaxLevel,
}

impl TaxRule {
    /// A level-1 rule for every country; narrow it with [`TaxRule::in_country`].
    pub fn new(name: impl Into<String>, rate: Decimal) -> TaxRule {
        TaxRule { name: name.into(), country: None, region: None, rate, level: TaxLevel::Normal }
    }

    /// The rule, for `country` only.
    #[must_use]
    pub fn in_country(self, country: CountryCode) -> TaxRule {
        TaxRule { country: Some(country), ..self }
    }

    /// The rule, for `region` of its country only.
    #[must_use]
    pub fn in_region(self, region: impl Into<String>) -> TaxRule {
        TaxRule { region: Some(region.into()), ..self }
    }

    /// The rule, as a level-2 (compound) tax.
    #[must_use]
    pub fn compound(self) -> TaxRule {
        TaxRule { level: TaxLevel::Compound, ..self }
    }

    /// How closely the rule targets a place: region 2, country 1, everywhere 0.
    fn specificity(&self) -> u8 {
        match (&self.country, &self.region) {
            (Some(_), Some(_)) => 2,
            (Some(_), None) => 1,
            (None, _) => 0,
        }
    }

    fn applies_to(&self, country: CountryCode, region: Option<&str>, any_country: bool) -> bool {
        let country_matches = match self.country {
            Some(rule_country) => rule_country == country,
            None => any_country,
        };
        let region_matches = match (&self.region, region) {
            (None, _) => true,
            (Some(rule_region), Some(region)) => same_region(rule_region, region),
            (Some(_), None) => false,
        };
        country_matches && region_matches
    }
}

fn same_region(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A validated set of tax rules: rates between 0 and 100 %, and never two rules of the same
/// level for the same place, so at most one rule per level applies to any buyer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaxRules {
    rules: Vec<TaxRule>,
}

impl TaxRules {
    /// Checks `rules` and keeps them.
    pub fn new(rules: Vec<TaxRule>) -> Result<TaxRules, TaxError> {
        for (index, rule) in rules.iter().enumerate() {
            if rule.name.trim().is_empty() {
                return Err(TaxError::EmptyName);
            }
            if rule.rate < Decimal::ZERO || rule.rate > Decimal::ONE_HUNDRED {
                return Err(TaxError::InvalidRate { name: rule.name.clone(), rate: rule.rate });
            }
            match (&rule.country, &rule.region) {
                (None, Some(_)) => return Err(TaxError::RegionWithoutCountry { name: rule.name.clone() }),
                (_, Some(region)) if region.trim().is_empty() => {
                    return Err(TaxError::EmptyRegion { name: rule.name.clone() });
                }
                _ => {}
            }
            let same_place = |other: &TaxRule| {
                other.level == rule.level
                    && other.country == rule.country
                    && match (&other.region, &rule.region) {
                        (None, None) => true,
                        (Some(a), Some(b)) => same_region(a, b),
                        _ => false,
                    }
            };
            if let Some(other) = rules[..index].iter().find(|other| same_place(other)) {
                return Err(TaxError::DuplicateRule { first: other.name.clone(), second: rule.name.clone() });
            }
        }
        Ok(TaxRules { rules })
    }

    /// No rules at all: nothing is taxed.
    pub fn none() -> TaxRules {
        TaxRules::default()
    }

    /// The rules.
    pub fn rules(&self) -> &[TaxRule] {
        &self.rules
    }

    /// Decides which rules apply to a sale:
    ///
    /// 1. A tax-exempt buyer pays no tax.
    /// 2. A seller in the EU selling to a business in another member state (a buyer with a VAT
    ///    number of its own country) charges none: reverse charge, the buyer accounts for it.
    /// 3. A seller in the EU selling to a consumer in another member state applies the rules
    ///    for the buyer's country ([`EuConsumerVat::Destination`]) or its own
    ///    ([`EuConsumerVat::Origin`]); within its own country, its own.
    /// 4. A seller in the EU selling outside the EU charges no EU VAT (an export) unless a
    ///    rule names the buyer's country (it registered there, say for Norway's VOEC).
    /// 5. A seller outside the EU applies the most specific rule per level for the buyer's
    ///    country and region, rules for every country included.
    ///
    /// EU sellers never apply rules for every country: such a rule would tax exports and
    /// apply the wrong rate to consumers elsewhere in the EU.
    pub fn decide(&self, ctx: &TaxContext) -> TaxDecision {
        let buyer = &ctx.buyer;
        let seller = ctx.settings.seller_country;
        let decision = |treatment, rules| TaxDecision { treatment, price_mode: ctx.settings.price_mode, rules };
        if buyer.tax_exempt {
            return decision(TaxTreatment::Exempt, Vec::new());
        }
        if !is_eu_member(seller) {
            return decision(TaxTreatment::Taxed, self.pick(buyer.country, buyer.region.as_deref(), true));
        }
        if !is_eu_member(buyer.country) {
            return match self.pick(buyer.country, buyer.region.as_deref(), false) {
                rules if rules.is_empty() => decision(TaxTreatment::Export, rules),
                rules => decision(TaxTreatment::Taxed, rules),
            };
        }
        if buyer.country == seller {
            return decision(TaxTreatment::Taxed, self.pick(seller, buyer.region.as_deref(), false));
        }
        if buyer.vat_id.as_ref().is_some_and(|id| id.country() == buyer.country) {
            return decision(TaxTreatment::ReverseCharge, Vec::new());
        }
        let rules = match ctx.settings.eu_consumer_vat {
            EuConsumerVat::Destination => self.pick(buyer.country, buyer.region.as_deref(), false),
            EuConsumerVat::Origin => self.pick(seller, None, false),
        };
        decision(TaxTreatment::Taxed, rules)
    }

    /// The most specific applicable rule of each level, level 1 first.
    fn pick(&self, country: CountryCode, region: Option<&str>, any_country: bool) -> Vec<TaxRule> {
        [TaxLevel::Normal, TaxLevel::Compound]
            .into_iter()
            .filter_map(|level| {
                self.rules
                    .iter()
                    .filter(|rule| rule.level == level && rule.applies_to(country, region, any_country))
                    .max_by_key(|rule| rule.specificity())
                    .cloned()
            })
            .collect()
    }
}

/// The installation's tax settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaxSettings {
    /// Whether prices include tax.
    pub price_mode: PriceMode,
    /// Where the seller is established; decides whether the EU rules apply.
    pub seller_country: CountryCode,
    /// Which rate EU consumers in other member states pay.
    pub eu_consumer_vat: EuConsumerVat,
}

impl TaxSettings {
    /// Exclusive prices, destination-country VAT, for a seller in `seller_country`.
    pub fn new(seller_country: CountryCode) -> TaxSettings {
        TaxSettings { price_mode: PriceMode::default(), seller_country, eu_consumer_vat: EuConsumerVat::default() }
    }
}

/// What taxes depend on about the buyer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buyer {
    /// The billing address's country.
    pub country: CountryCode,
    /// The billing address's state or region.
    pub region: Option<String>,
    /// The buyer's EU VAT number, format-checked; a business buyer in the EU has one.
    pub vat_id: Option<VatId>,
    /// Marked tax-exempt by staff (a charity, a reseller with an exemption certificate).
    pub tax_exempt: bool,
}

impl Buyer {
    /// A consumer in `country`: no region, no VAT number, not exempt.
    pub fn in_country(country: CountryCode) -> Buyer {
        Buyer { country, region: None, vat_id: None, tax_exempt: false }
    }
}

/// Everything a tax decision depends on: the installation's settings and the buyer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxContext {
    /// The installation's settings.
    pub settings: TaxSettings,
    /// The buyer.
    pub buyer: Buyer,
}

/// Why a sale is, or is not, taxed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaxTreatment {
    /// The rules in [`TaxDecision::rules`] apply (there may be none).
    Taxed,
    /// The buyer is tax-exempt.
    Exempt,
    /// EU business-to-business across member states: no VAT charged; the invoice must say
    /// that the buyer accounts for it ("reverse charge").
    ReverseCharge,
    /// An EU seller selling outside the EU with no rule for the buyer's country: no VAT.
    Export,
}

/// Which rules apply to a sale, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxDecision {
    /// Why.
    pub treatment: TaxTreatment,
    /// Whether prices include tax.
    pub price_mode: PriceMode,
    /// At most one rule per level, level 1 first.
    pub rules: Vec<TaxRule>,
}

impl TaxDecision {
    /// Whether the invoice must carry the reverse-charge wording.
    pub fn reverse_charge(&self) -> bool {
        self.treatment == TaxTreatment::ReverseCharge
    }
}

/// Why tax rules were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    /// A rule without a name to print.
    #[error("a tax rule needs a name, such as VAT")]
    EmptyName,
    /// A rate below 0 or above 100 %.
    #[error("the rate of {name} must be between 0 and 100 %, not {rate}")]
    InvalidRate {
        /// The rule's name.
        name: String,
        /// The rate given.
        rate: Decimal,
    },
    /// A level other than 1 or 2.
    #[error("a tax level is 1 (normal) or 2 (compound), not {level}")]
    InvalidLevel {
        /// The level given.
        level: u8,
    },
    /// A region was given but no country.
    #[error("{name} names a region but no country")]
    RegionWithoutCountry {
        /// The rule's name.
        name: String,
    },
    /// A region of only spaces.
    #[error("{name} has an empty region; leave it out to cover the whole country")]
    EmptyRegion {
        /// The rule's name.
        name: String,
    },
    /// Two rules of the same level for the same place.
    #[error("{first} and {second} are both level-1 or both level-2 taxes for the same place")]
    DuplicateRule {
        /// The earlier rule's name.
        first: String,
        /// The later rule's name.
        second: String,
    },
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code).unwrap()
    }

    fn eu_rules() -> TaxRules {
        TaxRules::new(vec![
            TaxRule::new("MwSt", dec!(19)).in_country(country("DE")),
            TaxRule::new("TVA", dec!(20)).in_country(country("FR")),
            TaxRule::new("BTW", dec!(21)).in_country(country("NL")),
            TaxRule::new("MVA", dec!(25)).in_country(country("NO")),
            TaxRule::new("Everywhere", dec!(10)),
        ])
        .unwrap()
    }

    fn german_seller() -> TaxSettings {
        TaxSettings::new(country("DE"))
    }

    fn decide(rules: &TaxRules, settings: TaxSettings, buyer: Buyer) -> TaxDecision {
        rules.decide(&TaxContext { settings, buyer })
    }

    fn names(decision: &TaxDecision) -> Vec<&str> {
        decision.rules.iter().map(|rule| rule.name.as_str()).collect()
    }

    #[test]
    fn a_domestic_sale_in_the_eu_is_taxed_at_the_sellers_rate_even_to_a_business() {
        let buyer = Buyer { vat_id: Some(VatId::parse("DE123456789").unwrap()), ..Buyer::in_country(country("DE")) };
        let decision = decide(&eu_rules(), german_seller(), buyer);
        assert_eq!(decision.treatment, TaxTreatment::Taxed);
        assert_eq!(names(&decision), ["MwSt"]);
    }

    #[test]
    fn a_business_in_another_member_state_with_a_vat_number_is_reverse_charged() {
        let buyer = Buyer { vat_id: Some(VatId::parse("FRAB123456789").unwrap()), ..Buyer::in_country(country("FR")) };
        let decision = decide(&eu_rules(), german_seller(), buyer);
        assert!(decision.reverse_charge());
        assert!(decision.rules.is_empty());
    }

    #[test]
    fn a_vat_number_of_another_country_than_the_address_does_not_reverse_charge() {
        let buyer = Buyer { vat_id: Some(VatId::parse("NL123456789B01").unwrap()), ..Buyer::in_country(country("FR")) };
        let decision = decide(&eu_rules(), german_seller(), buyer);
        assert_eq!(decision.treatment, TaxTreatment::Taxed);
        assert_eq!(names(&decision), ["TVA"]);
    }

    #[test]
    fn an_eu_consumer_pays_the_rate_of_their_own_country() {
        let decision = decide(&eu_rules(), german_seller(), Buyer::in_country(country("NL")));
        assert_eq!(names(&decision), ["BTW"]);
    }

    #[test]
    fn under_the_origin_rule_an_eu_consumer_pays_the_sellers_rate() {
        let settings = TaxSettings { eu_consumer_vat: EuConsumerVat::Origin, ..german_seller() };
        let decision = decide(&eu_rules(), settings, Buyer::in_country(country("NL")));
        assert_eq!(names(&decision), ["MwSt"]);
    }

    #[test]
    fn an_eu_consumer_in_a_country_without_a_rule_is_not_taxed_by_a_rule_for_every_country() {
        let decision = decide(&eu_rules(), german_seller(), Buyer::in_country(country("IT")));
        assert_eq!(decision.treatment, TaxTreatment::Taxed);
        assert!(decision.rules.is_empty());
    }

    #[test]
    fn a_non_eu_buyer_of_an_eu_seller_is_an_export_unless_their_country_has_a_rule() {
        let us = decide(&eu_rules(), german_seller(), Buyer::in_country(country("US")));
        assert_eq!(us.treatment, TaxTreatment::Export);
        assert!(us.rules.is_empty());
        let norway = decide(&eu_rules(), german_seller(), Buyer::in_country(country("NO")));
        assert_eq!(norway.treatment, TaxTreatment::Taxed);
        assert_eq!(names(&norway), ["MVA"]);
    }

    #[test]
    fn a_tax_exempt_buyer_pays_no_tax_anywhere() {
        let buyer = Buyer { tax_exempt: true, ..Buyer::in_country(country("DE")) };
        let decision = decide(&eu_rules(), german_seller(), buyer);
        assert_eq!(decision.treatment, TaxTreatment::Exempt);
        assert!(decision.rules.is_empty());
    }

    #[test]
    fn outside_the_eu_the_most_specific_rule_of_each_level_applies() {
        let rules = TaxRules::new(vec![
            TaxRule::new("GST", dec!(5)).in_country(country("CA")),
            TaxRule::new("HST", dec!(13)).in_country(country("CA")).in_region("Ontario"),
            TaxRule::new("QST", dec!(9.975)).in_country(country("CA")).in_region("Quebec").compound(),
            TaxRule::new("Sales tax", dec!(7)),
        ])
        .unwrap();
        let settings = TaxSettings::new(country("CA"));
        let ontario = Buyer { region: Some(" ontario ".into()), ..Buyer::in_country(country("CA")) };
        assert_eq!(names(&decide(&rules, settings, ontario)), ["HST"]);
        let quebec = Buyer { region: Some("Quebec".into()), ..Buyer::in_country(country("CA")) };
        assert_eq!(names(&decide(&rules, settings, quebec)), ["GST", "QST"]);
        assert_eq!(names(&decide(&rules, settings, Buyer::in_country(country("US")))), ["Sales tax"]);
    }

    #[test]
    fn two_rules_of_one_level_for_the_same_place_are_refused() {
        let duplicate = TaxRules::new(vec![
            TaxRule::new("VAT", dec!(19)).in_country(country("DE")),
            TaxRule::new("Other VAT", dec!(7)).in_country(country("DE")),
        ]);
        assert!(matches!(duplicate, Err(TaxError::DuplicateRule { .. })));
        let regions = TaxRules::new(vec![
            TaxRule::new("A", dec!(1)).in_country(country("US")).in_region("NY"),
            TaxRule::new("B", dec!(2)).in_country(country("US")).in_region(" ny"),
        ]);
        assert!(matches!(regions, Err(TaxError::DuplicateRule { .. })));
        let levels = TaxRules::new(vec![
            TaxRule::new("A", dec!(1)).in_country(country("US")),
            TaxRule::new("B", dec!(2)).in_country(country("US")).compound(),
        ]);
        assert!(levels.is_ok());
    }

    #[test]
    fn absurd_or_incomplete_rules_are_refused() {
        assert!(matches!(TaxRules::new(vec![TaxRule::new("VAT", dec!(-1))]), Err(TaxError::InvalidRate { .. })));
        assert!(matches!(TaxRules::new(vec![TaxRule::new("VAT", dec!(100.01))]), Err(TaxError::InvalidRate { .. })));
        assert_eq!(TaxRules::new(vec![TaxRule::new(" ", dec!(1))]), Err(TaxError::EmptyName));
        assert!(matches!(
            TaxRules::new(vec![TaxRule::new("X", dec!(1)).in_region("NY")]),
            Err(TaxError::RegionWithoutCountry { .. })
        ));
        assert!(matches!(
            TaxRules::new(vec![TaxRule::new("X", dec!(1)).in_country(country("US")).in_region(" ")]),
            Err(TaxError::EmptyRegion { .. })
        ));
    }

    #[test]
    fn tax_levels_are_stored_as_1_and_2() {
        assert_eq!(TaxLevel::from_number(2), Ok(TaxLevel::Compound));
        assert_eq!(TaxLevel::Normal.number(), 1);
        assert!(TaxLevel::from_number(3).is_err());
    }
}
