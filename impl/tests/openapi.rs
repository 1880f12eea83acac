//! The OpenAPI document cannot drift from the router, the error table or the metadata: its
//! paths and methods are exactly the JSON API's routes, every error it lists is a row of the
//! error table under that row's status with that row's text, and the metadata schema has
//! exactly the members the live metadata has.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Harness;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tessera::error::Error;

/// `(path, method)` of every `.route("…", get(…))` / `post(…)` / `get(…).post(…)` in the
/// JSON API's router (one route call per line, as rustfmt writes them).
fn routes_in_source() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/server/api.rs");
    let mut out = BTreeSet::new();
    for part in src.split(".route(\"").skip(1) {
        let (path, rest) = part.split_once('"').unwrap();
        let line = rest.lines().next().unwrap_or("");
        for m in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!(" {m}(")) || line.contains(&format!(".{m}(")) {
                out.insert((path.to_owned(), m.to_owned()));
            }
        }
    }
    assert!(out.len() >= 9, "the route scan found only {out:?}");
    out
}

async fn document(h: &Harness) -> Value {
    let r = h.plain("GET", "/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json
}

#[tokio::test]
async fn paths_and_methods_are_exactly_the_routers() {
    let h = Harness::new();
    let doc = document(&h).await;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (p.clone(), m.clone()))
        })
        .collect();
    assert_eq!(documented, routes_in_source());
    // and the router agrees: the documented method is routed, the others are 405
    for (path, method) in &documented {
        for m in ["GET", "POST", "PUT", "DELETE"] {
            let r = h
                .send(
                    Request::builder()
                        .method(Method::from_bytes(m.as_bytes()).unwrap())
                        .uri(path.as_str())
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            if m.eq_ignore_ascii_case(method) {
                assert!(
                    !matches!(r.error(), "not_found" | "method_not_allowed"),
                    "{m} {path}: {}",
                    r.json
                );
            } else {
                assert_eq!(r.error(), "method_not_allowed", "{m} {path}");
            }
        }
    }
}

#[tokio::test]
async fn every_error_response_is_a_row_of_the_error_table() {
    let h = Harness::new();
    let doc = document(&h).await;
    let table: BTreeMap<&str, (u16, String)> = Error::every()
        .iter()
        .map(|e| {
            let (status, code, description) = e.wire();
            (code, (status.as_u16(), description.to_owned()))
        })
        .collect();
    let mut used = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let where_ = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let ok = &responses["200"]["content"]["application/json"];
            assert!(ok["example"].is_object(), "{where_}: no 200 example");
            if op.get("security").is_some() {
                assert!(
                    responses["200"]["headers"]["Server-Authorization"].is_object(),
                    "{where_}"
                );
                assert!(
                    op.get("requestBody").is_none()
                        || op["requestBody"]["content"]["application/json"]["example"].is_object(),
                    "{where_}: no request example"
                );
            }
            assert!(
                responses.get("default").is_none(),
                "{where_}: a bare default"
            );
            for (status, r) in responses.iter().filter(|(s, _)| *s != "200") {
                let status: u16 = status.parse().unwrap();
                let content = &r["content"]["application/json"];
                let codes = content["schema"]["allOf"][1]["properties"]["error"]["enum"]
                    .as_array()
                    .unwrap();
                assert!(!codes.is_empty());
                for code in codes {
                    let code = code.as_str().unwrap();
                    let (want_status, description) = table
                        .get(code)
                        .unwrap_or_else(|| panic!("{where_}: {code} is not in the error table"));
                    assert_eq!(status, *want_status, "{where_}: {code}");
                    let ex = &content["examples"][code]["value"];
                    assert_eq!(ex["error"], code, "{where_}");
                    assert_eq!(ex["error_description"], description.as_str(), "{where_}");
                    used.insert(code.to_owned());
                }
                if status == 401 {
                    assert!(r["headers"]["WWW-Authenticate"].is_object(), "{where_}");
                }
                if status == 429 {
                    assert!(r["headers"]["Retry-After"].is_object(), "{where_}");
                }
            }
        }
    }
    let unused: BTreeSet<&str> = table
        .keys()
        .copied()
        .filter(|c| !used.contains(*c))
        .collect();
    // routing refusals belong to no operation
    assert_eq!(
        unused,
        BTreeSet::from(["method_not_allowed", "not_found"]),
        "error table rows no operation documents"
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for s in ["hawkConsumer", "hawkTicket"] {
        assert_eq!(schemes[s]["scheme"], "Hawk");
    }
}

/// The member names of `schema` (following nested object schemas) against those of `value`.
fn same_members(schema: &Value, value: &Value, at: &str) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let have: BTreeSet<&String> = value.as_object().unwrap().keys().collect();
    let declared: BTreeSet<&String> = props.keys().collect();
    assert_eq!(declared, have, "{at}: schema members vs the live response");
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        have.iter().map(|s| s.as_str()).collect(),
        "{at}: every member is required"
    );
    for (k, sub) in props {
        if value[k].is_object() {
            same_members(sub, &value[k], &format!("{at}.{k}"));
        }
    }
}

#[tokio::test]
async fn the_metadata_schema_matches_the_live_metadata() {
    let h = Harness::new();
    let doc = document(&h).await;
    let live = h
        .plain("GET", "/.well-known/tessera-authority", None)
        .await
        .json;
    same_members(&doc["components"]["schemas"]["Metadata"], &live, "metadata");
    let example = &doc["paths"]["/.well-known/tessera-authority"]["get"]["responses"]["200"]
        ["content"]["application/json"]["example"];
    same_members(
        &doc["components"]["schemas"]["Metadata"],
        example,
        "metadata example",
    );
}
