//! The job queue: jobs exist exactly when the change that queued them committed, a unique key
//! queues once, concurrent workers on two nodes run each job once, a dead worker's job is
//! claimed again only after its lease expired and its stale claim can then commit nothing,
//! and failures back off, retry and end as failed with their error.

use std::time::Duration;

use hostwright::jobs::{self, Enqueue, Job, JobContext, JobError, Registry, store};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::on_both_backends;
use crate::support::TestApp;

/// Writes one row to `job_effects`, fenced: the row commits only while the claim holds.
#[derive(Serialize, Deserialize)]
struct Count {
    n: i64,
}

impl Job for Count {
    const KIND: &'static str = "test.count";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let txn = ctx.state.db.begin().await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(Statement::from_string(backend, format!("INSERT INTO job_effects (n) VALUES ({})", self.n)))
            .await?;
        ctx.fence(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Fails every attempt with an error worth retrying.
#[derive(Serialize, Deserialize)]
struct Flaky;

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Err(JobError::Retry(anyhow::anyhow!("the panel did not answer")))
    }
}

/// Fails with an error that retrying cannot help.
#[derive(Serialize, Deserialize)]
struct Broken;

impl Job for Broken {
    const KIND: &'static str = "test.broken";

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Err(JobError::Permanent("the service is gone".into()))
    }
}

/// Takes longer than its kind allows.
#[derive(Serialize, Deserialize)]
struct Slow;

impl Job for Slow {
    const KIND: &'static str = "test.slow";
    const TIMEOUT: Duration = Duration::from_millis(100);

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    }
}

/// Gives up at once when its lease runs out.
#[derive(Serialize, Deserialize)]
struct Once;

impl Job for Once {
    const KIND: &'static str = "test.once";
    const MAX_ATTEMPTS: i32 = 1;

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::default().with::<Count>().with::<Flaky>().with::<Broken>().with::<Slow>().with::<Once>()
}

async fn with_effects_table(app: &TestApp) {
    app.execute("CREATE TABLE job_effects (n BIGINT NOT NULL)").await;
}

async fn status_of(app: &TestApp, kind: &str) -> Vec<(String, i64)> {
    let backend = app.state.db.get_database_backend();
    let rows = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT status, attempts FROM jobs WHERE kind = '{kind}' ORDER BY id"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let status: String = r.try_get("", "status").unwrap();
            let attempts: i32 = r.try_get("", "attempts").unwrap();
            (status, i64::from(attempts))
        })
        .collect()
}

