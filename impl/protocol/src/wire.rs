//! Wire types of the JSON API, exactly as the spec defines them (chapters 5, 6, 7, A).
//!
//! Request types refuse unknown members (spec TSR-CONV-3) and implement [`Request`]; the
//! Authority parses them with `tessera::wire::parse`, which also refuses duplicate members and
//! `null` (TSR-CONV-15) and turns any failure into `400 invalid_request` with a description that
//! never echoes a value from the body (spec TSR-ERROR-2).
//!
//! Response types (what a Consumer or the conformance runner parses) ignore members they do not
//! know (spec TSR-CONV-17), so an Authority can add a member without breaking deployed
//! Consumers; a missing or mistyped member is still an error.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A request body the Authority parses: strict, unknown members refused (spec TSR-CONV-3). Only
/// these types can be given to the Authority's request parser, so a response type (lenient,
/// TSR-CONV-17) is never used to read a request by mistake.
pub trait Request: DeserializeOwned {}

impl Request for HandshakeRequest {}
impl Request for ResultRequest {}
impl Request for SidRequest {}
impl Request for AppTicketRequest {}
impl Request for ReissueRequest {}
impl Request for DelegateRequest {}
impl Request for ExchangeRequest {}
impl Request for ClockAdvance {}
impl Request for ConformanceAuthorize {}

/// `POST /v1/handshake` request (spec 5.2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HandshakeRequest {
    /// One of the Consumer's registered redirect URIs.
    pub redirect_uri: String,
    /// Roles to check.
    pub grants: Vec<String>,
    /// Data items wanted.
    pub scopes: Vec<String>,
    /// The Consumer's fresh per-login value, echoed in the callback (spec TSR-HANDSHAKE-7).
    pub state: String,
}

/// `POST /v1/handshake` response (spec 5.2).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct HandshakeResponse {
    /// The new session's id.
    pub sid: String,
    /// Where the Consumer sends the Subject's browser.
    pub authorize_url: String,
    /// Expiry of the pending session.
    pub exp: i64,
    /// The Authority's issuer identifier.
    pub iss: String,
}

/// `POST /v1/result` request (spec 5.5).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// From the handshake response.
    pub sid: String,
    /// From the callback.
    pub code: String,
}

/// `POST /v1/result` response (spec 5.5).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct ResultResponse {
    /// Pairwise Subject identifier.
    pub sub: String,
    /// For each requested grant, whether the Subject holds that role.
    pub grants: BTreeMap<String, bool>,
    /// For each requested scope, whether the Subject granted it.
    pub scopes: BTreeMap<String, bool>,
    /// Expiry of the now active session.
    pub exp: i64,
    /// A user ticket.
    pub ticket: Ticket,
}

/// `{"sid": …}`: the body of `POST /v1/refresh` and `POST /v1/revoke` (spec 6.3, 6.4).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SidRequest {
    /// The session id.
    pub sid: String,
}

/// `POST /v1/refresh` response (spec 6.3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct RefreshResponse {
    /// The `sid` that was refreshed (now dead).
    pub previous_sid: String,
    /// The new session's id.
    pub sid: String,
    /// The new session's expiry.
    pub exp: i64,
    /// A new user ticket.
    pub ticket: Ticket,
}

/// `POST /v1/app-ticket` request: `{}` (spec 7.4).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppTicketRequest {}

/// `POST /v1/reissue` request (spec 7.5); every member optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// A subset of the parent's scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// Seconds, 1 to the ticket TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
}

/// `POST /v1/delegate` request (spec 7.7).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DelegateRequest {
    /// The delegate's `consumer_id`.
    pub delegate: String,
    /// Narrows the delegated scope further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
}

/// `POST /v1/delegate` response (spec 7.7).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct DelegateResponse {
    /// The single-use delegation grant (secret; for the delegate only).
    pub grant: String,
    /// The delegate it is for.
    pub delegate: String,
    /// When it expires (spec TSR-DELEGATE-4).
    pub exp: i64,
}

/// `POST /v1/exchange` request (spec 7.7).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// A delegation grant.
    pub grant: String,
}

/// The ticket object (spec 7.1).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct Ticket {
    /// Sealed ticket identifier; the Hawk `id`.
    pub id: String,
    /// The Hawk key.
    pub key: String,
    /// `"sha256"`.
    pub algorithm: String,
    /// Expiry.
    pub exp: i64,
    /// The Consumer the ticket is issued to.
    pub app: String,
    /// The pairwise `sub`; `null` for an app ticket.
    pub user: Option<String>,
    /// The Subject data this ticket may read.
    pub scope: Vec<String>,
    /// The family identifier; `null` for an app ticket.
    pub grant: Option<String>,
    /// The Consumer that delegated the ticket.
    pub dlg: Option<String>,
    /// Whether this ticket may be delegated further.
    pub delegate: bool,
}

