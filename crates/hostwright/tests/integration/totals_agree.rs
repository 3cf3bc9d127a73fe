//! The cart and the invoice compute every amount with the same core function
//! (`hostwright_core::compute_totals`): random carts — any currency and rounding rule, any
//! quantities, taxed or not, prices with or without tax, consumers at home, EU businesses,
//! exports and tax-exempt clients — are drafted as invoices through the application and
//! must come out exactly as the core computes them, line by line and tax line by tax line.

use hostwright::audit::Actor;
use hostwright::ids::{ClientId, StaffId};
use hostwright::invoices::drafts::{self, DraftInput, LineInput};
use hostwright::invoices::service;
use hostwright_core::strategies::cart;
use hostwright_core::{
    Buyer, CountryCode, Currency, Decimal, Line, PriceMode, TaxContext, TaxRule, TaxRules, TaxSettings, VatId,
    compute_totals,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

use crate::on_both_backends;
use crate::support::{TestApp, fixtures};

/// The buyers the carts are sold to: (email, country, tax id, exempt).
const BUYERS: [(&str, &str, &str, bool); 4] = [
    ("consumer@example.de", "DE", "", false),
    ("business@example.fr", "FR", "FR40303265045", false),
    ("export@example.com", "US", "", false),
    ("charity@example.de", "DE", "", true),
];

fn expected_context(buyer: (&str, &str, &str, bool), inclusive: bool) -> (TaxContext, TaxRules) {
    let de = CountryCode::parse("DE").unwrap();
    let country = CountryCode::parse(buyer.1).unwrap();
    let rules = TaxRules::new(vec![TaxRule::new("VAT", Decimal::from(19)).in_country(de)]).unwrap();
    let mut settings = TaxSettings::new(de);
    settings.price_mode = if inclusive { PriceMode::Inclusive } else { PriceMode::Exclusive };
    let mut client = Buyer::in_country(country);
    client.vat_id = VatId::parse_for(country, buyer.2).ok();
    client.tax_exempt = buyer.3;
    (TaxContext { settings, buyer: client }, rules)
}

async fn billing_mode(app: &mut TestApp, inclusive: bool) {
    let mut form = vec![
        ("company_name", "Acme Hosting GmbH"),
        ("country", "DE"),
        ("invoice_pattern", "{YYYY}-{SEQ:5}"),
        ("credit_note_pattern", "CN-{YYYY}-{SEQ:5}"),
        ("proforma_pattern", "PF-{SEQ:6}"),
        ("default_due_days", "14"),
    ];
    if inclusive {
        form.push(("prices_include_tax", "on"));
    }
    app.post_form("/admin/settings/billing", &form).await.assert_redirect_to("/admin/settings/billing");
}

/// Sets the stored currency's rounding rule to the one the random cart uses.
async fn currency_like(app: &mut TestApp, currency: Currency) {
    let rule = currency.rounding();
    let increment = rule.increment_minor().to_string();
    let form = [("rate", "1"), ("rounding_mode", rule.mode().key()), ("rounding_increment", increment.as_str())];
    let saved = app.post_form(&format!("/admin/currencies/{}", currency.code()), &form).await;
    saved.assert_redirect_to("/admin/currencies");
}

async fn random_carts_are_invoiced_exactly_as_the_core_computes_them(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    for code in ["USD", "JPY", "KWD", "CHF", "GBP"] {
        app.post_form("/admin/currencies", &[("code", code), ("rate", "1")]).await;
    }
    let mut clients = Vec::new();
    for buyer in BUYERS {
        let id: ClientId = fixtures::client(&mut app, buyer.0).country(buyer.1).tax_id(buyer.2).create().await;
        if buyer.3 {
            let form = [
                ("first_name", "Zoë"),
                ("last_name", "Ørsted"),
                ("email", buyer.0),
                ("country", buyer.1),
                ("status", "active"),
                ("tax_exempt", "on"),
            ];
            app.post_form(&format!("/admin/clients/{id}"), &form).await;
        }
        clients.push(id);
    }
    let actor = Actor::staff(StaffId(1), "ada@hostwright.test", "");
    let mut runner = TestRunner::deterministic();
    let mut compared = 0;
    for round in 0..48 {
        let (currency, lines) = cart().new_tree(&mut runner).unwrap().current();
        // Drafts take whole lines (no discounts) with a quantity above zero.
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|line| Line {
                discount: None,
                quantity: if line.quantity.is_zero() { Decimal::ONE } else { line.quantity },
                ..line
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let inclusive = round % 3 == 1;
        billing_mode(&mut app, inclusive).await;
        currency_like(&mut app, currency).await;
        let which = round % BUYERS.len();
        let input = DraftInput {
            client_id: clients[which],
            currency_code: currency.code().to_owned(),
            due_date: String::new(),
            notes: String::new(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, line)| LineInput {
                    description: format!("Item {i}"),
                    quantity: line.quantity.to_string(),
                    unit_price: line.unit_price.to_decimal_string(),
                    taxed: line.taxable,
                })
                .collect(),
        };
        let id = drafts::create_draft(&app.state, &actor, &input).await.unwrap();
        let (ctx, rules) = expected_context(BUYERS[which], inclusive);
        let expected = compute_totals(currency, &lines, &ctx, &rules).unwrap();

        let invoice = service::find(&app.state.db, id).await.unwrap().unwrap();
        let context = format!("round {round}: {currency:?} {lines:?} for {}", BUYERS[which].0);
        assert_eq!(invoice.subtotal_minor, expected.subtotal.minor(), "{context}");
        assert_eq!(invoice.tax_minor, expected.tax_total.minor(), "{context}");
        assert_eq!(invoice.total_minor, expected.grand_total.minor(), "{context}");
        assert_eq!(invoice.reverse_charge, expected.reverse_charge, "{context}");
        let stored = service::lines(&app.state.db, id).await.unwrap();
        assert_eq!(stored.len(), expected.lines.len(), "{context}");
        for (line, computed) in stored.iter().zip(&expected.lines) {
            assert_eq!((line.amount_minor, line.tax_minor), (computed.net.minor(), computed.tax.minor()), "{context}");
        }
        let taxes = service::tax_lines(&app.state.db, id).await.unwrap();
        let stored_taxes: Vec<(i64, i64)> = taxes.iter().map(|t| (t.base_minor, t.amount_minor)).collect();
        let expected_taxes: Vec<(i64, i64)> =
            expected.tax_lines.iter().map(|t| (t.base.minor(), t.amount.minor())).collect();
        assert_eq!(stored_taxes, expected_taxes, "{context}");
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} carts had lines");
}

on_both_backends!(random_carts_are_invoiced_exactly_as_the_core_computes_them);
