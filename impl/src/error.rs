//! The one error enum and the one table mapping it to the wire (spec chapter 8).
//!
//! Every refusal of the JSON API is an [`Error`]; [`Error::wire`] is the table of spec 8.2
//! (status, `error` code, a fixed `error_description`), and [`Error::body`] the body of
//! spec 8.1. Descriptions are fixed strings or short texts built by this crate, never input
//! echoed back, never internals (spec TSR-ERROR-2, TSR-CONV-11).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// A refusal, as the spec names it. One variant per row of the error table (spec 8.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `400 invalid_request` (TSR-CONV-3, TSR-CONV-8, TSR-HANDSHAKE-3, TSR-REISSUE-2).
    /// The text says which rule was broken, in words of this crate (no input echoed).
    #[error("invalid_request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// `400 invalid_header` (TSR-HAWK-3).
    #[error("invalid_header")]
    InvalidHeader,
    /// `415 unsupported_media_type` (TSR-CONV-4).
    #[error("unsupported_media_type")]
    UnsupportedMediaType,
    /// `413 payload_too_large` (TSR-CONV-5).
    #[error("payload_too_large")]
    PayloadTooLarge,
    /// `401 unauthenticated` (TSR-HAWK-2).
    #[error("unauthenticated")]
    Unauthenticated,
    /// `401 invalid_credentials` (TSR-HAWK-1, -4, -6, -14).
    #[error("invalid_credentials")]
    InvalidCredentials,
    /// `401 invalid_payload_hash` (TSR-HAWK-5).
    #[error("invalid_payload_hash")]
    InvalidPayloadHash,
    /// `401 stale_timestamp` (TSR-HAWK-7, TSR-HAWK-10) with the Authority's time and its
    /// MAC `tsm` (TSR-HAWK-8).
    #[error("stale_timestamp")]
    StaleTimestamp {
        /// The Authority's current time.
        now: i64,
        /// `base64(HMAC-SHA-256(key, "hawk.1.ts\n{now}\n"))`.
        tsm: String,
    },
    /// `401 replayed_request` (TSR-HAWK-9).
    #[error("replayed_request")]
    ReplayedRequest,
    /// `401 ticket_expired` (TSR-TICKET-5).
    #[error("ticket_expired")]
    TicketExpired,
    /// `401 ticket_revoked` (TSR-TICKET-6).
    #[error("ticket_revoked")]
    TicketRevoked,
    /// `400 invalid_redirect_uri` (TSR-HANDSHAKE-1).
    #[error("invalid_redirect_uri")]
    InvalidRedirectUri,
    /// `400 grant_not_allowed` (TSR-HANDSHAKE-2).
    #[error("grant_not_allowed")]
    GrantNotAllowed,
    /// `400 scope_not_allowed` (TSR-HANDSHAKE-2, TSR-REISSUE-1).
    #[error("scope_not_allowed")]
    ScopeNotAllowed,
    /// `400 unknown_session` (TSR-RESULT-1, TSR-REFRESH-1).
    #[error("unknown_session")]
    UnknownSession,
    /// `400 session_expired` (TSR-RESULT-2, TSR-REFRESH-1).
    #[error("session_expired")]
    SessionExpired,
    /// `400 session_revoked` (TSR-RESULT-2, TSR-REFRESH-1).
    #[error("session_revoked")]
    SessionRevoked,
    /// `400 authorization_pending` (TSR-RESULT-3).
    #[error("authorization_pending")]
    AuthorizationPending,
    /// `403 access_denied` (TSR-RESULT-3).
    #[error("access_denied")]
    AccessDenied,
    /// `400 invalid_code` (TSR-RESULT-4, TSR-RESULT-9).
    #[error("invalid_code")]
    InvalidCode,
    /// `400 code_expired` (TSR-RESULT-5).
    #[error("code_expired")]
    CodeExpired,
    /// `400 code_reused` (TSR-RESULT-9).
    #[error("code_reused")]
    CodeReused,
    /// `400 session_not_active` (TSR-REFRESH-2).
    #[error("session_not_active")]
    SessionNotActive,
    /// `400 session_reused` (TSR-REFRESH-5).
    #[error("session_reused")]
    SessionReused,
    /// `403 insufficient_scope` (TSR-APP-2).
    #[error("insufficient_scope")]
    InsufficientScope,
    /// `403 delegation_not_allowed` (TSR-REISSUE-3).
    #[error("delegation_not_allowed")]
    DelegationNotAllowed,
    /// `400 unknown_consumer` (TSR-DELEGATE-1).
    #[error("unknown_consumer")]
    UnknownConsumer,
    /// `400 invalid_grant` (TSR-DELEGATE-3, TSR-DELEGATE-4).
    #[error("invalid_grant")]
    InvalidGrant,
    /// `404 not_found` (TSR-CONF-1).
    #[error("not_found")]
    NotFound,
    /// `405 method_not_allowed`.
    #[error("method_not_allowed")]
    MethodNotAllowed,
    /// `503 temporarily_unavailable` (TSR-HAWK-11).
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    /// `500 internal_error` (TSR-ERROR-3). The cause is logged where it happens, never sent.
    #[error("internal_error")]
    Internal,
    /// `408 request_timeout` (TSR-CONV-14): the body did not arrive in time.
    #[error("request_timeout")]
    RequestTimeout,
    /// `414 uri_too_long` (TSR-CONV-14): hyper's own refusal, given a JSON body.
    #[error("uri_too_long")]
    UriTooLong,
    /// `431 headers_too_large` (TSR-CONV-14): hyper's own refusal, given a JSON body.
    #[error("headers_too_large")]
    HeadersTooLarge,
    /// `429 too_many_requests` (TSR-CONV-16): this Consumer started too many handshakes;
    /// `retry_after`: the seconds until its rate lets it in again (the `Retry-After` header).
    #[error("too_many_requests")]
    TooManyRequests { retry_after: u64 },
}

