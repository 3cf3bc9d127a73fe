//! What the catalog's admin pages show: one view per page (its fields are the template's
//! variables), each with the samples the template test renders.

use std::collections::BTreeMap;

use minijinja::Value;
use serde::Serialize;

use crate::ids::ProductId;
use crate::staff::current::StaffBadge;
use crate::web::{FormErrors, PageView};

/// The product a page is about.
#[derive(Debug, Serialize)]
pub struct ProductName {
    pub id: ProductId,
    pub name: String,
}

/// The module settings form as typed (or as stored).
#[derive(Debug, Serialize)]
pub struct ProductModuleForm {
    pub server_group_id: String,
    pub settings: BTreeMap<String, String>,
}

/// A product's module settings.
#[derive(Debug, Serialize)]
pub struct ProductModulePage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub product: ProductName,
    pub module: &'static str,
    pub module_label: &'static str,
    pub needs_server: bool,
    /// The module's product fields, as `provisioning::handlers::field_values` gives them.
    pub fields: Vec<Value>,
    /// The packages the group's servers offer, by the field they fill.
    pub suggestions: BTreeMap<&'static str, Vec<String>>,
    pub can_list_packages: bool,
    /// (id, name) of every server group, after "none".
    pub groups: Vec<(String, String)>,
    pub form: ProductModuleForm,
    pub errors: FormErrors,
}

impl PageView for ProductModulePage {
    const TEMPLATE: &'static str = "admin/catalog/product_module.html";
}

#[cfg(test)]
impl ProductModulePage {
    /// For a module that needs a server (with its fields) and one that does not.
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::{SCRIPT, form_errors};
        [true, false]
            .into_iter()
            .map(|filled| ProductModulePage {
                current_staff: StaffBadge::sample_all(),
                nav: "catalog",
                product: ProductName { id: ProductId(2), name: SCRIPT.into() },
                module: "cpanel",
                module_label: "cPanel/WHM",
                needs_server: filled,
                fields: if filled { crate::provisioning::views::sample_fields() } else { Vec::new() },
                suggestions: BTreeMap::from([("username", vec![SCRIPT.to_owned(), "gold".to_owned()])]),
                can_list_packages: filled,
                groups: vec![(String::new(), "— None —".into()), ("1".into(), SCRIPT.into())],
                form: ProductModuleForm {
                    server_group_id: "1".into(),
                    settings: BTreeMap::from([("username".to_owned(), SCRIPT.to_owned())]),
                },
                errors: form_errors("setting.username"),
            })
            .collect()
    }
}
