//! A realistic invoice for checking a template: the renderer renders it at start, the tests
//! and the benchmark use it, and a theme author can preview with it.

use super::{DocLine, DocTaxLine, Document, DocumentKind, Party};

const CATALOGUE: [(&str, i64, i64); 8] = [
    ("Web Hosting Business, blue-harbour-shop.de\nPeriod 01.03.2026 – 31.03.2026", 1, 1_490),
    ("Domain renewal müller-bäckerei.de (IDN), 1 year", 1, 1_200),
    ("Wildcard SSL certificate *.blue-harbour-shop.de, 1 year", 1, 8_900),
    ("Managed VPS M (4 vCPU, 8 GB RAM, 160 GB NVMe)\nPeriod 01.03.2026 – 31.03.2026", 1, 2_900),
    ("Additional backup storage, per 50 GB", 3, 250),
    ("E-mail accounts (mailbox 10 GB)", 12, 100),
    ("Dedicated IPv4 address", 2, 350),
    ("Priority support, hours", 2, 6_500),
];
const VAT_PERCENT: i64 = 19;

/// The sample invoice with `lines` item lines (60 makes it run over two pages).
pub fn sample_document(lines: usize) -> Document {
    let mut items = Vec::with_capacity(lines);
    let mut subtotal = 0;
    for (description, quantity, unit) in CATALOGUE.iter().cycle().take(lines) {
        let amount = quantity * unit;
        subtotal += amount;
        items.push(DocLine {
            description: (*description).to_owned(),
            quantity: quantity.to_string(),
            unit_price: cents(*unit),
            amount: cents(amount),
        });
    }
    let discount = 1_000.min(subtotal);
    let base = subtotal - discount;
    let tax = (base * VAT_PERCENT + 50) / 100;
    let total = base + tax;
    let credit = 2_500.min(total);

    Document {
        kind: DocumentKind::Invoice,
        number: "2026-00042".to_owned(),
        issue_date: "01.03.2026".to_owned(),
        due_date: Some("15.03.2026".to_owned()),
        status_label: "Unpaid".to_owned(),
        seller: Party {
            name: "Blue Harbour Hosting GmbH".to_owned(),
            company: None,
            address_lines: vec!["Leopoldstraße 12".to_owned(), "80802 München".to_owned()],
            country: Some("Germany".to_owned()),
            tax_id: Some("DE 123 456 789".to_owned()),
            registration: Some("Amtsgericht München HRB 234567".to_owned()),
            email: Some("billing@blueharbour.example".to_owned()),
        },
        buyer: Party {
            name: "Zoë Ørsted".to_owned(),
            company: Some("Müller Bäckerei GmbH".to_owned()),
            address_lines: vec!["Schönhauser Allee 181".to_owned(), "10119 Berlin".to_owned()],
            country: Some("Germany".to_owned()),
            tax_id: Some("DE 987 654 321".to_owned()),
            registration: None,
            email: Some("zoe.orsted@mueller-baeckerei.example".to_owned()),
        },
        currency: "EUR".to_owned(),
        lines: items,
        tax_lines: vec![DocTaxLine {
            name: "VAT".to_owned(),
            rate: format!("{VAT_PERCENT}%"),
            base: cents(base),
            amount: cents(tax),
        }],
        subtotal: cents(subtotal),
        discount: Some(cents(-discount)),
        tax_total: cents(tax),
        total: cents(total),
        credit_applied: Some(cents(-credit)),
        amount_paid: None,
        balance: cents(total - credit),
        notes: vec![
            "Please pay by 15.03.2026 to IBAN DE02 1203 0000 0000 2020 51 (BIC BYLADEM1001), \
             quoting invoice number 2026-00042."
                .to_owned(),
            "Service date equals the billing period stated on each line.".to_owned(),
        ],
        references: vec!["Order 2026-0311".to_owned()],
    }
}

/// `123456` cents as `"1,234.56"`.
fn cents(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.unsigned_abs();
    let units = (value / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", value % 100)
}
