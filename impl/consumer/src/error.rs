//! The Consumer library's one error enum: each variant names the check that failed.

use tessera_protocol::hawk::ResponseError;

/// Why a Consumer operation failed. Each variant says exactly which check refused it, and
/// [`Error::kind`] gives a stable machine-readable name for it (used in the error page's URL by
/// the axum integration).
///
/// Errors never carry secrets (sid, code, keys; spec TSR-CONV-11): the values they
/// quote are issuers, endpoint URLs, wire error codes and HTTP statuses.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- configuration --------------------------------------------------------------------
    /// An issuer or endpoint URL is not an absolute `https` URL, or `http` on a loopback host
    /// (spec TSR-CONV-1, TSR-META-1).
    #[error("invalid Authority configuration: {0}")]
    InvalidConfig(String),
    /// The metadata document's `issuer` is not the URL it was fetched from less the well-known
    /// path (spec TSR-META-1, RFC 8414 §3.3).
    #[error("metadata issuer mismatch: fetched from {expected}, document says {got}")]
    MetadataIssuerMismatch {
        /// The issuer implied by the metadata URL.
        expected: String,
        /// The `issuer` member of the document.
        got: String,
    },
    /// An endpoint in the metadata does not start with the issuer (spec TSR-META-1), or the
    /// Authority does not offer what this library needs (protocol version 1.1, Hawk sha256).
    #[error("metadata refused: {0}")]
    MetadataInvalid(String),
    /// No Authority with this issuer is configured.
    #[error("no Authority configured with issuer {0}")]
    UnknownAuthority(String),

    // ---- callback checks (no request is made to an Authority when these fail) --------------
    /// The callback's `state` names none of the pending logins of the browser session it
    /// arrived in: the flow was not started here (login CSRF, session fixation: a code issued
    /// for someone else's flow), or it was already used (a replay). Refused before any request
    /// (spec TSR-CONSUMER-3, TSR-CONSUMER-6, TSR-CONSUMER-13).
    #[error("no login with this state was started in this browser session (or it was already completed)")]
    NoPendingLogin,
    /// The browser session has no logged-in Subject (the axum integration's refresh and data
    /// helpers).
    #[error("this browser session is not logged in")]
    NotLoggedIn,
    /// The pending login is older than the Authority's authorize TTL (`exp` of the handshake).
    #[error("the pending login has expired; start again")]
    PendingLoginExpired,
    /// The callback has no `iss` parameter (spec TSR-CONSUMER-4, TSR-CALLBACK-2).
    #[error("the callback has no iss parameter")]
    MissingIssuer,
    /// The callback's `iss` is not the issuer of the Authority this login was started with
    /// (spec TSR-CONSUMER-4): a mix-up attempt or a callback from another Authority.
    #[error("the callback's issuer {got} is not the one this login started with ({expected})")]
    IssuerMismatch {
        /// The issuer of the pending login.
        expected: String,
        /// The `iss` the callback carried.
        got: String,
    },
    /// The Subject denied the request (`error=access_denied`, spec TSR-CONSUMER-12).
    #[error("the Subject denied the request")]
    AccessDenied,
    /// The callback carries an `error` other than `access_denied` (the value is kept only if
    /// it is a short well-formed code).
    #[error("the callback reports an error: {0}")]
    CallbackError(String),
    /// The callback has no `state`, neither `code` nor `error`, or more than one of a parameter.
    #[error("the callback is malformed: {0}")]
    MalformedCallback(&'static str),

    // ---- talking to the Authority -----------------------------------------------------------
    /// The request could not be sent or the response not read (connection refused, TLS, ...).
    #[error("could not reach the Authority: {0}")]
    Transport(String),
    /// The response has no `Server-Authorization` header (spec TSR-HAWK-12/13): nothing in it
    /// was used.
    /// `status` is only reported, never acted on. (An Authority answers an unauthenticated
    /// request — wrong key, unknown `consumer_id` — without the header, so a misconfigured
    /// key shows up here as a `401`.)
    #[error("the Authority's response (status {status}) has no Server-Authorization header")]
    ServerAuthorizationMissing {
        /// The HTTP status of the unverified response.
        status: u16,
    },
    /// The response's `Server-Authorization` does not verify — bad MAC, missing or wrong
    /// payload hash (spec TSR-HAWK-13, TSR-CONSUMER-7): the response was not made by the
    /// Authority with our key, or was altered; nothing in it was used.
    #[error("the Authority's Server-Authorization does not verify: {0}")]
    ServerAuthorizationInvalid(ResponseError),
    /// A stale-timestamp reply whose `tsm` does not verify (spec TSR-HAWK-8): the clock
    /// offset was not adjusted.
    #[error("stale-timestamp reply with an invalid tsm: {0}")]
    StaleTimestampUnverified(ResponseError),
    /// The Authority still said `stale_timestamp` after one retry with the corrected clock.
    #[error("the Authority refused our timestamp twice")]
    StaleTimestamp,
    /// The refresh was refused as a reuse of a refreshed-away `sid` (`session_reused`, spec
    /// TSR-REFRESH-5): the family is revoked; treat as a logout (spec TSR-CONSUMER-11).
    #[error("the session was already refreshed (reuse detected); the login is revoked")]
    SessionReused,
    /// The Authority answered with an error of the spec's table (chapter 8), after its
    /// `Server-Authorization` verified. `code` is the wire `error` code.
    #[error("the Authority refused the request: {status} {code}")]
    Authority {
        /// HTTP status.
        status: u16,
        /// The wire error code (spec 8.2).
        code: String,
    },
    /// A verified response's body does not have the shape chapter 5/6/7 gives it, or
    /// contradicts the request (spec TSR-CONSUMER-7): nothing in it was used.
    #[error("the Authority's response is malformed: {0}")]
    InvalidResponse(String),
    /// The Subject data API answered for another `sub` than the login's (spec TSR-DATA-2).
    #[error("the Subject data is for another sub")]
    SubjectMismatch,
}

