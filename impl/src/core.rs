//! The sans-IO protocol core.
//!
//! Every protocol decision is a plain function of (request, stored records, `now`,
//! randomness, the Authority's keys), collected in an [`Env`]. Nothing here reads a clock,
//! touches a socket or a database: the HTTP layer (`crate::server`) parses, loads records
//! from the [`crate::store::Store`], calls these functions, persists what they return with
//! the store's atomic operations, and renders.
//!
//! Sessions follow the state machine of spec chapter 6: [`State`] is an enum of small structs
//! named for what the session expects next, and transitions consume the state they leave.

use crate::config::Config;
use crate::error::Error;
use crate::rand::{token, Random, TOKEN_BYTES};
use crate::seal::Sealer;
use crate::wire::{self, HandshakeRequest, HandshakeResponse, ReissueRequest, Ticket};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// A registered Consumer (spec 3.1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    /// `consumer_id`.
    pub id: String,
    /// The Hawk key (43 characters of base64url, used as the bytes of that string, spec 4.1).
    pub key: String,
    /// Shown on the consent page.
    pub name: String,
    /// Registered callback URLs.
    pub redirect_uris: Vec<String>,
    /// Roles this Consumer may ask about.
    pub grants: Vec<String>,
    /// Data this Consumer may ask for.
    pub scopes: Vec<String>,
    /// Whether its tickets may be delegated at all (spec 7.7).
    pub may_delegate: bool,
    /// The Consumers it may delegate to (spec 3.1, 7.7), shown on the consent page.
    #[serde(default)]
    pub delegates: Vec<String>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // spec TSR-CONV-11: the key never reaches a log
        f.debug_struct("Consumer")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .field("may_delegate", &self.may_delegate)
            .field("delegates", &self.delegates)
            .finish_non_exhaustive()
    }
}

/// Why a Consumer registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// spec 3.1: `[A-Za-z0-9_-]{1,64}`.
    #[error("consumer_id must be 1-64 characters of [A-Za-z0-9_-]")]
    BadId,
    /// spec 3.1: 1–100 characters.
    #[error("name must be 1-100 characters")]
    BadName,
    /// spec TSR-REG-2.
    #[error("redirect URI {0:?} must be absolute https (or http on a loopback host), without fragment, user-info or wildcard")]
    BadRedirectUri(String),
    /// spec TSR-CONV-8.
    #[error("grant and scope names must match [a-z][a-z0-9_.:-]{{0,63}} and not repeat")]
    BadName2,
}

impl Consumer {
    /// Checks the registration rules of spec 3.1 and TSR-REG-2.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let id_ok = (1..=64).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(RegistrationError::BadId);
        }
        if !(1..=100).contains(&self.name.chars().count()) {
            return Err(RegistrationError::BadName);
        }
        for u in &self.redirect_uris {
            if !is_registrable_redirect_uri(u) {
                return Err(RegistrationError::BadRedirectUri(u.clone()));
            }
        }
        if wire::check_names(&self.grants).is_err() || wire::check_names(&self.scopes).is_err() {
            return Err(RegistrationError::BadName2);
        }
        Ok(())
    }
}

/// spec TSR-REG-2: absolute `https`, or `http` on a loopback host; no fragment, no user-info,
/// no wildcard.
#[must_use]
pub fn is_registrable_redirect_uri(s: &str) -> bool {
    let Ok(u) = url::Url::parse(s) else {
        return false;
    };
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok = u.scheme() == "https" || (u.scheme() == "http" && loopback);
    scheme_ok
        && u.host().is_some()
        && u.fragment().is_none()
        && !s.contains('#')
        && u.username().is_empty()
        && u.password().is_none()
        && !s.contains('*')
}

/// A Subject account (spec 3.2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Internal identifier: never changes, never caller-supplied (spec TSR-REG-7).
    pub id: String,
    /// Login name.
    pub username: String,
    /// Argon2id PHC string (spec TSR-REG-6).
    pub password_hash: String,
    /// Roles held.
    pub roles: Vec<String>,
    /// Data per scope.
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// What the Subject decided, and who they are: carried by every state after consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Internal Subject id.
    pub subject_id: String,
    /// Pairwise `sub` for this Subject and this session's Consumer.
    pub sub: String,
    /// Requested grants the Subject holds (spec TSR-RESULT-8).
    pub held_grants: Vec<String>,
    /// Requested scopes the Subject left ticked (spec TSR-AUTHZ-7).
    pub granted_scopes: Vec<String>,
    /// The registered delegates the Subject let this Consumer delegate to (spec
    /// TSR-DELEGATE-5).
    #[serde(default)]
    pub delegations: Vec<String>,
}

/// `pending`: the session expects the Subject's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectConsent;

/// `authorized`: a code is out; the session expects its redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectRedemption {
    /// The Subject's decision.
    pub grant: Grant,
    /// Hash of the code ([`secret_hash`]).
    pub code_hash: String,
    /// `min(now + code TTL, session exp)` (spec TSR-CALLBACK-1).
    pub code_exp: i64,
}

