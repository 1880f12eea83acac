//! Restart (state survives on the same SQLite file) and concurrency (single-use operations
//! succeed exactly once under contention), plus an in-process server on a real socket.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use std::sync::Arc;
use tessera::core::{Consumer, Subject};
use tessera::password::{self, Cost};
use tessera::rand::SystemRandom;
use tessera::server::Authority;
use tessera::store::{SqliteStore, Store};

const KEY: &str = "restart-test-key-0123456789abcdefghijklmnopq";

fn register(store: &dyn Store) {
    store
        .put_consumer(&Consumer {
            id: "shop".into(),
            key: KEY.into(),
            name: "Shop".into(),
            redirect_uris: vec![REDIRECT.into()],
            grants: vec!["staff".into()],
            scopes: vec!["email".into()],
            may_delegate: false,
            delegates: vec![],
        })
        .unwrap();
    let mut data = serde_json::Map::new();
    data.insert("email".into(), json!("ada@example.org"));
    store
        .put_subject(&Subject {
            id: "sub_ada".into(),
            username: "ada".into(),
            password_hash: password::hash("pw-ada", Cost::FIXTURE, &SystemRandom::new()).unwrap(),
            roles: vec!["staff".into()],
            data,
        })
        .unwrap();
}

fn shop() -> Creds {
    Creds {
        id: "shop".into(),
        key: KEY.into(),
        app: None,
        dlg: None,
    }
}

/// A production-mode Authority (restart fence on) on `path`, its clock at `start`, moved past
/// the fence.
fn start(path: &std::path::Path, start: i64) -> Harness {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    let h = Harness::build(
        Authority::builder(config(false))
            .store(store)
            .restart_fence(true),
        Some(start),
    );
    h.clock.advance(61);
    h
}

async fn authorized(h: &Harness) -> (String, String, String) {
    let (hs, state) = h.handshake(&shop(), &["staff"], &["email"]).await;
    assert_eq!(hs.status, StatusCode::OK, "{}", hs.json);
    let cb = html_authorize(
        h,
        hs.json["authorize_url"].as_str().unwrap(),
        "ada",
        "pw-ada",
        "allow",
        &["email"],
    )
    .await;
    (
        hs.json["sid"].as_str().unwrap().to_owned(),
        query_param(&cb, "code").unwrap(),
        state,
    )
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tessera.db");
    register(&SqliteStore::open(&db).unwrap());
    let t0 = tessera::clock::system_now();
    let c = shop();

    let h = start(&db, t0);
    // 1: an active session with a ticket
    let (sid1, code1, _) = authorized(&h).await;
    let r1 = h
        .post(&c, "/v1/result", json!({"sid": sid1, "code": code1}))
        .await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.json);
    // 2: a code issued, not redeemed
    let (sid2, code2, _) = authorized(&h).await;
    // 3: a revoked family
    let (sid3, code3, _) = authorized(&h).await;
    let r3 = h
        .post(&c, "/v1/result", json!({"sid": sid3, "code": code3}))
        .await;
    assert_eq!(
        h.post(&c, "/v1/revoke", json!({"sid": sid3})).await.json,
        json!({})
    );
    // 4: a pending session
    let (hs4, _) = h.handshake(&c, &[], &[]).await;
    let now = h.now();
    drop(h);

    // restart on the same file
    let h = Harness::build(
        Authority::builder(config(false))
            .store(Arc::new(SqliteStore::open(&db).unwrap()))
            .restart_fence(true),
        Some(now + 1),
    );
    // TSR-HAWK-10: timestamps from before the restart (plus the skew) are refused as stale
    assert_eq!(
        h.post(&c, "/v1/app-ticket", json!({})).await.outcome(),
        "401 stale_timestamp"
    );
    h.clock.advance(61);

    // 1: the ticket still opens and reads (sealing and pairwise keys persisted), refresh works
    let t1 = Creds::ticket(&r1.json["ticket"]);
    let d = h.get(&t1, "/v1/subject").await;
    assert_eq!(
        d.json,
        json!({"sub": r1.json["sub"], "email": "ada@example.org"})
    );
    // a code redeemed before the restart stays redeemed
    let again = h
        .post(&c, "/v1/result", json!({"sid": sid1, "code": code1}))
        .await;
    assert_eq!(again.outcome(), "400 code_reused");
    assert_eq!(
        h.get(&t1, "/v1/subject").await.outcome(),
        "401 ticket_revoked"
    );
    // 2: the code issued before the restart is redeemable, once... unless expired: the clock
    // moved 62 s, past the 60 s code TTL
    let r2 = h
        .post(&c, "/v1/result", json!({"sid": sid2, "code": code2}))
        .await;
    assert_eq!(r2.outcome(), "400 code_expired");
    // 3: still revoked
    assert_eq!(
        h.get(&Creds::ticket(&r3.json["ticket"]), "/v1/ticket")
            .await
            .outcome(),
        "401 ticket_revoked"
    );
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid3}))
            .await
            .outcome(),
        "400 session_revoked"
    );
    // 4: the pending authorize request can still be decided, and redeemed
    let cb = html_authorize(
        &h,
        hs4.json["authorize_url"].as_str().unwrap(),
        "ada",
        "pw-ada",
        "deny",
        &[],
    )
    .await;
    assert!(cb.contains("error=access_denied"));
    // a fresh login after the restart gets the same pairwise sub
    let (sid5, code5, _) = authorized(&h).await;
    let r5 = h
        .post(&c, "/v1/result", json!({"sid": sid5, "code": code5}))
        .await;
    assert_eq!(r5.json["sub"], r1.json["sub"]);
}

