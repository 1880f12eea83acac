//! `GET /openapi.json`: the OpenAPI 3 description of the JSON API (spec 5.1, informative).

use super::api::json_response;
use super::AppState;
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

fn op(
    summary: &str,
    security: &str,
    request: Option<&str>,
    response: &str,
    errors: &[&str],
) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert(
        "200".into(),
        json!({ "description": "success", "content": { "application/json": { "schema": reference(response) } } }),
    );
    responses.insert(
        "default".into(),
        json!({
            "description": format!("error; `error` is one of: {}", errors.join(", ")),
            "content": { "application/json": { "schema": reference("Error") } }
        }),
    );
    let mut o = json!({ "summary": summary, "responses": responses });
    if !security.is_empty() {
        o["security"] = json!([{ security: [] }]);
    }
    if let Some(r) = request {
        o["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": reference(r) } } });
    }
    o
}

const AUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_header",
    "unsupported_media_type",
    "payload_too_large",
    "unauthenticated",
    "invalid_credentials",
    "invalid_payload_hash",
    "stale_timestamp",
    "replayed_request",
    "temporarily_unavailable",
];

fn errs(extra: &[&'static str], ticket: bool) -> Vec<&'static str> {
    let mut v: Vec<&str> = AUTH_ERRORS.to_vec();
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
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Tessera Authority", "version": "1",
                  "description": "The JSON API of a Tessera v1 Authority. Requests are authenticated with Hawk 1.1 (spec chapter 4); responses to authenticated requests carry Server-Authorization." },
        "servers": [{ "url": issuer }],
        "components": {
            "securitySchemes": {
                "hawkConsumer": { "type": "http", "scheme": "Hawk", "description": "Hawk 1.1 with Consumer credentials" },
                "hawkTicket": { "type": "http", "scheme": "Hawk", "description": "Hawk 1.1 with ticket credentials and Oz app/dlg" }
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
                "Metadata": { "type": "object" }
            }
        },
        "paths": {
            "/.well-known/tessera-authority": { "get": op("Authority metadata (spec 5.1)", "", None, "Metadata", &["not_found"]) },
            "/v1/handshake": { "post": op("Start a session (spec 5.2)", "hawkConsumer", Some("HandshakeRequest"), "HandshakeResponse",
                &errs(&["invalid_redirect_uri", "grant_not_allowed", "scope_not_allowed"], false)) },
            "/v1/result": { "post": op("Redeem a code (spec 5.5)", "hawkConsumer", Some("ResultRequest"), "ResultResponse",
                &errs(&["unknown_session", "session_expired", "session_revoked", "authorization_pending", "access_denied",
                        "invalid_code", "code_expired", "code_reused"], false)) },
            "/v1/refresh": { "post": op("Rotate a session (spec 6.3)", "hawkConsumer", Some("SidRequest"), "RefreshResponse",
                &errs(&["unknown_session", "session_expired", "session_revoked", "session_not_active", "session_reused"], false)) },
            "/v1/revoke": { "post": op("Revoke a session's family (spec 6.4)", "hawkConsumer", Some("SidRequest"), "Empty", &errs(&[], false)) },
            "/v1/app-ticket": { "post": op("App ticket (spec 7.4)", "hawkConsumer", Some("Empty"), "Ticket", &errs(&[], false)) },
            "/v1/reissue": { "post": op("Reissue a ticket (spec 7.5)", "hawkTicket", Some("ReissueRequest"), "Ticket",
                &errs(&["scope_not_allowed"], true)) },
            "/v1/delegate": { "post": op("A delegation grant for a delegate (spec 7.7)", "hawkTicket", Some("DelegateRequest"), "DelegateResponse",
                &errs(&["delegation_not_allowed", "unknown_consumer"], true)) },
            "/v1/exchange": { "post": op("Exchange a delegation grant, as the delegate (spec 7.7)", "hawkConsumer", Some("ExchangeRequest"), "Ticket",
                &errs(&["invalid_grant"], false)) },
            "/v1/subject": { "get": op("The Subject's data (spec 7.6)", "hawkTicket", None, "SubjectData", &errs(&["insufficient_scope"], true)) },
            "/v1/ticket": { "get": op("Inspect a ticket (spec 7.6)", "hawkTicket", None, "TicketInfo", &errs(&[], true)) }
        }
    })
}