/// `denied`: terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denied;

/// `active`: the session expects a refresh (or revocation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectRefresh {
    /// The Subject's decision.
    pub grant: Grant,
    /// Hash of the code this session was redeemed with (first session of a family only),
    /// kept to detect its reuse (spec TSR-RESULT-9, TSR-SESSION-7).
    pub code_hash: Option<String>,
}

/// `rotated`: refreshed away; any use is an attack (spec TSR-REFRESH-5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotated {
    /// As it was while active.
    pub grant: Grant,
    /// As it was while active.
    pub code_hash: Option<String>,
}

/// `revoked`: terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked;

/// A session's stored state (spec 6.1). `expired` is derived from the clock, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// `pending`.
    Pending(ExpectConsent),
    /// `authorized`.
    Authorized(ExpectRedemption),
    /// `denied`.
    Denied(Denied),
    /// `active`.
    Active(ExpectRefresh),
    /// `rotated`.
    Rotated(Rotated),
    /// `revoked`.
    Revoked(Revoked),
}

impl State {
    /// The spec's name of the state, as stored and compared by the store's atomic operations.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending(_) => "pending",
            Self::Authorized(_) => "authorized",
            Self::Denied(_) => "denied",
            Self::Active(_) => "active",
            Self::Rotated(_) => "rotated",
            Self::Revoked(_) => "revoked",
        }
    }
}

/// A session record (spec chapter 6). Secrets (`sid`, authorize request handle, code) are
/// stored only as hashes, so a copy of the database does not hold a live session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// [`secret_hash`] of the `sid`.
    pub sid_hash: String,
    /// The family (spec 6.2); the ticket `grant`.
    pub family: String,
    /// The Consumer that made the handshake.
    pub consumer_id: String,
    /// [`secret_hash`] of the authorize request handle; `None` for sessions made by refresh.
    pub request_hash: Option<String>,
    /// Recorded at the handshake; the only place the callback goes (spec TSR-CALLBACK-1).
    pub redirect_uri: String,
    /// Requested grants.
    pub grants: Vec<String>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The Consumer's `state`, echoed in the callback (spec TSR-HANDSHAKE-7, TSR-CALLBACK-5).
    pub callback_state: String,
    /// Expiry (spec TSR-CONV-12, TSR-SESSION-3).
    pub exp: i64,
    /// Where the session is in the state machine.
    pub state: State,
}

/// The family record (spec 6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// The family id (`fam_…`).
    pub id: String,
    /// The family's end, set by the first result (spec TSR-SESSION-5).
    pub end: Option<i64>,
    /// Whether it was revoked (spec TSR-SESSION-4).
    pub revoked: bool,
}

/// The content sealed into a ticket `id` (spec TSR-TICKET-1). Short member names keep ids
/// short; the internal Subject id travels only sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketContents {
    /// Hawk key.
    #[serde(rename = "k")]
    pub key: String,
    /// Expiry.
    #[serde(rename = "e")]
    pub exp: i64,
    /// Consumer the ticket is issued to.
    #[serde(rename = "a")]
    pub app: String,
    /// Pairwise sub.
    #[serde(rename = "u")]
    pub user: Option<String>,
    /// Scope.
    #[serde(rename = "s")]
    pub scope: Vec<String>,
    /// Family.
    #[serde(rename = "g")]
    pub grant: Option<String>,
    /// Delegating Consumer.
    #[serde(rename = "d")]
    pub dlg: Option<String>,
    /// May be delegated further.
    #[serde(rename = "x")]
    pub delegate: bool,
    /// Internal Subject id (to read its data at `GET /v1/subject`).
    #[serde(rename = "i")]
    pub subject_id: Option<String>,
    /// The delegates the Subject consented to for this family (spec TSR-DELEGATE-1).
    #[serde(rename = "l", default, skip_serializing_if = "Vec::is_empty")]
    pub delegations: Vec<String>,
    /// [`key_fingerprint`] of `app`'s Consumer key when the ticket was minted: a ticket of an
    /// older key is revoked (spec TSR-REG-8). `None` only in tickets sealed before v1.1.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub key_fingerprint: Option<String>,
}

impl std::fmt::Debug for TicketContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketContents")
            .field("exp", &self.exp)
            .field("app", &self.app)
            .field("scope", &self.scope)
            .field("grant", &self.grant)
            .field("dlg", &self.dlg)
            .finish_non_exhaustive()
    }
}