impl Error {
    /// `400 invalid_request` with a fixed explanation.
    #[must_use]
    pub const fn invalid_request(why: &'static str) -> Self {
        Self::InvalidRequest(Cow::Borrowed(why))
    }

    /// The error table of spec 8.2: (status, wire code, description). spec TSR-ERROR-1
    #[must_use]
    pub fn wire(&self) -> (StatusCode, &'static str, &str) {
        use StatusCode as S;
        match self {
            Self::InvalidRequest(why) => (S::BAD_REQUEST, "invalid_request", why),
            Self::InvalidHeader => (
                S::BAD_REQUEST,
                "invalid_header",
                "the Authorization header is not a well-formed Hawk header",
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be application/json",
            ),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is over 16 KiB",
            ),
            Self::Unauthenticated => (
                S::UNAUTHORIZED,
                "unauthenticated",
                "this endpoint needs a Hawk Authorization header",
            ),
            Self::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "unknown credentials, wrong MAC, wrong kind of credentials, or app/dlg mismatch",
            ),
            Self::InvalidPayloadHash => (
                S::UNAUTHORIZED,
                "invalid_payload_hash",
                "the payload hash is missing or does not match the body",
            ),
            Self::StaleTimestamp { .. } => (
                S::UNAUTHORIZED,
                "stale_timestamp",
                "the Hawk timestamp is outside the accepted window",
            ),
            Self::ReplayedRequest => (
                S::UNAUTHORIZED,
                "replayed_request",
                "this id, ts and nonce were accepted before",
            ),
            Self::TicketExpired => (S::UNAUTHORIZED, "ticket_expired", "the ticket has expired"),
            Self::TicketRevoked => (
                S::UNAUTHORIZED,
                "ticket_revoked",
                "the ticket's family was revoked",
            ),
            Self::InvalidRedirectUri => (
                S::BAD_REQUEST,
                "invalid_redirect_uri",
                "redirect_uri is not registered for this consumer",
            ),
            Self::GrantNotAllowed => (
                S::BAD_REQUEST,
                "grant_not_allowed",
                "a requested grant is not registered for this consumer",
            ),
            Self::ScopeNotAllowed => (
                S::BAD_REQUEST,
                "scope_not_allowed",
                "a requested scope is not allowed",
            ),
            Self::UnknownSession => (
                S::BAD_REQUEST,
                "unknown_session",
                "no session of this consumer has this sid",
            ),
            Self::SessionExpired => (S::BAD_REQUEST, "session_expired", "the session has expired"),
            Self::SessionRevoked => (
                S::BAD_REQUEST,
                "session_revoked",
                "the session's family was revoked",
            ),
            Self::AuthorizationPending => (
                S::BAD_REQUEST,
                "authorization_pending",
                "the subject has not decided yet",
            ),
            Self::AccessDenied => (
                S::FORBIDDEN,
                "access_denied",
                "the subject denied the request",
            ),
            Self::InvalidCode => (
                S::BAD_REQUEST,
                "invalid_code",
                "the code was not issued for this session",
            ),
            Self::CodeExpired => (S::BAD_REQUEST, "code_expired", "the code has expired"),
            Self::CodeReused => (
                S::BAD_REQUEST,
                "code_reused",
                "this code was already redeemed; its family is revoked",
            ),
            Self::SessionNotActive => (
                S::BAD_REQUEST,
                "session_not_active",
                "the session has not been redeemed yet",
            ),
            Self::SessionReused => (
                S::BAD_REQUEST,
                "session_reused",
                "this session was already refreshed; its family is revoked",
            ),
            Self::InsufficientScope => (
                S::FORBIDDEN,
                "insufficient_scope",
                "the ticket does not allow this",
            ),
            Self::DelegationNotAllowed => (
                S::FORBIDDEN,
                "delegation_not_allowed",
                "this delegation is not registered, or the Subject did not consent to it",
            ),
            Self::UnknownConsumer => (
                S::BAD_REQUEST,
                "unknown_consumer",
                "delegate names no registered consumer",
            ),
            Self::InvalidGrant => (
                S::BAD_REQUEST,
                "invalid_grant",
                "the delegation grant is unknown, spent, expired or not for this consumer",
            ),
            Self::NotFound => (S::NOT_FOUND, "not_found", "no such endpoint"),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the endpoint does not take this method",
            ),
            Self::TemporarilyUnavailable => (
                S::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the Authority is overloaded; retry later",
            ),
            Self::Internal => (
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
                "a fault of the Authority",
            ),
            Self::RequestTimeout => (
                S::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            ),
            Self::UriTooLong => (
                S::URI_TOO_LONG,
                "uri_too_long",
                "the request target is too long",
            ),
            Self::HeadersTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "the request head is too large or has too many header fields",
            ),
            Self::TooManyRequests { .. } => (
                S::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many handshakes from this consumer; retry later",
            ),
        }
    }

    /// One value of every variant, in the order of the error table (spec 8.2): what the
    /// OpenAPI document and the table tests are built from.
    #[must_use]
    pub fn every() -> Vec<Self> {
        vec![
            Self::invalid_request("the body is not the JSON this endpoint takes"),
            Self::InvalidHeader,
            Self::UnsupportedMediaType,
            Self::PayloadTooLarge,
            Self::Unauthenticated,
            Self::InvalidCredentials,
            Self::InvalidPayloadHash,
            Self::StaleTimestamp {
                now: 1,
                tsm: "base64 of the timestamp MAC".into(),
            },
            Self::ReplayedRequest,
            Self::TicketExpired,
            Self::TicketRevoked,
            Self::InvalidRedirectUri,
            Self::GrantNotAllowed,
            Self::ScopeNotAllowed,
            Self::UnknownSession,
            Self::SessionExpired,
            Self::SessionRevoked,
            Self::AuthorizationPending,
            Self::AccessDenied,
            Self::InvalidCode,
            Self::CodeExpired,
            Self::CodeReused,
            Self::SessionNotActive,
            Self::SessionReused,
            Self::InsufficientScope,
            Self::DelegationNotAllowed,
            Self::UnknownConsumer,
            Self::InvalidGrant,
            Self::NotFound,
            Self::MethodNotAllowed,
            Self::TemporarilyUnavailable,
            Self::Internal,
            Self::RequestTimeout,
            Self::UriTooLong,
            Self::HeadersTooLarge,
            Self::TooManyRequests { retry_after: 1 },
        ]
    }

    /// The wire code alone.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.wire().1
    }

    /// The HTTP status alone.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.wire().0
    }

    /// The JSON body of spec 8.1, serialized. spec TSR-ERROR-1
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let (_, code, description) = self.wire();
        serde_json::to_vec(&serde_json::json!({ "error": code, "error_description": description }))
            .unwrap_or_else(|_| br#"{"error":"internal_error"}"#.to_vec())
    }

    /// The `WWW-Authenticate` value every 401 carries (spec TSR-ERROR-4, TSR-HAWK-2, TSR-HAWK-8).
    /// The headers this error's response carries besides the JSON ones: `WWW-Authenticate`
    /// (TSR-ERROR-4, TSR-HAWK-8) and `Retry-After` (TSR-CONV-16).
    pub fn add_headers(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(v) = self
            .www_authenticate()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        if let Self::TooManyRequests { retry_after } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
    }

    #[must_use]
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::StaleTimestamp { now, tsm } => Some(format!(
                "Hawk ts=\"{now}\", tsm=\"{tsm}\", error=\"Stale timestamp\""
            )),
            Self::Unauthenticated => Some("Hawk".to_owned()),
            e if e.status() == StatusCode::UNAUTHORIZED => {
                Some(format!("Hawk error=\"{}\"", e.code()))
            }
            _ => None,
        }
    }
}