async fn a_job_exists_exactly_when_its_transaction_committed(app: TestApp) {
    let txn = app.state.db.begin().await.unwrap();
    assert!(jobs::enqueue(&txn, &Count { n: 1 }, Enqueue::default()).await.unwrap());
    txn.rollback().await.unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs").await, 0, "a rolled-back change queues nothing");

    let txn = app.state.db.begin().await.unwrap();
    assert!(jobs::enqueue(&txn, &Count { n: 2 }, Enqueue::unique("count:2")).await.unwrap());
    txn.commit().await.unwrap();
    assert!(!jobs::enqueue(&app.state.db, &Count { n: 2 }, Enqueue::unique("count:2")).await.unwrap());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs").await, 1, "a unique key queues once");

    with_effects_table(&app).await;
    assert_eq!(app.run_jobs_of(&registry()).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM job_effects WHERE n = 2").await, 1);
    assert_eq!(status_of(&app, Count::KIND).await, vec![("done".to_owned(), 1)]);
    // Once done, the same key still queues nothing: a repeat of the cause does not repeat the work.
    assert!(!jobs::enqueue(&app.state.db, &Count { n: 2 }, Enqueue::unique("count:2")).await.unwrap());
    assert_eq!(app.run_jobs_of(&registry()).await, 0);
}

async fn workers_on_two_nodes_run_every_job_once(app: TestApp) {
    with_effects_table(&app).await;
    let other = app.second_node().await;
    let total = 300;
    for n in 0..total {
        jobs::enqueue(&app.state.db, &Count { n }, Enqueue::default()).await.unwrap();
    }
    let registry = std::sync::Arc::new(registry());
    let mut workers = Vec::new();
    for (i, state) in
        [app.state.clone(), other.state.clone(), app.state.clone(), other.state.clone()].into_iter().enumerate()
    {
        let registry = registry.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{i}");
            let mut ran = 0;
            loop {
                match jobs::worker::run_once(&state, &registry, &owner, 4).await {
                    Ok(0) => return ran,
                    Ok(n) => ran += n,
                    // SQLite may refuse a claim while another node writes; try again.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    let mut ran = 0;
    for worker in workers {
        ran += worker.await.unwrap();
    }
    assert_eq!(ran, usize::try_from(total).unwrap(), "every claim ran one job");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM job_effects").await, total);
    assert_eq!(app.scalar("SELECT COUNT(DISTINCT n) FROM job_effects").await, total, "no job ran twice");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND attempts = 1").await, total);
}

async fn a_dead_workers_job_is_claimed_again_only_after_its_lease_expired(app: TestApp) {
    with_effects_table(&app).await;
    jobs::enqueue(&app.state.db, &Count { n: 7 }, Enqueue::default()).await.unwrap();
    let db = &app.state.db;
    let lease = Duration::from_millis(400);
    let first = store::claim(db, "node-a", &[Count::KIND], lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert!(
        store::claim(db, "node-b", &[Count::KIND], lease, 10).await.unwrap().is_empty(),
        "a live lease is not taken over"
    );

    // node-a stops answering; once its lease expired, node-b claims the job with a newer token.
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let second = store::claim(db, "node-b", &[Count::KIND], Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(second.len(), 1);
    let second = &second[0];
    assert_eq!(second.id, first.id);
    assert_eq!(second.token, first.token + 1, "every claim raises the fencing token");
    assert_eq!(second.attempts, 2);

    // node-a comes back: its writes are refused at the fence and its outcome is not recorded.
    let txn = db.begin().await.unwrap();
    txn.execute_raw(Statement::from_string(txn.get_database_backend(), "INSERT INTO job_effects (n) VALUES (7)"))
        .await
        .unwrap();
    assert!(!store::fence(&txn, first.id, first.token).await.unwrap(), "a stale token is fenced off");
    txn.rollback().await.unwrap();
    assert!(!store::finish(db, first.id, first.token).await.unwrap());
    assert!(!store::fail(db, first, "late", false).await.unwrap());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM job_effects").await, 0);

    // node-b's claim holds.
    let txn = db.begin().await.unwrap();
    assert!(store::fence(&txn, second.id, second.token).await.unwrap());
    txn.commit().await.unwrap();
    assert!(store::finish(db, second.id, second.token).await.unwrap());
    assert_eq!(status_of(&app, Count::KIND).await, vec![("done".to_owned(), 2)]);

    // A job out of attempts whose worker died is kept as failed, not claimed again.
    jobs::enqueue(db, &Once, Enqueue::default()).await.unwrap();
    assert_eq!(store::claim(db, "node-a", &[Once::KIND], Duration::from_millis(100), 10).await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store::claim(db, "node-b", &[Once::KIND], lease, 10).await.unwrap().is_empty());
    assert_eq!(status_of(&app, Once::KIND).await, vec![("failed".to_owned(), 1)]);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'test.once' AND last_error LIKE '%lease expired%'").await,
        1
    );
}

async fn a_silent_nodes_claims_are_released_after_three_heartbeats_and_fenced(app: TestApp) {
    with_effects_table(&app).await;
    let db = &app.state.db;
    let now = chrono::Utc::now().timestamp_millis();
    let node = |id: &str, seen: i64| {
        format!(
            "INSERT INTO nodes (id, host, pid, version, role, draining, started_ms, seen_ms) \
             VALUES ('{id}', 'h', 1, 'v', 'serve', false, {seen}, {seen})"
        )
    };
    // Every node stopped beating together (the database moved): nobody is declared dead.
    app.execute(&node("node-a", now - 60_000)).await;
    app.execute(&node("node-b", now - 60_000)).await;
    jobs::enqueue(db, &Count { n: 9 }, Enqueue::default()).await.unwrap();
    let lease = Duration::from_secs(90);
    let first = store::claim(db, "node-a", &[Count::KIND], lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(store::claim(db, "node-b", &[Count::KIND], lease, 10).await.unwrap().is_empty());

    // node-b beats again and node-a stays silent: node-a's claim goes to node-b at once,
    // long before its 90 s lease ends, with a newer fencing token.
    app.execute(&format!("UPDATE nodes SET seen_ms = {} WHERE id = 'node-b'", now)).await;
    let second = store::claim(db, "node-b", &[Count::KIND], lease, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].token, first[0].token + 1);
    let txn = db.begin().await.unwrap();
    assert!(!store::fence(&txn, first[0].id, first[0].token).await.unwrap(), "the silent node is fenced off");
    txn.rollback().await.unwrap();
    assert!(!store::finish(db, first[0].id, first[0].token).await.unwrap());

    // A node that stopped cleanly gives its claims up at once too.
    jobs::enqueue(db, &Count { n: 10 }, Enqueue::default()).await.unwrap();
    assert_eq!(store::claim(db, "node-b", &[Count::KIND], lease, 10).await.unwrap().len(), 1);
    app.execute(&format!("UPDATE nodes SET stopped_ms = {now} WHERE id = 'node-b'")).await;
    app.execute(&node("node-c", now)).await;
    let taken = store::claim(db, "node-c", &[Count::KIND], lease, 10).await.unwrap();
    assert_eq!(taken.len(), 2, "both of node-b's claims");
}

async fn failures_back_off_then_fail_with_their_error(app: TestApp) {
    let db = &app.state.db;
    let registry = registry();
    jobs::enqueue(db, &Flaky, Enqueue::default()).await.unwrap();
    let mut waits = Vec::new();
    for attempt in 1..=3 {
        assert_eq!(app.run_jobs_of(&registry).await, 1, "attempt {attempt}");
        let now = store::db_now_ms(db).await.unwrap();
        let run_at = app.scalar("SELECT run_at_ms FROM jobs").await;
        waits.push((run_at - now + 500) / 1000);
        assert_eq!(app.run_jobs_of(&registry).await, 0, "not due before its backoff");
        app.execute("UPDATE jobs SET run_at_ms = 0 WHERE status = 'pending'").await;
    }
    assert_eq!(&waits[..2], &[10, 20], "10 s, then twice as long");
    assert_eq!(status_of(&app, Flaky::KIND).await, vec![("failed".to_owned(), 3)]);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM jobs WHERE last_error LIKE '%the panel did not answer%' \
             AND finished_at_ms IS NOT NULL AND lease_owner IS NULL"
        )
        .await,
        1
    );

    // Staff retry it now: it runs at once with its attempts counted afresh.
    let id = hostwright::ids::JobId(app.scalar("SELECT id FROM jobs").await);
    assert!(store::retry_now(db, id).await.unwrap());
    assert_eq!(status_of(&app, Flaky::KIND).await, vec![("pending".to_owned(), 0)]);
    assert_eq!(app.run_jobs_of(&registry).await, 1);
    assert_eq!(status_of(&app, Flaky::KIND).await, vec![("pending".to_owned(), 1)]);
    // ... or cancel it: it never runs again, and a cancelled job cannot be retried.
    assert!(store::cancel(db, id).await.unwrap());
    app.execute("UPDATE jobs SET run_at_ms = 0").await;
    assert_eq!(app.run_jobs_of(&registry).await, 0);
    assert!(!store::retry_now(db, id).await.unwrap());
    assert_eq!(status_of(&app, Flaky::KIND).await, vec![("cancelled".to_owned(), 1)]);

    // A permanent error fails at once; so does a payload that cannot be read; a job over its
    // time is stopped and retried.
    jobs::enqueue(db, &Broken, Enqueue::default()).await.unwrap();
    jobs::enqueue(db, &Slow, Enqueue::default()).await.unwrap();
    app.execute(
        "INSERT INTO jobs (kind, payload, priority, status, attempts, max_attempts, run_at_ms, lease_token, \
         created_at_ms, updated_at_ms) VALUES ('test.count', '{\"n\":', 100, 'pending', 0, 8, 0, 0, 0, 0)",
    )
    .await;
    assert_eq!(app.run_jobs_of(&registry).await, 3);
    assert_eq!(status_of(&app, Broken::KIND).await, vec![("failed".to_owned(), 1)]);
    assert_eq!(status_of(&app, Count::KIND).await, vec![("failed".to_owned(), 1)]);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'test.count' AND last_error LIKE '%payload cannot be read%'"
        )
        .await,
        1
    );
    assert_eq!(status_of(&app, Slow::KIND).await, vec![("pending".to_owned(), 1)]);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'test.slow' AND last_error LIKE '%timed out%'").await,
        1
    );
}

