//! Sample states of every client page and email, for the template test.

use super::*;
use crate::clients::contacts::PERMISSIONS;
use crate::clients::fields::{FieldType, Visibility};
use crate::web::view::{SCRIPT, Sample, TIME, form_errors};

fn text(filled: bool) -> String {
    if filled { SCRIPT } else { "" }.to_owned()
}

impl CustomFieldInput {
    /// A text, a dropdown (holding a choice since removed) and a checkbox the audience
    /// sees, plus staff-only ones for staff; `filled` holds values.
    pub fn samples(staff: bool, filled: bool) -> Vec<Self> {
        let input = |id: i64, kind: &str, value: &str, required: bool, admin_only: bool| {
            let mut options: Vec<(String, String)> = Vec::new();
            if kind == "dropdown" {
                options.push((String::new(), if required { "Choose…".into() } else { "—".into() }));
                options.extend([("Small".to_owned(), "Small".to_owned()), (SCRIPT.to_owned(), SCRIPT.to_owned())]);
                if filled {
                    options.push(("Old".into(), "Old (no longer offered)".into()));
                }
            }
            CustomFieldInput {
                name: format!("cf_{id}"),
                label: SCRIPT.into(),
                kind: kind.into(),
                checked: value == "yes",
                value: value.into(),
                required,
                help: text(id % 2 == 0),
                admin_only,
                options,
                max_length: 500,
            }
        };
        let (typed, choice, tick) = if filled { (SCRIPT, "Old", "yes") } else { ("", "", "") };
        let mut inputs = vec![
            input(1, "text", typed, true, false),
            input(2, "dropdown", choice, true, false),
            input(3, "checkbox", tick, !staff, false),
        ];
        if staff {
            inputs.push(input(4, "text", typed, false, true));
            inputs.push(input(5, "checkbox", tick, false, true));
            inputs.push(input(6, "dropdown", &text(filled), false, true));
        }
        inputs
    }
}

impl ClientRow {
    pub fn sample(id: i64, status: &str, group: Option<&str>, company: &str, country: &str) -> Self {
        ClientRow {
            id: ClientId(id),
            name: SCRIPT.into(),
            company: company.into(),
            email: SCRIPT.into(),
            status: status.into(),
            group: group.map(str::to_owned),
            country: country.into(),
            created_at: TIME.into(),
        }
    }
}

impl DetailsValues {
    /// Empty (a new client) or everything typed.
    pub fn sample(filled: bool, invite: bool) -> Self {
        let choice = |value: &str| if filled { value } else { "" }.to_owned();
        DetailsValues {
            first_name: text(filled),
            last_name: text(filled),
            company_name: text(filled),
            email: text(filled),
            phone: text(filled),
            address1: text(filled),
            address2: text(filled),
            city: text(filled),
            region: text(filled),
            postcode: text(filled),
            country: choice("FR"),
            tax_id: text(filled),
            currency_code: text(filled),
            language: text(filled),
            tax_exempt: filled,
            payment_method: choice("bank_transfer"),
            group_id: choice("2"),
            status: choice("inactive"),
            invite,
        }
    }

    /// A details form sent back with a message on most fields, custom ones included.
    pub fn sample_errors() -> FormErrors {
        let mut errors = form_errors("email");
        for field in ["first_name", "country", "currency_code", "language", "group_id", "status"] {
            errors.add(field, SCRIPT);
        }
        for field in ["cf_1", "cf_2", "cf_6"] {
            errors.add(field, SCRIPT);
        }
        errors
    }
}

/// (id, name) of the groups.
pub fn group_options() -> Vec<(String, String)> {
    vec![("1".into(), "Resellers".into()), ("2".into(), SCRIPT.into())]
}

/// A few countries (the real list is long).
pub fn country_options() -> Options {
    vec![("DE", "Germany"), ("FR", "France"), ("GB", "United Kingdom")]
}

impl ContactRow {
    pub fn sample(id: i64, login_enabled: bool, invited: bool, filled: bool) -> Self {
        ContactRow {
            id: ContactId(id),
            name: SCRIPT.into(),
            email: SCRIPT.into(),
            phone: text(filled),
            receives_billing: filled,
            receives_technical: filled,
            receives_general: !login_enabled,
            login_enabled,
            invited,
            twofa: filled && !invited,
            last_login_at: (filled && !invited).then(|| TIME.into()),
            permissions: if filled { PERMISSIONS.iter().map(|(_, label)| *label).collect() } else { Vec::new() },
        }
    }

