//! Several Authority instances on one PostgreSQL behave as one Authority (spec chapter 4,
//! TSR-HAWK-15, TSR-REVOKE-3): single-use operations succeed once across instances, a request
//! accepted by one instance is refused by the other, a revocation or a disabled Consumer is
//! seen by the other instance on its next request. A real, throwaway PostgreSQL cluster
//! (tests/pg); the instances run in this process, each with its own replay state, store
//! threads and pool, exactly as two `serve` processes would.

mod common;
mod ops;
mod pg;

use common::*;
use ops::*;
use serde_json::json;
use std::sync::Arc;
use tessera::server::Authority;
use tessera::store::Store;
use tessera::store_pg::PgStore;

/// `n` production-mode instances (replay protection on) on one database, clocks at `start`.
fn instances(url: &str, n: usize, start: i64) -> Vec<Arc<Harness>> {
    off_rt(|| {
        (0..n)
            .map(|_| {
                let store: Arc<dyn Store> = Arc::new(PgStore::open(url, 16).unwrap());
                Arc::new(Harness::build(
                    Authority::builder(config(false))
                        .store(store)
                        .restart_fence(true),
                    Some(start),
                ))
            })
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_are_one_authority() {
    let Some(cluster) = pg::Cluster::start() else {
        return;
    };
    let url = off_rt(|| cluster.database("multi"));
    off_rt(|| register(&PgStore::open(&url, 2).unwrap()));
    let now = tessera::clock::system_now();
    let hs = instances(&url, 2, now);
    let (a, b) = (&hs[0], &hs[1]);
    let c = shop();

    // TSR-RESULT-7: 1,000 concurrent redemptions of one code spread over both instances
    let (sid, code, v) = authorized(a).await;
    let body = json!({"sid": sid, "code": code, "code_verifier": v});
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (h, c, body) = (Arc::clone(&hs[i % 2]), c.clone(), body.clone());
            tokio::spawn(async move { h.post(&c, "/v1/result", body).await.outcome() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let ok = outcomes.iter().filter(|o| *o == "200").count();
    assert_eq!(ok, 1, "exactly one redemption succeeds");
    let odd: Vec<_> = outcomes
        .iter()
        .filter(|o| {
            !matches!(
                o.as_str(),
                "200" | "400 code_reused" | "400 session_revoked"
            )
        })
        .collect();
    assert!(odd.is_empty(), "unexpected outcomes: {odd:?}");

    // TSR-HAWK-15: a request accepted by one instance is refused by the other
    let body = serde_json::to_vec(&json!({})).unwrap();
    let (_, auth) = a.sign(
        &c,
        "POST",
        "/v1/app-ticket",
        Some(&body),
        now,
        "replay-nonce-1",
    );
    assert_eq!(send_raw(a, auth.clone(), body.clone()).await, "200");
    assert_eq!(
        send_raw(b, auth.clone(), body.clone()).await,
        "401 replayed_request"
    );
    assert_eq!(send_raw(a, auth, body).await, "401 replayed_request");

    // a session refreshed on one instance is rotated on the other (reuse detected there)
    let (sid, code, v) = authorized(b).await;
    let r = a
        .post(
            &c,
            "/v1/result",
            json!({"sid": sid, "code": code, "code_verifier": v}),
        )
        .await;
    assert_eq!(r.outcome(), "200", "{}", r.json);
    let ticket = Creds::ticket(&r.json["ticket"]);
    assert_eq!(b.get(&ticket, "/v1/subject").await.outcome(), "200");
    assert_eq!(
        a.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "200"
    );
    assert_eq!(
        b.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_reused"
    );
    // TSR-REVOKE-3: the reuse revoked the family; the other instance sees it on its next
    // request
    assert_eq!(
        a.get(&ticket, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );

    // a Consumer disabled in the store is refused by every instance on its next request
    assert!(off_rt(|| a.state.store().set_consumer_disabled("shop", true)).unwrap());
    for h in [a, b] {
        assert_eq!(
            h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
            "401 invalid_credentials"
        );
    }
    assert!(off_rt(|| b.state.store().set_consumer_disabled("shop", false)).unwrap());
    assert_eq!(
        b.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );

    // an instance started after these requests accepts new ones at once (no fence: the
    // nonces are in the store) and still refuses the replay
    let late = instances(&url, 1, now).pop().unwrap();
    assert_eq!(
        late.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );
    let body = serde_json::to_vec(&json!({})).unwrap();
    let (_, auth) = a.sign(
        &c,
        "POST",
        "/v1/app-ticket",
        Some(&body),
        now,
        "replay-nonce-1",
    );
    assert_eq!(send_raw(&late, auth, body).await, "401 replayed_request");
}

/// Sends a pre-signed `POST /v1/app-ticket` as is.
async fn send_raw(h: &Harness, auth: String, body: Vec<u8>) -> String {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/app-ticket")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    h.send(req).await.outcome()
}

#[test]
fn migrations_are_versioned_and_idempotent() {
    let Some(cluster) = pg::Cluster::start() else {
        return;
    };
    let url = cluster.database("migr");
    let store = PgStore::connect(&url, 2).unwrap();
    let first = store.migrate().unwrap();
    assert_eq!(first.from, 0);
    assert_eq!(
        first.to,
        tessera::migrate::latest(tessera::migrate::POSTGRES)
    );
    assert_eq!(first.applied.len(), tessera::migrate::POSTGRES.len());
    let again = store.migrate().unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(store.schema_version().unwrap(), first.to);
    // a fresh store has a replay mark of 0 (nothing was ever accepted)
    assert_eq!(store.replay_mark().unwrap(), Some(0));
    store.raise_replay_mark(10).unwrap();
    store.raise_replay_mark(5).unwrap();
    assert_eq!(store.replay_mark().unwrap(), Some(10));
    // a database migrated by a newer binary is refused
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            &[],
        )
        .unwrap();
    let err = store.migrate().unwrap_err().to_string();
    assert!(err.contains("newer than this binary"), "{err}");
}
