//! What the server pages show: the servers overview (filled by `services::server_handlers`,
//! which counts the accounts on each server) and a server's form, each with the samples the
//! template test renders.

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Serialize;

use crate::ids::{ServerGroupId, ServerId};
use crate::staff::current::StaffBadge;
use crate::web::{FormErrors, PageView};

/// A server in the overview.
#[derive(Debug, Serialize)]
pub struct ServerRow {
    pub id: ServerId,
    pub name: String,
    pub hostname: String,
    /// The module's label (its key when the module is unknown).
    pub module: String,
    pub enabled: bool,
    pub accounts: i64,
    /// 0 = no limit.
    pub max_accounts: i32,
    pub last_test_ok: Option<bool>,
    pub last_test: String,
}

/// A server group in the overview, with the names of its servers.
#[derive(Debug, Serialize)]
pub struct ServerGroupRow {
    pub id: ServerGroupId,
    pub name: String,
    pub fill_strategy: String,
    pub strategy_label: &'static str,
    pub servers: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ServerListPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub servers: Vec<ServerRow>,
    pub groups: Vec<ServerGroupRow>,
    /// (key, label) of every fill strategy.
    pub strategies: Vec<(&'static str, &'static str)>,
    /// (key, label) of the modules a server can be for.
    pub modules: Vec<(&'static str, String)>,
}

impl PageView for ServerListPage {
    const TEMPLATE: &'static str = "admin/servers/list.html";
}

/// The server form as typed.
#[derive(Debug, Serialize)]
pub struct ServerFormValues {
    pub name: String,
    pub hostname: String,
    pub max_accounts: String,
    pub nameservers: String,
    pub enabled: bool,
    pub settings: BTreeMap<String, String>,
}

/// The outcome of the last connection test.
#[derive(Debug, Serialize)]
pub struct LastTest {
    pub ok: Option<bool>,
    pub message: String,
    pub at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServerFormPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    /// None while the server is being added.
    pub id: Option<ServerId>,
    pub module: &'static str,
    pub module_label: &'static str,
    /// The module's fields, as `provisioning::handlers::field_values` gives them.
    pub fields: Vec<Value>,
    pub can_test: bool,
    /// The keys of the secret settings already stored.
    pub stored_secrets: Vec<String>,
    pub form: ServerFormValues,
    /// (id, name, whether the server is in it) of every group.
    pub groups: Vec<(String, String, bool)>,
    pub last_test: Option<LastTest>,
    /// Module-log entries, as `provisioning::handlers::call_value` gives them.
    pub log: Vec<Value>,
    pub errors: FormErrors,
}

impl PageView for ServerFormPage {
    const TEMPLATE: &'static str = "admin/servers/form.html";
}

/// A module's fields as `provisioning::handlers::field_values` gives them.
#[cfg(test)]
pub fn sample_fields() -> Vec<Value> {
    use minijinja::context;

    use crate::web::view::SCRIPT;
    vec![
        context! { key => "username", label => "WHM user", kind => "text", options => Vec::<(String, String)>::new(), help => SCRIPT, required => false },
        context! { key => "api_token", label => "API token", kind => "secret", options => Vec::<(String, String)>::new(), help => "", required => true },
        context! { key => "port", label => "Port", kind => "number", options => Vec::<(String, String)>::new(), help => "", required => false },
        context! { key => "verify", label => "Check TLS", kind => "checkbox", options => Vec::<(String, String)>::new(), help => "", required => false },
        context! { key => "tls", label => "TLS", kind => "choice", options => vec![("require", "require"), ("prefer", "prefer")], help => "", required => false },
    ]
}

/// Module-log entries as `provisioning::handlers::call_value` gives them.
#[cfg(test)]
fn sample_calls() -> Vec<Value> {
    use minijinja::context;

    use crate::web::view::{SCRIPT, TIME};
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

#[cfg(test)]
impl ServerListPage {
    /// With a server and a group, and with no servers.
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::SCRIPT;
        [true, false]
            .into_iter()
            .map(|filled| ServerListPage {
                current_staff: StaffBadge::sample_all(),
                nav: "servers",
                servers: if filled {
                    vec![ServerRow {
                        id: ServerId(1),
                        name: SCRIPT.into(),
                        hostname: "web01.example.net".into(),
                        module: "cPanel/WHM".into(),
                        enabled: true,
                        accounts: 12,
                        max_accounts: 200,
                        last_test_ok: Some(false),
                        last_test: SCRIPT.into(),
                    }]
                } else {
                    Vec::new()
                },
                groups: vec![ServerGroupRow {
                    id: ServerGroupId(1),
                    name: SCRIPT.into(),
                    fill_strategy: "fill".into(),
                    strategy_label: "Fill",
                    servers: vec![SCRIPT.into()],
                }],
                strategies: vec![
                    ("least_accounts", "Fewest accounts first"),
                    ("fill", "Fill one server, then the next"),
                ],
                modules: vec![("cpanel", "cPanel/WHM".into()), ("postgres", "PostgreSQL database".into())],
            })
            .collect()
    }
}

#[cfg(test)]
impl ServerFormPage {
    /// A stored server with its last test and log, and a new one sent back with an error.
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::{SCRIPT, TIME, form_errors};
        [(true, FormErrors::new()), (false, form_errors("setting.api_token"))]
            .into_iter()
            .map(|(filled, errors)| ServerFormPage {
                current_staff: StaffBadge::sample_all(),
                nav: "servers",
                id: filled.then_some(ServerId(3)),
                module: "cpanel",
                module_label: "cPanel/WHM",
                fields: sample_fields(),
                can_test: true,
                stored_secrets: if filled { vec!["api_token".into()] } else { Vec::new() },
                form: ServerFormValues {
                    name: SCRIPT.into(),
                    hostname: "web01.example.net".into(),
                    max_accounts: "200".into(),
                    nameservers: SCRIPT.into(),
                    enabled: filled,
                    settings: BTreeMap::from([("username".into(), SCRIPT.into()), ("tls".into(), "require".into())]),
                },
                groups: vec![("1".into(), SCRIPT.into(), true), ("2".into(), "EU".into(), false)],
                last_test: filled.then(|| LastTest { ok: Some(true), message: SCRIPT.into(), at: Some(TIME.into()) }),
                log: if filled { sample_calls() } else { Vec::new() },
                errors,
            })
            .collect()
    }
}