/// The headers every JSON response carries (spec TSR-CONV-2).
pub(crate) fn json_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), self.body()).into_response();
        json_headers(&mut resp);
        self.add_headers(resp.headers_mut());
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of spec 8.2 as (code, status), read from spec/08-errors.md itself, so the
    /// spec and the enum cannot drift apart.
    fn spec_table() -> Vec<(String, u16)> {
        let spec = include_str!("../../spec/08-errors.md");
        let table = spec
            .split("## 8.2")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("spec/08-errors.md has section 8.2");
        table
            .lines()
            // the rows: after the header row (`error` | status) and the |---| line
            .filter(|l| l.starts_with("| `") && !l.starts_with("| `error` |"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells[1].trim_matches('`').to_owned();
                let status = cells[2].parse().unwrap_or_else(|_| panic!("status in {l}"));
                (code, status)
            })
            .collect()
    }

    fn all() -> Vec<Error> {
        Error::every()
    }

    #[test]
    fn enum_matches_the_spec_table_exactly() {
        let ours: Vec<(String, u16)> = all()
            .iter()
            .map(|e| (e.code().to_owned(), e.status().as_u16()))
            .collect();
        let spec = spec_table();
        assert!(spec.len() >= 30, "read {} rows of spec 8.2", spec.len());
        assert_eq!(ours, spec);
    }

    #[test]
    fn every_401_has_www_authenticate() {
        for e in all() {
            assert_eq!(
                e.status() == StatusCode::UNAUTHORIZED,
                e.www_authenticate().is_some(),
                "{e:?}"
            );
        }
    }

    #[test]
    fn stale_reply_carries_ts_and_tsm() {
        let e = Error::StaleTimestamp {
            now: 42,
            tsm: "abc=".into(),
        };
        assert_eq!(
            e.www_authenticate().unwrap(),
            "Hawk ts=\"42\", tsm=\"abc=\", error=\"Stale timestamp\""
        );
    }
}
