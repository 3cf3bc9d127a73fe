//! The sample contexts of the pages and emails whose modules do not build typed views yet
//! (`dev::template_check` renders them with the modules' own samples). They mirror what
//! the handlers pass: undefined variables are errors, so each sample holds every variable
//! its handler passes. A page moves out of here when its context becomes a typed view with
//! samples beside it.

use std::collections::BTreeMap;

use minijinja::{Value, context};

use crate::catalog::addons::AddonWelcome;
use crate::catalog::options::{OptionKind, PRICED_CYCLES};
use crate::catalog::service::{PaymentType, ProductType};
use crate::clients::contacts::PERMISSIONS as CONTACT_PERMISSIONS;
use crate::orders::coupons::{CouponKind, Recurrence};
use crate::permissions::Permission;
use crate::web::forms::FormErrors;
use crate::web::view::{SCRIPT, Sample, TIME, form_errors as errors};

/// What `AppState::render_status` adds to every page (`extra` wins, as there).
fn page(registration_open: bool, extra: Value) -> Value {
    crate::web::view::page_context(registration_open, extra)
}

/// What `Email::compose` adds to every email.
fn email(extra: Value) -> Value {
    context! {
        ..extra,
        ..context! {
            site => context! { name => "Acme Hosting", url => "https://hosting.example.com/" },
            recipient => context! { name => SCRIPT, email => "jo@example.com" },
        }
    }
}

fn all_permissions() -> Vec<&'static str> {
    Permission::ALL.iter().map(|p| p.key()).collect()
}

/// `CurrentStaff::template_value`.
fn staff(permissions: &[&str]) -> Value {
    context! { id => 1, name => SCRIPT, email => "admin@example.com", permissions => permissions }
}

/// `CurrentClient::template_value` of the account's owner (who may use everything).
fn client(email_verified: bool) -> Value {
    let permissions: Vec<&str> = CONTACT_PERMISSIONS.iter().map(|(key, _)| *key).collect();
    context! {
        id => 7,
        name => SCRIPT,
        account_name => SCRIPT,
        email => "jo@example.com",
        email_verified => email_verified,
        is_owner => true,
        permissions => permissions,
    }
}

/// `CurrentClient::template_value` of a sub-user allowed only `permissions`.
fn sub_user(permissions: &[&str]) -> Value {
    context! {
        id => 7,
        name => SCRIPT,
        account_name => SCRIPT,
        email => "ana@example.com",
        email_verified => true,
        is_owner => false,
        permissions => permissions,
    }
}

/// A row of `audit::handlers::row`.
fn audit_row(entity_type: Option<&str>, entity_id: Option<i64>, ip: &str) -> Value {
    context! {
        id => 3,
        occurred_at => TIME,
        actor_kind => "staff",
        actor_id => Some(1),
        actor_label => SCRIPT,
        action => "staff.created",
        entity_type => entity_type,
        entity_id => entity_id,
        ip => ip,
        summary => SCRIPT,
    }
}

fn audit_rows() -> Vec<Value> {
    vec![
        audit_row(Some("staff"), Some(2), "192.0.2.1"),
        audit_row(Some("email"), Some(5), ""),
        audit_row(Some("settings"), None, "192.0.2.1"),
        audit_row(None, None, ""),
    ]
}

/// `clients::admin_handlers::group_options`.
fn group_options() -> Vec<(String, String)> {
    vec![("1".into(), "Resellers".into()), ("2".into(), SCRIPT.into())]
}

/// `clients::admin_handlers::country_options` (the real list is long).
fn country_options() -> Vec<(&'static str, &'static str)> {
    vec![("DE", "Germany"), ("FR", "France"), ("GB", "United Kingdom")]
}

/// `clients::field_handlers::inputs`: a text, a dropdown (holding a choice since removed)
/// and a checkbox the audience sees, plus staff-only ones for staff. `filled` holds values.
fn custom_field_inputs(staff: bool, filled: bool) -> Vec<Value> {
    let input = |id: i64, kind: &str, value: &str, required: bool, admin_only: bool| {
        let mut options: Vec<(String, String)> = Vec::new();
        if kind == "dropdown" {
            options.push((String::new(), if required { "Choose…".into() } else { "—".into() }));
            options.extend([("Small".to_owned(), "Small".to_owned()), (SCRIPT.to_owned(), SCRIPT.to_owned())]);
            if filled {
                options.push(("Old".into(), "Old (no longer offered)".into()));
            }
        }
        context! {
            name => format!("cf_{id}"),
            label => SCRIPT,
            kind => kind,
            checked => value == "yes",
            value => value,
            required => required,
            help => if id % 2 == 0 { SCRIPT } else { "" },
            admin_only => admin_only,
            options => options,
            max_length => 500,
        }
    };
    let (text, choice, tick) = if filled { (SCRIPT, "Old", "yes") } else { ("", "", "") };
    let mut inputs = vec![
        input(1, "text", text, true, false),
        input(2, "dropdown", choice, true, false),
        input(3, "checkbox", tick, !staff, false),
    ];
    if staff {
        inputs.push(input(4, "text", text, false, true));
        inputs.push(input(5, "checkbox", tick, false, true));
        inputs.push(input(6, "dropdown", if filled { SCRIPT } else { "" }, false, true));
    }
    inputs
}

/// A row of `catalog::handlers::product_row` (types as labels).
fn product_row(
    id: i64,
    name: &str,
    payment_type: PaymentType,
    hidden: bool,
    retired: bool,
    stock: Option<i32>,
) -> Value {
    context! {
        id => id,
        group_id => 1,
        name => name,
        product_type => ProductType::SharedHosting.label(),
        payment_type => payment_type.label(),
        hidden => hidden,
        retired => retired,
        stock_enabled => stock.is_some(),
        stock_quantity => stock.unwrap_or(0),
    }
}

/// `GroupForm::value` of the catalog pages.
fn product_group_form(filled: bool) -> Value {
    let text = if filled { SCRIPT } else { "" };
    context! { name => text, headline => text, sort_order => text, visible => !filled }
}

/// `ProductForm::value`: the defaults of `new_product_form`, or everything typed.
fn product_form(filled: bool, payment_type: PaymentType) -> Value {
    let text = if filled { SCRIPT } else { "" };
    context! {
        group_id => if filled { "2" } else { "" },
        name => text,
        product_type => if filled { "vps" } else { "shared_hosting" },
        description => if filled { format!("{SCRIPT}\nsecond line") } else { String::new() },
        payment_type => payment_type.key(),
        taxable => !filled,
        hidden => filled,
        retired => filled,
        stock_enabled => filled,
        stock_quantity => text,
        prorata_enabled => filled,
        prorata_day => if filled { SCRIPT } else { "1" },
        prorata_cutoff_day => text,
        sort_order => text,
        module => if filled { SCRIPT } else { "none" },
    }
}

/// `catalog::handlers::options`.
fn catalog_options(groups: bool) -> Value {
    context! {
        groups => if groups { group_options() } else { Vec::new() },
        product_types => ProductType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        payment_types => PaymentType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        modules => vec![("none", "None (set up by hand)"), ("postgres", "PostgreSQL database")],
    }
}

/// `catalog::handlers::price_matrix`; `typed` fills every cell with what a user typed.
fn price_matrix(payment_type: PaymentType, currencies: &[&str], typed: bool) -> Value {
    context! { payment_type => payment_type.key(), ..price_grid(payment_type.cycles(), currencies, typed) }
}

/// `catalog::handlers::price_grid`.
fn price_grid(cycles: &[hostwright_core::BillingCycle], currencies: &[&str], typed: bool) -> Value {
    let rows: Vec<Value> = cycles
        .iter()
        .enumerate()
        .map(|(i, cycle)| {
            let cells: Vec<Value> = currencies
                .iter()
                .map(|code| {
                    let (price, setup) = match (typed, i % 2) {
                        (true, _) => (SCRIPT, SCRIPT),
                        (false, 0) => ("9.99", "4.50"),
                        (false, _) => ("", ""),
                    };
                    context! {
                        currency => code,
                        price_field => format!("price.{code}.{}", cycle.key()),
                        setup_field => format!("setup.{code}.{}", cycle.key()),
                        price => price,
                        setup => setup,
                    }
                })
                .collect();
            context! { cycle => cycle.key(), label => cycle.label(), cells => cells }
        })
        .collect();
    context! { currencies => currencies, rows => rows }
}

/// A row of `catalog::handlers::product_choices`.
fn product_choice(id: i64, name: &str, retired: bool, checked: bool) -> Value {
    context! { id => id, name => name, group => SCRIPT, retired => retired, checked => checked }
}

fn product_choices() -> Vec<Value> {
    vec![product_choice(1, SCRIPT, false, true), product_choice(2, "Starter", true, false)]
}

/// `orders::coupon_handlers::form_options`: with products, add-ons and currencies, or none.
fn promotion_options(filled: bool) -> Value {
    let addons = vec![
        context! { id => 1, name => SCRIPT, retired => false, checked => true },
        context! { id => 2, name => "Old backups", retired => true, checked => false },
    ];
    let cycles: Vec<(&str, &str)> = hostwright_core::BillingCycle::ALL
        .iter()
        .filter(|c| **c != hostwright_core::BillingCycle::Free)
        .map(|c| (c.key(), c.label()))
        .collect();
    context! {
        kinds => CouponKind::ALL.iter().map(|k| (k.key(), k.label())).collect::<Vec<_>>(),
        recurrences => Recurrence::ALL.iter().map(|r| (r.key(), r.label())).collect::<Vec<_>>(),
        currencies => if filled { vec![("USD", "USD"), ("EUR", "EUR")] } else { Vec::new() },
        cycles => cycles,
        products => if filled { product_choices() } else { Vec::new() },
        addons => if filled { addons } else { Vec::new() },
    }
}

/// `orders::coupon_handlers::CouponForm::value`: a new code's defaults or everything typed.
fn promotion_form(filled: bool) -> Value {
    let text = if filled { SCRIPT } else { "" };
    context! {
        code => text, kind => if filled { "fixed" } else { "percent" }, percent => text, amount => text,
        currency_code => "EUR", cycles => if filled { vec!["monthly", "annually"] } else { Vec::new() },
        applies_to_setup => filled, recurrence => if filled { "recurring" } else { "once" },
        recurring_limit => text, starts_on => text, expires_on => text, max_uses => text,
        max_uses_per_client => text, new_clients_only => filled, active => !filled, notes => text,
    }
}