impl Error {
    /// A stable name for the variant, e.g. `issuer_mismatch`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "invalid_config",
            Self::MetadataIssuerMismatch { .. } => "metadata_issuer_mismatch",
            Self::MetadataInvalid(_) => "metadata_invalid",
            Self::UnknownAuthority(_) => "unknown_authority",
            Self::NoPendingLogin => "no_pending_login",
            Self::NotLoggedIn => "not_logged_in",
            Self::PendingLoginExpired => "pending_login_expired",
            Self::MissingIssuer => "missing_issuer",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::AccessDenied => "access_denied",
            Self::CallbackError(_) => "callback_error",
            Self::MalformedCallback(_) => "malformed_callback",
            Self::Transport(_) => "transport",
            Self::ServerAuthorizationMissing { .. } => "server_authorization_missing",
            Self::ServerAuthorizationInvalid(_) => "server_authorization_invalid",
            Self::StaleTimestampUnverified(_) => "stale_timestamp_unverified",
            Self::StaleTimestamp => "stale_timestamp",
            Self::SessionReused => "session_reused",
            Self::Authority { .. } => "authority",
            Self::InvalidResponse(_) => "invalid_response",
            Self::SubjectMismatch => "subject_mismatch",
        }
    }

    /// Whether the Consumer must treat this as a logout of the Subject (spec TSR-CONSUMER-11):
    /// the session was reused, revoked, expired or is unknown, or the ticket was revoked. (An
    /// expired ticket is not a logout: see [`Error::needs_refresh`].)
    #[must_use]
    pub fn is_logout(&self) -> bool {
        match self {
            Self::SessionReused => true,
            Self::Authority { code, .. } => matches!(
                code.as_str(),
                "session_revoked"
                    | "session_expired"
                    | "session_reused"
                    | "ticket_revoked"
                    | "unknown_session"
            ),
            _ => false,
        }
    }

    /// Whether the ticket has expired (`401 ticket_expired`): refresh the login
    /// ([`super::Consumer::refresh`]) and try again with the new ticket.
    #[must_use]
    pub fn needs_refresh(&self) -> bool {
        matches!(self, Self::Authority { code, .. } if code == "ticket_expired")
    }

    /// One sentence for a person, by kind (what the axum integration's error page shows).
    #[must_use]
    pub fn describe_kind(kind: &str) -> &'static str {
        match kind {
            "no_pending_login" => {
                "This sign-in was not started in this browser (or it was already completed), so \
                 it was refused."
            }
            "pending_login_expired" => {
                "This sign-in took too long and has expired. Please start again."
            }
            "missing_issuer" => {
                "The sign-in response did not say which Authority sent it, so it was refused."
            }
            "issuer_mismatch" => {
                "The sign-in response came from a different Authority than the one this sign-in \
                 was started with, so it was refused."
            }
            "access_denied" => "You declined the request, so you are not signed in.",
            "callback_error" => "The Authority reported an error for this sign-in.",
            "malformed_callback" => "The sign-in response was malformed, so it was refused.",
            "login_csrf" => {
                "This sign-in was not started from this site, so it was refused. Start again from \
                 the application."
            }
            "server_authorization_missing" | "server_authorization_invalid" => {
                "The Authority's answer could not be verified, so it was not used."
            }
            "session_reused" => "Your session was used twice; for safety you have been signed out.",
            "transport" => "The Authority could not be reached. Please try again later.",
            "authority" => "The Authority refused to complete the sign-in.",
            "metadata_invalid"
            | "metadata_issuer_mismatch"
            | "invalid_config"
            | "unknown_authority" => {
                "This application is not set up correctly for signing in. Please tell its \
                 operator."
            }
            "invalid_response" | "subject_mismatch" => {
                "The Authority's answer did not make sense, so it was not used."
            }
            "stale_timestamp" | "stale_timestamp_unverified" => {
                "This application's clock and the Authority's disagree, so the sign-in could not \
                 finish. Please tell the application's operator."
            }
            "not_logged_in" => "You are not signed in.",
            _ => "The sign-in failed.",
        }
    }

    /// One sentence for a person about a wire error code the Authority answered with (spec
    /// 8.2), where there is something more specific to say than "the Authority refused".
    #[must_use]
    pub fn describe_authority_code(code: &str) -> Option<&'static str> {
        Some(match code {
            "code_expired" | "session_expired" => {
                "The sign-in took too long and has expired. Please start again."
            }
            "code_reused" | "invalid_code" | "unknown_session" | "session_revoked"
            | "session_not_active" => {
                "This sign-in was already used or is no longer valid. Please start again."
            }
            "invalid_redirect_uri" | "grant_not_allowed" | "scope_not_allowed" => {
                "This application asked the Authority for something it is not registered for. \
                 Please tell its operator."
            }
            "too_many_requests" | "temporarily_unavailable" => {
                "The Authority is busy. Please try again in a minute."
            }
            "access_denied" => "You declined the request, so you are not signed in.",
            _ => return None,
        })
    }
}

/// Result alias of the Consumer library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
