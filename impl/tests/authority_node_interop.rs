//! The Authority end to end with the npm `hawk` package (run by node through
//! `tests/node/hawk.js`): node's client signs requests that our server accepts, and node's
//! client verifies our `Server-Authorization` and our stale-timestamp reply.
//!
//! Needs node and `npm ci --prefix impl/tests/node` (installed by `.ci/setup`); fails, never
//! skips, without them.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn node(request: &Value) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/hawk/package.json").exists(),
        "the npm hawk package is missing: run `npm ci --prefix impl/tests/node`"
    );
    let mut child = Command::new("node")
        .arg(dir.join("hawk.js"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Signs with node's `Hawk.client.header`, sends to our router, then verifies the response
/// with node's `Hawk.client.authenticate`. Returns (status, body, node's verdict).
async fn node_call(
    h: &Harness,
    creds: &Creds,
    method: &str,
    path: &str,
    body: Option<&Value>,
    ts: i64,
) -> (StatusCode, Value, Value, Option<String>) {
    let payload = body.map(Value::to_string);
    let mut options = json!({
        "credentials": { "id": creds.id, "key": creds.key, "algorithm": "sha256" },
        "timestamp": ts,
        "nonce": format!("node-{}", tessera::rand::token(&h.rng, 8)),
    });
    if let Some(p) = &payload {
        options["payload"] = json!(p);
        options["contentType"] = json!("application/json");
    }
    if let Some(app) = &creds.app {
        options["app"] = json!(app);
        if let Some(dlg) = &creds.dlg {
            options["dlg"] = json!(dlg);
        }
    }
    let signed = node(&json!({
        "op": "client_header", "uri": format!("{ISSUER}{path}"), "method": method,
        "options": options, "now": ts,
    }));
    assert_eq!(signed["ok"], true, "{signed}");
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, signed["header"].as_str().unwrap());
    if payload.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let resp = h
        .send(req.body(Body::from(payload.unwrap_or_default())).unwrap())
        .await;
    let mut headers = json!({ "content-type": "application/json" });
    if let Some(sa) = resp.header("server-authorization") {
        headers["server-authorization"] = json!(sa);
    }
    if let Some(www) = resp.header("www-authenticate") {
        headers["www-authenticate"] = json!(www);
    }
    let verdict = node(&json!({
        "op": "client_authenticate",
        "response": { "headers": headers },
        "credentials": { "id": creds.id, "key": creds.key, "algorithm": "sha256" },
        "artifacts": signed["artifacts"],
        // the stale reply carries no Server-Authorization (TSR-HAWK-12); node then checks tsm
        "options": if resp.error() == "stale_timestamp" { json!({}) } else {
            json!({ "payload": String::from_utf8(resp.body.clone()).unwrap(), "required": true })
        },
        "now": ts,
    }));
    if resp.header("server-authorization").is_some() {
        // node must refuse the same answer with a tampered body: the check above means something
        let tampered = node(&json!({
            "op": "client_authenticate",
            "response": { "headers": headers },
            "credentials": { "id": creds.id, "key": creds.key, "algorithm": "sha256" },
            "artifacts": signed["artifacts"],
            "options": { "payload": format!("{} ", String::from_utf8_lossy(&resp.body)), "required": true },
            "now": ts,
        }));
        assert_eq!(tampered["ok"], false, "node accepted a tampered body");
    }
    (
        resp.status,
        resp.json.clone(),
        verdict,
        resp.header("www-authenticate").map(str::to_owned),
    )
}

#[tokio::test]
async fn node_hawk_client_against_the_authority() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let now = h.now();
    let mut f = Failures::default();

    // Consumer credentials with a payload: handshake
    let hs_body = json!({"redirect_uri": REDIRECT, "grants": ["staff"], "scopes": ["email"],
                         "state": h.state()});
    let (status, body, verdict, _) =
        node_call(&h, &c, "POST", "/v1/handshake", Some(&hs_body), now).await;
    f.check("node-signed handshake", status, StatusCode::OK);
    f.check("handshake body", body["iss"].clone(), json!(ISSUER));
    f.check(
        "node verifies our Server-Authorization",
        verdict["ok"].clone(),
        json!(true),
    );

    // an error answer is signed too, and node verifies it
    let (status, body, verdict, _) = node_call(
        &h,
        &c,
        "POST",
        "/v1/refresh",
        Some(&json!({"sid": "nope"})),
        now,
    )
    .await;
    f.check(
        "refresh unknown",
        format!("{} {}", status.as_u16(), body["error"]),
        "400 \"unknown_session\"",
    );
    f.check(
        "node verifies a signed error",
        verdict["ok"].clone(),
        json!(true),
    );

    // ticket credentials with Oz app: GET without a payload
    let (_, r) = h.logged_in(&c, &[], &["email"]).await;
    let t = Creds::ticket(&r.json["ticket"]);
    let (status, body, verdict, _) = node_call(&h, &t, "GET", "/v1/subject", None, now).await;
    f.check("node-signed ticket call", status, StatusCode::OK);
    f.check(
        "subject data",
        body["email"].clone(),
        json!("alice@example.org"),
    );
    f.check(
        "node verifies the ticket response",
        verdict["ok"].clone(),
        json!(true),
    );

    // a stale timestamp: node accepts our tsm (TSR-HAWK-8)
    let (status, body, verdict, www) = node_call(
        &h,
        &c,
        "POST",
        "/v1/app-ticket",
        Some(&json!({})),
        now - 600,
    )
    .await;
    f.check(
        "stale",
        format!("{} {}", status.as_u16(), body["error"]),
        "401 \"stale_timestamp\"",
    );
    f.check(
        "stale reply has tsm",
        www.unwrap_or_default().contains("tsm=\""),
        true,
    );
    f.check(
        "node accepts our stale reply",
        verdict["ok"].clone(),
        json!(true),
    );
    f.assert();
}
