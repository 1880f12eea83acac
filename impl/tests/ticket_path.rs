//! The ticket path (issue 15): a ticket call is answered without a store thread, and a
//! revocation still takes effect on the very next request (spec TSR-REVOKE-3, TSR-SESSION-4),
//! on the durable SQLite file as in memory.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tessera::store::{SqliteStore, Store};

fn on_file() -> (tempfile::TempDir, Harness) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("t.db")).unwrap());
    assert!(
        store.reads_inline(),
        "the SQLite store reads on the request thread"
    );
    (dir, Harness::with_store(store, None))
}

#[tokio::test]
async fn a_revocation_is_refused_on_the_next_request_on_the_file_store() {
    let (_dir, h) = on_file();
    let c = h.consumer(CONSUMER);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    assert_eq!(h.get(&t, "/v1/subject").await.status, StatusCode::OK);
    assert_eq!(
        h.post(&c, "/v1/revoke", json!({"sid": sid})).await.json,
        json!({})
    );
    assert_eq!(
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    // a ticket of another family is untouched
    let (_, r2) = h.logged_in(&c, &[], &["email"]).await;
    let t2 = Creds::ticket(&r2.json["ticket"]);
    assert_eq!(h.get(&t2, "/v1/subject").await.status, StatusCode::OK);
}

#[tokio::test]
async fn reuse_detection_revokes_for_the_next_ticket_call() {
    let (_dir, h) = on_file();
    let c = h.consumer(CONSUMER);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    let rf = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
    assert_eq!(rf.status, StatusCode::OK, "{}", rf.json);
    let t_new = Creds::ticket(&rf.json["ticket"]);
    assert_eq!(h.get(&t_new, "/v1/subject").await.status, StatusCode::OK);
    // the rotated-away sid again: reuse, the family dies, every ticket of it is refused next
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_reused"
    );
    for t in [&t, &t_new] {
        assert_eq!(
            h.get(t, "/v1/subject").await.outcome(),
            "401 ticket_revoked"
        );
    }
}

#[tokio::test]
async fn calls_racing_a_revocation_are_refused_once_it_is_answered() {
    let (_dir, h) = on_file();
    let c = h.consumer(CONSUMER);
    let (sid, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    let answered = AtomicBool::new(false);
    let calls = async {
        let mut after = Vec::new();
        for _ in 0..200 {
            let started_after = answered.load(Ordering::SeqCst);
            let outcome = h.get(&t, "/v1/subject").await.outcome();
            if started_after {
                after.push(outcome);
            }
            tokio::task::yield_now().await;
        }
        after
    };
    let revoke = async {
        tokio::task::yield_now().await;
        let rv = h.post(&c, "/v1/revoke", json!({"sid": sid})).await;
        assert_eq!(rv.status, StatusCode::OK);
        answered.store(true, Ordering::SeqCst);
    };
    let (after, ()) = tokio::join!(calls, revoke);
    assert!(!after.is_empty(), "some calls started after the answer");
    assert!(after.iter().all(|o| o == "401 ticket_revoked"), "{after:?}");
}

/// The SQLite store answers a ticket call's reads from its record cache (issue 15), checked
/// on every call against the records generation that triggers move in the file: a change made
/// through another connection, as the operator's CLI makes it from its own process, reaches
/// the very next call (spec TSR-REVOKE-3, TSR-REG-8, TSR-REG-9).
#[tokio::test]
async fn changes_made_by_another_process_reach_the_next_ticket_call() {
    let (dir, h) = on_file();
    let c = h.consumer(CONSUMER);
    let (_, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    // twice: the second call is answered from the cache
    for _ in 0..2 {
        let r = h.get(&t, "/v1/subject").await;
        assert_eq!(r.json["email"], "alice@example.org", "{}", r.json);
    }
    let cli = SqliteStore::open(dir.path().join("t.db")).unwrap();

    // the Subject's data changes: the next call shows it
    let mut alice = cli.subject_by_username("alice").unwrap().unwrap();
    alice.data.insert("email".into(), json!("ada@example.com"));
    cli.put_subject(&alice).unwrap();
    assert_eq!(
        h.get(&t, "/v1/subject").await.json["email"],
        "ada@example.com"
    );

    // the family is revoked: refused next
    let (sid2, r2) = h.logged_in(&c, &[], &["email"]).await;
    let t2 = Creds::ticket(&r2.json["ticket"]);
    assert_eq!(h.get(&t2, "/v1/subject").await.status, StatusCode::OK);
    let family = cli
        .session(&tessera::core::secret_hash(&sid2))
        .unwrap()
        .unwrap()
        .family;
    cli.revoke_family(&family).unwrap();
    assert_eq!(
        h.get(&t2, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );

    // the Consumer's key is replaced: every ticket minted under the old one is revoked
    let mut consumer = cli.consumer(CONSUMER).unwrap().unwrap();
    consumer.key = "a-new-key-of-the-conformance-consumer-0123456789".into();
    cli.put_consumer(&consumer).unwrap();
    assert_eq!(
        h.get(&t, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
}

/// Issue 13 item 2: the replay cache's per-Consumer quota. One Consumer (its key and its
/// tickets together) at its quota gets 503 (spec TSR-HAWK-11), another still works, and
/// replays are still refused as replays.
#[tokio::test]
async fn one_consumer_at_its_replay_quota_does_not_lock_out_another() {
    let mut cfg = config(true);
    cfg.nonce_owner_quota = 3;
    let h = Harness::build(tessera::server::Authority::builder(cfg), None);
    let greedy = h.consumer(CONSUMER);
    let other = h.consumer(DELEGATE);
    // a replayable request, kept to send again
    let body = b"{}".to_vec();
    let (_, auth) = h.sign(
        &greedy,
        "POST",
        "/v1/app-ticket",
        Some(&body),
        h.now(),
        "kept-nonce",
    );
    let kept = || {
        axum::http::Request::builder()
            .method("POST")
            .uri("/v1/app-ticket")
            .header("authorization", auth.clone())
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.clone()))
            .unwrap()
    };
    assert_eq!(h.send(kept()).await.outcome(), "200");
    let ticket = h.post(&greedy, "/v1/app-ticket", json!({})).await;
    assert_eq!(ticket.outcome(), "200");
    // its ticket counts against the same Consumer
    let t = Creds::ticket(&ticket.json);
    assert_eq!(h.get(&t, "/v1/ticket").await.outcome(), "200");
    assert_eq!(
        h.post(&greedy, "/v1/app-ticket", json!({})).await.outcome(),
        "503 temporarily_unavailable"
    );
    assert_eq!(
        h.get(&t, "/v1/ticket").await.outcome(),
        "503 temporarily_unavailable"
    );
    // the replay is still known
    assert_eq!(h.send(kept()).await.outcome(), "401 replayed_request");
    // another Consumer is untouched
    for _ in 0..3 {
        assert_eq!(
            h.post(&other, "/v1/app-ticket", json!({})).await.outcome(),
            "200"
        );
    }
    // the quota frees up once the window has passed
    h.clock.advance(121);
    assert_eq!(
        h.post(&greedy, "/v1/app-ticket", json!({})).await.outcome(),
        "200"
    );
}