    /// A sub-user, an invited one, a plain contact and a sub-user with nothing filled.
    pub fn samples() -> Vec<Self> {
        vec![
            Self::sample(1, true, false, true),
            Self::sample(2, true, true, true),
            Self::sample(3, false, false, false),
            Self::sample(4, true, false, false),
        ]
    }
}

impl ContactFormValues {
    /// Empty (a new contact) or everything typed, with `keys` ticked.
    fn sample(filled: bool, keys: &[&str]) -> Self {
        ContactFormValues {
            first_name: text(filled),
            last_name: text(filled),
            email: text(filled),
            phone: text(filled),
            receives_billing: filled,
            receives_technical: filled,
            receives_general: false,
            login_enabled: filled,
            permissions: keys.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    fn sample_errors() -> FormErrors {
        let mut errors = form_errors("email");
        for field in ["first_name", "permissions"] {
            errors.add(field, SCRIPT);
        }
        errors
    }
}

/// The contact form's boxes when the editor may give the keys in `grantable`.
fn contact_permissions(grantable: &[&str]) -> Vec<ContactPermission> {
    PERMISSIONS
        .iter()
        .map(|(key, label)| ContactPermission { key, label, grantable: grantable.contains(key) })
        .collect()
}

fn all_contact_keys() -> Vec<&'static str> {
    PERMISSIONS.iter().map(|(key, _)| *key).collect()
}

fn client_area() -> Vec<Sample> {
    let mut out = vec![Sample::page(&RegisterSentPage { nav: "register" })];
    for (open, signed_in) in [(true, false), (false, false), (true, true)] {
        out.push(Sample::page_with_registration(&HomePage { nav: "home", signed_in }, open));
    }
    let registration = |filled: bool| RegistrationValues {
        first_name: text(filled),
        last_name: text(filled),
        company_name: text(filled),
        email: text(filled),
    };
    let mut registration_errors = form_errors("email");
    for field in ["cf_1", "cf_2", "cf_3"] {
        registration_errors.add(field, SCRIPT);
    }
    for (open, form, errors, custom_fields) in [
        (true, registration(false), FormErrors::new(), Vec::new()),
        (true, registration(false), FormErrors::new(), CustomFieldInput::samples(false, false)),
        (true, registration(true), registration_errors, CustomFieldInput::samples(false, true)),
        (false, registration(false), FormErrors::new(), CustomFieldInput::samples(false, false)),
    ] {
        let page = RegisterPage {
            nav: "register",
            next: if open { "/checkout" } else { "" }.into(),
            errors,
            registration: RegistrationForm { open, custom_fields, form },
        };
        out.push(Sample::page_with_registration(&page, open));
    }
    let badges = [
        ClientBadge::sample_owner(true),
        ClientBadge::sample_owner(false),
        // Sub-users see only what they may use (layout/client.html, client/dashboard.html).
        ClientBadge::sample_sub_user(&["invoices", "contacts"]),
        ClientBadge::sample_sub_user(&["services"]),
        ClientBadge::sample_sub_user(&["profile", "tickets"]),
    ];
    for current_client in badges {
        out.push(Sample::page(&DashboardPage { current_client, nav: "dashboard" }));
    }
    let mut profile_errors = form_errors("first_name");
    profile_errors.add("cf_1", SCRIPT);
    for (errors, custom_fields) in [
        (FormErrors::new(), Vec::new()),
        (FormErrors::new(), CustomFieldInput::samples(false, true)),
        (profile_errors, CustomFieldInput::samples(false, false)),
    ] {
        out.push(Sample::page(&ProfilePage {
            current_client: ClientBadge::sample_owner(true),
            nav: "profile",
            form: ProfileValues {
                first_name: SCRIPT.into(),
                last_name: "Doe".into(),
                company_name: String::new(),
                email: SCRIPT.into(),
            },
            custom_fields,
            errors,
        }));
    }
    out
}

/// Contacts for the owner and for a sub-user who may manage contacts but not everything.
fn contacts() -> Vec<Sample> {
    let mut out = Vec::new();
    let sub_user = || ClientBadge::sample_sub_user(&["contacts", "invoices"]);
    for (current_client, contacts) in
        [(ClientBadge::sample_owner(true), ContactRow::samples()), (sub_user(), Vec::new())]
    {
        out.push(Sample::page(&ContactsPage { current_client, nav: "contacts", contacts }));
    }
    let existing = Some("/account/contacts/3/delete");
    for (current_client, grantable, form, delete, errors) in [
        (
            ClientBadge::sample_owner(true),
            all_contact_keys(),
            ContactFormValues::sample(false, &[]),
            None,
            FormErrors::new(),
        ),
        (
            ClientBadge::sample_owner(true),
            all_contact_keys(),
            ContactFormValues::sample(true, &["invoices", "profile"]),
            existing,
            ContactFormValues::sample_errors(),
        ),
        (
            sub_user(),
            vec!["contacts", "invoices"],
            ContactFormValues::sample(true, &["invoices", "domains"]),
            existing,
            FormErrors::new(),
        ),
    ] {
        out.push(Sample::page(&ContactPage {
            current_client,
            nav: "contacts",
            form,
            permissions: contact_permissions(&grantable),
            back: "/account/contacts".into(),
            action: if delete.is_some() { "/account/contacts/3" } else { "/account/contacts" }.into(),
            delete: delete.map(str::to_owned),
            errors,
        }));
    }
    let existing = Some("/admin/clients/7/contacts/3/delete");
    for (form, delete, errors) in [
        (ContactFormValues::sample(false, &[]), None, FormErrors::new()),
        (ContactFormValues::sample(true, &["invoices", "contacts"]), existing, ContactFormValues::sample_errors()),
    ] {
        out.push(Sample::page(&AdminContactPage {
            current_staff: StaffBadge::sample_all(),
            nav: "clients",
            client: ClientRef { id: ClientId(7), name: SCRIPT.into() },
            form,
            permissions: contact_permissions(&all_contact_keys()),
            back: "/admin/clients/7?tab=contacts".into(),
            action: if delete.is_some() { "/admin/clients/7/contacts/3" } else { "/admin/clients/7/contacts" }.into(),
            delete: delete.map(str::to_owned),
            errors,
        }));
    }
    out
}

fn staff_pages() -> Vec<Sample> {
    let mut out = Vec::new();
    let rows = vec![
        ClientRow::sample(1, "active", Some("Resellers"), SCRIPT, "DE"),
        ClientRow::sample(2, "inactive", None, "", ""),
        ClientRow::sample(3, "closed", Some(SCRIPT), "Acme", "FR"),
        ClientRow::sample(4, "odd", None, "", "GB"),
    ];
    let filters = |typed: bool| ClientFilters {
        q: text(typed),
        status: if typed { "inactive" } else { "" }.into(),
        group: if typed { "2" } else { "" }.into(),
        sort: if typed { "name" } else { "" }.into(),
    };
    for (clients, filters, can_manage, page, pages, total) in [
        (rows, filters(true), true, 2, 3, 101),
        (Vec::new(), filters(false), true, 1, 1, 0),
        (Vec::new(), filters(false), false, 1, 1, 0),
        (Vec::new(), filters(true), false, 1, 1, 0),
    ] {
        out.push(Sample::page(&ClientsPage {
            current_staff: StaffBadge::sample_all(),
            nav: "clients",
            clients,
            groups: group_options(),
            statuses: crate::clients::admin::STATUSES,
            filters,
            pagination: Pagination {
                page,
                pages,
                total,
                query: "q=%3Cscript%3E&status=inactive&group=2&sort=name".into(),
            },
            can_manage,
        }));
    }
    for (form, errors, custom_fields) in [
        (DetailsValues::sample(false, true), FormErrors::new(), Vec::new()),
        (DetailsValues::sample(false, true), FormErrors::new(), CustomFieldInput::samples(true, false)),
        (DetailsValues::sample(true, false), DetailsValues::sample_errors(), CustomFieldInput::samples(true, true)),
    ] {
        out.push(Sample::page(&NewClientPage {
            current_staff: StaffBadge::sample_all(),
            nav: "clients",
            form,
            custom_fields,
            groups: group_options(),
            countries: country_options(),
            payment_methods: crate::clients::admin::PAYMENT_METHODS.to_vec(),
            statuses: crate::clients::admin::STATUSES,
            errors,
        }));
    }
    let group = |id: i64, name: &str, discount_percent: &str, exempt_from_fees: bool| GroupRow {
        id: ClientGroupId(id),
        name: name.into(),
        discount_percent: discount_percent.into(),
        exempt_from_fees,
    };
    let typed =
        |filled: bool| GroupValues { name: text(filled), discount_percent: text(filled), exempt_from_fees: filled };
    for (groups, form, errors, can_manage) in [
        (
            vec![group(1, "Resellers", "12.5", true), group(2, SCRIPT, "0", false)],
            typed(true),
            form_errors("discount_percent"),
            true,
        ),
        (Vec::new(), typed(false), FormErrors::new(), true),
        (Vec::new(), typed(false), FormErrors::new(), false),
    ] {
        out.push(Sample::page(&GroupsPage {
            current_staff: StaffBadge::sample_all(),
            nav: "clients",
            groups,
            form,
            errors,
            can_manage,
        }));
    }
    out
}

fn field_pages() -> Vec<Sample> {
    let form = |filled: bool, field_type: &str| FieldValues {
        name: text(filled),
        field_type: field_type.into(),
        options: if field_type == "dropdown" { text(filled) } else { String::new() },
        description: text(filled),
        visibility: if filled { "registration" } else { "admin" }.into(),
        required: filled,
    };
    let row =
        |id: i64, name: &str, kind_label, visibility: &str, visibility_label, required, choices, values| FieldRow {
            id: ClientFieldId(id),
            name: name.into(),
            kind_label,
            visibility: visibility.into(),
            visibility_label,
            required,
            choices,
            values,
            first: id == 1,
            last: id == 3,
        };
    let everywhere = "Registration and client profile";
    let rows = vec![
        row(1, SCRIPT, "Text", "registration", everywhere, true, 0, 12),
        row(2, "Plan size", "Dropdown", "admin", "Staff only", false, 1, 0),
        row(3, "Newsletter", "Checkbox", "registration", everywhere, false, 0, 1),
    ];
    let mut out = Vec::new();
    for (fields, form, errors) in
        [(rows, form(true, "dropdown"), form_errors("options")), (Vec::new(), form(false, "text"), FormErrors::new())]
    {
        out.push(Sample::page(&FieldsPage {
            current_staff: StaffBadge::sample_all(),
            nav: "settings",
            fields,
            form,
            types: FieldType::options(),
            visibilities: Visibility::options(),
            errors,
        }));
    }
    for (kind, kind_label, values, filled, errors, history) in [
        ("dropdown", "Dropdown", 1, true, form_errors("name"), crate::audit::history::sample_rows()),
        ("text", "Text", 0, false, FormErrors::new(), Vec::new()),
        ("checkbox", "Checkbox", 7, true, FormErrors::new(), crate::audit::history::sample_rows()),
    ] {
        out.push(Sample::page(&FieldPage {
            current_staff: StaffBadge::sample_all(),
            nav: "settings",
            field: FieldSummary { id: ClientFieldId(4), name: SCRIPT.into(), kind: kind.into(), kind_label, values },
            form: form(filled, kind),
            types: FieldType::options(),
            visibilities: Visibility::options(),
            history,
            errors,
        }));
    }
    out
}

fn emails() -> Vec<Sample> {
    use crate::mail::{samples as email, samples_with_link as email_with_link};
    [
        email_with_link(&VerifyEmail { hours: 48, first_name: SCRIPT.into() }),
        email(&RegistrationAttemptEmail {
            sign_in: "https://hosting.example.com/login".into(),
            reset: "https://hosting.example.com/password/forgot".into(),
        }),
        email_with_link(&ClientWelcomeEmail { first_name: SCRIPT.into() }),
        email_with_link(&ContactInviteEmail { days: 7, account: SCRIPT.into(), first_name: SCRIPT.into() }),
    ]
    .concat()
}

/// Every client page and email, in its sample states.
pub fn all() -> Vec<Sample> {
    [client_area(), contacts(), staff_pages(), field_pages(), emails()].concat()
}
