//! `GET /openapi.json`: the OpenAPI 3 description of the JSON API (spec 5.1, informative).

use super::api::json_response;
use super::AppState;
use crate::error::Error;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

async fn openapi(State(st): State<AppState>) -> Response {
    json_response(&document(st.config().issuer.as_str()))
}

fn names() -> Value {
    json!({ "type": "array", "items": { "type": "string", "pattern": "^[a-z][a-z0-9_.:-]{0,63}$" }, "uniqueItems": true })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The error-table rows (spec 8.2) for these wire codes, from the one error enum.
fn rows(codes: &[&str]) -> Vec<Error> {
    Error::every()
        .into_iter()
        .filter(|e| codes.contains(&e.code()))
        .collect()
}

fn header(description: &str) -> Value {
    json!({ "description": description, "schema": { "type": "string" } })
}

/// `Server-Authorization` (spec TSR-HAWK-12): on every response to a request whose MAC verified.
fn server_authorization() -> Value {
    header("Hawk mac=\"…\", hash=\"…\": the response MAC under the request's credentials (spec 4.6, TSR-HAWK-12); absent when the request's MAC did not verify and on the stale-timestamp reply")
}

/// The responses of an operation: 200 and one entry per error status, each listing its wire
/// codes with an example, the schema and headers (spec 8).
fn responses(response: &str, example: &Value, signed: bool, codes: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    let mut ok = json!({
        "description": "success",
        "content": { "application/json": { "schema": reference(response), "example": example } }
    });
    if signed {
        ok["headers"] = json!({ "Server-Authorization": server_authorization() });
    }
    out.insert("200".into(), ok);
    let mut by_status: std::collections::BTreeMap<u16, Vec<Error>> = Default::default();
    for e in rows(codes) {
        by_status.entry(e.status().as_u16()).or_default().push(e);
    }
    for (status, errors) in by_status {
        let names: Vec<&str> = errors.iter().map(Error::code).collect();
        let examples: serde_json::Map<String, Value> = errors
            .iter()
            .map(|e| {
                let (_, code, description) = e.wire();
                (
                    code.to_owned(),
                    json!({ "summary": description,
                            "value": { "error": code, "error_description": description } }),
                )
            })
            .collect();
        let mut headers = serde_json::Map::new();
        if status == 401 {
            headers.insert(
                "WWW-Authenticate".into(),
                header("Hawk error=\"…\" (spec TSR-ERROR-4); on stale_timestamp Hawk ts=\"…\", tsm=\"…\", error=\"Stale timestamp\" (TSR-HAWK-8)"),
            );
        }
        if status == 429 {
            headers.insert(
                "Retry-After".into(),
                header("the seconds until this Consumer may start a handshake again (spec TSR-CONV-16)"),
            );
        }
        if signed && status != 413 && status != 415 {
            headers.insert("Server-Authorization".into(), server_authorization());
        }
        let mut r = json!({
            "description": format!("`error` is one of: {}", names.join(", ")),
            "content": { "application/json": {
                "schema": { "allOf": [reference("Error"),
                    { "properties": { "error": { "enum": names } } }] },
                "examples": examples
            } }
        });
        if !headers.is_empty() {
            r["headers"] = Value::Object(headers);
        }
        out.insert(status.to_string(), r);
    }
    Value::Object(out)
}

fn op(
    summary: &str,
    security: &str,
    request: Option<(&str, Value)>,
    response: &str,
    example: &Value,
    errors: &[&str],
) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": responses(response, example, !security.is_empty(), errors)
    });
    if !security.is_empty() {
        o["security"] = json!([{ security: [] }]);
    }
    if let Some((r, ex)) = request {
        o["requestBody"] = json!({ "required": true, "content": { "application/json": {
            "schema": reference(r), "example": ex } } });
    }
    o
}

/// Refusals the HTTP layer and the Authority can give any endpoint (spec TSR-CONV-14,
/// TSR-ERROR-3).
const HTTP_ERRORS: &[&str] = &[
    "uri_too_long",
    "headers_too_large",
    "temporarily_unavailable",
    "internal_error",
];

/// What every Hawk-authenticated endpoint can answer (spec chapter 4, TSR-CONV-3..6).
const AUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_header",
    "unsupported_media_type",
    "payload_too_large",
    "request_timeout",
    "unauthenticated",
    "invalid_credentials",
    "invalid_payload_hash",
    "stale_timestamp",
    "replayed_request",
];

