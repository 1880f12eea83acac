//! What the operations tests (several instances, restarts) share: a registered Consumer and
//! Subject, a login through the pages, and running the synchronous PostgreSQL client off the
//! async runtime.
#![allow(dead_code)]

use crate::common::*;
use serde_json::json;
use tessera::core::{Consumer, Subject};
use tessera::password::{self, Cost};
use tessera::rand::SystemRandom;
use tessera::store::Store;

pub const KEY: &str = "operations-test-key-0123456789abcdefghijklm";

/// Registers Consumer `shop` (key [`KEY`]) and Subject `ada` (password `pw-ada`).
pub fn register(store: &dyn Store) {
    store
        .put_consumer(&Consumer {
            id: "shop".into(),
            key: KEY.into(),
            name: "Shop".into(),
            redirect_uris: vec![REDIRECT.into()],
            grants: vec!["staff".into()],
            scopes: vec!["email".into()],
            may_delegate: false,
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

pub fn shop() -> Creds {
    Creds {
        id: "shop".into(),
        key: KEY.into(),
        app: None,
        dlg: None,
    }
}

/// Runs `f` off the async runtime: the synchronous PostgreSQL client may not block a
/// runtime's thread (the server calls the store from its own store threads).
pub fn off_rt<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// Handshake, login and consent as `ada` through the pages: (sid, code, verifier).
pub async fn authorized(h: &Harness) -> (String, String, String) {
    let (hs, verifier) = h.handshake(&shop(), &["staff"], &["email"]).await;
    assert_eq!(hs.status, axum::http::StatusCode::OK, "{}", hs.json);
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
        verifier,
    )
}
