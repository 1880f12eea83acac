//! TSR-CONV-11: a whole login, logged at TRACE level, leaves no secret in the logs.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_whole_login_logs_no_secret() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let mut secrets: Vec<String> = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = Harness::new();
            let c = h.consumer(CONSUMER);
            secrets.push(c.key.clone());
            secrets.push(h.password("alice"));
            let (hs, state) = h.handshake(&c, &["staff"], &["email"]).await;
            let url = hs.json["authorize_url"].as_str().unwrap().to_owned();
            secrets.push(query_param(&url, "request").unwrap());
            secrets.push(state.clone());
            let sid = hs.json["sid"].as_str().unwrap().to_owned();
            secrets.push(sid.clone());
            let cb =
                html_authorize(&h, &url, "alice", &h.password("alice"), "allow", &["email"]).await;
            let code = query_param(&cb, "code").unwrap();
            secrets.push(code.clone());
            let r = h
                .post(&c, "/v1/result", json!({"sid": sid, "code": code}))
                .await;
            let t = r.json["ticket"].clone();
            secrets.push(t["id"].as_str().unwrap().to_owned());
            secrets.push(t["key"].as_str().unwrap().to_owned());
            h.get(&Creds::ticket(&t), "/v1/subject").await;
            let rf = h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
            secrets.push(rf.json["sid"].as_str().unwrap().to_owned());
            h.post(&c, "/v1/refresh", json!({"sid": sid})).await;
            h.post(&c, "/v1/revoke", json!({"sid": rf.json["sid"]}))
                .await;
        });
    });
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("finished processing request"),
        "logs were captured:\n{logs}"
    );
    let leaked: Vec<&String> = secrets
        .iter()
        .filter(|s| logs.contains(s.as_str()))
        .collect();
    assert!(leaked.is_empty(), "secrets in logs: {leaked:?}\n{logs}");
}