async fn jobs_run_by_priority_when_due_and_only_on_nodes_that_know_their_kind(app: TestApp) {
    let db = &app.state.db;
    jobs::enqueue(db, &Once, Enqueue { priority: Some(200), ..Enqueue::default() }).await.unwrap();
    jobs::enqueue(db, &Broken, Enqueue { priority: Some(10), ..Enqueue::default() }).await.unwrap();
    jobs::enqueue(db, &Flaky, Enqueue { delay: Duration::from_secs(3600), ..Enqueue::default() }).await.unwrap();
    let kinds = [Once::KIND, Broken::KIND, Flaky::KIND];
    let lease = Duration::from_secs(30);
    let first = store::claim(db, "n", &kinds, lease, 1).await.unwrap();
    assert_eq!(first.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), vec![Broken::KIND], "lower priority first");
    let next = store::claim(db, "n", &kinds, lease, 10).await.unwrap();
    assert_eq!(next.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), vec![Once::KIND], "a delayed job waits");

    // A node that does not know a kind leaves it to the nodes that do.
    jobs::enqueue(db, &Count { n: 1 }, Enqueue::default()).await.unwrap();
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(status_of(&app, Count::KIND).await, vec![("pending".to_owned(), 0)]);
    let depth = store::depth(db).await.unwrap();
    assert!(depth.contains(&(Count::KIND.to_owned(), "pending".to_owned(), 1)), "{depth:?}");
    assert!(depth.contains(&(Broken::KIND.to_owned(), "running".to_owned(), 1)), "{depth:?}");
}

