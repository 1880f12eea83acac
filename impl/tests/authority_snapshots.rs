//! Snapshots of what the server sends, for reviewers: the metadata document, the responses of
//! one login (random values redacted), and the error bodies.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn wire_snapshots() {
    let h = Harness::new();
    let c = h.consumer(CONSUMER);
    let now = h.now();

    let m = h.plain("GET", "/.well-known/tessera-authority", None).await;
    insta::assert_yaml_snapshot!("metadata", m.json);

    let (hs, state) = h
        .handshake(&c, &["admin", "staff"], &["email", "profile"])
        .await;
    let mut hs_json = hs.json.clone();
    assert_eq!(hs_json["exp"], now + 600);
    hs_json["exp"] = json!("now + 600");
    insta::assert_yaml_snapshot!("handshake", hs_json, {
        ".sid" => "[sid: 43 base64url characters]",
        ".authorize_url" => insta::dynamic_redaction(|v, _| {
            let s = v.as_str().unwrap_or_default();
            assert!(s.starts_with("http://127.0.0.1:7700/authorize?request="));
            "http://127.0.0.1:7700/authorize?request=[handle]"
        }),
    });

    let a = h
        .conformance_authorize(
            hs.json["authorize_url"].as_str().unwrap(),
            "alice",
            "allow",
            Some(&["email"]),
        )
        .await;
    insta::assert_yaml_snapshot!("conformance_authorize", a.json, {
        ".redirect" => insta::dynamic_redaction(move |v, _| {
            let s = v.as_str().unwrap_or_default();
            assert_eq!(query_param(s, "state").as_deref(), Some(state.as_str()), "TSR-CALLBACK-5");
            "https://consumer.example/callback?code=[code]&state=[state]&iss=http%3A%2F%2F127.0.0.1%3A7700"
        }),
    });
    let code = query_param(a.json["redirect"].as_str().unwrap(), "code").unwrap();
    let r = h
        .post(
            &c,
            "/v1/result",
            json!({"sid": hs.json["sid"], "code": code}),
        )
        .await;
    let mut rj = r.json.clone();
    assert_eq!(rj["exp"], now + 86_400);
    assert_eq!(rj["ticket"]["exp"], now + 3600);
    rj["exp"] = json!("now + 86400");
    rj["ticket"]["exp"] = json!("now + 3600");
    insta::assert_yaml_snapshot!("result", rj, {
        ".sub" => "[pairwise sub: 22 characters]",
        ".ticket.id" => "[sealed id: t1.{kid}.{base64url}]",
        ".ticket.key" => "[key: 43 base64url characters]",
        ".ticket.user" => "[pairwise sub: 22 characters]",
        ".ticket.grant" => "[fam_…]",
    });

    // the error bodies, as served
    let mut errors = Vec::new();
    for (what, resp) in [
        ("404", h.plain("GET", "/nope", None).await),
        ("405", h.plain("GET", "/v1/result", None).await),
        (
            "no Authorization",
            h.plain("POST", "/v1/result", Some(json!({}))).await,
        ),
        (
            "code reused",
            h.post(
                &c,
                "/v1/result",
                json!({"sid": hs.json["sid"], "code": code}),
            )
            .await,
        ),
    ] {
        errors.push(json!({
            "case": what,
            "status": resp.status.as_u16(),
            "www-authenticate": resp.header("www-authenticate"),
            "body": resp.json,
        }));
    }
    insta::assert_yaml_snapshot!("errors", errors);
}
