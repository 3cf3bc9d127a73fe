//! Custom client fields (decision 0010): staff define text, dropdown and checkbox fields;
//! registration fields are asked at sign-up and edited by the client on their profile;
//! staff-only fields never reach the client's pages; values are in the data export and
//! leave with anonymisation.

use crate::on_both_backends;
use crate::support::TestApp;

const CLIENT: (&str, &str) = ("grace@example.com", "compass meadow 31");

/// The input names of the three fields `define_fields` creates.
struct Fields {
    vat_office: String,
    plan: String,
    risk: String,
}

/// As an administrator: a required registration text field, an optional registration
/// dropdown and a required staff-only checkbox.
async fn define_fields(staff: &mut TestApp) -> Fields {
    let fields: [&[(&str, &str)]; 3] = [
        &[
            ("name", "VAT office"),
            ("field_type", "text"),
            ("description", "The tax office that handles your VAT."),
            ("visibility", "registration"),
            ("required", "on"),
        ],
        &[
            ("name", "Plan size"),
            ("field_type", "dropdown"),
            ("options", "Small\r\nLarge\r\n"),
            ("visibility", "registration"),
        ],
        &[("name", "Risk flag"), ("field_type", "checkbox"), ("visibility", "admin"), ("required", "on")],
    ];
    for form in fields {
        staff
            .post_form("/admin/settings/client-fields", form)
            .await
            .assert_redirect_to("/admin/settings/client-fields");
    }
    let id = |name: &str| format!("SELECT id FROM client_fields WHERE name = '{name}'");
    Fields {
        vat_office: format!("cf_{}", staff.scalar(&id("VAT office")).await),
        plan: format!("cf_{}", staff.scalar(&id("Plan size")).await),
        risk: format!("cf_{}", staff.scalar(&id("Risk flag")).await),
    }
}

fn registration<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("company_name", ""),
        ("email", CLIENT.0),
        ("password", CLIENT.1),
        ("password_confirm", CLIENT.1),
    ];
    form.extend_from_slice(extra);
    form
}

async fn value_of(app: &TestApp, field: &str) -> i64 {
    let id = field.trim_start_matches("cf_");
    app.scalar(&format!("SELECT COUNT(*) FROM client_field_values WHERE field_id = {id}")).await
}

async fn a_visitor_registers_with_the_registration_fields_only(mut staff: TestApp) {
    staff.signed_in_admin().await;
    let f = define_fields(&mut staff).await;
    let list = staff.get("/admin/settings/client-fields").await;
    for name in ["VAT office", "Plan size", "Risk flag", "Staff only"] {
        list.assert_contains(name);
    }

    let mut visitor = staff.second_node().await;
    let page = visitor.get("/register").await;
    page.assert_contains("VAT office");
    page.assert_contains("The tax office that handles your VAT.");
    page.assert_contains("Plan size");
    assert!(!page.body.contains("Risk flag"), "staff-only fields are never asked");

    // Without the required field: a message next to it, and no account.
    let refused = visitor.post_form("/register", &registration(&[(&f.plan, "Large")])).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Fill in “VAT office”.");
    refused.assert_contains(&format!("id=\"f-{}-error\"", f.vat_office));
    refused.assert_contains("<option value=\"Large\" selected>");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM clients").await, 0);

    // A dropdown value that is not a choice is refused.
    let bogus = visitor.post_form("/register", &registration(&[(&f.vat_office, "Berlin"), (&f.plan, "Huge")])).await;
    assert_eq!(bogus.status, 422);
    bogus.assert_contains("Choose an option from the list.");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM clients").await, 0);
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values").await, 0);

    // With it, the values are stored; a staff-only field sent anyway is ignored.
    let form = registration(&[(&f.vat_office, "  Berlin Mitte  "), (&f.plan, "Large"), (&f.risk, "on")]);
    visitor.post_form("/register", &form).await.assert_redirect_to("/register/check-email");
    visitor.finish_sign_up(CLIENT.0).await.assert_redirect_to("/account");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Berlin Mitte'").await, 1);
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Large'").await, 1);
    assert_eq!(value_of(&staff, &f.risk).await, 0, "a visitor cannot set a staff-only field");
}