#[tokio::test]
async fn unredeemed_code_survives_a_quick_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tessera.db");
    register(&SqliteStore::open(&db).unwrap());
    let c = shop();
    // restart fence off: the second process starts 5 s later and the code is still live
    let build = |start: i64| {
        Harness::build(
            Authority::builder(config(false))
                .store(Arc::new(SqliteStore::open(&db).unwrap()))
                .restart_fence(false),
            Some(start),
        )
    };
    let t0 = tessera::clock::system_now();
    let h = build(t0);
    let (sid, code, _) = authorized(&h).await;
    drop(h);
    let h = build(t0 + 5);
    let r = h
        .post(&c, "/v1/result", json!({"sid": sid, "code": code}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    drop(h);
    let h = build(t0 + 10);
    let rf = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
    assert_eq!(rf.status, StatusCode::OK);
    drop(h);
    let h = build(t0 + 15);
    // rotated before the restart: reuse detected after it
    assert_eq!(
        h.post(&c, "/v1/refresh", json!({"sid": sid}))
            .await
            .outcome(),
        "400 session_reused"
    );
}

const N: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_redemptions_and_refreshes_succeed_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("c.db")).unwrap());
    let h = Arc::new(Harness::with_store(store, None));
    let c = h.consumer(CONSUMER);

    // TSR-RESULT-7: N simultaneous redemptions of one code
    let (sid, code, _) = h.authorized(&c, &[], &["email"]).await;
    let body = json!({"sid": sid, "code": code});
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (h, c, body) = (Arc::clone(&h), c.clone(), body.clone());
            tokio::spawn(async move { h.post(&c, "/v1/result", body).await.outcome() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let ok = outcomes.iter().filter(|o| *o == "200").count();
    assert_eq!(ok, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o == "200" || o == "400 code_reused" || o == "400 session_revoked"),
        "{outcomes:?}"
    );

    // TSR-REFRESH-3: N simultaneous refreshes of one active session
    let (sid, _) = h.logged_in(&c, &[], &["email"]).await;
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (h, c, sid) = (Arc::clone(&h), c.clone(), sid.clone());
            tokio::spawn(async move {
                h.post(&c, "/v1/refresh", json!({"sid": sid}))
                    .await
                    .outcome()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let ok = outcomes.iter().filter(|o| *o == "200").count();
    assert_eq!(ok, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o == "200" || o == "400 session_reused" || o == "400 session_revoked"),
        "{outcomes:?}"
    );

    // TSR-AUTHZ-7: N simultaneous decisions of one authorize request
    let (hs, _) = h.handshake(&c, &[], &[]).await;
    let url = hs.json["authorize_url"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let (h, url) = (Arc::clone(&h), url.clone());
            tokio::spawn(async move {
                h.conformance_authorize(
                    &url,
                    "alice",
                    if i % 2 == 0 { "allow" } else { "deny" },
                    None,
                )
                .await
                .outcome()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "200").count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn in_process_server_on_an_ephemeral_port() {
    let running = tessera::server::spawn(true, |b| b).await.unwrap();
    let issuer = running.issuer().to_owned();
    assert_eq!(issuer, format!("http://127.0.0.1:{}", running.addr.port()));
    let fixtures = running.state.fixtures().unwrap().clone();
    assert_eq!(fixtures.issuer, issuer);
    let text = reqwest::get(format!("{issuer}/.well-known/tessera-authority"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["issuer"], issuer.as_str());
    assert_eq!(m["conformance_mode"], true);
    running.stop().await.unwrap();
}

/// TSR-TICKET-2: sealing keys rotate; old tickets verify until their key is retired.
#[tokio::test]
async fn sealing_keys_rotate_and_retire() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tessera.db");
    register(&SqliteStore::open(&db).unwrap());
    let c = shop();
    let t0 = tessera::clock::system_now();
    let build = |start: i64| {
        Harness::build(
            Authority::builder(config(false))
                .store(Arc::new(SqliteStore::open(&db).unwrap()))
                .restart_fence(false),
            Some(start),
        )
    };
    let h = build(t0);
    let old = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert!(old.json["id"].as_str().unwrap().starts_with("t1.k1."));
    drop(h);

    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        tessera::server::rotate_sealing_key(&store, &SystemRandom::new()).unwrap(),
        "k2"
    );
    assert!(
        tessera::server::retire_sealing_key(&store, "k2").is_err(),
        "the current key stays"
    );
    drop(store);

    let h = build(t0 + 1);
    let new = h.post(&c, "/v1/app-ticket", json!({})).await;
    assert!(new.json["id"].as_str().unwrap().starts_with("t1.k2."));
    assert_eq!(
        h.get(&Creds::ticket(&old.json), "/v1/ticket")
            .await
            .outcome(),
        "200"
    );
    drop(h);

    let store = SqliteStore::open(&db).unwrap();
    tessera::server::retire_sealing_key(&store, "k1").unwrap();
    assert_eq!(
        tessera::server::sealing_keys(&store).unwrap(),
        (vec!["k2".to_owned()], Some("k2".to_owned()))
    );
    drop(store);
    let h = build(t0 + 2);
    assert_eq!(
        h.get(&Creds::ticket(&old.json), "/v1/ticket")
            .await
            .outcome(),
        "401 invalid_credentials"
    );
    assert_eq!(
        h.get(&Creds::ticket(&new.json), "/v1/ticket")
            .await
            .outcome(),
        "200"
    );
}