/// `catalog::option_handlers::option_value_of` (plus the group page's value counts).
fn config_option(id: i64, kind: OptionKind, hidden: bool, values: usize) -> Value {
    let quantity = kind == OptionKind::Quantity;
    context! {
        id => id,
        name => SCRIPT,
        kind => kind.key(),
        kind_label => kind.label(),
        single_value => kind.has_single_value(),
        hidden => hidden,
        unit_label => if quantity { SCRIPT } else { "" },
        range => if quantity { format!("1 to 16 {SCRIPT}, in steps of 1") } else { String::new() },
        values => values,
        visible_values => values.saturating_sub(1),
    }
}

/// `OptionForm::value`: the "New option" defaults, or everything typed.
fn config_option_form(filled: bool, kind: OptionKind) -> Value {
    let text = if filled { SCRIPT } else { "" };
    context! {
        name => text,
        kind => if filled { SCRIPT } else { kind.key() },
        sort_order => text,
        hidden => filled,
        quantity_min => if filled { SCRIPT } else { "0" },
        quantity_max => text,
        quantity_step => if filled { SCRIPT } else { "1" },
        unit_label => text,
    }
}

/// `AddonForm::value`.
fn addon_form(filled: bool) -> Value {
    let text = if filled { SCRIPT } else { "" };
    context! {
        name => text,
        description => if filled { format!("{SCRIPT}\nsecond line") } else { String::new() },
        payment_type => if filled { SCRIPT } else { "recurring" },
        taxable => !filled,
        hidden => filled,
        retired => filled,
        welcome_email => if filled { SCRIPT } else { "none" },
    }
}

/// `catalog::addon_handlers::choices`.
fn addon_choices() -> Value {
    context! {
        payment_types => PaymentType::ALL.iter().map(|t| (t.key(), t.label())).collect::<Vec<_>>(),
        welcome_emails => AddonWelcome::ALL.iter().map(|w| (w.key(), w.label())).collect::<Vec<_>>(),
    }
}

/// A row of `catalog::handlers::render_currencies`.
fn currency_row(
    code: &str,
    name: &str,
    exponent: i16,
    is_default: bool,
    rate: &str,
    mode: &str,
    increment: i32,
) -> Value {
    context! {
        code => code,
        name => name,
        exponent => exponent,
        is_default => is_default,
        rate => rate,
        rate_updated_at => TIME,
        rounding_mode => mode,
        rounding_increment => increment,
    }
}

/// A `service::PartySnapshot` (seller or buyer of an invoice).
fn party(filled: bool) -> Value {
    if filled {
        context! {
            name => SCRIPT,
            company => SCRIPT,
            address_lines => vec![SCRIPT, "10115 Berlin"],
            country => "DE",
            tax_id => SCRIPT,
            registration => SCRIPT,
            email => SCRIPT,
        }
    } else {
        context! {
            name => "",
            company => "",
            address_lines => Vec::<&str>::new(),
            country => "",
            tax_id => "",
            registration => "",
            email => "",
        }
    }
}

/// What `invoices::handlers::client_invoice_rows` gives the admin client page's invoices tab.
pub(crate) fn client_invoice_rows(filled: bool) -> Value {
    if filled {
        let rows = vec![
            invoice_row(1, "draft", false, false, true),
            invoice_row(2, "unpaid", true, false, true),
            invoice_row(5, "refunded", false, false, false),
        ];
        context! { rows => rows, total => 120 }
    } else {
        context! { rows => Vec::<Value>::new(), total => 0 }
    }
}

/// A row of `invoices::handlers::invoice_row`.
fn invoice_row(id: i64, status: &str, overdue: bool, reverse_charge: bool, filled: bool) -> Value {
    let draft = status == "draft";
    let paid = status == "paid";
    let total = if reverse_charge { "100.00 EUR" } else { "119.00 EUR" };
    let credited = if status == "refunded" { Some(total) } else { (filled && !draft).then_some("10.00 EUR") };
    let refunded = if status == "refunded" { Some(total) } else { (filled && paid).then_some("10.00 EUR") };
    context! {
        id => id,
        number => if draft { format!("Draft #{id}") } else { format!("2026-{id:05}") },
        legal_number => (!draft).then(|| format!("2026-{id:05}")),
        proforma_number => None::<String>,
        client_id => 7,
        client_name => if filled { format!("{SCRIPT} ({SCRIPT})") } else { "Jo Doe".to_owned() },
        status => status,
        overdue => overdue,
        issue_date => (!draft).then_some("2026-11-01"),
        due_date => "2026-11-15",
        paid_date => paid.then_some("2026-11-10"),
        currency => "EUR",
        subtotal => "100.00 EUR",
        discount => "0.00 EUR",
        tax => if reverse_charge { "0.00 EUR" } else { "19.00 EUR" },
        total => total,
        credit_applied => "0.00 EUR",
        amount_paid => if paid { "119.00 EUR" } else if filled { "19.00 EUR" } else { "0.00 EUR" },
        credited => credited,
        refunded => refunded,
        balance => if paid { "0.00 EUR" } else if filled { "100.00 EUR" } else { "119.00 EUR" },
        balance_decimal => if paid { "0.00" } else if filled { "100.00" } else { "119.00" },
        reverse_charge => reverse_charge,
        tax_treatment => if reverse_charge { "reverse_charge" } else { "standard" },
        notes => if filled { format!("{SCRIPT}\nsecond line") } else { String::new() },
        buyer => party(filled),
        seller => party(filled),
    }
}

/// `invoices::handlers::invoice_detail`: lines, taxes and payments (empty when not `filled`).
fn invoice_detail(filled: bool) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    if !filled {
        return (Vec::new(), Vec::new(), Vec::new());
    }
    let lines = vec![
        context! { description => format!("{SCRIPT}\nsecond line"), quantity => "1", unit_price => "90.00", amount => "90.00", tax => "17.10", taxed => true },
        context! { description => "Setup", quantity => "2.5", unit_price => "4.00", amount => "10.00", tax => "0.00", taxed => false },
    ];
    let taxes = vec![context! { name => SCRIPT, rate => "19", base => "100.00 EUR", amount => "19.00 EUR" }];
    let payments = vec![
        context! { amount => "19.00 EUR", fee => "0.50 EUR", method => "Bank transfer", reference => SCRIPT, paid_on => "2026-11-05" },
        context! { amount => "0.00 EUR", fee => "0.00 EUR", method => "Other", reference => "", paid_on => "2026-11-06" },
    ];
    (lines, taxes, payments)
}

/// A row of `invoices::views::note_row`; `refund_method` empty when nothing was
/// refunded.
fn credit_note_row(id: i64, refund_method: &str, filled: bool) -> Value {
    let refunded = !refund_method.is_empty();
    context! {
        id => id,
        number => format!("CN-2026-{id:05}"),
        invoice_id => 9,
        issue_date => "2026-11-20",
        reason => if filled { format!("{SCRIPT}\nsecond line") } else { "Service cancelled.".to_owned() },
        net => "10.00 EUR",
        tax => "1.90 EUR",
        total => "11.90 EUR",
        settled => if refunded { "1.90 EUR" } else { "11.90 EUR" },
        refunded => refunded.then_some("10.00 EUR"),
        refund_method => refund_method,
        currency => "EUR",
    }
}

/// Credit notes of an invoice or client: without refund, refunded either way, and a refund
/// method the templates do not know.
fn credit_note_rows() -> Vec<Value> {
    vec![
        credit_note_row(1, "", true),
        credit_note_row(2, "account_credit", false),
        credit_note_row(3, "external", true),
        credit_note_row(4, "odd", false),
    ]
}

/// A row of `invoices::credit_handlers::entry_row`.
fn credit_entry_row(
    amount: &str,
    balance_after: &str,
    kind: &str,
    reason: &str,
    invoice_id: Option<i64>,
    credit_note_id: Option<i64>,
    staff_name: &str,
) -> Value {
    context! {
        at => TIME,
        amount => amount,
        added => !amount.starts_with('-'),
        balance_after => balance_after,
        kind => crate::invoices::account_credit::kind_label(kind),
        reason => reason,
        invoice_id => invoice_id,
        credit_note_id => credit_note_id,
        staff_name => staff_name,
    }
}

/// `invoices::account_credit::handlers::credit_overview` (empty lists when not `filled`).
pub(crate) fn credit_overview(filled: bool) -> Value {
    use crate::invoices::account_credit::{ADDED, APPLIED, CREDIT_NOTE, REMOVED};
    if !filled {
        return context! {
            balances => Vec::<Value>::new(),
            entries => Vec::<Value>::new(),
            credit_notes => Vec::<Value>::new(),
        };
    }
    let reason = "Credit note CN-2026-00002 for invoice 2026-00009";
    context! {
        balances => vec![
            context! { currency => "EUR", amount => "25.00 EUR" },
            context! { currency => "USD", amount => "0.00 USD" },
        ],
        entries => vec![
            credit_entry_row("-5.00 USD", "0.00 USD", REMOVED, "", None, None, "Sam"),
            credit_entry_row("-10.00 EUR", "25.00 EUR", APPLIED, "Applied to invoice 2026-00009", Some(9), None, SCRIPT),
            credit_entry_row("10.00 EUR", "35.00 EUR", CREDIT_NOTE, reason, Some(9), Some(2), ""),
            credit_entry_row("25.00 EUR", "25.00 EUR", ADDED, SCRIPT, None, None, SCRIPT),
            credit_entry_row("1.00 EUR", "1.00 EUR", "odd", "", None, Some(3), ""),
        ],
        credit_notes => credit_note_rows(),
    }
}