/// `GET /v1/ticket` response: the ticket's public members (spec 7.6, TSR-DATA-3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct TicketInfo {
    /// See [`Ticket::app`].
    pub app: String,
    /// See [`Ticket::user`].
    pub user: Option<String>,
    /// See [`Ticket::scope`].
    pub scope: Vec<String>,
    /// See [`Ticket::exp`].
    pub exp: i64,
    /// See [`Ticket::grant`].
    pub grant: Option<String>,
    /// See [`Ticket::dlg`].
    pub dlg: Option<String>,
    /// See [`Ticket::delegate`].
    pub delegate: bool,
}

/// The `hawk` member of the metadata (spec 5.1).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct HawkMetadata {
    /// `"1.1"`.
    pub version: String,
    /// `["sha256"]`.
    pub algorithms: Vec<String>,
    /// The skew window in seconds.
    pub timestamp_skew_seconds: i64,
}

/// The `ttl` member of the metadata (spec 5.1, TSR-META-2).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct TtlMetadata {
    /// Authorize request and pending session.
    pub authorize: i64,
    /// Code.
    pub code: i64,
    /// Active session.
    pub session: i64,
    /// Family.
    pub family: i64,
    /// Ticket.
    pub ticket: i64,
}

/// `GET /.well-known/tessera-authority` (spec 5.1).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
#[allow(missing_docs)]
pub struct Metadata {
    pub issuer: String,
    pub handshake_endpoint: String,
    pub authorize_endpoint: String,
    pub result_endpoint: String,
    pub refresh_endpoint: String,
    pub revoke_endpoint: String,
    pub app_ticket_endpoint: String,
    pub reissue_endpoint: String,
    pub delegate_endpoint: String,
    pub exchange_endpoint: String,
    pub subject_endpoint: String,
    pub ticket_endpoint: String,
    pub hawk: HawkMetadata,
    pub grants_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub ttl: TtlMetadata,
    pub conformance_mode: bool,
    /// The version of the specification implemented: `"1.1"` (spec TSR-META-3).
    pub protocol_version: String,
}

/// `POST /conformance/clock` request (spec A.2).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    /// Seconds, 0 to 31 536 000.
    pub advance: i64,
}

/// `GET`/`POST /conformance/clock` response (spec A.2).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct ClockNow {
    /// The test clock's time.
    pub now: i64,
    /// The highest Hawk `ts` refused as stale because of this start: the restart fence or
    /// high-water mark of TSR-HAWK-10; 0 when the start refuses nothing (spec TSR-CONF-16).
    #[serde(default)]
    pub fence: u64,
}

/// A Consumer as published by `GET /conformance/fixtures` (spec A.3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
#[allow(missing_docs)]
pub struct FixtureConsumer {
    pub consumer_id: String,
    pub key: String,
    pub algorithm: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub may_delegate: bool,
    #[serde(default)]
    pub delegates: Vec<String>,
}

/// A Subject as published by `GET /conformance/fixtures` (spec A.3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
#[allow(missing_docs)]
pub struct FixtureSubject {
    pub username: String,
    pub password: String,
    pub roles: Vec<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// `GET /conformance/fixtures` response (spec A.3).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
#[allow(missing_docs)]
pub struct Fixtures {
    pub issuer: String,
    pub consumers: Vec<FixtureConsumer>,
    pub subjects: Vec<FixtureSubject>,
}

/// `POST /conformance/authorize` request (spec A.4).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceAuthorize {
    /// The `authorize_url` of a handshake response.
    pub authorize_url: String,
    /// A Subject's login name.
    pub username: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// The scopes left ticked; default all requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The delegates left ticked (spec 7.7); default all registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegates: Option<Vec<String>>,
}

/// `POST /conformance/authorize` response (spec A.4).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
// spec TSR-CONV-17: a response; members this version does not know are ignored
pub struct Redirect {
    /// The callback URL the browser would be sent to.
    pub redirect: String,
}

