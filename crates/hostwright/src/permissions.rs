//! What a staff member may do. Roles hold sets of these; every admin route names one.

use serde::Serialize;

/// One fine-grained permission. Keys are stored in the database: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Permission {
    StaffView,
    StaffManage,
    AuditView,
    SettingsManage,
    ClientsView,
    ClientsManage,
    CatalogManage,
    InvoicesView,
    InvoicesManage,
    OrdersView,
    OrdersManage,
    ServicesManage,
    PromotionsManage,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::StaffView,
        Permission::StaffManage,
        Permission::AuditView,
        Permission::SettingsManage,
        Permission::ClientsView,
        Permission::ClientsManage,
        Permission::CatalogManage,
        Permission::InvoicesView,
        Permission::InvoicesManage,
        Permission::OrdersView,
        Permission::OrdersManage,
        Permission::ServicesManage,
        Permission::PromotionsManage,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Permission::StaffView => "staff.view",
            Permission::StaffManage => "staff.manage",
            Permission::AuditView => "audit.view",
            Permission::SettingsManage => "settings.manage",
            Permission::ClientsView => "clients.view",
            Permission::ClientsManage => "clients.manage",
            Permission::CatalogManage => "catalog.manage",
            Permission::InvoicesView => "invoices.view",
            Permission::InvoicesManage => "invoices.manage",
            Permission::OrdersView => "orders.view",
            Permission::OrdersManage => "orders.manage",
            Permission::ServicesManage => "services.manage",
            Permission::PromotionsManage => "promotions.manage",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::StaffView => "See staff and roles",
            Permission::StaffManage => "Create, disable and edit staff and roles",
            Permission::AuditView => "Read the audit log",
            Permission::SettingsManage => "Change settings and see the email outbox",
            Permission::ClientsView => "See clients",
            Permission::ClientsManage => "Edit clients",
            Permission::CatalogManage => "Edit products, prices and currencies",
            Permission::InvoicesView => "See invoices and payments",
            Permission::InvoicesManage => "Create and issue invoices, record payments, cancel",
            Permission::OrdersView => "See orders and services",
            Permission::OrdersManage => "Accept, cancel and delete orders; mark fraud",
            Permission::ServicesManage => "Add and edit services, run module commands, upgrade",
            Permission::PromotionsManage => "Create and edit promotion codes",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// Type-level names for permissions, so a handler's signature says what it needs:
/// `Authorized<perm::StaffManage>` rejects anyone whose role lacks `staff.manage`.
pub mod perm {
    use super::Permission;

    pub trait Required: Send + Sync + 'static {
        const PERMISSION: Permission;
    }

    macro_rules! markers {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl Required for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }
    markers!(
        StaffView,
        StaffManage,
        AuditView,
        SettingsManage,
        ClientsView,
        ClientsManage,
        CatalogManage,
        InvoicesView,
        InvoicesManage,
        OrdersView,
        OrdersManage,
        ServicesManage,
        PromotionsManage
    );
}