/// A row of `services::views::service_row`; `filled` sets every optional field.
fn service_row(id: i64, status: crate::services::status::Status, filled: bool) -> Value {
    context! {
        id => id,
        client_id => 7,
        client_name => SCRIPT,
        order_id => if filled { Some(3) } else { None },
        product_id => 1,
        product => SCRIPT,
        status => status.key(),
        status_label => status.label(),
        domain => if filled { SCRIPT } else { "" },
        hostname => if filled { SCRIPT } else { "" },
        username => if filled { SCRIPT } else { "" },
        has_password => filled,
        server_id => if filled { Some(2) } else { None },
        registration_date => "2026-11-21",
        next_due_date => if filled { Some("2026-12-21") } else { None },
        cycle => "Monthly",
        cycle_key => "monthly",
        currency => "EUR",
        recurring => "10.00 EUR",
        recurring_decimal => "10.00",
        first_payment => "15.00 EUR",
        use_current_price => filled,
        notes => if filled { SCRIPT } else { "" },
        suspend_reason => if filled { SCRIPT } else { "" },
        suspended_on => if filled { Some("2026-11-25") } else { None },
        terminated_on => if filled { Some("2026-11-26") } else { None },
        cancelled_on => if filled { Some("2026-11-27") } else { None },
    }
}

pub(crate) fn service_rows() -> Vec<Value> {
    use crate::services::status::Status;
    Status::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| service_row(i64::try_from(i).unwrap_or(0) + 1, *s, i % 2 == 0))
        .collect()
}

/// A row of `services::views::request_row`.
fn cancellation_row(id: i64, status: &str, kind: &str) -> Value {
    context! {
        id => id,
        service_id => 4,
        kind => kind,
        when => crate::services::cancellations::describe(kind, chrono::NaiveDate::from_ymd_opt(2026, 12, 21)),
        reason => SCRIPT,
        status => status,
        status_label => crate::services::cancellations::status_label(status),
        requested_by => SCRIPT,
        requested_at => TIME,
        resolved_at => if status == "open" { None } else { Some(TIME) },
    }
}

fn cancellation_rows() -> Vec<Value> {
    vec![
        cancellation_row(4, "open", "end_of_period"),
        cancellation_row(3, "done", "immediate"),
        cancellation_row(2, "withdrawn", "end_of_period"),
        cancellation_row(1, "rejected", "immediate"),
    ]
}

/// `services::views::option_rows` and `addon_rows`.
fn service_extras() -> (Vec<Value>, Vec<Value>) {
    let options =
        vec![context! { option => SCRIPT, value => SCRIPT }, context! { option => "Extra RAM", value => "4 GB" }];
    let addons = vec![
        context! { name => SCRIPT, status => "active", status_label => "Active", cycle => "Monthly", amount => "2.00 EUR", next_due_date => Some("2026-12-21") },
        context! { name => "Backups", status => "cancelled", status_label => "Cancelled", cycle => "One time", amount => "0.00 EUR", next_due_date => None::<&str> },
    ];
    (options, addons)
}

/// The sample contexts, by template name; several per template where a page has several
/// states worth rendering.
pub fn samples() -> Vec<Sample> {
    contexts().into_iter().map(|(template, context)| Sample::new(template, context)).collect()
}

