//! The servers overview: each server with the accounts it holds and each group with its
//! servers. Servers are provisioning's; the accounts on them are services, counted here.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::placement;
use crate::permissions::perm;
use crate::provisioning::AnyModule;
use crate::provisioning::handlers::server_modules;
use crate::provisioning::servers::{self, FillStrategy};
use crate::provisioning::views::{ServerGroupRow, ServerListPage, ServerRow};
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppResult, Page};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/servers", get(list_servers))
}

async fn list_servers(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let counts = placement::account_counts(&state.db, None).await?;
    let all = servers::all(&state.db).await?;
    let rows: Vec<ServerRow> = all
        .iter()
        .map(|s| ServerRow {
            id: s.id,
            name: s.name.clone(),
            hostname: s.hostname.clone(),
            enabled: s.enabled,
            module: AnyModule::get(&s.module, &state.http).map_or(s.module.clone(), |m| m.info().label.to_owned()),
            accounts: counts.get(&s.id).copied().unwrap_or(0),
            max_accounts: s.max_accounts,
            last_test_ok: s.last_test_ok,
            last_test: s.last_test.clone(),
        })
        .collect();
    let mut groups = Vec::new();
    let memberships = servers::memberships(&state.db).await?;
    for g in servers::groups(&state.db).await? {
        let names: Vec<String> =
            all.iter().filter(|s| memberships.contains(&(g.id, s.id))).map(|s| s.name.clone()).collect();
        groups.push(ServerGroupRow {
            id: g.id,
            name: g.name,
            strategy_label: FillStrategy::parse(&g.fill_strategy).map_or("", FillStrategy::label),
            fill_strategy: g.fill_strategy,
            servers: names,
        });
    }
    let view = ServerListPage {
        current_staff: current.badge(),
        nav: "servers",
        servers: rows,
        groups,
        strategies: FillStrategy::ALL.iter().map(|s| (s.key(), s.label())).collect(),
        modules: server_modules(&state),
    };
    state.render_view(&page, &view).await
}