fn errs(extra: &[&'static str], ticket: bool) -> Vec<&'static str> {
    let mut v: Vec<&str> = AUTH_ERRORS.to_vec();
    v.extend(HTTP_ERRORS);
    if ticket {
        v.extend(["ticket_expired", "ticket_revoked"]);
    }
    v.extend(extra);
    v
}

/// The OpenAPI document for `issuer`.
#[must_use]
pub fn document(issuer: &str) -> Value {
    let ticket = json!({
        "type": "object", "additionalProperties": false,
        "required": ["id", "key", "algorithm", "exp", "app", "user", "scope", "grant", "dlg", "delegate"],
        "properties": {
            "id": { "type": "string" }, "key": { "type": "string" }, "algorithm": { "const": "sha256" },
            "exp": { "type": "integer" }, "app": { "type": "string" },
            "user": { "type": ["string", "null"] }, "scope": names(),
            "grant": { "type": ["string", "null"] }, "dlg": { "type": ["string", "null"] },
            "delegate": { "type": "boolean" }
        }
    });
    let mut ticket_info = ticket.clone();
    for k in ["id", "key", "algorithm"] {
        if let Some(p) = ticket_info["properties"].as_object_mut() {
            p.remove(k);
        }
    }
    ticket_info["required"] = json!(["app", "user", "scope", "exp", "grant", "dlg", "delegate"]);
    let bools = json!({ "type": "object", "additionalProperties": { "type": "boolean" } });
    let url = json!({ "type": "string", "format": "uri" });
    let metadata = json!({
        "type": "object", "additionalProperties": false,
        "description": "spec 5.1 (TSR-META-1, TSR-META-2)",
        "required": ["issuer", "handshake_endpoint", "authorize_endpoint", "result_endpoint",
            "refresh_endpoint", "revoke_endpoint", "app_ticket_endpoint", "reissue_endpoint",
            "delegate_endpoint", "exchange_endpoint", "subject_endpoint", "ticket_endpoint", "hawk",
            "grants_supported", "scopes_supported", "ttl", "conformance_mode", "protocol_version"],
        "properties": {
            "issuer": url, "handshake_endpoint": url, "authorize_endpoint": url,
            "result_endpoint": url, "refresh_endpoint": url, "revoke_endpoint": url,
            "app_ticket_endpoint": url, "reissue_endpoint": url, "delegate_endpoint": url,
            "exchange_endpoint": url, "subject_endpoint": url, "ticket_endpoint": url,
            "hawk": { "type": "object", "additionalProperties": false,
                "required": ["version", "algorithms", "timestamp_skew_seconds"],
                "properties": { "version": { "const": "1.1" },
                    "algorithms": { "type": "array", "items": { "const": "sha256" } },
                    "timestamp_skew_seconds": { "type": "integer", "minimum": 1, "maximum": 300 } } },
            "grants_supported": names(), "scopes_supported": names(),
            "ttl": { "type": "object", "additionalProperties": false,
                "required": ["authorize", "code", "session", "family", "ticket"],
                "properties": { "authorize": { "type": "integer" }, "code": { "type": "integer", "maximum": 600 },
                    "session": { "type": "integer" }, "family": { "type": "integer" },
                    "ticket": { "type": "integer" } } },
            "conformance_mode": { "type": "boolean" },
            "protocol_version": { "const": "1.1", "description": "TSR-META-3" }
        }
    });
    let e = |p: &str| format!("{issuer}{p}");
    let metadata_example = json!({
        "issuer": issuer, "handshake_endpoint": e("/v1/handshake"), "authorize_endpoint": e("/authorize"),
        "result_endpoint": e("/v1/result"), "refresh_endpoint": e("/v1/refresh"),
        "revoke_endpoint": e("/v1/revoke"), "app_ticket_endpoint": e("/v1/app-ticket"),
        "reissue_endpoint": e("/v1/reissue"), "delegate_endpoint": e("/v1/delegate"),
        "exchange_endpoint": e("/v1/exchange"), "subject_endpoint": e("/v1/subject"),
        "ticket_endpoint": e("/v1/ticket"),
        "hawk": { "version": "1.1", "algorithms": ["sha256"], "timestamp_skew_seconds": 60 },
        "grants_supported": ["staff"],
        "scopes_supported": ["email"],
        "ttl": { "authorize": 600, "code": 60, "session": 86400, "family": 2_592_000, "ticket": 3600 },
        "conformance_mode": false, "protocol_version": "1.1"
    });
    let sid = "mGmWmVCHwO2G6cAq3hbgvZkFn6nU8z1JrcuDuzFPGWY";
    let ticket_example = json!({
        "id": "t1.k1.Yt3Ab…", "key": "Kp0vB2…", "algorithm": "sha256", "exp": 1_767_229_200,
        "app": "my-consumer", "user": "pw_7Hs…", "scope": ["email"], "grant": "fam_3kd…",
        "dlg": null, "delegate": false
    });
    let mut ticket_info_example = ticket_example.clone();
    for k in ["id", "key", "algorithm"] {
        if let Some(o) = ticket_info_example.as_object_mut() {
            o.remove(k);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Tessera Authority", "version": "1",
                  "description": "The JSON API of a Tessera v1 Authority. Requests are authenticated with Hawk 1.1 (spec chapter 4); responses to authenticated requests carry Server-Authorization. Every error has the JSON body of spec 8.1, with the status of the error table (spec 8.2)." },
        "servers": [{ "url": issuer }],
        "components": {
            "securitySchemes": {
                "hawkConsumer": { "type": "http", "scheme": "Hawk",
                    "description": "Hawk 1.1 (spec chapter 4): Authorization: Hawk id=\"consumer_id\", ts, nonce (at most 64 characters), hash (of the body), mac; with the Consumer's key. The response carries Server-Authorization, to be verified (TSR-HAWK-13)." },
                "hawkTicket": { "type": "http", "scheme": "Hawk",
                    "description": "Hawk 1.1 with ticket credentials: id is the ticket's sealed id, the key the ticket's key, and the Oz attributes app (and dlg when the ticket has one) must match the ticket (TSR-HAWK-14)." }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": {
                    "error": { "type": "string" }, "error_description": { "type": "string" } } },
                "HandshakeRequest": { "type": "object", "additionalProperties": false,
                    "required": ["redirect_uri", "grants", "scopes", "state"],
                    "properties": { "redirect_uri": { "type": "string" }, "grants": names(), "scopes": names(),
                        "state": { "type": "string", "pattern": "^[A-Za-z0-9_-]{22,128}$" } } },
                "HandshakeResponse": { "type": "object", "required": ["sid", "authorize_url", "exp", "iss"],
                    "properties": { "sid": { "type": "string" }, "authorize_url": { "type": "string" },
                        "exp": { "type": "integer" }, "iss": { "type": "string" } } },
                "ResultRequest": { "type": "object", "additionalProperties": false,
                    "required": ["sid", "code"],
                    "properties": { "sid": { "type": "string" }, "code": { "type": "string" } } },
                "ResultResponse": { "type": "object", "required": ["sub", "grants", "scopes", "exp", "ticket"],
                    "properties": { "sub": { "type": "string" }, "grants": bools, "scopes": bools,
                        "exp": { "type": "integer" }, "ticket": reference("Ticket") } },
                "SidRequest": { "type": "object", "additionalProperties": false, "required": ["sid"],
                    "properties": { "sid": { "type": "string" } } },
                "RefreshResponse": { "type": "object", "required": ["previous_sid", "sid", "exp", "ticket"],
                    "properties": { "previous_sid": { "type": "string" }, "sid": { "type": "string" },
                        "exp": { "type": "integer" }, "ticket": reference("Ticket") } },
                "Empty": { "type": "object", "additionalProperties": false },
                "ReissueRequest": { "type": "object", "additionalProperties": false,
                    "description": "every member optional: leave it out (null is refused, TSR-CONV-15)",
                    "properties": { "scope": names(), "ttl": { "type": "integer", "minimum": 1 } } },
                "DelegateRequest": { "type": "object", "additionalProperties": false, "required": ["delegate"],
                    "properties": { "delegate": { "type": "string" }, "scope": names() } },
                "DelegateResponse": { "type": "object", "required": ["grant", "delegate", "exp"],
                    "properties": { "grant": { "type": "string" }, "delegate": { "type": "string" },
                        "exp": { "type": "integer" } } },
                "ExchangeRequest": { "type": "object", "additionalProperties": false, "required": ["grant"],
                    "properties": { "grant": { "type": "string" } } },
                "Ticket": ticket,
                "TicketInfo": ticket_info,
                "SubjectData": { "type": "object", "required": ["sub"], "properties": { "sub": { "type": "string" } },
                    "additionalProperties": true },
                "Metadata": metadata
            }
        },
        "paths": {
            "/.well-known/tessera-authority": { "get": op("Authority metadata (spec 5.1)", "", None, "Metadata",
                &metadata_example, HTTP_ERRORS) },
            "/v1/handshake": { "post": op("Start a session (spec 5.2)", "hawkConsumer",
                Some(("HandshakeRequest", json!({ "redirect_uri": "https://consumer.example/callback",
                    "grants": ["staff"], "scopes": ["email"], "state": "af0ifjsldkj-Xq3nT0wZ7g" }))),
                "HandshakeResponse",
                &json!({ "sid": sid, "authorize_url": e("/authorize?request=Qm9…"), "exp": 1_767_226_200, "iss": issuer }),
                &errs(&["invalid_redirect_uri", "grant_not_allowed", "scope_not_allowed", "too_many_requests"], false)) },
            "/v1/result": { "post": op("Redeem a code (spec 5.5)", "hawkConsumer",
                Some(("ResultRequest", json!({ "sid": sid, "code": "SplxlOBeZQQYbYS6WxSbIA…" }))),
                "ResultResponse",
                &json!({ "sub": "pw_7Hs…", "grants": { "staff": true }, "scopes": { "email": true },
                    "exp": 1_767_312_000, "ticket": ticket_example }),
                &errs(&["unknown_session", "session_expired", "session_revoked", "authorization_pending", "access_denied",
                        "invalid_code", "code_expired", "code_reused"], false)) },
            "/v1/refresh": { "post": op("Rotate a session (spec 6.3)", "hawkConsumer",
                Some(("SidRequest", json!({ "sid": sid }))), "RefreshResponse",
                &json!({ "previous_sid": sid, "sid": "Zx8Q…", "exp": 1_767_312_000, "ticket": ticket_example }),
                &errs(&["unknown_session", "session_expired", "session_revoked", "session_not_active", "session_reused"], false)) },
            "/v1/revoke": { "post": op("Revoke a session's family (spec 6.4)", "hawkConsumer",
                Some(("SidRequest", json!({ "sid": sid }))), "Empty", &json!({}), &errs(&[], false)) },
            "/v1/app-ticket": { "post": op("App ticket (spec 7.4)", "hawkConsumer", Some(("Empty", json!({}))), "Ticket",
                &json!({ "id": "t1.k1.Yt3Ab…", "key": "Kp0vB2…", "algorithm": "sha256", "exp": 1_767_229_200,
                    "app": "my-consumer", "user": null, "scope": [], "grant": null, "dlg": null, "delegate": false }),
                &errs(&[], false)) },
            "/v1/reissue": { "post": op("Reissue a ticket (spec 7.5)", "hawkTicket",
                Some(("ReissueRequest", json!({ "scope": ["email"], "ttl": 600 }))), "Ticket", &ticket_example,
                &errs(&["scope_not_allowed"], true)) },
            "/v1/delegate": { "post": op("A delegation grant for a delegate (spec 7.7)", "hawkTicket",
                Some(("DelegateRequest", json!({ "delegate": "partner", "scope": ["email"] }))), "DelegateResponse",
                &json!({ "grant": "dg_Yt3Ab…", "delegate": "partner", "exp": 1_767_226_260 }),
                &errs(&["delegation_not_allowed", "unknown_consumer"], true)) },
            "/v1/exchange": { "post": op("Exchange a delegation grant, as the delegate (spec 7.7)", "hawkConsumer",
                Some(("ExchangeRequest", json!({ "grant": "dg_Yt3Ab…" }))), "Ticket", &ticket_example,
                &errs(&["invalid_grant"], false)) },
            "/v1/subject": { "get": op("The Subject's data (spec 7.6)", "hawkTicket", None, "SubjectData",
                &json!({ "sub": "pw_7Hs…", "email": "alice@example.org" }), &errs(&["insufficient_scope"], true)) },
            "/v1/ticket": { "get": op("Inspect a ticket (spec 7.6)", "hawkTicket", None, "TicketInfo",
                &ticket_info_example, &errs(&[], true)) }
        }
    })
}