impl TicketContents {
    /// The public members (spec TSR-DATA-3).
    #[must_use]
    pub fn info(&self) -> wire::TicketInfo {
        wire::TicketInfo {
            app: self.app.clone(),
            user: self.user.clone(),
            scope: self.scope.clone(),
            exp: self.exp,
            grant: self.grant.clone(),
            dlg: self.dlg.clone(),
            delegate: self.delegate,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment and helpers
// ---------------------------------------------------------------------------------------------

/// Everything a decision may depend on besides the request and the records.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The current time (from the server's clock).
    pub now: i64,
    /// Configuration.
    pub config: &'a Config,
    /// Randomness.
    pub rng: &'a dyn Random,
    /// Ticket sealing keys.
    pub sealer: &'a Sealer,
    /// `k_pairwise` (spec TSR-REG-7).
    pub pairwise_key: &'a [u8],
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// The storage form of a secret value: unpadded base64url of SHA-256 over a domain label and
/// the value. Lookups go by this hash, so no stored secret is compared byte by byte.
#[must_use]
pub fn secret_hash(value: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"tessera-secret-v1\0");
    ctx.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(ctx.finish())
}

/// Constant-time equality (spec TSR-CONV-10).
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    crate::hawk::constant_time_eq(a, b)
}

/// The pairwise subject identifier of spec TSR-REG-7.
#[must_use]
pub fn pairwise_sub(pairwise_key: &[u8], consumer_id: &str, subject_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, pairwise_key);
    let mut msg = Vec::with_capacity(32 + consumer_id.len() + subject_id.len());
    msg.extend_from_slice(b"tessera-sub-v1\0");
    msg.extend_from_slice(consumer_id.as_bytes());
    msg.push(0);
    msg.extend_from_slice(subject_id.as_bytes());
    let mut s = URL_SAFE_NO_PAD.encode(hmac::sign(&key, &msg));
    s.truncate(22);
    s
}

