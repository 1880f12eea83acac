//! The error table of spec 8.2, as the suite reads it: wire code → (status, requirements).
//! Written from the spec, not taken from the reference implementation.

/// (code, status, the requirements the spec's table names for it).
pub const TABLE: &[(&str, u16, &[&str])] = &[
    (
        "invalid_request",
        400,
        &[
            "TSR-CONV-3",
            "TSR-CONV-8",
            "TSR-HANDSHAKE-7",
            "TSR-REISSUE-2",
        ],
    ),
    ("invalid_header", 400, &["TSR-HAWK-3"]),
    ("unsupported_media_type", 415, &["TSR-CONV-4"]),
    ("payload_too_large", 413, &["TSR-CONV-5"]),
    ("unauthenticated", 401, &["TSR-HAWK-2"]),
    (
        "invalid_credentials",
        401,
        &["TSR-HAWK-1", "TSR-HAWK-4", "TSR-HAWK-6", "TSR-HAWK-14"],
    ),
    ("invalid_payload_hash", 401, &["TSR-HAWK-5"]),
    ("stale_timestamp", 401, &["TSR-HAWK-7", "TSR-HAWK-10"]),
    ("replayed_request", 401, &["TSR-HAWK-9"]),
    ("ticket_expired", 401, &["TSR-TICKET-5"]),
    ("ticket_revoked", 401, &["TSR-TICKET-6"]),
    ("invalid_redirect_uri", 400, &["TSR-HANDSHAKE-1"]),
    ("grant_not_allowed", 400, &["TSR-HANDSHAKE-2"]),
    (
        "scope_not_allowed",
        400,
        &["TSR-HANDSHAKE-2", "TSR-REISSUE-1"],
    ),
    ("unknown_session", 400, &["TSR-RESULT-1", "TSR-REFRESH-1"]),
    ("session_expired", 400, &["TSR-RESULT-2", "TSR-REFRESH-1"]),
    ("session_revoked", 400, &["TSR-RESULT-2", "TSR-REFRESH-1"]),
    ("authorization_pending", 400, &["TSR-RESULT-3"]),
    ("access_denied", 403, &["TSR-RESULT-3"]),
    ("invalid_code", 400, &["TSR-RESULT-4", "TSR-RESULT-9"]),
    ("code_expired", 400, &["TSR-RESULT-5"]),
    ("code_reused", 400, &["TSR-RESULT-9"]),
    ("session_not_active", 400, &["TSR-REFRESH-2"]),
    ("session_reused", 400, &["TSR-REFRESH-5"]),
    ("insufficient_scope", 403, &["TSR-APP-2"]),
    ("delegation_not_allowed", 403, &["TSR-DELEGATE-1"]),
    ("unknown_consumer", 400, &["TSR-DELEGATE-1"]),
    ("invalid_grant", 400, &["TSR-DELEGATE-3", "TSR-DELEGATE-4"]),
    ("not_found", 404, &["TSR-CONF-1"]),
    ("method_not_allowed", 405, &[]),
    ("temporarily_unavailable", 503, &["TSR-HAWK-11"]),
    ("internal_error", 500, &["TSR-ERROR-3"]),
];

/// The status the table gives `code`.
pub fn status_of(code: &str) -> Option<u16> {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, s, _)| *s)
}

/// Whether `code` is in the table.
pub fn is_known(code: &str) -> bool {
    status_of(code).is_some()
}

/// Errors answered before (or instead of) authentication: no `Server-Authorization` is due
/// (spec 4.8 order of checks, TSR-HAWK-12 "a request that authenticated").
pub const BEFORE_AUTHENTICATION: &[&str] = &[
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "unauthenticated",
    "invalid_header",
    "invalid_credentials",
    "invalid_payload_hash",
    "stale_timestamp",
    "replayed_request",
    "temporarily_unavailable",
    "internal_error",
];
