//! What the client pages show, in the client area and in the staff's: one view per page (its
//! fields are the template's variables), the parts several pages share (a client's row, the
//! details form, the custom fields' inputs, a contact), and the emails clients get. The
//! samples the template test renders are built beside them.

use serde::Serialize;

use super::current::ClientBadge;
use crate::audit::history::AuditRow;
use crate::ids::{ClientFieldId, ClientGroupId, ClientId, ContactId};
use crate::staff::current::StaffBadge;
use crate::web::view::Pagination;
use crate::web::{FormErrors, PageView};

// --- parts several pages share --------------------------------------------------------------

/// A custom field's input (`custom_fields` in `macros/clients.html`).
#[derive(Debug, Clone, Serialize)]
pub struct CustomFieldInput {
    /// The form field's name (`cf_<id>`).
    pub name: String,
    pub label: String,
    /// `text`, `dropdown` or `checkbox`.
    pub kind: String,
    pub checked: bool,
    pub value: String,
    pub required: bool,
    pub help: String,
    pub admin_only: bool,
    /// (value, label) of a dropdown's choices.
    pub options: Vec<(String, String)>,
    pub max_length: usize,
}

/// A client in the staff's lists.
#[derive(Debug, Clone, Serialize)]
pub struct ClientRow {
    pub id: ClientId,
    pub name: String,
    pub company: String,
    pub email: String,
    pub status: String,
    /// The group's name.
    pub group: Option<String>,
    pub country: String,
    pub created_at: String,
}

/// The staff's form of a client's details, as stored or as typed.
#[derive(Debug, Clone, Serialize)]
pub struct DetailsValues {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: String,
    pub phone: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub region: String,
    pub postcode: String,
    pub country: String,
    pub tax_id: String,
    pub currency_code: String,
    pub language: String,
    pub payment_method: String,
    pub group_id: String,
    pub status: String,
    /// Whether a new client is emailed a link to choose a password.
    pub invite: bool,
    pub tax_exempt: bool,
}

/// The choices of the details form.
pub type Options = Vec<(&'static str, &'static str)>;

/// A contact in the lists.
#[derive(Debug, Clone, Serialize)]
pub struct ContactRow {
    pub id: ContactId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub receives_billing: bool,
    pub receives_technical: bool,
    pub receives_general: bool,
    pub login_enabled: bool,
    /// A sub-user who has not chosen a password yet.
    pub invited: bool,
    pub twofa: bool,
    pub last_login_at: Option<String>,
    /// The labels of what a sub-user may use.
    pub permissions: Vec<&'static str>,
}

/// The contact form as stored or as typed.
#[derive(Debug, Clone, Serialize)]
pub struct ContactFormValues {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub receives_billing: bool,
    pub receives_technical: bool,
    pub receives_general: bool,
    pub login_enabled: bool,
    /// The permission keys ticked.
    pub permissions: Vec<String>,
}

/// A permission's box on the contact form: who edits may only give what they hold.
#[derive(Debug, Clone, Serialize)]
pub struct ContactPermission {
    pub key: &'static str,
    pub label: &'static str,
    pub grantable: bool,
}

// --- the client area ------------------------------------------------------------------------

/// The site's front page.
#[derive(Debug, Serialize)]
pub struct HomePage {
    pub nav: &'static str,
    pub signed_in: bool,
}

impl PageView for HomePage {
    const TEMPLATE: &'static str = "client/home.html";
}

/// The sign-up form as typed.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationValues {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: String,
}

/// What the registration form shows; the sign-up page and checkout's inline form both
/// render it.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationForm {
    /// Whether sign-ups are open.
    pub open: bool,
    pub custom_fields: Vec<CustomFieldInput>,
    pub form: RegistrationValues,
}

#[derive(Debug, Serialize)]
pub struct RegisterPage {
    pub nav: &'static str,
    /// Where to go once registered.
    pub next: String,
    pub errors: FormErrors,
    #[serde(flatten)]
    pub registration: RegistrationForm,
}

impl PageView for RegisterPage {
    const TEMPLATE: &'static str = "client/register.html";
}

/// "Check your inbox", where every sign-up lands.
#[derive(Debug, Serialize)]
pub struct RegisterSentPage {
    pub nav: &'static str,
}

impl PageView for RegisterSentPage {
    const TEMPLATE: &'static str = "client/register_sent.html";
}

#[derive(Debug, Serialize)]
pub struct DashboardPage {
    pub current_client: ClientBadge,
    pub nav: &'static str,
}

impl PageView for DashboardPage {
    const TEMPLATE: &'static str = "client/dashboard.html";
}

/// The client's own profile form, as stored or as typed.
#[derive(Debug, Serialize)]
pub struct ProfileValues {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: String,
}

#[derive(Debug, Serialize)]
pub struct ProfilePage {
    pub current_client: ClientBadge,
    pub nav: &'static str,
    pub form: ProfileValues,
    pub custom_fields: Vec<CustomFieldInput>,
    pub errors: FormErrors,
}

impl PageView for ProfilePage {
    const TEMPLATE: &'static str = "client/profile.html";
}

/// The account's contacts and sub-users.
#[derive(Debug, Serialize)]
pub struct ContactsPage {
    pub current_client: ClientBadge,
    pub nav: &'static str,
    pub contacts: Vec<ContactRow>,
}

impl PageView for ContactsPage {
    const TEMPLATE: &'static str = "client/contacts/list.html";
}

/// A new or existing contact, in the client area.
#[derive(Debug, Serialize)]
pub struct ContactPage {
    pub current_client: ClientBadge,
    pub nav: &'static str,
    pub form: ContactFormValues,
    pub permissions: Vec<ContactPermission>,
    /// The list's address.
    pub back: String,
    /// Where the form posts.
    pub action: String,
    /// The delete action of an existing contact.
    pub delete: Option<String>,
    pub errors: FormErrors,
}