async fn staff_see_the_queue_and_retry_or_cancel_a_job(mut app: TestApp) {
    app.signed_in_admin().await;
    let registry = registry();
    jobs::enqueue(&app.state.db, &Broken, Enqueue::default()).await.unwrap();
    jobs::enqueue(&app.state.db, &Count { n: 1 }, Enqueue { delay: Duration::from_secs(600), ..Enqueue::default() })
        .await
        .unwrap();
    app.run_jobs_of(&registry).await;
    let failed = app.scalar("SELECT id FROM jobs WHERE kind = 'test.broken'").await;

    let page = app.get("/admin/queue").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("the service is gone");
    page.assert_contains("test.broken");
    page.assert_contains("test.count");
    let filtered = app.get("/admin/queue?status=failed&kind=test.broken").await;
    filtered.assert_contains("the service is gone");
    assert!(!filtered.body.contains("<code>test.count</code><br>"), "the filter leaves other kinds out");
    let metrics = app.get_metrics().await;
    metrics.assert_contains("jobs_queued{kind=\"test.broken\",status=\"failed\"} 1");

    app.post_form(&format!("/admin/queue/{failed}/retry"), &[]).await.assert_redirect_to("/admin/queue");
    assert_eq!(status_of(&app, Broken::KIND).await, vec![("pending".to_owned(), 0)]);
    app.post_form(&format!("/admin/queue/{failed}/cancel"), &[]).await.assert_redirect_to("/admin/queue");
    assert_eq!(status_of(&app, Broken::KIND).await, vec![("cancelled".to_owned(), 0)]);
    // A cancelled job can neither be cancelled again nor retried; nothing more is recorded.
    app.post_form(&format!("/admin/queue/{failed}/cancel"), &[]).await.assert_redirect_to("/admin/queue");
    app.post_form(&format!("/admin/queue/{failed}/retry"), &[]).await.assert_redirect_to("/admin/queue");
    assert_eq!(status_of(&app, Broken::KIND).await, vec![("cancelled".to_owned(), 0)]);
    for action in ["job.retried", "job.cancelled"] {
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_type = 'job' AND entity_id = {failed}"
            ))
            .await,
            1,
            "{action}"
        );
    }
    let unknown = app.post_form("/admin/queue/999999/retry", &[]).await;
    unknown.assert_redirect_to("/admin/queue");
}

on_both_backends!(
    a_silent_nodes_claims_are_released_after_three_heartbeats_and_fenced,
    a_job_exists_exactly_when_its_transaction_committed,
    workers_on_two_nodes_run_every_job_once,
    a_dead_workers_job_is_claimed_again_only_after_its_lease_expired,
    failures_back_off_then_fail_with_their_error,
    jobs_run_by_priority_when_due_and_only_on_nodes_that_know_their_kind,
    staff_see_the_queue_and_retry_or_cancel_a_job,
);