fn contexts() -> Vec<(String, Value)> {
    let all = all_permissions();
    let mut out = Vec::new();
    let mut add = |name: &str, ctx: Value| out.push((name.to_owned(), ctx));

    // Error pages (web/middleware.rs renders these itself, without flash).
    add(
        "error.html",
        context! {
            status => 404,
            title => "Page not found",
            message => SCRIPT,
            request_id => "request-id-sample",
            site => context! { name => "Acme Hosting", registration_open => false },
            csrf_token => "",
        },
    );
    add(
        "error.html",
        context! {
            status => 500,
            title => "Something went wrong",
            message => SCRIPT,
            request_id => "",
            site => context! { name => "Acme Hosting", registration_open => false },
            csrf_token => "",
        },
    );

    // Emails (mail/mod.rs composes .subject.txt, .txt and .html from the same context).
    let issued = |proforma: bool| {
        email(context! {
            number => if proforma { "PF-000012" } else { "2026-00012" },
            proforma => proforma,
            total => "119.00 EUR",
            due_date => "2026-11-15",
            link => "https://hosting.example.com/account/invoices/12",
            first_name => SCRIPT,
        })
    };
    let credited = |refunded: Option<&str>, to_account_credit: bool| {
        email(context! {
            number => "CN-2026-00002",
            invoice_number => "2026-00012",
            total => "11.90 EUR",
            refunded => refunded,
            to_account_credit => to_account_credit,
            reason => format!("{SCRIPT}\nsecond line"),
            link => "https://hosting.example.com/account/credit",
            first_name => SCRIPT,
        })
    };
    let reminder = |days: u32, overdue: bool, due_today: bool| {
        email(context! {
            number => SCRIPT,
            balance => "29.75 EUR",
            due_date => "2026-11-15",
            days => days,
            overdue => overdue,
            due_today => due_today,
            link => "https://hosting.example.com/account/invoices/12",
            first_name => SCRIPT,
        })
    };
    let charge_failed = |needs_authentication: bool, next: Option<&str>| {
        email(context! {
            number => SCRIPT,
            amount => "29.75 EUR",
            card => "Visa ending 4242, expires 04/2030",
            reason => SCRIPT,
            needs_authentication => needs_authentication,
            next_attempt => next,
            link => "https://hosting.example.com/account/invoices/12",
            methods_link => "https://hosting.example.com/account/payment-methods",
            first_name => SCRIPT,
        })
    };
    let received = |number: Option<&str>, paid_in_full: bool| {
        email(context! {
            amount => "29.75 EUR",
            method => "Card (Stripe)",
            reference => if number.is_some() { SCRIPT } else { "" },
            number => number,
            paid_in_full => paid_in_full,
            balance => number.map(|_| "10.00 EUR"),
            link => number.map(|_| "https://hosting.example.com/account/invoices/12"),
            first_name => SCRIPT,
        })
    };
    for (template, ctx) in [
        ("payment_failed", charge_failed(false, Some("2026-11-16"))),
        ("payment_failed", charge_failed(true, None)),
        ("payment_received", received(Some("2026-00012"), true)),
        ("payment_received", received(Some("2026-00012"), false)),
        ("payment_received", received(None, false)),
        (
            "service_welcome",
            email(context! {
                first_name => SCRIPT, product => SCRIPT, domain => SCRIPT, username => "acme", server => "web01.example.net",
                nameservers => vec!["ns1.example.net", SCRIPT], link => "https://hosting.example.com/account/services/4",
            }),
        ),
        (
            "service_welcome",
            email(context! {
                first_name => SCRIPT, product => "Database", domain => "", username => "acme", server => SCRIPT,
                nameservers => Vec::<&str>::new(), link => "https://hosting.example.com/account/services/4",
            }),
        ),
        ("invoice_reminder", reminder(7, false, false)),
        ("invoice_reminder", reminder(0, false, true)),
        ("invoice_reminder", reminder(1, true, false)),
        ("invoice_reminder", reminder(3, true, false)),
        ("invoice_issued", issued(false)),
        ("invoice_issued", issued(true)),
        ("credit_note_issued", credited(None, false)),
        ("credit_note_issued", credited(Some("10.00 EUR"), true)),
        ("credit_note_issued", credited(Some("10.00 EUR"), false)),
        ("credit_note_issued", email(context! { to_card => true, ..credited(Some("10.00 EUR"), false) })),
    ] {
        for suffix in ["subject.txt", "txt", "html"] {
            add(&format!("emails/{template}.{suffix}"), ctx.clone());
        }
    }

    // The catalog (catalog/handlers.rs).
    let catalog_groups = vec![
        context! {
            id => 1,
            name => "Shared hosting",
            headline => SCRIPT,
            visible => true,
            sort_order => 0,
            products => vec![
                product_row(1, SCRIPT, PaymentType::Recurring, false, false, None),
                product_row(2, "Starter", PaymentType::OneTime, true, false, Some(3)),
                product_row(3, "Legacy", PaymentType::Free, true, true, Some(0)),
            ],
        },
        context! { id => 2, name => SCRIPT, headline => "", visible => false, sort_order => 5, products => Vec::<Value>::new() },
    ];
    for (groups, form, errors) in [
        (catalog_groups, product_group_form(true), errors("name")),
        (Vec::new(), product_group_form(false), FormErrors::new()),
    ] {
        add(
            "admin/catalog/index.html",
            page(
                true,
                context! { current_staff => staff(&all), nav => "catalog", groups => groups, form => form, errors => errors },
            ),
        );
    }
    let mut group_errors = errors("name");
    group_errors.add("sort_order", SCRIPT);
    for (form, errors) in [(product_group_form(false), FormErrors::new()), (product_group_form(true), group_errors)] {
        add(
            "admin/catalog/group.html",
            page(
                true,
                context! { current_staff => staff(&all), nav => "catalog", group_id => 2, group_name => SCRIPT, form => form, errors => errors },
            ),
        );
    }

    let mut product_errors = errors("name");
    for field in [
        "group_id",
        "product_type",
        "payment_type",
        "description",
        "stock_quantity",
        "prorata_enabled",
        "prorata_day",
        "prorata_cutoff_day",
        "sort_order",
        "module",
    ] {
        product_errors.add(field, SCRIPT);
    }
    for (form, groups, errors) in [
        (product_form(false, PaymentType::Recurring), true, FormErrors::new()),
        (product_form(true, PaymentType::OneTime), true, product_errors.clone()),
        (product_form(false, PaymentType::Recurring), false, FormErrors::new()),
    ] {
        add(
            "admin/catalog/product_new.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "catalog",
                    form => form,
                    options => catalog_options(groups),
                    errors => errors,
                },
            ),
        );
    }

    let mut price_errors = FormErrors::new();
    price_errors.add("price.USD.monthly", SCRIPT);
    price_errors.add("setup.EUR.annually", SCRIPT);
    // (payment type, typed prices, currencies, errors, viewer's permissions, history)
    let shown_products = [
        (PaymentType::Recurring, false, vec!["USD", "EUR", "CHF"], FormErrors::new(), all.clone(), audit_rows()),
        (PaymentType::Recurring, true, vec!["USD", "EUR"], price_errors, vec!["catalog.manage"], Vec::new()),
        (PaymentType::OneTime, false, vec!["USD"], product_errors, all.clone(), audit_rows()),
        (PaymentType::Free, false, vec!["USD"], FormErrors::new(), vec!["catalog.manage"], Vec::new()),
        (PaymentType::Recurring, false, Vec::new(), FormErrors::new(), all.clone(), Vec::new()),
    ];
    for (index, (payment_type, typed, currencies, errors, perms, history)) in shown_products.into_iter().enumerate() {
        add(
            "admin/catalog/product.html",
            page(
                true,
                context! {
                    current_staff => staff(&perms),
                    nav => "catalog",
                    product => product_row(7, SCRIPT, payment_type, index % 2 == 0, index == 2, (index == 1).then_some(4)),
                    form => context! { group_id => if index == 2 { "2" } else { "1" }, ..product_form(index == 2, payment_type) },
                    options => catalog_options(true),
                    prices => price_matrix(payment_type, &currencies, typed),
                    option_groups => if index == 4 { Vec::new() } else { vec![
                        context! { id => 1, name => SCRIPT, checked => true },
                        context! { id => 2, name => "Backups", checked => false },
                    ] },
                    upgrades => if index == 4 { Vec::new() } else { product_choices() },
                    addons => if index == 4 { Vec::new() } else { vec![
                        context! { id => 1, name => SCRIPT, hidden => false, retired => false },
                        context! { id => 2, name => "Old backups", hidden => true, retired => true },
                    ] },
                    history => history,
                    errors => errors,
                },
            ),
        );
    }

    // Configurable options and add-ons (catalog/option_handlers.rs, catalog/addon_handlers.rs).
    let option_group_rows = vec![
        context! { id => 1, name => SCRIPT, description => SCRIPT, options => 3, products => 2 },
        context! { id => 2, name => "Backups", description => "", options => 0, products => 0 },
    ];
    let mut group_errors = errors("name");
    group_errors.add("description", SCRIPT);
    for (groups, form, errors) in [
        (option_group_rows, context! { name => SCRIPT, description => SCRIPT }, group_errors.clone()),
        (Vec::new(), context! { name => "", description => "" }, FormErrors::new()),
    ] {
        add(
            "admin/catalog/option_groups.html",
            page(
                true,
                context! { current_staff => staff(&all), nav => "catalog", groups => groups, form => form, errors => errors },
            ),
        );
    }
    let mut option_errors = errors("name");
    for field in ["kind", "sort_order", "quantity_min", "quantity_max", "quantity_step", "unit_label"] {
        option_errors.add(field, SCRIPT);
    }
    let kinds: Vec<(&str, &str)> = OptionKind::ALL.iter().map(|k| (k.key(), k.label())).collect();
    let group_options = vec![
        config_option(1, OptionKind::Dropdown, false, 3),
        config_option(2, OptionKind::Radio, true, 0),
        config_option(3, OptionKind::YesNo, false, 1),
        config_option(4, OptionKind::Quantity, false, 1),
    ];
    // (options, products, form sent, errors, history)
    let shown_groups = [
        (group_options, product_choices(), "", FormErrors::new(), audit_rows()),
        (Vec::new(), product_choices(), "group", group_errors, Vec::new()),
        (Vec::new(), Vec::new(), "option", option_errors.clone(), Vec::new()),
    ];
    for (options, products, sent, errors, history) in shown_groups {
        add(
            "admin/catalog/option_group.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "catalog",
                    group => context! { id => 1, name => SCRIPT },
                    form => context! { name => SCRIPT, description => SCRIPT },
                    options => options,
                    products => products,
                    option_form => config_option_form(sent == "option", OptionKind::Dropdown),
                    kinds => &kinds,
                    history => history,
                    errors => errors,
                    sent => sent,
                },
            ),
        );
    }
    let value_rows = vec![
        context! { id => 1, label => SCRIPT, sort_order => 0, hidden => false, prices => 14 },
        context! { id => 2, label => "16 GB", sort_order => 5, hidden => true, prices => 0 },
    ];
    let mut value_errors = errors("label");
    value_errors.add("sort_order", SCRIPT);
    // (kind, values, form sent, errors)
    let shown_options = [
        (OptionKind::Dropdown, value_rows.clone(), "", FormErrors::new()),
        (OptionKind::Radio, Vec::new(), "value", value_errors.clone()),
        (OptionKind::Quantity, value_rows[..1].to_vec(), "option", option_errors),
        (OptionKind::YesNo, value_rows[..1].to_vec(), "value", FormErrors::form(SCRIPT)),
    ];
    for (kind, values, sent, errors) in shown_options {
        add(
            "admin/catalog/option.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "catalog",
                    group => context! { id => 1, name => SCRIPT },
                    option => config_option(3, kind, sent == "option", values.len()),
                    form => config_option_form(sent == "option", kind),
                    values => values,
                    price_cells => 14,
                    value_form => context! {
                        label => if sent == "value" { SCRIPT } else { "" },
                        sort_order => if sent == "value" { SCRIPT } else { "" },
                        hidden => sent == "value",
                    },
                    errors => errors,
                    sent => sent,
                },
            ),
        );
    }
    let mut option_price_errors = FormErrors::new();
    option_price_errors.add("price.USD.monthly", SCRIPT);
    option_price_errors.add("setup.EUR.one_time", SCRIPT);
    // (kind, currencies, typed prices, form sent, errors)
    let shown_values = [
        (OptionKind::Dropdown, vec!["USD", "EUR"], false, "", FormErrors::new()),
        (OptionKind::Quantity, vec!["USD", "EUR"], true, "prices", option_price_errors.clone()),
        (OptionKind::YesNo, vec!["USD"], false, "value", value_errors),
        (OptionKind::Radio, Vec::new(), false, "", FormErrors::new()),
    ];
    for (kind, currencies, typed, sent, errors) in shown_values {
        add(
            "admin/catalog/option_value.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "catalog",
                    group => context! { id => 1, name => SCRIPT },
                    option => config_option(3, kind, false, 1),
                    value => context! { id => 5, label => SCRIPT },
                    form => context! { label => SCRIPT, sort_order => "0", hidden => sent == "value" },
                    prices => price_grid(&PRICED_CYCLES, &currencies, typed),
                    errors => errors,
                    sent => sent,
                },
            ),
        );
    }
    let addon_rows = vec![
        context! { id => 1, name => SCRIPT, payment_type => PaymentType::Recurring.label(), hidden => false, retired => false, products => 2 },
        context! { id => 2, name => "Old backups", payment_type => PaymentType::OneTime.label(), hidden => true, retired => true, products => 0 },
    ];
    let mut addon_errors = errors("name");
    for field in ["description", "payment_type", "welcome_email"] {
        addon_errors.add(field, SCRIPT);
    }
    for (addons, filled, errors) in [(addon_rows, true, addon_errors.clone()), (Vec::new(), false, FormErrors::new())] {
        add(
            "admin/catalog/addons.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "catalog",
                    addons => addons,
                    form => addon_form(filled),
                    options => addon_choices(),
                    errors => errors,
                },
            ),
        );
    }
    // (payment type, currencies, typed prices, form sent, errors, products, viewer's permissions, history)
    let shown_addons = [
        (
            PaymentType::Recurring,
            vec!["USD", "EUR"],
            false,
            "",
            FormErrors::new(),
            product_choices(),
            all.clone(),
            audit_rows(),
        ),
        (
            PaymentType::Recurring,
            vec!["USD"],
            true,
            "prices",
            option_price_errors,
            product_choices(),
            vec!["catalog.manage"],
            Vec::new(),
        ),
        (PaymentType::OneTime, vec!["USD"], false, "addon", addon_errors, Vec::new(), all.clone(), Vec::new()),
        (PaymentType::Free, vec!["USD"], false, "", FormErrors::new(), product_choices(), all.clone(), Vec::new()),
        (PaymentType::Recurring, Vec::new(), false, "", FormErrors::new(), Vec::new(), all.clone(), Vec::new()),
    ];
    for (index, (payment_type, currencies, typed, sent, errors, products, perms, history)) in
        shown_addons.into_iter().enumerate()
    {
        add(
            "admin/catalog/addon.html",
            page(
                true,
                context! {
                    current_staff => staff(&perms),
                    nav => "catalog",
                    addon => context! {
                        id => 4, name => SCRIPT, payment_type => payment_type.label(),
                        hidden => index % 2 == 1, retired => index == 2,
                    },
                    form => addon_form(sent == "addon"),
                    options => addon_choices(),
                    prices => price_matrix(payment_type, &currencies, typed),
                    products => products,
                    history => history,
                    errors => errors,
                    sent => sent,
                },
            ),
        );
    }

    // Promotion codes (orders/coupon_handlers.rs).
    let promotion_rows = vec![
        context! {
            id => 1, code => "SPRING-26", discount => "12.5 %", applies_to => SCRIPT,
            recurrence => "First invoice only", uses => 3, max_uses => Some(10), starts_on => "2026-03-01",
            expires_on => "2026-05-31", new_clients_only => true, active => true,
        },
        context! {
            id => 2, code => "WELCOME", discount => "5.00 EUR", applies_to => "All products",
            recurrence => "Every invoice", uses => 10, max_uses => Some(10), starts_on => "",
            expires_on => "2026-12-31", new_clients_only => false, active => true,
        },
        context! {
            id => 3, code => "OLD_1", discount => "100 %", applies_to => "All products",
            recurrence => "First invoice and 2 renewals", uses => 0, max_uses => None::<i32>,
            starts_on => "2026-01-01", expires_on => "", new_clients_only => false, active => false,
        },
    ];
    for rows in [promotion_rows, Vec::new()] {
        add(
            "admin/promotions/list.html",
            page(true, context! { current_staff => staff(&all), nav => "promotions", coupons => rows }),
        );
    }
    let mut promotion_errors = errors("code");
    for field in ["kind", "percent", "amount", "currency_code", "products", "cycles", "addons", "recurrence"] {
        promotion_errors.add(field, SCRIPT);
    }
    for field in ["recurring_limit", "starts_on", "expires_on", "max_uses", "max_uses_per_client", "notes"] {
        promotion_errors.add(field, SCRIPT);
    }
    // (saved coupon, typed form, options filled, errors, history, viewer's permissions)
    let shown_promotions = [
        (None, false, true, FormErrors::new(), Vec::new(), all.clone()),
        (None, true, false, promotion_errors.clone(), Vec::new(), all.clone()),
        (
            Some(context! { id => 2, code => "WELCOME", uses => 0, active => true }),
            false,
            true,
            FormErrors::new(),
            audit_rows(),
            all.clone(),
        ),
        (
            Some(context! { id => 3, code => "OLD_1", uses => 4, active => false }),
            true,
            true,
            promotion_errors,
            Vec::new(),
            vec!["promotions.manage"],
        ),
    ];
    for (saved, typed, filled, errors, history, perms) in shown_promotions {
        add(
            "admin/promotions/form.html",
            page(
                true,
                context! {
                    current_staff => staff(&perms),
                    nav => "promotions",
                    coupon => saved,
                    form => promotion_form(typed),
                    options => promotion_options(filled),
                    history => history,
                    errors => errors,
                },
            ),
        );
    }

    let currency_rows = vec![
        currency_row("USD", "US Dollar", 2, true, "1", "half_up", 1),
        currency_row("EUR", "Euro", 2, false, "0.92", "half_even", 1),
        currency_row("CHF", "Swiss Franc", 2, false, "0.88", "odd", 5),
        currency_row("XTS", "", 0, false, "1.5", "down", 1),
    ];
    let available = vec![("GBP", "GBP — Pound Sterling"), ("JPY", "JPY — Yen")];
    for (currencies, available, form, errors) in [
        (currency_rows, available, context! { code => SCRIPT, rate => SCRIPT }, errors("rate")),
        (Vec::new(), Vec::new(), context! { code => "", rate => "" }, FormErrors::new()),
    ] {
        add(
            "admin/catalog/currencies.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "currencies",
                    currencies => currencies,
                    available => available,
                    rounding_modes => hostwright_core::RoundingMode::ALL.iter().map(|m| m.key()).collect::<Vec<_>>(),
                    form => form,
                    errors => errors,
                },
            ),
        );
    }

    // Invoices, billing settings and tax rules (invoices/handlers.rs).
    let invoice_rows = vec![
        invoice_row(1, "draft", false, false, true),
        invoice_row(2, "unpaid", true, false, true),
        invoice_row(3, "paid", false, true, false),
        invoice_row(4, "cancelled", false, false, false),
        invoice_row(5, "refunded", false, false, false),
        invoice_row(6, "collections", true, false, false),
        invoice_row(7, "odd", false, false, false),
    ];
    let invoice_statuses = crate::invoices::status::InvoiceStatus::ALL.map(crate::invoices::status::InvoiceStatus::key);
    let no_invoice_filters = context! { status => "", client => "", overdue => false, from => "", to => "" };
    let some_invoice_filters =
        context! { status => "unpaid", client => SCRIPT, overdue => true, from => "2026-01-01", to => SCRIPT };
    for (rows, filters, can_manage, page_number, pages, total) in [
        (invoice_rows.clone(), some_invoice_filters.clone(), true, 2, 3, 120),
        (Vec::new(), no_invoice_filters.clone(), true, 1, 1, 0),
        (Vec::new(), no_invoice_filters, false, 1, 1, 0),
        (Vec::new(), some_invoice_filters, false, 1, 1, 1),
    ] {
        add(
            "admin/invoices/list.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "invoices",
                    invoices => rows,
                    statuses => invoice_statuses,
                    filters => filters,
                    pagination => context! {
                        page => page_number,
                        pages => pages,
                        total => total,
                        query => "status=unpaid&client=%3Cscript%3E&overdue=on&from=2026-01-01&to=",
                    },
                    can_manage => can_manage,
                },
            ),
        );
    }

    let blank_line = || context! { description => "", quantity => "1", unit_price => "", taxed => true };
    let typed_lines = vec![
        context! { description => SCRIPT, quantity => SCRIPT, unit_price => SCRIPT, taxed => false },
        blank_line(),
        blank_line(),
        blank_line(),
        blank_line(),
        context! { description => "Sixth", quantity => "2", unit_price => "4.00", taxed => true },
    ];
    let mut invoice_errors = errors("line.0.unit_price");
    for field in ["lines", "line.0.description", "line.5.quantity", "client_id", "currency_code", "due_date", "notes"] {
        invoice_errors.add(field, SCRIPT);
    }
    let currencies = vec![("EUR", "EUR"), ("USD", "USD")];
    // (client known, typed form, currencies, errors)
    for (known, typed, currencies, errors) in [
        (true, false, currencies.clone(), FormErrors::new()),
        (false, true, currencies.clone(), invoice_errors),
        (false, false, Vec::new(), FormErrors::new()),
    ] {
        add(
            "admin/invoices/new.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "invoices",
                    client => known.then(|| context! { id => 7, name => SCRIPT, email => SCRIPT, country => "DE" }),
                    form => context! {
                        client_id => if typed { SCRIPT } else if known { "7" } else { "" },
                        currency_code => if typed { SCRIPT } else { "EUR" },
                        due_date => if typed { SCRIPT } else { "" },
                        notes => if typed { SCRIPT } else { "" },
                        lines => if typed { typed_lines.clone() } else { (0..5).map(|_| blank_line()).collect() },
                    },
                    currencies => currencies,
                    errors => errors,
                },
            ),
        );
    }

    let mut payment_errors = errors("amount");
    for field in ["fee", "method", "reference", "paid_on"] {
        payment_errors.add(field, SCRIPT);
    }
    let methods: Vec<(&str, &str)> = crate::invoices::receipts::MANUAL_METHODS.to_vec();
    let draft_refusal = "A draft can still be edited or cancelled; credit notes correct issued invoices.";
    // (status, overdue, reverse charge, filled, can manage, viewer's permissions, errors,
    // credit notes, why it cannot be credited, the client's account credit)
    let shown_invoices = [
        ("draft", false, false, true, true, all.clone(), FormErrors::new(), false, Some(draft_refusal), None),
        ("unpaid", true, false, true, true, all.clone(), payment_errors, true, None, Some("25.00 EUR")),
        (
            "unpaid",
            false,
            true,
            false,
            true,
            vec!["invoices.view", "invoices.manage"],
            FormErrors::new(),
            false,
            None,
            Some("0.01 EUR"),
        ),
        ("paid", false, true, false, false, vec!["invoices.view"], FormErrors::new(), true, None, Some("25.00 EUR")),
        ("paid", false, false, true, true, all.clone(), FormErrors::new(), true, None, Some("25.00 EUR")),
        ("collections", true, false, true, true, all.clone(), FormErrors::new(), true, None, Some(SCRIPT)),
        ("cancelled", false, false, false, true, all.clone(), FormErrors::new(), false, Some(SCRIPT), None),
        ("refunded", false, false, false, true, all.clone(), FormErrors::new(), true, Some(SCRIPT), None),
    ];
    for (status, overdue, reverse_charge, filled, can_manage, perms, errors, notes, refusal, client_credit) in
        shown_invoices
    {
        let (lines, taxes, payments) = invoice_detail(filled);
        let typed = !errors.is_empty();
        add(
            "admin/invoices/show.html",
            page(
                true,
                context! {
                    current_staff => staff(&perms),
                    nav => "invoices",
                    invoice => invoice_row(9, status, overdue, reverse_charge, filled),
                    lines => lines,
                    taxes => taxes,
                    payments => payments,
                    credit_notes => if notes { credit_note_rows() } else { Vec::new() },
                    credit_refusal => refusal,
                    client_credit => client_credit,
                    credit_form => context! { key => "credit-key-sample" },
                    payment_form => context! {
                        amount => if typed { SCRIPT } else { "" },
                        fee => if typed { SCRIPT } else { "" },
                        method => if typed { SCRIPT } else { "bank_transfer" },
                        reference => if typed { SCRIPT } else { "" },
                        paid_on => if typed { SCRIPT } else { "" },
                        key => "payment-key-sample",
                    },
                    methods => &methods,
                    history => if filled { audit_rows() } else { Vec::new() },
                    errors => errors,
                    can_manage => can_manage,
                    today => "2026-11-21",
                },
            ),
        );
    }

    let creditable_lines = |typed: bool| {
        vec![
            context! {
                index => 0,
                description => format!("{SCRIPT}\nsecond line"),
                taxed => true,
                net => "90.00",
                credited => "10.00",
                remaining => "80.00",
                amount => if typed { SCRIPT } else { "80.00" },
            },
            context! {
                index => 1,
                description => "Setup",
                taxed => false,
                net => "10.00",
                credited => "0.00",
                remaining => "10.00",
                amount => if typed { "" } else { "10.00" },
            },
        ]
    };
    let mut credit_note_errors = errors("amount.0");
    for field in ["amount.1", "reason", "refund_method"] {
        credit_note_errors.add(field, SCRIPT);
    }
    let refund_methods: Vec<(&str, &str)> = crate::invoices::credit_notes::REFUND_METHODS.to_vec();
    // (why it cannot be credited, lines, typed form, errors)
    for (refusal, lines, typed, errors) in [
        (None, creditable_lines(false), false, FormErrors::new()),
        (None, creditable_lines(true), true, credit_note_errors),
        (Some(SCRIPT), creditable_lines(false), false, FormErrors::new()),
        (None, Vec::new(), false, FormErrors::new()),
    ] {
        add(
            "admin/invoices/credit_note_new.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "invoices",
                    invoice => context! {
                        id => 9,
                        number => "2026-00009",
                        currency => "EUR",
                        total => "119.00 EUR",
                        balance => "100.00 EUR",
                        received => "19.00 EUR",
                        credited => if typed { "11.90 EUR" } else { "0.00 EUR" },
                    },
                    refusal => refusal,
                    lines => lines,
                    refund_methods => &refund_methods,
                    card_refundable => typed.then_some("11.90 EUR"),
                    form => context! {
                        reason => if typed { SCRIPT } else { "" },
                        refund_method => if typed { SCRIPT } else { "account_credit" },
                        key => "credit-note-key-sample",
                    },
                    errors => errors,
                },
            ),
        );
    }

    let credited_lines = vec![
        context! { description => format!("{SCRIPT}\nsecond line"), net => "10.00", tax => "1.90" },
        context! { description => "Setup", net => "0.00", tax => "0.00" },
    ];
    let credited_taxes = vec![context! { name => SCRIPT, rate => "19", base => "10.00 EUR", amount => "1.90 EUR" }];
    // (note, invoice number, filled, viewer's permissions)
    let shown_notes = [
        (credit_note_row(3, "external", true), Some("2026-00009"), true, all.clone()),
        (credit_note_row(2, "account_credit", false), None, false, vec!["invoices.view"]),
        (credit_note_row(1, "", true), Some(SCRIPT), false, vec!["invoices.view"]),
        (credit_note_row(4, "odd", false), Some("2026-00009"), true, vec!["invoices.view"]),
        (credit_note_row(5, "gateway", true), Some("2026-00009"), true, all.clone()),
    ];
    for (note, invoice_number, filled, perms) in shown_notes {
        add(
            "admin/invoices/credit_note.html",
            page(
                true,
                context! {
                    current_staff => staff(&perms),
                    nav => "invoices",
                    note => note,
                    invoice_number => invoice_number,
                    buyer => party(filled),
                    client_id => 7,
                    lines => if filled { credited_lines.clone() } else { Vec::new() },
                    taxes => if filled { credited_taxes.clone() } else { Vec::new() },
                    history => if filled { audit_rows() } else { Vec::new() },
                    refunds => if filled {
                        vec![context! { payment_id => 4, amount => "11.90 EUR", status_label => "Refunded" }]
                    } else {
                        Vec::new()
                    },
                },
            ),
        );
    }

    let filled_billing = crate::invoices::settings::BillingSettings {
        company_name: SCRIPT.into(),
        address: format!("{SCRIPT}\n10115 Berlin"),
        country: "DE".into(),
        tax_id: SCRIPT.into(),
        registration: SCRIPT.into(),
        email: SCRIPT.into(),
        invoice_pattern: SCRIPT.into(),
        invoice_yearly_reset: false,
        credit_note_pattern: SCRIPT.into(),
        proforma_mode: true,
        proforma_pattern: SCRIPT.into(),
        default_due_days: 30,
        prices_include_tax: true,
        time_zone: SCRIPT.into(),
    };
    let tax_rules = vec![
        context! { id => 1, name => SCRIPT, country => "DE", region => "", rate => "19", level => 1 },
        context! { id => 2, name => "QST", country => "CA", region => SCRIPT, rate => "9.975", level => 2 },
        context! { id => 3, name => "Sales tax", country => "", region => "", rate => "0", level => 1 },
    ];
    let mut billing_errors = errors("invoice_pattern");
    for field in [
        "company_name",
        "country",
        "tax_id",
        "registration",
        "email",
        "credit_note_pattern",
        "proforma_pattern",
        "default_due_days",
    ] {
        billing_errors.add(field, SCRIPT);
    }
    for (settings, rules, errors) in [
        (crate::invoices::settings::BillingSettings::default(), Vec::new(), FormErrors::new()),
        (filled_billing, tax_rules, billing_errors),
    ] {
        add(
            "admin/billing_settings.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "billing",
                    settings => Value::from_serialize(&settings),
                    countries => country_options(),
                    tax_rules => rules,
                    errors => errors,
                },
            ),
        );
    }

    for rows in [invoice_rows[1..].to_vec(), Vec::new()] {
        add(
            "client/invoices/list.html",
            page(true, context! { current_client => client(true), nav => "invoices", invoices => rows }),
        );
    }
    for (status, overdue, reverse_charge, filled) in [
        ("unpaid", true, false, true),
        ("paid", false, true, false),
        ("collections", false, false, true),
        ("refunded", false, false, false),
    ] {
        let (lines, taxes, payments) = invoice_detail(filled);
        add(
            "client/invoices/show.html",
            page(
                true,
                context! {
                    current_client => client(true),
                    nav => "invoices",
                    invoice => invoice_row(9, status, overdue, reverse_charge, filled),
                    lines => lines,
                    taxes => taxes,
                    payments => payments,
                    credit_notes => if filled || status == "refunded" { credit_note_rows() } else { Vec::new() },
                    pay => if filled {
                        context! {
                            gateways => vec![
                                context! { key => "stripe", name => SCRIPT, amount => "" },
                                context! { key => "account_credit", name => "Account credit", amount => "€5.00" },
                            ],
                            instructions => SCRIPT,
                            in_flight => false,
                            auto_charge => context! { card => SCRIPT, on => "2026-12-18" },
                            key => "pay-key-sample",
                        }
                    } else {
                        context! {
                            gateways => Vec::<Value>::new(), instructions => "", in_flight => status == "unpaid",
                            auto_charge => None::<Value>,
                        }
                    },
                    returned => filled,
                },
            ),
        );
    }
    for filled in [true, false] {
        add(
            "client/credit.html",
            page(
                true,
                context! {
                    current_client => client(true),
                    nav => "credit",
                    add_funds => filled.then(|| context! {
                        least => "10.00 EUR", most => "500.00 EUR", currency => "EUR", key => "form-key-00000000001",
                    }),
                    ..credit_overview(filled)
                },
            ),
        );
    }

    // Saved payment methods (payments/method_handlers.rs).
    for (filled, auto_pay) in [(true, true), (true, false), (false, false)] {
        let methods = if filled {
            vec![
                context! { id => 2, label => "Visa ending 4242, expires 04/2030", is_default => true },
                context! { id => 1, label => SCRIPT, is_default => false },
            ]
        } else {
            Vec::new()
        };
        add(
            "client/payment_methods.html",
            page(
                true,
                context! {
                    current_client => client(true),
                    nav => "payment_methods",
                    methods => methods,
                    can_add => filled,
                    auto_pay => auto_pay,
                    returned => !filled,
                    key => "form-key-000000000001",
                },
            ),
        );
    }

    // Client area (invoices/handlers.rs).
    add(
        "client/invoices/list.html",
        page(
            true,
            context! { current_client => sub_user(&["invoices"]), nav => "invoices", invoices => Vec::<Value>::new() },
        ),
    );

    out.extend(ordering_samples());
    out
}

