//! A server's connection test (`server.test`) and how long a job that calls a module may take.
//! The jobs that run a command on a service are the services' (`services::jobs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{AnyModule, Call, Done, calls, servers};
use crate::audit::{Actor, ActorRecord};
use crate::ids::ServerId;
use crate::jobs::{Job, JobContext, JobError};

/// How long a job that calls a module may take: a few calls of [`servers::CALL_TIMEOUT`].
pub const MODULE_JOB_TIMEOUT: Duration = Duration::from_secs(180);

/// Test a server's connection and settings; the answer is kept on the server's page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestServer {
    pub server_id: ServerId,
    pub actor: ActorRecord,
}

impl Job for TestServer {
    const KIND: &'static str = "server.test";
    const MAX_ATTEMPTS: i32 = 1;
    const TIMEOUT: Duration = MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(row) = servers::find(&state.db, self.server_id).await? else { return Ok(()) };
        let Some(module) = AnyModule::get(&row.module, &state.http) else {
            servers::record_test(&state.db, row.id, false, "This module is not installed.").await?;
            return Ok(());
        };
        let server = servers::for_call(state, &row)?;
        let actor: Actor = self.actor.actor();
        let account = hostwright_provisioning::Account::default();
        // Each call is logged against the server; a failure to log is retried.
        let call = async |call: &Call| {
            calls::call_logged(state, Some(ctx), &actor, &module, Some(&row), None, &server, &account, call)
                .await
                .map_err(|e| JobError::Retry(anyhow::Error::new(e)))
        };
        let result = call(&Call::TestConnection).await?;
        let (ok, message) = match result {
            Ok(Done::Text(text)) => (true, format!("Connected: {text}")),
            Ok(done) => (true, done.summary()),
            Err(err) => (false, err.to_string()),
        };
        servers::record_test(&state.db, row.id, ok, &message).await?;
        // A server that answered is also asked for its packages, for the products' settings.
        if ok && module.supports(&Call::Packages) {
            let listed = call(&Call::Packages).await?;
            if let Ok(Done::Packages(packages)) = listed {
                servers::record_packages(&state.db, row.id, &packages).await?;
            }
        }
        Ok(())
    }
}