/// spec TSR-HANDSHAKE-7: 22 to 128 characters of `[A-Za-z0-9_-]`.
#[must_use]
pub fn is_valid_state(s: &str) -> bool {
    (22..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_subset(small: &[String], big: &[String]) -> bool {
    small.iter().all(|s| big.contains(s))
}

/// Seals `contents` into a ticket object (spec 7.1, TSR-TICKET-1, TSR-TICKET-2).
pub fn seal_ticket(env: &Env<'_>, contents: &TicketContents) -> Result<Ticket, Error> {
    let plain = serde_json::to_vec(contents).map_err(|_| Error::Internal)?;
    let id = env.sealer.seal(&plain, env.rng).map_err(|e| {
        tracing::error!(error = %e, "sealing a ticket failed");
        Error::Internal
    })?;
    Ok(Ticket {
        id,
        key: contents.key.clone(),
        algorithm: "sha256".to_owned(),
        exp: contents.exp,
        app: contents.app.clone(),
        user: contents.user.clone(),
        scope: contents.scope.clone(),
        grant: contents.grant.clone(),
        dlg: contents.dlg.clone(),
        delegate: contents.delegate,
    })
}

/// A ticket's contents from its opened plaintext (`None`: not ticket contents). The server
/// opens ticket ids through [`crate::seal::OpenedCache`]; an id that does not open (forged,
/// altered, retired key) is reported as `invalid_credentials` (spec TSR-HAWK-6, TSR-TICKET-2).
#[must_use]
pub fn parse_ticket(plain: &[u8]) -> Option<TicketContents> {
    serde_json::from_slice(plain).ok()
}

/// A short, one-way fingerprint of a Consumer key: sealed in tickets so that replacing the key
/// ends them (spec TSR-REG-8). It reveals nothing usable about the key.
#[must_use]
pub fn key_fingerprint(key: &str) -> String {
    let mut h = secret_hash(&format!("key-fingerprint\0{key}"));
    h.truncate(16);
    h
}

/// spec TSR-REG-8: a ticket minted under a key that has since been replaced (or whose
/// Consumer is gone) is revoked.
pub fn check_ticket_key(ticket: &TicketContents, app: Option<&Consumer>) -> Result<(), Error> {
    match (&ticket.key_fingerprint, app) {
        (None, _) => Ok(()),
        (Some(f), Some(c)) if ct_eq(f.as_bytes(), key_fingerprint(&c.key).as_bytes()) => Ok(()),
        _ => Err(Error::TicketRevoked),
    }
}

fn user_ticket(
    env: &Env<'_>,
    session: &Session,
    grant: &Grant,
    consumer: &Consumer,
) -> Result<Ticket, Error> {
    // spec TSR-TICKET-4: exp = min(now + ticket TTL, session exp); user = sub; scope = granted;
    // grant = family; app = the session's Consumer. spec TSR-TICKET-3: a fresh random key.
    let contents = TicketContents {
        key: token(env.rng, TOKEN_BYTES),
        exp: (env.now + env.config.ttl.ticket).min(session.exp),
        app: session.consumer_id.clone(),
        user: Some(grant.sub.clone()),
        scope: grant.granted_scopes.clone(),
        grant: Some(session.family.clone()),
        dlg: None,
        delegate: consumer.may_delegate,
        subject_id: Some(grant.subject_id.clone()),
        delegations: grant.delegations.clone(),
        key_fingerprint: Some(key_fingerprint(&consumer.key)),
    };
    seal_ticket(env, &contents)
}

// ---------------------------------------------------------------------------------------------
// Handshake (spec 5.2)
// ---------------------------------------------------------------------------------------------

/// What a successful handshake creates: the session to store and the response to send.
#[derive(Debug)]
pub struct NewSession {
    /// The pending session.
    pub session: Session,
    /// The response (carries the raw `sid`).
    pub response: HandshakeResponse,
}

/// `POST /v1/handshake` (spec 5.2).
pub fn handshake(
    env: &Env<'_>,
    consumer: &Consumer,
    req: HandshakeRequest,
) -> Result<NewSession, Error> {
    // spec TSR-CONV-8
    wire::check_names(&req.grants)?;
    wire::check_names(&req.scopes)?;
    // spec TSR-HANDSHAKE-7
    if !is_valid_state(&req.state) {
        return Err(Error::invalid_request(
            "state must be 22 to 128 characters of [A-Za-z0-9_-]",
        ));
    }
    // spec TSR-HANDSHAKE-1, TSR-REG-3: exact string equality
    if !consumer
        .redirect_uris
        .iter()
        .any(|u| u == &req.redirect_uri)
    {
        return Err(Error::InvalidRedirectUri);
    }
    // spec TSR-HANDSHAKE-2
    if !is_subset(&req.grants, &consumer.grants) {
        return Err(Error::GrantNotAllowed);
    }
    if !is_subset(&req.scopes, &consumer.scopes) {
        return Err(Error::ScopeNotAllowed);
    }
    // spec TSR-HANDSHAKE-4, TSR-CONV-9
    let sid = token(env.rng, TOKEN_BYTES);
    let request = token(env.rng, TOKEN_BYTES);
    let family = format!("fam_{}", token(env.rng, TOKEN_BYTES));
    let exp = env.now + env.config.ttl.authorize;
    // spec TSR-HANDSHAKE-5: the authorize URL carries only the request handle
    let authorize_url = format!(
        "{}?request={request}",
        env.config.issuer.endpoint("/authorize")
    );
    Ok(NewSession {
        session: Session {
            sid_hash: secret_hash(&sid),
            family,
            consumer_id: consumer.id.clone(),
            request_hash: Some(secret_hash(&request)),
            redirect_uri: req.redirect_uri,
            grants: req.grants,
            scopes: req.scopes,
            callback_state: req.state,
            exp,
            state: State::Pending(ExpectConsent),
        },
        response: HandshakeResponse {
            sid,
            authorize_url,
            exp,
            // spec TSR-HANDSHAKE-6
            iss: env.config.issuer.as_str().to_owned(),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The authorize pages (spec 5.3, 5.4)
// ---------------------------------------------------------------------------------------------

/// Why an authorize request cannot be shown or decided (spec TSR-AUTHZ-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeProblem {
    /// No `request`, or an unknown one.
    Unknown,
    /// Past its `exp`.
    Expired,
    /// Already decided (or its family revoked).
    Decided,
}

impl AuthorizeProblem {
    /// Words for the error page.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => "This sign-in link is not valid.",
            Self::Expired => {
                "This sign-in link has expired. Go back to the application and start again."
            }
            Self::Decided => "This sign-in request was already answered.",
        }
    }
}

/// spec TSR-AUTHZ-1: an authorize request is usable only while `pending` and unexpired.
pub fn check_authorize_request(
    now: i64,
    session: Option<&Session>,
) -> Result<(), AuthorizeProblem> {
    let s = session.ok_or(AuthorizeProblem::Unknown)?;
    if !matches!(s.state, State::Pending(_)) {
        return Err(AuthorizeProblem::Decided);
    }
    // spec TSR-CONV-12
    if now >= s.exp {
        return Err(AuthorizeProblem::Expired);
    }
    Ok(())
}

/// The Subject's answer on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// *Allow*, with the scopes and delegates left ticked.
    Allow {
        /// Scopes left ticked.
        scopes: Vec<String>,
        /// Registered delegates left ticked (spec TSR-DELEGATE-5).
        delegates: Vec<String>,
    },
    /// *Deny*.
    Deny,
}

/// The outcome of a decision: the new state to store, and where the browser goes.
#[derive(Debug)]
pub struct Decided {
    /// `authorized` or `denied`.
    pub state: State,
    /// The callback URL (spec 5.4).
    pub redirect: String,
}

impl ExpectConsent {
    /// The Subject decides (spec TSR-AUTHZ-3, TSR-AUTHZ-7, TSR-CALLBACK-1..4). Consumes the
    /// pending state. A ticked scope that was not requested is refused (`invalid_request`),
    /// so nothing wider than the request is ever recorded.
    pub fn decide(
        self,
        env: &Env<'_>,
        session: &Session,
        subject: &Subject,
        consumer_delegates: &[String],
        decision: Decision,
    ) -> Result<Decided, Error> {
        let iss = encode_component(env.config.issuer.as_str());
        // spec TSR-CALLBACK-5: the handshake's state, unchanged (its characters need no encoding)
        let state = encode_component(&session.callback_state);
        let sep = if session.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        match decision {
            Decision::Deny => Ok(Decided {
                // spec TSR-CALLBACK-4, TSR-CALLBACK-2, TSR-CALLBACK-3
                state: State::Denied(Denied),
                redirect: format!(
                    "{}{sep}error=access_denied&state={state}&iss={iss}",
                    session.redirect_uri
                ),
            }),
            Decision::Allow { scopes, delegates } => {
                // spec TSR-AUTHZ-7: never more than requested
                if !is_subset(&scopes, &session.scopes) {
                    return Err(Error::invalid_request("a ticked scope was not requested"));
                }
                wire::check_names(&scopes)?;
                // keep the order of the request
                let granted_scopes: Vec<String> = session
                    .scopes
                    .iter()
                    .filter(|s| scopes.contains(s))
                    .cloned()
                    .collect();
                let held_grants: Vec<String> = session
                    .grants
                    .iter()
                    .filter(|g| subject.roles.contains(g))
                    .cloned()
                    .collect();
                // spec TSR-CALLBACK-1: fresh code, exp = min(now + code TTL, session exp)
                let code = token(env.rng, TOKEN_BYTES);
                let grant = Grant {
                    subject_id: subject.id.clone(),
                    // spec TSR-RESULT-10, TSR-REG-7
                    sub: pairwise_sub(env.pairwise_key, &session.consumer_id, &subject.id),
                    held_grants,
                    granted_scopes,
                    // spec TSR-DELEGATE-5: only registered delegates the Subject ticked
                    delegations: consumer_delegates
                        .iter()
                        .filter(|d| delegates.contains(d))
                        .cloned()
                        .collect(),
                };
                Ok(Decided {
                    state: State::Authorized(ExpectRedemption {
                        grant,
                        code_hash: secret_hash(&code),
                        code_exp: (env.now + env.config.ttl.code).min(session.exp),
                    }),
                    // spec TSR-CALLBACK-1..3, TSR-CALLBACK-5: only code, state and iss, to the
                    // recorded redirect_uri
                    redirect: format!(
                        "{}{sep}code={code}&state={state}&iss={iss}",
                        session.redirect_uri
                    ),
                })
            }
        }
    }
}

/// Percent-encodes a query component (everything but unreserved characters).
#[must_use]
pub fn encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

// ---------------------------------------------------------------------------------------------
// Result (spec 5.5)
// ---------------------------------------------------------------------------------------------

/// The core's answer to `POST /v1/result`.
// One value per request, moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ResultOutcome {
    /// Redeem: store `session` (now `active`) if it is still `authorized`, start the family
    /// with `family_end`, answer `response`.
    Redeem {
        /// The session, moved to `active`.
        session: Session,
        /// The family's end (spec TSR-RESULT-7).
        family_end: i64,
        /// The response.
        response: wire::ResultResponse,
    },
    /// Refuse and change nothing.
    Refuse(Error),
    /// Refuse and revoke `family` (spec TSR-RESULT-9).
    RefuseAndRevoke(Error, String),
}

impl ExpectRedemption {
    /// Redeems the code (spec TSR-RESULT-4..8). Consumes the authorized state; on `Err` the
    /// caller stores nothing, so the session stays as it was.
    pub fn redeem(self, env: &Env<'_>, code: &str) -> Result<(ExpectRefresh, i64, i64), Error> {
        // spec TSR-RESULT-4 (constant-time comparison of hashes, TSR-CONV-10)
        if !ct_eq(secret_hash(code).as_bytes(), self.code_hash.as_bytes()) {
            return Err(Error::InvalidCode);
        }
        // spec TSR-RESULT-5, TSR-CONV-12
        if env.now >= self.code_exp {
            return Err(Error::CodeExpired);
        }
        // spec TSR-RESULT-7
        let family_end = env.now + env.config.ttl.family;
        let exp = (env.now + env.config.ttl.session).min(family_end);
        Ok((
            ExpectRefresh {
                grant: self.grant,
                code_hash: Some(self.code_hash),
            },
            exp,
            family_end,
        ))
    }
}

/// `POST /v1/result` (spec 5.5), given the session the `sid` names (if any).
///
/// spec TSR-RESULT-12: a code issued for another session is `invalid_code` for the named one
/// and changes nothing anywhere (v1's burn, TSR-RESULT-11, is withdrawn): an honest Consumer
/// never presents it, because it matches the callback's `state` first (TSR-CONSUMER-13).
pub fn result(
    env: &Env<'_>,
    consumer: &Consumer,
    session: Option<Session>,
    req: &wire::ResultRequest,
) -> ResultOutcome {
    use ResultOutcome::{Refuse, RefuseAndRevoke};
    // spec TSR-RESULT-1
    let Some(session) = session.filter(|s| s.consumer_id == consumer.id) else {
        return Refuse(Error::UnknownSession);
    };
    // spec TSR-SESSION-1, TSR-RESULT-2: revocation first, then expiry
    if matches!(session.state, State::Revoked(_)) {
        return Refuse(Error::SessionRevoked);
    }
    if env.now >= session.exp {
        return Refuse(Error::SessionExpired);
    }
    match session.state.clone() {
        // spec TSR-RESULT-3
        State::Pending(_) => Refuse(Error::AuthorizationPending),
        State::Denied(_) => Refuse(Error::AccessDenied),
        State::Revoked(_) => Refuse(Error::SessionRevoked),
        // spec TSR-RESULT-9
        State::Active(ExpectRefresh { code_hash, .. })
        | State::Rotated(Rotated { code_hash, .. }) => {
            let presented = secret_hash(&req.code);
            match code_hash {
                Some(h) if ct_eq(h.as_bytes(), presented.as_bytes()) => {
                    RefuseAndRevoke(Error::CodeReused, session.family)
                }
                _ => Refuse(Error::InvalidCode),
            }
        }
        State::Authorized(waiting) => {
            let grant = waiting.grant.clone();
            match waiting.redeem(env, &req.code) {
                Err(e) => Refuse(e),
                Ok((active, exp, family_end)) => {
                    let mut next = session;
                    next.exp = exp;
                    next.state = State::Active(active);
                    let ticket = match user_ticket(env, &next, &grant, consumer) {
                        Ok(t) => t,
                        Err(e) => return Refuse(e),
                    };
                    // spec TSR-RESULT-8: exactly the requested names as members
                    let grants = next
                        .grants
                        .iter()
                        .map(|g| (g.clone(), grant.held_grants.contains(g)))
                        .collect::<BTreeMap<_, _>>();
                    let scopes = next
                        .scopes
                        .iter()
                        .map(|s| (s.clone(), grant.granted_scopes.contains(s)))
                        .collect::<BTreeMap<_, _>>();
                    ResultOutcome::Redeem {
                        response: wire::ResultResponse {
                            sub: grant.sub,
                            grants,
                            scopes,
                            exp,
                            ticket,
                        },
                        session: next,
                        family_end,
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh (spec 6.3) and revoke (spec 6.4)
// ---------------------------------------------------------------------------------------------

/// The core's answer to `POST /v1/refresh`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RefreshOutcome {
    /// Atomically move `old_sid_hash` from `active` to `rotated` and store `new`.
    Rotate {
        /// The old session's hash.
        old_sid_hash: String,
        /// The old session's state once rotated.
        rotated: State,
        /// The new active session.
        new: Session,
        /// The response.
        response: wire::RefreshResponse,
    },
    /// Refuse and change nothing.
    Refuse(Error),
    /// Refuse and revoke `family` (spec TSR-REFRESH-5).
    RefuseAndRevoke(Error, String),
}

impl ExpectRefresh {
    /// Rotation (spec TSR-REFRESH-3): consumes the active state, yields the rotated state of
    /// the old session and the active state of the new one (same grant, no code).
    #[must_use]
    pub fn rotate(self) -> (Rotated, ExpectRefresh) {
        let new = ExpectRefresh {
            grant: self.grant.clone(),
            code_hash: None,
        };
        (
            Rotated {
                grant: self.grant,
                code_hash: self.code_hash,
            },
            new,
        )
    }
}

/// `POST /v1/refresh` (spec 6.3), given the session and its family.
pub fn refresh(
    env: &Env<'_>,
    consumer: &Consumer,
    session: Option<Session>,
    family: Option<&Family>,
    sid: &str,
) -> RefreshOutcome {
    use RefreshOutcome::{Refuse, RefuseAndRevoke};
    // spec TSR-REFRESH-1
    let Some(session) = session.filter(|s| s.consumer_id == consumer.id) else {
        return Refuse(Error::UnknownSession);
    };
    // spec TSR-SESSION-1: revocation, then expiry
    if matches!(session.state, State::Revoked(_)) || family.is_some_and(|f| f.revoked) {
        return Refuse(Error::SessionRevoked);
    }
    if env.now >= session.exp {
        return Refuse(Error::SessionExpired);
    }
    match session.state.clone() {
        // spec TSR-REFRESH-2
        State::Pending(_) | State::Authorized(_) | State::Denied(_) => {
            Refuse(Error::SessionNotActive)
        }
        State::Revoked(_) => Refuse(Error::SessionRevoked),
        // spec TSR-REFRESH-5
        State::Rotated(_) => RefuseAndRevoke(Error::SessionReused, session.family),
        State::Active(active) => {
            let Some(family_end) = family.and_then(|f| f.end) else {
                tracing::error!("active session without a started family");
                return Refuse(Error::Internal);
            };
            // spec TSR-REFRESH-3, TSR-REFRESH-6, TSR-SESSION-5
            let new_sid = token(env.rng, TOKEN_BYTES);
            let grant = active.grant.clone();
            let (rotated, fresh) = active.rotate();
            let new = Session {
                sid_hash: secret_hash(&new_sid),
                family: session.family.clone(),
                consumer_id: session.consumer_id.clone(),
                request_hash: None,
                redirect_uri: session.redirect_uri.clone(),
                grants: session.grants.clone(),
                scopes: session.scopes.clone(),
                callback_state: session.callback_state.clone(),
                exp: (env.now + env.config.ttl.session).min(family_end),
                state: State::Active(fresh),
            };
            let ticket = match user_ticket(env, &new, &grant, consumer) {
                Ok(t) => t,
                Err(e) => return Refuse(e),
            };
            RefreshOutcome::Rotate {
                old_sid_hash: session.sid_hash,
                rotated: State::Rotated(rotated),
                response: wire::RefreshResponse {
                    previous_sid: sid.to_owned(),
                    sid: new_sid,
                    exp: new.exp,
                    ticket,
                },
                new,
            }
        }
    }
}

/// `POST /v1/revoke` (spec 6.4): the family to revoke, if any. spec TSR-REVOKE-1: any state
/// of a session of this Consumer; spec TSR-REVOKE-2: unknown, another Consumer's or already
/// revoked changes nothing (the answer is `200 {}` either way).
#[must_use]
pub fn revoke(
    consumer: &Consumer,
    session: Option<&Session>,
    family: Option<&Family>,
) -> Option<String> {
    let s = session.filter(|s| s.consumer_id == consumer.id)?;
    if matches!(s.state, State::Revoked(_)) || family.is_some_and(|f| f.revoked) {
        return None;
    }
    Some(s.family.clone())
}

// ---------------------------------------------------------------------------------------------
// Tickets (spec chapter 7)
// ---------------------------------------------------------------------------------------------

/// spec TSR-SESSION-1 order for ticket use: revocation, then expiry (TSR-TICKET-6, TSR-TICKET-5).
pub fn check_ticket(now: i64, ticket: &TicketContents, family_revoked: bool) -> Result<(), Error> {
    if family_revoked {
        return Err(Error::TicketRevoked);
    }
    if now >= ticket.exp {
        return Err(Error::TicketExpired);
    }
    Ok(())
}

/// `POST /v1/app-ticket` (spec 7.4, TSR-APP-1).
pub fn app_ticket(env: &Env<'_>, consumer: &Consumer) -> Result<Ticket, Error> {
    seal_ticket(
        env,
        &TicketContents {
            key: token(env.rng, TOKEN_BYTES),
            exp: env.now + env.config.ttl.app_ticket,
            app: consumer.id.clone(),
            user: None,
            scope: Vec::new(),
            grant: None,
            dlg: None,
            delegate: consumer.may_delegate,
            subject_id: None,
            delegations: Vec::new(),
            key_fingerprint: Some(key_fingerprint(&consumer.key)),
        },
    )
}

/// `POST /v1/reissue` (spec 7.5): a narrower or shorter copy, for the same `app`, `dlg`,
/// `user` and family (spec TSR-REISSUE-7). Delegation is [`delegate`] and [`exchange`].
pub fn reissue(
    env: &Env<'_>,
    parent: &TicketContents,
    req: &ReissueRequest,
) -> Result<Ticket, Error> {
    let scope = match &req.scope {
        Some(s) => {
            wire::check_names(s)?;
            // spec TSR-REISSUE-1, TSR-TICKET-9
            if !is_subset(s, &parent.scope) {
                return Err(Error::ScopeNotAllowed);
            }
            s.clone()
        }
        None => parent.scope.clone(),
    };
    // spec TSR-REISSUE-2
    let ttl = req.ttl.unwrap_or(env.config.ttl.ticket);
    if !(1..=env.config.ttl.ticket).contains(&ttl) {
        return Err(Error::invalid_request(
            "ttl must be between 1 and the ticket TTL",
        ));
    }
    // spec TSR-REISSUE-6: fresh key; same grant, so it dies with the family
    let contents = TicketContents {
        key: token(env.rng, TOKEN_BYTES),
        exp: (env.now + ttl).min(parent.exp),
        scope,
        ..parent.clone()
    };
    seal_ticket(env, &contents)
}

// ---------------------------------------------------------------------------------------------
// Delegation by token exchange (spec 7.7)

/// Lifetime of a delegation grant (spec TSR-DELEGATE-4).
pub const DELEGATION_GRANT_TTL: i64 = 60;

/// What a delegation grant stands for, kept by the Authority until it is exchanged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delegation {
    /// The delegate it is for (spec TSR-DELEGATE-3).
    pub delegate: String,
    /// When the grant expires (spec TSR-DELEGATE-4).
    pub exp: i64,
    /// The delegated ticket to mint, less its key and expiry.
    pub ticket: TicketContents,
}

/// The storage name of a delegation grant (its hash: the store never holds the grant).
#[must_use]
pub fn delegation_name(grant: &str) -> String {
    format!("delegation:{}", secret_hash(grant))
}

/// `POST /v1/delegate` (spec 7.7): checks consent and registration and returns the grant to
/// hand to the delegate and the record to keep under [`delegation_name`].
pub fn delegate(
    env: &Env<'_>,
    parent: &TicketContents,
    delegator: Option<&Consumer>,
    target: Option<&Consumer>,
    req: &wire::DelegateRequest,
) -> Result<(wire::DelegateResponse, Delegation), Error> {
    let (Some(_), Some(subject_id)) = (&parent.user, &parent.subject_id) else {
        // an app ticket has no Subject to act for
        return Err(Error::DelegationNotAllowed);
    };
    if let Some(s) = &req.scope {
        wire::check_names(s)?;
    }
    // spec TSR-DELEGATE-1: a registered Consumer ...
    let Some(target) = target.filter(|t| t.id == req.delegate) else {
        return Err(Error::UnknownConsumer);
    };
    // ... registered as this delegator's delegate, consented to by the Subject, and the
    // parent not itself delegated
    let registered = delegator
        .is_some_and(|c| c.id == parent.app && c.may_delegate && c.delegates.contains(&target.id));
    if !registered
        || !parent.delegate
        || parent.dlg.is_some()
        || !parent.delegations.contains(&target.id)
    {
        return Err(Error::DelegationNotAllowed);
    }
    // spec TSR-DELEGATE-1: delegator's ticket scope ∩ delegate's registration ∩ consent
    // (the Subject's consent for the family is the parent's scope) ∩ the request
    let scope: Vec<String> = parent
        .scope
        .iter()
        .filter(|s| target.scopes.contains(s))
        .filter(|s| req.scope.as_ref().is_none_or(|r| r.contains(s)))
        .cloned()
        .collect();
    let grant = token(env.rng, TOKEN_BYTES);
    let exp = env.now + DELEGATION_GRANT_TTL;
    let ticket = TicketContents {
        key: String::new(),
        exp: parent.exp,
        app: target.id.clone(),
        // spec TSR-DELEGATE-2: the delegate's own pairwise sub
        user: Some(pairwise_sub(env.pairwise_key, &target.id, subject_id)),
        scope,
        grant: parent.grant.clone(),
        dlg: Some(parent.app.clone()),
        delegate: false,
        subject_id: Some(subject_id.clone()),
        delegations: Vec::new(),
        // spec TSR-REG-8: dies with the delegate's key
        key_fingerprint: Some(key_fingerprint(&target.key)),
    };
    Ok((
        wire::DelegateResponse {
            grant,
            delegate: target.id.clone(),
            exp,
        },
        Delegation {
            delegate: target.id.clone(),
            exp,
            ticket,
        },
    ))
}

/// `POST /v1/exchange` (spec 7.7): `taken` is the record the grant named, already removed
/// from the store (single use, spec TSR-DELEGATE-4); `family_revoked` whether the delegator's
/// family has ended.
pub fn exchange(
    env: &Env<'_>,
    caller: &Consumer,
    taken: Option<Delegation>,
    family_revoked: bool,
) -> Result<Ticket, Error> {
    let Some(d) = taken else {
        return Err(Error::InvalidGrant);
    };
    // spec TSR-DELEGATE-3, TSR-DELEGATE-4 (TSR-CONV-12)
    if d.delegate != caller.id || env.now >= d.exp || family_revoked {
        return Err(Error::InvalidGrant);
    }
    // spec TSR-DELEGATE-3: a fresh key, returned only to the delegate
    let contents = TicketContents {
        key: token(env.rng, TOKEN_BYTES),
        exp: (env.now + env.config.ttl.ticket).min(d.ticket.exp),
        ..d.ticket
    };
    seal_ticket(env, &contents)
}

/// `GET /v1/subject` (spec 7.6, TSR-APP-2, TSR-DATA-1, TSR-DATA-2).
pub fn subject_data(
    ticket: &TicketContents,
    subject: Option<&Subject>,
) -> Result<serde_json::Value, Error> {
    let (Some(user), Some(_)) = (&ticket.user, &ticket.subject_id) else {
        return Err(Error::InsufficientScope);
    };
    let Some(subject) = subject else {
        // The account was deleted after the ticket was issued.
        return Err(Error::TicketRevoked);
    };
    let mut out = serde_json::Map::new();
    out.insert("sub".to_owned(), serde_json::Value::String(user.clone()));
    for scope in &ticket.scope {
        // `sub` is always the ticket's user, never data a scope could replace
        if scope == "sub" {
            continue;
        }
        if let Some(v) = subject.data.get(scope) {
            out.insert(scope.clone(), v.clone());
        }
    }
    Ok(serde_json::Value::Object(out))
}