/// The store, the cart, checkout, orders and the ordering settings (orders/*handlers.rs).
fn ordering_samples() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut add = |name: &str, ctx: Value| out.push((name.to_owned(), ctx));
    let cycles = vec![
        context! { key => "monthly", label => "Monthly", price => "9.99 EUR", setup => "5.00 EUR" },
        context! { key => "annually", label => "Annually", price => "99.00 EUR", setup => None::<String> },
    ];
    for (signed_in, products) in [(false, true), (true, false)] {
        let rows = if products {
            vec![
                context! { id => 1, name => SCRIPT, description => SCRIPT, out_of_stock => false, cycles => cycles.clone() },
                context! { id => 2, name => "VPS", description => "", out_of_stock => true, cycles => cycles.clone() },
            ]
        } else {
            Vec::new()
        };
        add(
            "client/store/index.html",
            page(
                true,
                context! {
                    nav => "store",
                    current_client => if signed_in { client(true) } else { Value::default() },
                    groups => vec![
                        context! { id => 1, name => SCRIPT, headline => SCRIPT, current => true },
                        context! { id => 2, name => "Servers", headline => "", current => false },
                    ],
                    headline => SCRIPT,
                    products => rows,
                    currency => "EUR",
                    currencies => if signed_in { Vec::new() } else { vec!["EUR", "USD"] },
                },
            ),
        );
    }
    let notes: BTreeMap<&str, &str> = [("monthly", SCRIPT), ("annually", "")].into_iter().collect();
    let options = vec![
        context! { id => 1, field => "opt_1", name => SCRIPT, kind => "dropdown", values => vec![context! { id => 1, label => SCRIPT, checked => true, prices => notes.clone() }], min => 0, max => 0, step => 1, unit => "", typed => "1" },
        context! { id => 2, field => "opt_2", name => "Location", kind => "radio", values => vec![context! { id => 2, label => "Berlin", checked => false, prices => notes.clone() }, context! { id => 3, label => "Paris", checked => false, prices => notes.clone() }], min => 0, max => 0, step => 1, unit => "", typed => "" },
        context! { id => 3, field => "opt_3", name => "Backups", kind => "yesno", values => vec![context! { id => 4, label => "Yes", checked => true, prices => notes.clone() }], min => 0, max => 0, step => 1, unit => "", typed => "4" },
        context! { id => 4, field => "opt_4", name => "Disk", kind => "quantity", values => vec![context! { id => 5, label => "GB", checked => false, prices => notes.clone() }], min => 10, max => 100, step => 10, unit => "GB", typed => "20" },
    ];
    for (needs, out_of_stock, errors) in
        [("domain", false, errors("_form")), ("server", false, FormErrors::new()), ("", true, FormErrors::new())]
    {
        add(
            "client/store/product.html",
            page(
                true,
                context! {
                    nav => "store",
                    current_client => Value::default(),
                    product => context! { id => 1, name => SCRIPT, description => SCRIPT, out_of_stock => out_of_stock, stock_left => Some(3) },
                    cycles => cycles.clone(),
                    options => options.clone(),
                    addons => vec![context! { id => 1, name => SCRIPT, description => SCRIPT, checked => true, prices => notes.clone() }],
                    needs => needs,
                    currency => "EUR",
                    form => context! { cycle => "monthly", quantity => "1", domain => SCRIPT, hostname => SCRIPT },
                    errors => errors,
                },
            ),
        );
    }
    let cart = |discount: bool| {
        context! {
            currency => "EUR",
            items => vec![context! {
                id => 1,
                product => SCRIPT,
                cycle => "Monthly",
                quantity => 2,
                domain => SCRIPT,
                lines => vec![
                    context! { description => SCRIPT, amount => "9.99 EUR", discount => discount.then_some("1.00 EUR") },
                    context! { description => "Setup fee", amount => "5.00 EUR", discount => None::<String> },
                ],
                addons => vec![SCRIPT],
                recurring => "9.99 EUR",
                next_due => Some("2026-12-22"),
                total => "29.98 EUR",
            }],
            problems => if discount { vec![context! { id => 2, message => SCRIPT }] } else { Vec::new() },
            coupon => discount.then_some(SCRIPT),
            coupon_error => (!discount).then_some(SCRIPT),
            totals => context! {
                subtotal => "29.98 EUR",
                discount => discount.then_some("2.00 EUR"),
                taxes => vec![context! { name => SCRIPT, rate => "19", amount => "5.32 EUR" }],
                reverse_charge => !discount,
                inclusive => discount,
                total => "33.30 EUR",
            },
        }
    };
    for (signed_in, filled) in [(false, true), (true, true), (false, false)] {
        add(
            "client/cart.html",
            page(
                true,
                context! {
                    nav => "cart",
                    current_client => if signed_in { client(true) } else { Value::default() },
                    cart => if filled { cart(signed_in) } else { Value::from(()) },
                    typed_coupon => SCRIPT,
                    country => "DE",
                    countries => if signed_in { Vec::new() } else { vec![("DE", "Germany"), ("FR", SCRIPT)] },
                    currencies => if signed_in { Vec::new() } else { vec!["EUR", "USD"] },
                    max_quantity => 20,
                },
            ),
        );
    }
    for (signed_in, may_order, terms, credit, open) in [
        (false, false, "", None, true),
        (false, false, "", None, false),
        (true, true, "https://example.com/terms", Some("5.00 EUR"), false),
        (true, false, "", None, false),
    ] {
        let registration = if signed_in {
            Value::from(())
        } else {
            context! {
                open => open,
                custom_fields => custom_field_inputs(false, true),
                form => context! { first_name => SCRIPT, last_name => SCRIPT, company_name => SCRIPT, email => SCRIPT },
            }
        };
        add(
            "client/checkout.html",
            page(
                true,
                context! {
                    nav => "cart",
                    current_client => if signed_in { client(true) } else { Value::default() },
                    signed_in => signed_in,
                    may_order => may_order,
                    cart => cart(true),
                    terms_url => terms,
                    methods => vec![context! { key => "bank_transfer", label => "Bank transfer" }, context! { key => "account_credit", label => "Account credit" }],
                    credit => credit,
                    form => context! { payment_method => "bank_transfer", key => "key-sample-0123456789" },
                    registration => registration,
                    errors => errors("_form"),
                },
            ),
        );
    }
    let order = |status: &str| {
        context! {
            id => 7,
            number => "4821337701",
            status => status,
            created_at => TIME,
            total => "33.30 EUR",
            subtotal => "29.98 EUR",
            discount => Some("2.00 EUR"),
            tax => "5.32 EUR",
            payment_method => "Bank transfer",
            invoice_id => Some(12),
            client_id => 3,
            ip => SCRIPT,
            terms_url => SCRIPT,
            terms_accepted_at => (status == "pending").then_some(TIME),
        }
    };
    let ordered = vec![context! {
        id => 9,
        product => SCRIPT,
        domain => SCRIPT,
        status => "pending",
        cycle => "Monthly",
        recurring => "9.99 EUR",
        first_payment => "14.99 EUR",
        next_due => Some("2026-12-22"),
    }];
    add(
        "client/orders/list.html",
        page(
            true,
            context! { nav => "services", current_client => client(true), orders => vec![order("pending"), order("fraud")] },
        ),
    );
    add(
        "client/orders/list.html",
        page(true, context! { nav => "services", current_client => client(true), orders => Vec::<Value>::new() }),
    );
    add(
        "client/orders/show.html",
        page(
            true,
            context! { nav => "services", current_client => client(true), order => order("pending"), services => ordered.clone(), may_pay => true },
        ),
    );
    let all = all_permissions();
    for status in ["pending", "active", "cancelled"] {
        add(
            "admin/orders/show.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "orders",
                    order => order(status),
                    client => context! { id => 3, name => SCRIPT, email => "jo@example.com", company => SCRIPT },
                    coupon => Some(SCRIPT),
                    invoice => (status != "cancelled").then(|| context! { id => 12, number => "2026-00012", status => "unpaid" }),
                    services => ordered.clone(),
                    can_manage => status != "active",
                },
            ),
        );
    }
    for rows in [vec![order("pending"), order("active")], Vec::new()] {
        add(
            "admin/orders/list.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "orders",
                    orders => rows,
                    statuses => ["pending", "active", "cancelled", "fraud"],
                    filters => context! { status => "pending", client => SCRIPT, number => "" },
                    pagination => context! { page => 1, pages => 3, total => 120, query => "status=pending" },
                },
            ),
        );
    }
    add(
        "admin/ordering_settings.html",
        page(
            true,
            context! {
                current_staff => staff(&all),
                nav => "ordering",
                form => context! { terms_url => SCRIPT, auto_accept_paid => true, downgrade_credit_to_account => false, first_invoice_due_days => "0" },
                errors => errors("terms_url"),
            },
        ),
    );
    let upgrade_options = options.clone();
    for (template, who, with_quote, pending) in [
        ("client/services/upgrade.html", "client", true, false),
        ("client/services/upgrade.html", "client", false, true),
        ("admin/services/upgrade.html", "staff", true, false),
        ("admin/services/upgrade.html", "staff", false, true),
    ] {
        let quote = with_quote.then(|| {
            context! {
                product => SCRIPT, cycle => "Annually", credit => "5.00 EUR", charge => "12.00 EUR", due_now => "7.00 EUR",
                nothing_due => false, account_credit => Some("1.00 EUR"), new_recurring => "20.00 EUR",
                next_due => "2026-12-22", period_end => "2026-12-22", on => "2026-11-22",
            }
        });
        let mut ctx = context! {
            nav => "services",
            service => context! { id => 9, product => SCRIPT, domain => SCRIPT, cycle => "Monthly", next_due => Some("2026-12-22") },
            base => if who == "client" { "/account/services/9" } else { "/admin/services/9" },
            products => vec![context! { id => 1, name => SCRIPT, selected => true, current => true }, context! { id => 2, name => "Pro", selected => false, current => false }],
            cycles => vec![context! { key => "monthly", label => "Monthly", selected => true }],
            options => upgrade_options.clone(),
            quote => quote,
            hidden => vec![("product", "1"), ("opt_1", SCRIPT)],
            key => "key-sample-0123456789",
            pending => pending.then(|| context! { invoice_id => Some(12), created_at => TIME }),
            errors => errors("_form"),
        };
        ctx = if who == "client" {
            context! { current_client => client(true), ..ctx }
        } else {
            context! { current_staff => staff(&all), ..ctx }
        };
        add(template, page(true, ctx));
    }
    for invoice_number in [Some("2026-00012"), None] {
        let ctx = email(context! {
            number => "4821337701",
            items => vec![SCRIPT, "VPS — server1.example.com"],
            total => "33.30 EUR",
            payment_method => "Bank transfer",
            invoice_number => invoice_number,
            link => "https://hosting.example.com/account/orders/7",
            first_name => SCRIPT,
        });
        for suffix in ["subject.txt", "txt", "html"] {
            add(&format!("emails/order_confirmation.{suffix}"), ctx.clone());
        }
    }
    // Services (services/admin_handlers.rs and client_handlers.rs).
    {
        use crate::services::status::Status;
        let viewers: [(Vec<&str>, bool); 2] = [(all.clone(), true), (vec!["orders.view"], false)];
        for (perms, can_manage) in &viewers {
            for (rows, status) in [(service_rows(), "active"), (Vec::new(), "")] {
                add(
                    "admin/services/list.html",
                    page(
                        true,
                        context! {
                            current_staff => staff(perms),
                            nav => "services",
                            services => rows,
                            statuses => Status::ALL.iter().map(|s| (s.key(), s.label())).collect::<Vec<_>>(),
                            products => vec![("1", SCRIPT), ("2", "VPS")],
                            filters => context! { status => status, product => "", q => SCRIPT, client => "" },
                            pagination => context! { page => 1, pages => 3, total => "more than 10,000", query => "status=active" },
                            can_manage => *can_manage,
                        },
                    ),
                );
            }
            add(
                "admin/cancellations.html",
                page(
                    true,
                    context! {
                        current_staff => staff(perms),
                        nav => "cancellations",
                        requests => vec![context! { service => service_row(4, Status::Active, true), ..cancellation_row(4, "open", "end_of_period") }],
                        can_manage => *can_manage,
                    },
                ),
            );
        }
        add(
            "admin/cancellations.html",
            page(
                true,
                context! { current_staff => staff(&all), nav => "cancellations", requests => Vec::<Value>::new(), can_manage => true },
            ),
        );
        let quantity = context! {
            id => 3, name => "option.3", label => SCRIPT, kind => "quantity", unit_label => "GB",
            min => 0, max => 16, step => 2, values => vec![("4", "GB")], value => "",
        };
        let choice = |id: i64, kind: &str, value: &str| {
            context! {
                id => id, name => format!("option.{id}"), label => SCRIPT, kind => kind, unit_label => "",
                min => 0, max => 0, step => 1, values => vec![("1", SCRIPT), ("2", "Windows")], value => value,
            }
        };
        let all_kinds = vec![choice(1, "dropdown", "2"), choice(2, "yesno", "1"), choice(5, "radio", "1"), quantity];
        let (options, addons) = service_extras();
        let form = context! {
            product_id => "1", status => "active",
            registration_date => "2026-11-21", next_due_date => "2026-12-21", billing_cycle => "monthly",
            recurring_amount => "10.00", use_current_price => true, domain => SCRIPT, hostname => SCRIPT,
            username => SCRIPT, notes => SCRIPT,
        };
        let mut edit_errors = errors("recurring_amount");
        edit_errors.add("next_due_date", SCRIPT);
        for (status, filled, perms, errors) in [
            (Status::Suspended, true, all.clone(), edit_errors),
            (Status::Pending, false, all.clone(), FormErrors::new()),
            (Status::Active, true, vec!["orders.view"], FormErrors::new()),
            (Status::Cancelled, false, all.clone(), FormErrors::new()),
        ] {
            let commands: Vec<(&str, &str)> = if filled {
                vec![
                    ("create", "Create"),
                    ("suspend", "Suspend"),
                    ("unsuspend", "Unsuspend"),
                    ("terminate", "Terminate"),
                    ("change_package", "Change package"),
                    ("change_password", "Change password"),
                ]
            } else {
                Vec::new()
            };
            add(
                "admin/services/show.html",
                page(
                    true,
                    context! {
                        current_staff => staff(&perms),
                        nav => "services",
                        service => service_row(4, status, filled),
                        options => if filled { options.clone() } else { Vec::new() },
                        addons => if filled { addons.clone() } else { Vec::new() },
                        invoices => if filled {
                            vec![
                                context! { id => 9, number => SCRIPT, status => "unpaid", issue_date => Some("2026-11-21"), total => "15.00 EUR" },
                                context! { id => 8, number => "Draft #8", status => "draft", issue_date => None::<&str>, total => "0.00 EUR" },
                            ]
                        } else {
                            Vec::new()
                        },
                        requests => if filled { cancellation_rows() } else { Vec::new() },
                        open_request => if filled { Some(cancellation_row(4, "open", "end_of_period")) } else { None },
                        commands => commands,
                        cycles => vec![("monthly", "Monthly"), ("annually", "Annually")],
                        products => vec![("1", SCRIPT), ("2", "Old plan (retired)")],
                        statuses => Status::ALL.iter().map(|s| (s.key(), s.label())).collect::<Vec<_>>(),
                        option_inputs => if filled { all_kinds.clone() } else { Vec::new() },
                        history => if filled { audit_rows() } else { Vec::new() },
                        provisioning => provisioning_sample(filled),
                        form => form.clone(),
                        errors => errors,
                        can_manage => perms.contains(&"services.manage"),
                    },
                ),
            );
        }
        let mut add_errors = errors("option.1");
        for field in ["options", "product_id", "billing_cycle", "recurring_amount", "option.2", "option.5", "option.3"]
        {
            add_errors.add(field, SCRIPT);
        }
        for (product, options, currency, products, errors) in [
            (false, Vec::new(), Some("EUR"), vec![("1", SCRIPT)], FormErrors::new()),
            (false, Vec::new(), None, Vec::new(), FormErrors::new()),
            (true, all_kinds.clone(), Some("EUR"), vec![("1", SCRIPT)], FormErrors::new()),
            (true, all_kinds, None, vec![("1", SCRIPT)], add_errors),
        ] {
            add(
                "admin/services/new.html",
                page(
                    true,
                    context! {
                        current_staff => staff(&all),
                        nav => "services",
                        client => context! { id => 7, name => SCRIPT },
                        currency => currency,
                        products => products,
                        product => if product { Some(context! { id => 1, name => SCRIPT, payment_type => "Recurring" }) } else { None },
                        cycles => vec![("monthly", "Monthly"), ("annually", "Annually")],
                        options => options,
                        today => "2026-11-21",
                        default_due_date => if product { Some("2026-12-21") } else { None },
                        form => context! {
                            product_id => if product { "1" } else { "" }, billing_cycle => "monthly", domain => SCRIPT,
                            hostname => "", recurring_amount => "", next_due_date => "", create_invoice => true,
                            run_create => false, key => "service-key-sample",
                        },
                        errors => errors,
                    },
                ),
            );
        }
        for (who, rows) in [(client(true), service_rows()), (sub_user(&["services"]), Vec::new())] {
            add(
                "client/services/list.html",
                page(true, context! { current_client => who, nav => "services", services => rows }),
            );
        }
        let kinds = vec![("immediate", "Immediately"), ("end_of_period", "Ends on 2026-12-21")];
        for (status, filled, open, can_request, errors) in [
            (Status::Active, true, true, false, FormErrors::new()),
            (Status::Suspended, true, false, true, errors("reason")),
            (Status::Active, false, false, true, FormErrors::new()),
            (Status::Terminated, false, false, false, FormErrors::new()),
        ] {
            add(
                "client/services/show.html",
                page(
                    true,
                    context! {
                        current_client => client(true),
                        nav => "services",
                        service => service_row(4, status, filled),
                        options => if filled { options.clone() } else { Vec::new() },
                        addons => if filled { addons.clone() } else { Vec::new() },
                        requests => if filled { cancellation_rows() } else { Vec::new() },
                        open_request => if open { Some(cancellation_row(4, "open", "immediate")) } else { None },
                        can_request => can_request,
                        kinds => kinds.clone(),
                        module => client_module_sample(filled, status),
                        form => context! { kind => "immediate", reason => SCRIPT },
                        errors => errors,
                    },
                ),
            );
        }
    }

    add(
        "client/services/waiting.html",
        page(
            true,
            context! { current_client => client(true), nav => "services", back => format!("/account/services/4?{SCRIPT}") },
        ),
    );
    // Payments (payments/handlers.rs).
    let payment = |status: &str, flag: &str, filled: bool| {
        context! {
            id => 12, client_id => 3, client_name => if filled { SCRIPT } else { "" },
            invoice_id => if filled { Some(9) } else { None }, gateway => "Card (Stripe)",
            kind => if filled { "checkout" } else { "automatic" }, status => status,
            status_label => status, amount => "€12.50", refunded => filled.then_some("€2.50"),
            gateway_ref => filled.then_some("pi_3Abc"), session_ref => filled.then_some(SCRIPT), flag => flag,
            error => if filled { SCRIPT } else { "" }, applied_at => filled.then_some(TIME), created_at => TIME,
        }
    };
    let statuses = vec![["succeeded", "Succeeded"], ["failed", "Failed"]];
    let refund_row = |status: &str, credit_note: Option<i64>| {
        context! {
            amount => "€2.50", status => status, status_label => status, refund_ref => credit_note.map(|_| "re_1"),
            reason => SCRIPT, error => if credit_note.is_none() { SCRIPT } else { "" }, credit_note_id => credit_note,
            created_at => TIME,
        }
    };
    for filled in [true, false] {
        add(
            "admin/payments/list.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "payments",
                    payments => if filled {
                        vec![
                            context! { invoice_number => SCRIPT, ..payment("succeeded", "", true) },
                            context! { invoice_number => None::<String>, ..payment("failed", SCRIPT, false) },
                            context! { invoice_number => None::<String>, ..payment("unknown", "", false) },
                        ]
                    } else {
                        Vec::new()
                    },
                    gateways => vec![["stripe", "Card (Stripe)"]],
                    statuses => statuses.clone(),
                    filters => context! { gateway => "stripe", status => "", client => SCRIPT, from => "", to => "2026-12-01", flagged => filled },
                    pagination => context! { page => 1, pages => 2, total => 51, query => "gateway=stripe" },
                },
            ),
        );
        add(
            "admin/payments/show.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "payments",
                    payment => payment(if filled { "partially_refunded" } else { "unknown" }, if filled { SCRIPT } else { "" }, filled),
                    invoice_number => filled.then_some(SCRIPT),
                    events => if filled {
                        vec![context! {
                            event_id => "evt_1", kind => "payment_intent.succeeded", received_at => TIME,
                            processed_at => Some(TIME), outcome => SCRIPT, payload => SCRIPT,
                        }]
                    } else {
                        Vec::new()
                    },
                    refunds => if filled {
                        vec![refund_row("succeeded", Some(4)), refund_row("failed", None), refund_row("pending", None)]
                    } else {
                        Vec::new()
                    },
                    refund => context! {
                        left => Some("€10.00"), left_amount => "10.00", held => !filled, may => true, key => "key-sample-00000001",
                    },
                },
            ),
        );
    }
    add(
        "admin/gateways/list.html",
        page(
            true,
            context! {
                current_staff => staff(&all),
                nav => "gateways",
                gateways => vec![
                    context! { key => "stripe", label => "Card (Stripe)", display_name => SCRIPT, enabled => true, currencies => "EUR, USD", test_mode => true },
                    context! { key => "bank_transfer", label => "Bank transfer", display_name => "Bank transfer", enabled => false, currencies => "", test_mode => false },
                ],
            },
        ),
    );
    for (key, filled, errors) in [
        ("stripe", true, errors("secret_key")),
        ("bank_transfer", false, FormErrors::new()),
        ("account_credit", true, FormErrors::new()),
        ("paypal", true, errors("webhook_id")),
    ] {
        add(
            "admin/gateways/form.html",
            page(
                true,
                context! {
                    current_staff => staff(&all),
                    nav => "gateways",
                    key => key,
                    label => "Card (Stripe)",
                    has_secrets => filled,
                    takes_keys => key == "stripe",
                    takes_instructions => key == "bank_transfer",
                    takes_fees => key == "stripe",
                    takes_paypal_keys => key == "paypal",
                    paypal_webhook_url => "https://billing.example.com/webhooks/paypal",
                    takes_funds => key == "account_credit",
                    webhook_url => "https://billing.example.com/webhooks/stripe",
                    form => context! {
                        enabled => filled, display_name => SCRIPT, currencies => "EUR", test_mode => true,
                        instructions => SCRIPT, sort_order => "", fee_percent => SCRIPT, fee_fixed => "0.30",
                        add_funds_minimum => "", add_funds_maximum => if filled { "500" } else { SCRIPT },
                    },
                    errors => errors,
                },
            ),
        );
    }

    out
}