async fn the_client_edits_registration_fields_and_never_sees_staff_only_ones(mut staff: TestApp) {
    staff.signed_in_admin().await;
    let f = define_fields(&mut staff).await;
    let mut client = staff.second_node().await;
    client
        .post_form("/register", &registration(&[(&f.vat_office, "Berlin Mitte")]))
        .await
        .assert_redirect_to("/register/check-email");
    client.finish_sign_up(CLIENT.0).await.assert_redirect_to("/account");

    // Staff tick the staff-only box on the client's record.
    let staff_form = [
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("email", CLIENT.0),
        ("status", "active"),
        (f.vat_office.as_str(), "Berlin Mitte"),
        (f.risk.as_str(), "on"),
    ];
    staff.post_form("/admin/clients/1", &staff_form).await.assert_redirect_to("/admin/clients/1?tab=profile");
    assert_eq!(value_of(&staff, &f.risk).await, 1);

    let profile = client.get("/account/profile").await;
    profile.assert_contains("VAT office");
    profile.assert_contains("value=\"Berlin Mitte\"");
    profile.assert_contains("Plan size");
    for path in ["/account/profile", "/account", "/account/contacts"] {
        let page = client.get(path).await;
        assert!(!page.body.contains("Risk flag"), "{path} shows a staff-only field");
        assert!(!page.body.contains(&format!("name=\"{}\"", f.risk)), "{path} has a staff-only input");
    }

    let mine = [("first_name", "Grace"), ("last_name", "Hopper"), ("company_name", "")];
    // A required field left empty, or a choice not in the list, saves nothing.
    let mut empty = mine.to_vec();
    empty.extend([(f.vat_office.as_str(), " "), (f.plan.as_str(), "Small")]);
    let refused = client.post_form("/account/profile", &empty).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Fill in “VAT office”.");
    let mut bogus = mine.to_vec();
    bogus.extend([(f.vat_office.as_str(), "Hamburg"), (f.plan.as_str(), "Enormous")]);
    let refused = client.post_form("/account/profile", &bogus).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Choose an option from the list.");
    assert!(!refused.body.contains("Risk flag"));
    assert_eq!(client.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Hamburg'").await, 0);

    // A valid change is saved and audited; the staff-only value is untouched, even when
    // the client sends it.
    let mut good = mine.to_vec();
    good.extend([(f.vat_office.as_str(), "Hamburg"), (f.plan.as_str(), "Small"), (f.risk.as_str(), "")]);
    client.post_form("/account/profile", &good).await.assert_redirect_to("/account/profile");
    assert_eq!(client.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Hamburg'").await, 1);
    assert_eq!(client.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Small'").await, 1);
    assert_eq!(value_of(&staff, &f.risk).await, 1, "a client cannot clear a staff-only field");
    assert_eq!(
        client
            .scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'client.profile_updated' \
                 AND actor_kind = 'client' AND summary LIKE '%VAT office%' AND summary LIKE '%Plan size%'"
            )
            .await,
        1
    );
}

async fn staff_see_and_edit_every_field(mut staff: TestApp) {
    staff.signed_in_admin().await;
    let f = define_fields(&mut staff).await;
    staff.create_staff("bea@hostwright.test", "Billing", "harbour crane 77").await;

    // The new-client form asks every field; staff too must fill in required text, but need
    // not tick a required checkbox.
    let new_page = staff.get("/admin/clients/new").await;
    for name in ["VAT office", "Plan size", "Risk flag", "Only staff see this field."] {
        new_page.assert_contains(name);
    }
    let base =
        [("first_name", "Linus"), ("last_name", "Torvalds"), ("email", "linus@example.com"), ("status", "active")];
    let refused = staff.post_form("/admin/clients", &base).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Fill in “VAT office”.");
    assert!(!refused.body.contains("Tick “Risk flag”"), "staff need not tick a required checkbox");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM clients").await, 0);
    let mut with_fields = base.to_vec();
    with_fields.extend([(f.vat_office.as_str(), "Helsinki"), (f.plan.as_str(), "Small")]);
    let created = staff.post_form("/admin/clients", &with_fields).await;
    assert_eq!(created.location(), "/admin/clients/1", "{}", created.body);
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values WHERE client_id = 1").await, 2);

    // A Billing member (clients.manage, not settings.manage) edits values but not fields.
    let mut bea = staff.second_node().await;
    bea.post_staff_login("bea@hostwright.test", "harbour crane 77").await.assert_redirect_to("/admin");
    assert_eq!(bea.get("/admin/settings/client-fields").await.status, 403);
    assert_eq!(bea.post_form("/admin/settings/client-fields", &[("name", "X")]).await.status, 403);
    let profile = bea.get("/admin/clients/1?tab=profile").await;
    profile.assert_contains("value=\"Helsinki\"");
    profile.assert_contains("<option value=\"Small\" selected>");
    profile.assert_contains("Risk flag");

    let mut bogus = base.to_vec();
    bogus.extend([(f.vat_office.as_str(), "Helsinki"), (f.plan.as_str(), "Medium")]);
    let refused = bea.post_form("/admin/clients/1", &bogus).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Choose an option from the list.");
    let long = "x".repeat(501);
    let mut too_long = base.to_vec();
    too_long.extend([(f.vat_office.as_str(), long.as_str())]);
    assert_eq!(bea.post_form("/admin/clients/1", &too_long).await.status, 422);

    let mut edit = base.to_vec();
    edit.extend([(f.vat_office.as_str(), "Espoo"), (f.plan.as_str(), ""), (f.risk.as_str(), "on")]);
    bea.post_form("/admin/clients/1", &edit).await.assert_redirect_to("/admin/clients/1?tab=profile");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Espoo'").await, 1);
    assert_eq!(value_of(&staff, &f.plan).await, 0, "an emptied value leaves no row");
    assert_eq!(value_of(&staff, &f.risk).await, 1);
    assert_eq!(
        staff
            .scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'client.updated' AND actor_kind = 'staff' \
                 AND summary LIKE '%VAT office%' AND summary LIKE '%Plan size%' AND summary LIKE '%Risk flag%'"
            )
            .await,
        1
    );

    // A choice removed from the dropdown stays with clients who have it until changed.
    let plan_id = f.plan.trim_start_matches("cf_").to_owned();
    let mut keep = base.to_vec();
    keep.extend([(f.vat_office.as_str(), "Espoo"), (f.plan.as_str(), "Large")]);
    bea.post_form("/admin/clients/1", &keep).await.assert_redirect_to("/admin/clients/1?tab=profile");
    staff
        .post_form(
            &format!("/admin/settings/client-fields/{plan_id}"),
            &[("name", "Plan size"), ("options", "Small\nMedium"), ("visibility", "registration")],
        )
        .await
        .assert_redirect_to("/admin/settings/client-fields");
    bea.get("/admin/clients/1?tab=profile").await.assert_contains("Large (no longer offered)");
    bea.post_form("/admin/clients/1", &keep).await.assert_redirect_to("/admin/clients/1?tab=profile");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values WHERE value = 'Large'").await, 1);
}

async fn the_export_holds_every_value_and_anonymising_erases_them(mut staff: TestApp) {
    staff.signed_in_admin().await;
    let f = define_fields(&mut staff).await;
    let mut client = staff.second_node().await;
    let form = registration(&[(&f.vat_office, "Berlin Mitte"), (&f.plan, "Small")]);
    client.post_form("/register", &form).await.assert_redirect_to("/register/check-email");
    client.finish_sign_up(CLIENT.0).await.assert_redirect_to("/account");
    let staff_form = [
        ("first_name", "Grace"),
        ("last_name", "Hopper"),
        ("email", CLIENT.0),
        ("status", "active"),
        (f.vat_office.as_str(), "Berlin Mitte"),
        (f.plan.as_str(), "Small"),
        (f.risk.as_str(), "on"),
    ];
    staff.post_form("/admin/clients/1", &staff_form).await.assert_redirect_to("/admin/clients/1?tab=profile");

    // A data-access request covers staff-only fields too.
    let own = client.get("/account/export").await;
    assert_eq!(own.status, 200);
    let data: serde_json::Value = serde_json::from_str(&own.body).unwrap();
    let custom = data["custom_fields"].as_array().unwrap();
    let find = |name: &str| custom.iter().find(|v| v["field"] == name).cloned().unwrap_or_default();
    assert_eq!(find("VAT office")["value"], "Berlin Mitte");
    assert_eq!(find("Plan size")["value"], "Small");
    assert_eq!(find("Risk flag")["value"], "yes");
    assert_eq!(find("Risk flag")["visible_to_client"], false);
    let export = staff.get("/admin/clients/1/export").await;
    assert!(export.body.contains("Berlin Mitte") && export.body.contains("Risk flag"));

    staff.post_form("/admin/clients/1/anonymise", &[("confirm", "1")]).await.assert_redirect_to("/admin/clients/1");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values").await, 0);
    let after: serde_json::Value = serde_json::from_str(&staff.get("/admin/clients/1/export").await.body).unwrap();
    assert_eq!(after["custom_fields"].as_array().map(Vec::len), Some(0));
}

async fn staff_reorder_edit_and_delete_fields_with_an_audit_trail(mut staff: TestApp) {
    staff.signed_in_admin().await;
    let f = define_fields(&mut staff).await;
    let (vat, plan) = (f.vat_office.trim_start_matches("cf_"), f.plan.trim_start_matches("cf_"));
    let order = |body: &str| body.find("VAT office").unwrap() < body.find("Plan size").unwrap();
    let mut visitor = staff.second_node().await;
    assert!(order(&visitor.get("/register").await.body));
    staff
        .post_form(&format!("/admin/settings/client-fields/{vat}/move"), &[("direction", "down")])
        .await
        .assert_redirect_to("/admin/settings/client-fields");
    assert!(!order(&visitor.get("/register").await.body), "the dropdown is asked first now");
    assert!(
        staff
            .post_form(&format!("/admin/settings/client-fields/{vat}/move"), &[("direction", "sideways")])
            .await
            .status
            .is_client_error()
    );

    // Bad definitions are refused field by field; the type never changes.
    let refused = staff
        .post_form(
            "/admin/settings/client-fields",
            &[("name", "VAT office"), ("field_type", "text"), ("visibility", "admin")],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("A field with this name already exists.");
    let refused = staff
        .post_form(
            "/admin/settings/client-fields",
            &[("name", "Size"), ("field_type", "dropdown"), ("options", "A\nA"), ("visibility", "admin")],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Each choice may appear only once.");
    staff
        .post_form(
            &format!("/admin/settings/client-fields/{vat}"),
            &[("name", "Tax office"), ("field_type", "checkbox"), ("visibility", "admin")],
        )
        .await
        .assert_redirect_to("/admin/settings/client-fields");
    assert_eq!(
        staff.scalar("SELECT COUNT(*) FROM client_fields WHERE name = 'Tax office' AND field_type = 'text'").await,
        1
    );
    assert!(!visitor.get("/register").await.body.contains("Tax office"), "now staff-only");

    // Deleting a field deletes its values, after a confirmation in the page.
    let form = registration(&[(&f.plan, "Small")]);
    visitor.post_form("/register", &form).await.assert_redirect_to("/register/check-email");
    visitor.finish_sign_up(CLIENT.0).await.assert_redirect_to("/account");
    assert_eq!(value_of(&staff, &f.plan).await, 1);
    let page = staff.get(&format!("/admin/settings/client-fields/{plan}")).await;
    page.assert_contains("data-confirm=\"Delete the field Plan size and 1 client value?");
    staff
        .post_form(&format!("/admin/settings/client-fields/{plan}/delete"), &[])
        .await
        .assert_redirect_to("/admin/settings/client-fields");
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_field_values").await, 0);
    assert_eq!(staff.scalar("SELECT COUNT(*) FROM client_fields").await, 2);
    assert!(!visitor.get("/account/profile").await.body.contains("Plan size"));

    for (action, count) in [
        ("client_field.created", 3),
        ("client_field.moved", 1),
        ("client_field.updated", 1),
        ("client_field.deleted", 1),
    ] {
        let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND actor_kind = 'staff'");
        assert_eq!(staff.scalar(&sql).await, count, "{action}");
    }
    assert_eq!(
        staff.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client_field.deleted' AND summary LIKE '%Plan size and 1 client value%'").await,
        1
    );
}

on_both_backends!(
    a_visitor_registers_with_the_registration_fields_only,
    the_client_edits_registration_fields_and_never_sees_staff_only_ones,
    staff_see_and_edit_every_field,
    the_export_holds_every_value_and_anonymising_erases_them,
    staff_reorder_edit_and_delete_fields_with_an_audit_trail,
);