/// Whether `n` is a well-formed grant or scope name (spec TSR-CONV-8).
#[must_use]
pub fn is_name(n: &str) -> bool {
    let b = n.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..].iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b':' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_name("email"));
        assert!(is_name("a.b:c-d_e9"));
        assert!(is_name(&"a".repeat(64)));
        assert!(!is_name(&"a".repeat(65)));
        assert!(!is_name("Email"));
        assert!(!is_name("9a"));
        assert!(!is_name(""));
    }

    /// `v` serialized, with an unknown member added to the object itself and to the objects
    /// at `nested` (JSON pointers to members that are structs, not maps like `grants`).
    fn extended<T: Serialize>(v: &T, nested: &[&str]) -> String {
        let mut j = serde_json::to_value(v).unwrap();
        for at in std::iter::once(&"").chain(nested) {
            let obj = j.pointer_mut(at).and_then(|o| o.as_object_mut()).unwrap();
            obj.insert(
                "x_future_member".into(),
                serde_json::json!({"any": [1, "x"]}),
            );
        }
        j.to_string()
    }

    fn reads_back_extended<T>(v: &T, nested: &[&str])
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let body = extended(v, nested);
        let back: T = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{}: {e}", std::any::type_name::<T>()));
        assert_eq!(&back, v);
    }

    fn ticket() -> Ticket {
        Ticket {
            id: "t1.sealed".into(),
            key: "k".repeat(43),
            algorithm: "sha256".into(),
            exp: 10,
            app: "shop".into(),
            user: Some("u1".into()),
            scope: vec!["email".into()],
            grant: Some("f1".into()),
            dlg: None,
            delegate: false,
        }
    }

    /// spec TSR-CONV-17: every response type reads a body with members it does not know (at the
    /// top and in nested objects) as if they were absent.
    #[test]
    fn responses_ignore_unknown_members() {
        let e = |p: &str| format!("https://a.example{p}");
        reads_back_extended(
            &Metadata {
                issuer: e(""),
                handshake_endpoint: e("/v1/handshake"),
                authorize_endpoint: e("/authorize"),
                result_endpoint: e("/v1/result"),
                refresh_endpoint: e("/v1/refresh"),
                revoke_endpoint: e("/v1/revoke"),
                app_ticket_endpoint: e("/v1/app-ticket"),
                reissue_endpoint: e("/v1/reissue"),
                delegate_endpoint: e("/v1/delegate"),
                exchange_endpoint: e("/v1/exchange"),
                subject_endpoint: e("/v1/subject"),
                ticket_endpoint: e("/v1/ticket"),
                hawk: HawkMetadata {
                    version: "1.1".into(),
                    algorithms: vec!["sha256".into()],
                    timestamp_skew_seconds: 60,
                },
                grants_supported: vec![],
                scopes_supported: vec!["email".into()],
                ttl: TtlMetadata {
                    authorize: 600,
                    code: 60,
                    session: 86_400,
                    family: 2_592_000,
                    ticket: 3_600,
                },
                conformance_mode: false,
                protocol_version: crate::PROTOCOL_VERSION.into(),
            },
            &["/hawk", "/ttl"],
        );
        reads_back_extended(
            &HandshakeResponse {
                sid: "s".into(),
                authorize_url: e("/authorize?request=r"),
                exp: 5,
                iss: e(""),
            },
            &[],
        );
        reads_back_extended(
            &ResultResponse {
                sub: "u1".into(),
                grants: BTreeMap::new(),
                scopes: [("email".to_owned(), true)].into(),
                exp: 5,
                ticket: ticket(),
            },
            &["/ticket"],
        );
        reads_back_extended(
            &RefreshResponse {
                previous_sid: "s0".into(),
                sid: "s1".into(),
                exp: 5,
                ticket: ticket(),
            },
            &["/ticket"],
        );
        reads_back_extended(
            &DelegateResponse {
                grant: "g".into(),
                delegate: "d".into(),
                exp: 5,
            },
            &[],
        );
        reads_back_extended(&ticket(), &[]);
        reads_back_extended(
            &TicketInfo {
                app: "shop".into(),
                user: None,
                scope: vec![],
                exp: 5,
                grant: None,
                dlg: None,
                delegate: false,
            },
            &[],
        );
        reads_back_extended(&ClockNow { now: 5, fence: 3 }, &[]);
        reads_back_extended(&Redirect { redirect: e("/cb") }, &[]);
        // a required member is still required
        assert!(serde_json::from_str::<ClockNow>(r#"{"later": 5}"#).is_err());
    }

    /// spec TSR-CONV-3: request types refuse members they do not know.
    #[test]
    fn requests_refuse_unknown_members() {
        fn refused<T: Request + Serialize>(v: &T) {
            let body = extended(v, &[]);
            assert!(
                serde_json::from_str::<T>(&body).is_err(),
                "{} accepted {body}",
                std::any::type_name::<T>()
            );
        }
        refused(&HandshakeRequest {
            redirect_uri: "https://c.example/cb".into(),
            grants: vec![],
            scopes: vec![],
            state: "st".into(),
        });
        refused(&ResultRequest {
            sid: "s".into(),
            code: "c".into(),
        });
        refused(&SidRequest { sid: "s".into() });
        refused(&AppTicketRequest {});
        refused(&ReissueRequest::default());
        refused(&DelegateRequest {
            delegate: "d".into(),
            scope: None,
        });
        refused(&ExchangeRequest { grant: "g".into() });
        refused(&ClockAdvance { advance: 1 });
        refused(&ConformanceAuthorize {
            authorize_url: "u".into(),
            username: "alice".into(),
            decision: "allow".into(),
            scopes: None,
            delegates: None,
        });
    }
}