/// Module-log entries as `provisioning::handlers::call_value` gives them.
fn module_calls_sample() -> Vec<Value> {
    vec![
        context! {
            id => 2, at => TIME, action => "create", label => "Create", ok => false, message => SCRIPT, duration_ms => 120,
            actor => SCRIPT, exchanges => vec![context! { action => "createacct", request => SCRIPT, response => SCRIPT }],
        },
        context! {
            id => 1, at => TIME, action => "test_connection", label => "Test connection", ok => true, message => "Connected",
            duration_ms => 40, actor => "staff@example.com", exchanges => Vec::<Value>::new(),
        },
    ]
}

/// The provisioning part of the staff service page (`services::module_handlers::staff_context`).
fn provisioning_sample(filled: bool) -> Value {
    context! {
        module => filled.then_some("cPanel/WHM"),
        needs_server => filled,
        server => filled.then(|| context! { id => 3, name => SCRIPT, hostname => "web01.example.net" }),
        servers => if filled { vec![("3", SCRIPT)] } else { Vec::new() },
        work => if filled { vec![
            context! { id => 7, kind => "Module command", command => Some("Suspend"), status => "failed", attempts => 1, max_attempts => 6, error => Some(SCRIPT) },
            context! { id => 8, kind => "Usage refresh", command => None::<&str>, status => "pending", attempts => 1, max_attempts => 2, error => Some(SCRIPT) },
            context! { id => 9, kind => "Module command", command => Some("Create"), status => "running", attempts => 1, max_attempts => 6, error => None::<&str> },
        ] } else { Vec::new() },
        log => if filled { module_calls_sample() } else { Vec::new() },
    }
}

/// The module part of the client's service page (`services::module_handlers::client_context`).
fn client_module_sample(filled: bool, status: crate::services::status::Status) -> Value {
    if !filled {
        return context! { available => false };
    }
    let active = status == crate::services::status::Status::Active;
    context! {
        available => true,
        label => SCRIPT,
        sso => active,
        change_password => true,
        password_pending => !active,
        password => Some(SCRIPT),
        usage_supported => true,
        usage => active.then(|| context! {
            disk_used => 120, disk_limit => Some(1000), disk_percent => Some(12), bandwidth_used => 5,
            bandwidth_limit => None::<i64>, bandwidth_percent => None::<i64>, updated => TIME,
        }),
        actions => vec![context! { key => "reset", label => SCRIPT, help => SCRIPT }],
    }
}