impl PageView for ContactPage {
    const TEMPLATE: &'static str = "client/contacts/form.html";
}

// --- the staff's pages ----------------------------------------------------------------------

/// The client whose contact staff edit.
#[derive(Debug, Serialize)]
pub struct ClientRef {
    pub id: ClientId,
    pub name: String,
}

/// A new or existing contact of a client, in the staff area.
#[derive(Debug, Serialize)]
pub struct AdminContactPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub client: ClientRef,
    pub form: ContactFormValues,
    pub permissions: Vec<ContactPermission>,
    pub back: String,
    pub action: String,
    pub delete: Option<String>,
    pub errors: FormErrors,
}

impl PageView for AdminContactPage {
    const TEMPLATE: &'static str = "admin/clients/contact_form.html";
}

/// The list's filters as typed.
#[derive(Debug, Serialize)]
pub struct ClientFilters {
    pub q: String,
    pub status: String,
    pub group: String,
    pub sort: String,
}

/// The searchable list of clients.
#[derive(Debug, Serialize)]
pub struct ClientsPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub clients: Vec<ClientRow>,
    /// (id, name) of every group.
    pub groups: Vec<(String, String)>,
    pub statuses: [&'static str; 3],
    pub filters: ClientFilters,
    pub pagination: Pagination,
    pub can_manage: bool,
}

impl PageView for ClientsPage {
    const TEMPLATE: &'static str = "admin/clients/list.html";
}

/// A new client, opened by staff.
#[derive(Debug, Serialize)]
pub struct NewClientPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub form: DetailsValues,
    pub custom_fields: Vec<CustomFieldInput>,
    pub groups: Vec<(String, String)>,
    pub countries: Options,
    pub payment_methods: Options,
    pub statuses: [&'static str; 3],
    pub errors: FormErrors,
}

impl PageView for NewClientPage {
    const TEMPLATE: &'static str = "admin/clients/new.html";
}

#[derive(Debug, Serialize)]
pub struct GroupRow {
    pub id: ClientGroupId,
    pub name: String,
    pub discount_percent: String,
    pub exempt_from_fees: bool,
}

/// The new-group form as typed.
#[derive(Debug, Serialize)]
pub struct GroupValues {
    pub name: String,
    pub discount_percent: String,
    pub exempt_from_fees: bool,
}

#[derive(Debug, Serialize)]
pub struct GroupsPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub groups: Vec<GroupRow>,
    pub form: GroupValues,
    pub errors: FormErrors,
    pub can_manage: bool,
}

impl PageView for GroupsPage {
    const TEMPLATE: &'static str = "admin/clients/groups.html";
}

/// A custom field in the list, with how many clients have a value for it.
#[derive(Debug, Serialize)]
pub struct FieldRow {
    pub id: ClientFieldId,
    pub name: String,
    pub kind_label: &'static str,
    pub visibility: String,
    pub visibility_label: &'static str,
    pub required: bool,
    pub choices: usize,
    pub values: u64,
    pub first: bool,
    pub last: bool,
}

/// The field form as stored or as typed.
#[derive(Debug, Serialize)]
pub struct FieldValues {
    pub name: String,
    pub field_type: String,
    pub options: String,
    pub description: String,
    pub visibility: String,
    pub required: bool,
}

#[derive(Debug, Serialize)]
pub struct FieldsPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub fields: Vec<FieldRow>,
    pub form: FieldValues,
    pub types: Options,
    pub visibilities: Options,
    pub errors: FormErrors,
}

impl PageView for FieldsPage {
    const TEMPLATE: &'static str = "admin/clients/fields.html";
}

/// The field being edited (its type is fixed once created).
#[derive(Debug, Serialize)]
pub struct FieldSummary {
    pub id: ClientFieldId,
    pub name: String,
    pub kind: String,
    pub kind_label: &'static str,
    pub values: u64,
}

#[derive(Debug, Serialize)]
pub struct FieldPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub field: FieldSummary,
    pub form: FieldValues,
    pub types: Options,
    pub visibilities: Options,
    pub history: Vec<AuditRow>,
    pub errors: FormErrors,
}

impl PageView for FieldPage {
    const TEMPLATE: &'static str = "admin/clients/field.html";
}

// --- emails ---------------------------------------------------------------------------------

/// The link that confirms an address (added when sent).
#[derive(Debug, Serialize)]
pub struct VerifyEmail {
    pub hours: i64,
    pub first_name: String,
}

impl crate::mail::EmailView for VerifyEmail {
    const TEMPLATE: &'static str = "verify_email";
}

/// Someone tried to sign up with an address that has an account.
#[derive(Debug, Serialize)]
pub struct RegistrationAttemptEmail {
    pub sign_in: String,
    pub reset: String,
}

impl crate::mail::EmailView for RegistrationAttemptEmail {
    const TEMPLATE: &'static str = "registration_attempt";
}

/// An account staff opened, with a link to choose a password (added when sent).
#[derive(Debug, Serialize)]
pub struct ClientWelcomeEmail {
    pub first_name: String,
}

impl crate::mail::EmailView for ClientWelcomeEmail {
    const TEMPLATE: &'static str = "client_welcome";
}

/// A new sub-user's link to choose a password (added when sent).
#[derive(Debug, Serialize)]
pub struct ContactInviteEmail {
    pub days: i64,
    /// The account's name.
    pub account: String,
    pub first_name: String,
}

impl crate::mail::EmailView for ContactInviteEmail {
    const TEMPLATE: &'static str = "contact_invite";
}

#[cfg(test)]
pub use samples::*;

#[cfg(test)]
mod samples;
