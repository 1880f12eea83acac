//! `/metrics`, `/healthz`, `/readyz` and the audit trail: security events are counted and
//! written as JSON lines, without secrets.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tessera::audit::Audit;
use tessera::server::Authority;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn events(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every audit line is one JSON object"))
            .collect()
    }
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[tokio::test]
async fn security_events_are_counted_and_audited_without_secrets() {
    let log = Shared::default();
    let h = Harness::build(
        Authority::builder(config(true)).audit(Audit::to_writer(Box::new(log.clone()))),
        None,
    );
    let c = h.consumer(CONSUMER);

    assert_eq!(h.plain("GET", "/healthz", None).await.status, 200);
    assert_eq!(h.plain("GET", "/readyz", None).await.status, 200);

    // a failed and a successful sign-in, consent, a redemption, its reuse (revocation)
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/authorize").unwrap()..];
    let p = page(&h, path, "").await;
    let browser = cookies(&p)
        .into_iter()
        .find(|c| c.starts_with("tessera_browser="))
        .unwrap();
    let csrf = find_value(&String::from_utf8(p.body.clone()).unwrap(), "csrf_token");
    let request = query_param(&url, "request").unwrap();
    let wrong = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", "not-the-password"),
        ],
    )
    .await;
    assert_eq!(wrong.status, 200);
    // a fresh login for the success path: the first one is bound to the browser above (spec
    // TSR-AUTHZ-9), and html_authorize brings its own browser
    let (hs, _) = h.handshake(&c, &[], &["email"]).await;
    let url = hs.json["authorize_url"].as_str().unwrap().to_owned();
    let alice_pw = h.password("alice");
    let cb = html_authorize(&h, &url, "alice", &alice_pw, "allow", &["email"]).await;
    let code = query_param(&cb, "code").unwrap();
    let sid = hs.json["sid"].as_str().unwrap().to_owned();
    let body = json!({"sid": sid, "code": code});
    assert_eq!(
        h.post(&c, "/v1/result", body.clone()).await.outcome(),
        "200"
    );
    assert_eq!(
        h.post(&c, "/v1/result", body).await.outcome(),
        "400 code_reused"
    );

    let m = h.plain("GET", "/metrics", None).await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.body).unwrap();
    assert_eq!(
        metric(&text, "tessera_logins_total{result=\"success\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "tessera_logins_total{result=\"failure\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "tessera_consents_total{result=\"allow\"}"),
        1.0
    );
    assert_eq!(metric(&text, "tessera_redemptions_total"), 1.0);
    assert_eq!(
        metric(&text, "tessera_reuse_detected_total{kind=\"code\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "tessera_revocations_total{kind=\"code_reuse\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "tessera_http_requests_total{endpoint=\"/v1/result\",method=\"POST\",status=\"400\",error=\"code_reused\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "tessera_http_request_duration_seconds_count{endpoint=\"/v1/result\"}"
        ),
        2.0
    );
    // two handshakes, two results: four nonces remembered
    assert_eq!(metric(&text, "tessera_replay_store_nonces"), 4.0);
    assert!(text.contains("tessera_store_operation_duration_seconds_bucket{"));

    let events = log.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for want in [
        "login_failure",
        "login_success",
        "consent",
        "code_redeemed",
        "code_reuse_detected",
        "revocation",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
    let failure = events
        .iter()
        .find(|e| e["event"] == "login_failure")
        .unwrap();
    assert_eq!(failure["username"], "alice");
    let redeemed = events
        .iter()
        .find(|e| e["event"] == "code_redeemed")
        .unwrap();
    assert_eq!(redeemed["consumer"], CONSUMER);
    // TSR-CONV-11: no secret in the audit trail
    let raw = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    for secret in [
        &c.key,
        &code,
        &sid,
        &alice_pw,
        &"not-the-password".to_owned(),
    ] {
        assert!(
            !raw.contains(secret.as_str()),
            "a secret reached the audit log"
        );
    }
}
