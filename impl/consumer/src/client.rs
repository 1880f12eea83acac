//! The framework-independent Consumer: handshake, callback, result, refresh, revoke, Subject
//! data — every request Hawk-signed and every response's `Server-Authorization` verified.

use super::authority::{check_issuer, AuthorityConfig, Endpoints, Registration, WELL_KNOWN_PATH};
use super::error::{Error, Result};
use super::pending::PendingLogin;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_protocol::clock::{Clock, SystemClock};
use tessera_protocol::hawk::{self, Artifacts, Credentials, Payload};
use tessera_protocol::rand::{Random, SystemRandom};
use tessera_protocol::wire::{
    HandshakeRequest, HandshakeResponse, Metadata, RefreshResponse, ResultRequest, ResultResponse,
    SidRequest, Ticket, TicketInfo,
};

const JSON: &str = "application/json";

/// Bytes of randomness in a `state` (spec TSR-CONSUMER-13: at least 128 bits).
const STATE_BYTES: usize = 16;

/// A logged-in Subject as this Consumer knows it: identify it by [`Login::subject_id`], the pair
/// (issuer, `sub`), never by `sub` alone (spec TSR-CONSUMER-10).
///
/// Holds secrets (the `sid` and the ticket's key): keep it on the server side.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The issuer of the Authority that vouched for the Subject.
    pub issuer: String,
    /// The pairwise Subject identifier at that Authority.
    pub sub: String,
    /// The Authority session id, for refresh and revoke (replaced at each refresh).
    pub sid: String,
    /// When the Authority session expires (Authority time).
    pub exp: i64,
    /// For each requested grant, whether the Subject holds that role.
    pub grants: BTreeMap<String, bool>,
    /// For each requested scope, whether the Subject granted it.
    pub scopes: BTreeMap<String, bool>,
    /// The user ticket for the Subject data API.
    pub ticket: Ticket,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("issuer", &self.issuer)
            .field("sub", &self.sub)
            .field("sid", &"<redacted>")
            .field("exp", &self.exp)
            .field("grants", &self.grants)
            .field("scopes", &self.scopes)
            .field("ticket.scope", &self.ticket.scope)
            .field("ticket.exp", &self.ticket.exp)
            .finish_non_exhaustive()
    }
}

/// The identity of a logged-in Subject: (issuer, `sub`) (spec TSR-CONSUMER-10).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubjectId {
    /// The Authority's issuer.
    pub issuer: String,
    /// The pairwise `sub` at that Authority.
    pub sub: String,
}

impl Login {
    /// The Subject's identity (spec TSR-CONSUMER-10).
    #[must_use]
    pub fn subject_id(&self) -> SubjectId {
        SubjectId {
            issuer: self.issuer.clone(),
            sub: self.sub.clone(),
        }
    }
}

/// The start of a login: keep `pending` server-side under the browser's session and send the
/// browser (303) to `authorize_url`.
#[derive(Debug, Clone)]
pub struct LoginStart {
    /// What the callback needs; secret.
    pub pending: PendingLogin,
    /// Where to send the browser (carries no `sid`, spec TSR-HANDSHAKE-5).
    pub authorize_url: String,
}

/// The query parameters of a callback (spec 5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    /// The one-time code, on success.
    pub code: Option<String>,
    /// `access_denied` (or another error), on denial.
    pub error: Option<String>,
    /// The issuer that sent the browser here (spec TSR-CALLBACK-2).
    pub iss: Option<String>,
    /// The `state` of the login this callback answers (spec TSR-CALLBACK-5).
    pub state: Option<String>,
}

impl CallbackParams {
    /// Parses a callback's query string (without `?`). A parameter given twice is refused;
    /// unknown parameters are ignored.
    pub fn from_query(query: &str) -> Result<Self> {
        let mut p = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*k {
                "code" => &mut p.code,
                "error" => &mut p.error,
                "iss" => &mut p.iss,
                "state" => &mut p.state,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::MalformedCallback("a parameter appears twice"));
            }
            *slot = Some(v.into_owned());
        }
        Ok(p)
    }
}

struct AuthorityState {
    config: AuthorityConfig,
    /// Authority clock − our clock, learned from verified stale-timestamp replies
    /// (spec TSR-HAWK-8).
    offset: AtomicI64,
}

/// A Tessera Consumer: the Authorities it uses, an HTTP client, randomness and a clock.
///
/// Cheap to clone (shared state). Framework-independent: pending logins are plain values
/// ([`PendingLogin`]) that the caller keeps per browser session (see
/// [`super::PendingStore`]); the axum integration ([`super::web`]) does that for you.
#[derive(Clone)]
pub struct Consumer {
    authorities: Arc<Vec<AuthorityState>>,
    http: reqwest::Client,
    rng: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    refreshes: Arc<Refreshes>,
}

/// How long the outcome of a refresh is kept for late duplicates of it (a double submit that
/// arrives after the first request has finished), and how many are kept at most.
const REFRESH_REMEMBERED_SECONDS: i64 = 60;
const REFRESH_REMEMBERED_MAX: usize = 10_000;

type RefreshCell = Arc<tokio::sync::OnceCell<Result<Login>>>;

/// Single-flight refresh (spec TSR-CONSUMER-15): one refresh request per refreshed `sid`,
/// whose outcome every concurrent (and, for a minute, every later) refresh of that `sid` shares.
#[derive(Default)]
struct Refreshes(std::sync::Mutex<std::collections::HashMap<String, (i64, RefreshCell)>>);

impl Refreshes {
    /// The cell for `sid`: the one in flight or recently finished, or a new one.
    fn cell(&self, sid: &str, now: i64) -> RefreshCell {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.retain(|_, (started, _)| now - *started < REFRESH_REMEMBERED_SECONDS);
        if m.len() >= REFRESH_REMEMBERED_MAX && !m.contains_key(sid) {
            if let Some(oldest) = m
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.entry(sid.to_owned())
            .or_insert_with(|| (now, Arc::default()))
            .1
            .clone()
    }

    /// Drops `cell` for `sid` (if it is still the one there).
    fn forget(&self, sid: &str, cell: &RefreshCell) {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.get(sid).is_some_and(|(_, c)| Arc::ptr_eq(c, cell)) {
            m.remove(sid);
        }
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("issuers", &self.issuers())
            .finish_non_exhaustive()
    }
}

/// The library's default HTTP client: no redirects (a signed request is never re-sent
/// elsewhere), 30 s timeout.
#[must_use]
pub fn default_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

impl Consumer {
    /// A Consumer for `authorities` (at least one; issuers must differ), with the system's
    /// randomness and clock. The first Authority is the default one.
    pub fn new(authorities: Vec<AuthorityConfig>) -> Result<Self> {
        if authorities.is_empty() {
            return Err(Error::InvalidConfig("no Authority configured".into()));
        }
        let mut seen = BTreeSet::new();
        for a in &authorities {
            if !seen.insert(a.issuer().to_owned()) {
                return Err(Error::InvalidConfig(format!(
                    "issuer {} configured twice",
                    a.issuer()
                )));
            }
        }
        Ok(Self {
            authorities: Arc::new(
                authorities
                    .into_iter()
                    .map(|config| AuthorityState {
                        config,
                        offset: AtomicI64::new(0),
                    })
                    .collect(),
            ),
            http: default_http_client(),
            rng: Arc::new(SystemRandom::new()),
            clock: Arc::new(SystemClock),
            refreshes: Arc::default(),
        })
    }

    /// Uses `rng` for `state` values and Hawk nonces (tests pass a seeded one).
    #[must_use]
    pub fn with_random(mut self, rng: Arc<dyn Random>) -> Self {
        self.rng = rng;
        self
    }

    /// Uses `clock` for Hawk timestamps and pending-login expiry.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `http` for every request. Disable redirects on it.
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The configured issuers, the default first.
    #[must_use]
    pub fn issuers(&self) -> Vec<&str> {
        self.authorities.iter().map(|a| a.config.issuer()).collect()
    }

    /// The configuration of the Authority with this issuer.
    #[must_use]
    pub fn authority(&self, issuer: &str) -> Option<&AuthorityConfig> {
        self.state(issuer).ok().map(|a| &a.config)
    }

    /// The randomness source (the axum integration draws session ids from it).
    #[must_use]
    pub fn random(&self) -> &dyn Random {
        &*self.rng
    }

    /// The clock.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    fn state(&self, issuer: &str) -> Result<&AuthorityState> {
        self.authorities
            .iter()
            .find(|a| a.config.issuer() == issuer)
            .ok_or_else(|| Error::UnknownAuthority(issuer.to_owned()))
    }

    /// Fetches `metadata_url` (the well-known document, or just the issuer) and configures
    /// the Authority from it. spec TSR-META-1: the document's `issuer` must be the URL less
    /// the well-known path, and every endpoint must lie under it.
    pub async fn discover(
        http: &reqwest::Client,
        metadata_url: &str,
        registration: Registration,
    ) -> Result<AuthorityConfig> {
        let (issuer, url) = match metadata_url.strip_suffix(WELL_KNOWN_PATH) {
            Some(i) => (i.to_owned(), metadata_url.to_owned()),
            None => {
                let i = metadata_url.trim_end_matches('/').to_owned();
                let u = format!("{i}{WELL_KNOWN_PATH}");
                (i, u)
            }
        };
        let issuer = check_issuer(&issuer)?;
        let resp = http
            .get(&url)
            .header("accept", JSON)
            .send()
            .await
            .map_err(transport)?;
        if !resp.status().is_success() {
            return Err(Error::MetadataInvalid(format!(
                "GET {url} answered {}",
                resp.status().as_u16()
            )));
        }
        let body = resp.bytes().await.map_err(transport)?;
        let m: Metadata = serde_json::from_slice(&body)
            .map_err(|e| Error::MetadataInvalid(format!("not a metadata document: {e}")))?;
        let endpoints = super::authority::Endpoints::from_metadata(&issuer, &m)?;
        AuthorityConfig::with_endpoints(endpoints, registration)
    }

    // ---------------------------------------------------------------------------------------
    // Login

    /// Starts a login with the Authority `issuer` (or the default one): a fresh 128-bit `state`
    /// (spec TSR-CONSUMER-13) sent in a Hawk-signed handshake (TSR-HANDSHAKE-7).
    ///
    /// Keep the returned [`LoginStart::pending`] server-side under the browser's session
    /// (spec TSR-CONSUMER-2) and redirect the browser to [`LoginStart::authorize_url`].
    pub async fn begin_login(&self, issuer: Option<&str>) -> Result<LoginStart> {
        let a = match issuer {
            Some(i) => self.state(i)?,
            None => &self.authorities[0],
        };
        let reg = &a.config.registration;
        let started = self.clock.now();
        // spec TSR-CONSUMER-13: 16 random bytes (128 bits), 22 characters of base64url.
        let state = tessera_protocol::rand::token(&*self.rng, STATE_BYTES);
        let req = HandshakeRequest {
            redirect_uri: reg.redirect_uri.clone(),
            grants: reg.grants.clone(),
            scopes: reg.scopes.clone(),
            state: state.clone(),
        };
        let (status, body) = self
            .consumer_post(a, &a.config.endpoints.handshake, &req)
            .await?;
        let hs: HandshakeResponse = decode(status, &body)?;
        // spec TSR-HANDSHAKE-6: the answer names the Authority we asked.
        if hs.iss != a.config.issuer() {
            return Err(Error::InvalidResponse(format!(
                "handshake iss {} is not {}",
                hs.iss,
                a.config.issuer()
            )));
        }
        // spec TSR-META-1: the authorize page lies under the issuer; never send the browser
        // elsewhere.
        if !hs
            .authorize_url
            .starts_with(&format!("{}/", a.config.issuer()))
        {
            return Err(Error::InvalidResponse(
                "authorize_url is not under the issuer".into(),
            ));
        }
        if hs.sid.is_empty() || hs.authorize_url.contains(&hs.sid) {
            // spec TSR-HANDSHAKE-5: the sid never enters a browser.
            return Err(Error::InvalidResponse(
                "empty sid, or the sid appears in authorize_url".into(),
            ));
        }
        let offset = a.offset.load(Ordering::SeqCst);
        Ok(LoginStart {
            pending: PendingLogin {
                issuer: a.config.issuer().to_owned(),
                sid: hs.sid,
                state,
                started,
                exp: hs.exp.saturating_sub(offset),
                grants: reg.grants.clone(),
                scopes: reg.scopes.clone(),
            },
            authorize_url: hs.authorize_url,
        })
    }

    /// Completes a login from its callback. `pending` is what the caller **took** (removed)
    /// from its store for the browser session the callback arrived in and the callback's
    /// `state` ([`CallbackParams::state`], [`super::PendingStore::take`]) — `None` when there
    /// was none. Taking it before calling this makes each pending login single-use whatever the
    /// outcome (spec TSR-CONSUMER-6).
    ///
    /// Checks, in order, each refusing without any request to an Authority until the result
    /// request: the callback has a `state` and a pending login with exactly that `state` exists
    /// (TSR-CONSUMER-3, TSR-CONSUMER-13: a code for a flow this browser did not start never
    /// reaches the back channel); `iss` is present and exactly the
    /// pending login's issuer (TSR-CONSUMER-4); a denial is reported as
    /// [`Error::AccessDenied`] (TSR-CONSUMER-12); the pending login has not expired. Then the
    /// result request goes to that Authority's result endpoint with the pending `sid`
    /// (TSR-CONSUMER-5), its `Server-Authorization` is verified (TSR-HAWK-13) and the
    /// result's shape checked (TSR-CONSUMER-7).
    pub async fn complete_login(
        &self,
        pending: Option<PendingLogin>,
        callback: &CallbackParams,
    ) -> Result<Login> {
        let state = callback
            .state
            .as_deref()
            .ok_or(Error::MalformedCallback("no state parameter"))?;
        // spec TSR-CONSUMER-3, TSR-CONSUMER-13: a pending login of this browser session, for
        // the flow this callback answers (checked here too, whatever the caller's store did).
        let pending = pending
            .filter(|p| p.has_state(state))
            .ok_or(Error::NoPendingLogin)?;
        // spec TSR-CONSUMER-4: iss present and exactly the pending Authority's.
        let iss = callback.iss.as_deref().ok_or(Error::MissingIssuer)?;
        if iss != pending.issuer {
            return Err(Error::IssuerMismatch {
                expected: pending.issuer,
                // Printable ASCII only: the value is the attacker's, and ends up in logs.
                got: iss
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(200)
                    .collect(),
            });
        }
        // spec TSR-CONSUMER-12: a denial, after the same binding and issuer checks.
        match (&callback.error, &callback.code) {
            (Some(e), _) if e == "access_denied" => return Err(Error::AccessDenied),
            (Some(e), _) => {
                let e = if tessera_protocol::wire::is_name(e) {
                    e.clone()
                } else {
                    "unknown".into()
                };
                return Err(Error::CallbackError(e));
            }
            (None, None) => return Err(Error::MalformedCallback("neither code nor error")),
            (None, Some(_)) => {}
        }
        let code = callback.code.clone().unwrap_or_default();
        if self.clock.now() >= pending.exp {
            return Err(Error::PendingLoginExpired);
        }
        // spec TSR-CONSUMER-5: only the pending login's Authority, its result endpoint, its key.
        let a = self.state(&pending.issuer)?;
        let reg = &a.config.registration;
        let req = ResultRequest {
            sid: pending.sid.clone(),
            code,
        };
        let (status, body) = self
            .consumer_post(a, &a.config.endpoints.result, &req)
            .await?;
        let r: ResultResponse = decode(status, &body)?;
        check_result(&r, &pending, &reg.consumer_id)?;
        Ok(Login {
            issuer: pending.issuer,
            sub: r.sub,
            sid: pending.sid,
            exp: r.exp,
            grants: r.grants,
            scopes: r.scopes,
            ticket: r.ticket,
        })
    }

    /// Refreshes `login`: the Authority rotates the `sid` and issues a new ticket. Returns the
    /// login to store **in place of** the old one before any further use (spec
    /// TSR-CONSUMER-11). A reuse is [`Error::SessionReused`]; that and any error for which
    /// [`Error::is_logout`] holds mean the Subject must be logged out.
    ///
    /// Single flight (spec TSR-CONSUMER-15): concurrent refreshes of the same `sid` (a
    /// double-submitted form, two requests of one page) send one request and all get its
    /// outcome; a refresh of that `sid` within a minute after it gets the same outcome again,
    /// instead of presenting the rotated `sid` as a reuse that would revoke the family. A
    /// transient failure is shared by the callers waiting on it but not remembered.
    pub async fn refresh(&self, login: &Login) -> Result<Login> {
        let cell = self.refreshes.cell(&login.sid, self.clock.now());
        let out = cell.get_or_init(|| self.refresh_once(login)).await.clone();
        // a transient failure (transport, 5xx, …) is not remembered: the next call retries
        if out.as_ref().is_err_and(|e| !e.is_logout()) {
            self.refreshes.forget(&login.sid, &cell);
        }
        out
    }

    async fn refresh_once(&self, login: &Login) -> Result<Login> {
        let a = self.state(&login.issuer)?;
        let reg = &a.config.registration;
        let req = SidRequest {
            sid: login.sid.clone(),
        };
        let (status, body) = self
            .consumer_post(a, &a.config.endpoints.refresh, &req)
            .await?;
        let r: RefreshResponse = decode(status, &body)?;
        // spec TSR-CONSUMER-7: the answer is about the session we refreshed.
        if !hawk::constant_time_eq(r.previous_sid.as_bytes(), login.sid.as_bytes()) {
            return Err(Error::InvalidResponse(
                "previous_sid is not the refreshed sid".into(),
            ));
        }
        if r.sid.is_empty() || r.sid == login.sid {
            return Err(Error::InvalidResponse(
                "the new sid is empty or unchanged".into(),
            ));
        }
        let granted: BTreeSet<&str> = granted(&login.scopes);
        check_ticket(&r.ticket, &reg.consumer_id, &login.sub, &granted, true)?;
        Ok(Login {
            sid: r.sid,
            exp: r.exp,
            ticket: r.ticket,
            ..login.clone()
        })
    }

    /// Revokes `login`'s session family at its Authority (spec TSR-REVOKE-1): its tickets stop
    /// working. Call it at logout.
    pub async fn revoke(&self, login: &Login) -> Result<()> {
        let a = self.state(&login.issuer)?;
        let req = SidRequest {
            sid: login.sid.clone(),
        };
        let (status, body) = self
            .consumer_post(a, &a.config.endpoints.revoke, &req)
            .await?;
        let _: serde_json::Map<String, serde_json::Value> = decode(status, &body)?;
        Ok(())
    }

    /// Reads the Subject's data with the login's ticket (`GET /v1/subject`, Hawk with the
    /// ticket's id and key and the Oz `app`/`dlg`, spec 7.6). Checks the answer's `sub` is the
    /// login's (spec TSR-DATA-2). Returns the object: `sub` and one member per granted scope.
    pub async fn subject_data(
        &self,
        login: &Login,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let (status, body) = self
            .ticket_get(login, |endpoints| &endpoints.subject)
            .await?;
        let data: serde_json::Map<String, serde_json::Value> = decode(status, &body)?;
        match data.get("sub").and_then(|s| s.as_str()) {
            Some(s) if s == login.sub => Ok(data),
            Some(_) => Err(Error::SubjectMismatch),
            None => Err(Error::InvalidResponse("subject data without sub".into())),
        }
    }

    /// What the login's ticket allows (`GET /v1/ticket`, spec 7.6, TSR-DATA-3), checked to be
    /// this ticket's: same `app`, `user` and `grant`.
    pub async fn ticket_info(&self, login: &Login) -> Result<TicketInfo> {
        let t = &login.ticket;
        let (status, body) = self
            .ticket_get(login, |endpoints| &endpoints.ticket)
            .await?;
        let info: TicketInfo = decode(status, &body)?;
        if info.app != t.app || info.user != t.user || info.grant != t.grant {
            return Err(Error::InvalidResponse(
                "ticket info is not this ticket's".into(),
            ));
        }
        Ok(info)
    }

    // ---------------------------------------------------------------------------------------
    // Delegation (spec 7.7)

    /// Asks the Authority for a single-use, 60-second delegation grant that lets the Consumer
    /// `delegate` act for `login`'s Subject (`POST /v1/delegate`, signed with the login's
    /// ticket). Hand the grant to the delegate over your own channel; the delegate calls
    /// [`Consumer::exchange`]. This Consumer never sees the delegate's ticket.
    pub async fn delegate(
        &self,
        login: &Login,
        delegate: &str,
        scope: Option<Vec<String>>,
    ) -> Result<tessera_protocol::wire::DelegateResponse> {
        let a = self.state(&login.issuer)?;
        let t = &login.ticket;
        let creds = Credentials::new(t.id.clone(), t.key.as_bytes(), &t.algorithm)
            .map_err(|e| Error::InvalidResponse(format!("ticket credentials: {e}")))?;
        let req = tessera_protocol::wire::DelegateRequest {
            delegate: delegate.to_owned(),
            scope,
        };
        let (status, body) = self
            .call(
                a,
                &creds,
                Some((t.app.clone(), t.dlg.clone())),
                "POST",
                &a.config.endpoints.delegate,
                Some(&req),
            )
            .await?;
        let r: tessera_protocol::wire::DelegateResponse = decode(status, &body)?;
        if r.delegate != delegate || r.grant.is_empty() {
            return Err(Error::InvalidResponse(
                "the grant is not for the delegate asked for".into(),
            ));
        }
        Ok(r)
    }

    /// As the delegate: exchanges a delegation grant, signed with **this** Consumer's own key
    /// at `issuer`, for a ticket of its own (`POST /v1/exchange`, spec TSR-DELEGATE-3). The
    /// ticket's `user` is this Consumer's pairwise `sub` for the Subject (TSR-DELEGATE-2).
    pub async fn exchange(&self, issuer: &str, grant: &str) -> Result<Ticket> {
        let a = self.state(issuer)?;
        let req = tessera_protocol::wire::ExchangeRequest {
            grant: grant.to_owned(),
        };
        let (status, body) = self
            .consumer_post(a, &a.config.endpoints.exchange, &req)
            .await?;
        let t: Ticket = decode(status, &body)?;
        if t.app != a.config.registration.consumer_id || t.dlg.is_none() || t.user.is_none() {
            return Err(Error::InvalidResponse(
                "the exchanged ticket is not a delegated ticket for this Consumer".into(),
            ));
        }
        Ok(t)
    }

    // ---------------------------------------------------------------------------------------
    // Signed requests

    /// Sends one Hawk-signed request and returns the status and body of a response whose
    /// `Server-Authorization` verified. A verified stale-timestamp reply adjusts the offset and
    /// the request is retried once (spec TSR-HAWK-8).
    /// `POST` of a JSON body to one of the Authority's endpoints, signed with this Consumer's key
    /// for that Authority (spec 4.1: Consumer credentials; TSR-CONSUMER-5).
    async fn consumer_post<B: serde::Serialize>(
        &self,
        a: &AuthorityState,
        url: &str,
        body: &B,
    ) -> Result<(u16, Vec<u8>)> {
        let creds = consumer_credentials(&a.config.registration)?;
        self.call(a, &creds, None, "POST", url, Some(body)).await
    }

    /// `GET` on one of the Authority's ticket endpoints, signed with the login's ticket (Hawk with
    /// the ticket's id and key and the Oz `app`/`dlg`, spec TSR-HAWK-14).
    async fn ticket_get(
        &self,
        login: &Login,
        endpoint: impl FnOnce(&Endpoints) -> &String,
    ) -> Result<(u16, Vec<u8>)> {
        let a = self.state(&login.issuer)?;
        let t = &login.ticket;
        let creds = Credentials::new(t.id.clone(), t.key.as_bytes(), &t.algorithm)
            .map_err(|e| Error::InvalidResponse(format!("ticket credentials: {e}")))?;
        let url = endpoint(&a.config.endpoints);
        self.call::<()>(
            a,
            &creds,
            Some((t.app.clone(), t.dlg.clone())),
            "GET",
            url,
            None,
        )
        .await
    }

    async fn call<B: serde::Serialize>(
        &self,
        a: &AuthorityState,
        creds: &Credentials,
        app: Option<(String, Option<String>)>,
        method: &str,
        url: &str,
        body: Option<&B>,
    ) -> Result<(u16, Vec<u8>)> {
        let u = url::Url::parse(url)
            .map_err(|_| Error::InvalidConfig(format!("endpoint {url:?} is not a URL")))?;
        let host = u
            .host_str()
            .ok_or_else(|| Error::InvalidConfig(format!("endpoint {url:?} has no host")))?
            .to_owned();
        let port = u
            .port_or_known_default()
            .ok_or_else(|| Error::InvalidConfig(format!("endpoint {url:?} has no port")))?;
        let resource = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        let body = body
            .map(|b| serde_json::to_vec(b).map_err(|e| Error::InvalidConfig(e.to_string())))
            .transpose()?;
        for attempt in 0..2 {
            let local = self.clock.now();
            let ts = local.saturating_add(a.offset.load(Ordering::SeqCst));
            let ts = u64::try_from(ts).unwrap_or(0);
            let nonce = hawk::generate_nonce(&*self.rng);
            let mut artifacts = Artifacts::new(method, &resource, &host, port, ts, nonce);
            if let Some(b) = &body {
                artifacts = artifacts.with_payload(Some(JSON), b);
            }
            if let Some((app, dlg)) = &app {
                artifacts = artifacts.with_app(app.clone(), dlg.clone());
            }
            let header = hawk::client_authorization_header(creds, &artifacts)
                .map_err(|e| Error::InvalidConfig(format!("cannot sign: {e}")))?;
            let m = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| Error::InvalidConfig("bad method".into()))?;
            let mut rb = self
                .http
                .request(m, u.clone())
                .header("authorization", header)
                .header("accept", JSON);
            if let Some(b) = &body {
                rb = rb.header("content-type", JSON).body(b.clone());
            }
            let resp = rb.send().await.map_err(transport)?;
            let status = resp.status().as_u16();
            let header_str = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let server_auth = header_str("server-authorization");
            let www = header_str("www-authenticate");
            let content_type = header_str("content-type");
            let rbody = resp.bytes().await.map_err(transport)?.to_vec();

            // spec TSR-HAWK-8: the stale-timestamp reply carries no Server-Authorization but a
            // `tsm` that must verify before we move our clock.
            if status == 401 && server_auth.is_none() {
                if let Some(w) = www.as_deref().filter(|w| w.contains("tsm=")) {
                    let local_u = u64::try_from(local).unwrap_or(0);
                    let offset = hawk::verify_stale_timestamp_header(w, creds, local_u)
                        .map_err(Error::StaleTimestampUnverified)?;
                    a.offset.store(offset, Ordering::SeqCst);
                    if attempt == 0 {
                        continue;
                    }
                    return Err(Error::StaleTimestamp);
                }
            }
            // spec TSR-HAWK-13, TSR-CONSUMER-7: nothing from a response is used unless its
            // Server-Authorization (MAC and payload hash) verifies.
            let sa = server_auth.ok_or(Error::ServerAuthorizationMissing { status })?;
            let verified = hawk::authenticate_response(
                &sa,
                creds,
                &artifacts,
                Some(Payload {
                    content_type: content_type.as_deref(),
                    body: &rbody,
                }),
            )
            .map_err(Error::ServerAuthorizationInvalid)?;
            // spec TSR-HAWK-17: the MAC covered the status the Authority answered with
            if verified.ext.as_deref() != Some(hawk::status_ext(status).as_str()) {
                return Err(Error::InvalidResponse(
                    "the Server-Authorization does not cover this status".into(),
                ));
            }
            return Ok((status, rbody));
        }
        Err(Error::StaleTimestamp)
    }
}

fn transport(e: reqwest::Error) -> Error {
    // reqwest's Display names the URL, never headers or bodies.
    Error::Transport(e.without_url().to_string())
}

fn consumer_credentials(reg: &Registration) -> Result<Credentials> {
    Credentials::new(reg.consumer_id.clone(), reg.key.as_bytes(), "sha256")
        .map_err(|e| Error::InvalidConfig(format!("credentials: {e}")))
}

/// A verified response: `200` → `T`; otherwise the wire error.
fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T> {
    if status == 200 {
        return serde_json::from_slice(body)
            .map_err(|e| Error::InvalidResponse(format!("body does not parse: {e}")));
    }
    let code = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error)
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .unwrap_or_else(|| "unknown".into());
    if code == "session_reused" {
        // spec TSR-REFRESH-5, TSR-CONSUMER-11: reported distinctly; the login is gone.
        return Err(Error::SessionReused);
    }
    Err(Error::Authority { status, code })
}

fn granted(m: &BTreeMap<String, bool>) -> BTreeSet<&str> {
    m.iter()
        .filter(|(_, v)| **v)
        .map(|(k, _)| k.as_str())
        .collect()
}

/// spec TSR-CONSUMER-7 (shapes of 5.5): `sub` a non-empty identifier; `grants` and `scopes`
/// with exactly the requested names (TSR-RESULT-8); a user ticket for this Consumer and this
/// `sub` whose scope is exactly the scopes answered `true`.
fn check_result(r: &ResultResponse, p: &PendingLogin, consumer_id: &str) -> Result<()> {
    if r.sub.is_empty() || r.sub.len() > 255 || !r.sub.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidResponse(
            "sub is not a well-formed identifier".into(),
        ));
    }
    let keys = |m: &BTreeMap<String, bool>| m.keys().cloned().collect::<BTreeSet<_>>();
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    if keys(&r.grants) != set(&p.grants) {
        return Err(Error::InvalidResponse(
            "grants do not answer exactly the requested grants".into(),
        ));
    }
    if keys(&r.scopes) != set(&p.scopes) {
        return Err(Error::InvalidResponse(
            "scopes do not answer exactly the requested scopes".into(),
        ));
    }
    check_ticket(&r.ticket, consumer_id, &r.sub, &granted(&r.scopes), false)
}

/// A user ticket issued to us for `sub`: scope exactly `scopes` (or within it, after a
/// refresh when `subset_ok`), Hawk-usable id and key, `sha256`, not delegated.
fn check_ticket(
    t: &Ticket,
    consumer_id: &str,
    sub: &str,
    scopes: &BTreeSet<&str>,
    subset_ok: bool,
) -> Result<()> {
    let bad = |w: &str| Err(Error::InvalidResponse(format!("ticket: {w}")));
    if t.algorithm != "sha256" {
        return bad("algorithm is not sha256");
    }
    if t.app != consumer_id {
        return bad("not issued to this Consumer");
    }
    if t.user.as_deref() != Some(sub) {
        return bad("user is not the result's sub");
    }
    if t.dlg.is_some() || t.grant.is_none() {
        return bad("not a user ticket of this login");
    }
    let ts: BTreeSet<&str> = t.scope.iter().map(String::as_str).collect();
    if ts.len() != t.scope.len()
        || (if subset_ok {
            !ts.is_subset(scopes)
        } else {
            &ts != scopes
        })
    {
        return bad("scope is not the granted scopes");
    }
    if Credentials::new(t.id.clone(), t.key.as_bytes(), "sha256").is_err() || t.key.len() < 43 {
        return bad("id or key cannot be used as Hawk credentials");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_protocol::rand::SeededRandom;

    fn ticket(sub: &str, scope: &[&str]) -> Ticket {
        Ticket {
            id: "t1.sealed".into(),
            key: "k".repeat(43),
            algorithm: "sha256".into(),
            exp: 10,
            app: "shop".into(),
            user: Some(sub.into()),
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            grant: Some("fam".into()),
            dlg: None,
            delegate: true,
        }
    }

    fn pending() -> PendingLogin {
        PendingLogin {
            issuer: "https://a.example".into(),
            sid: "sid".into(),
            state: "s1".into(),
            started: 0,
            exp: 600,
            grants: vec!["admin".into()],
            scopes: vec!["email".into(), "profile".into()],
        }
    }

    fn result() -> ResultResponse {
        ResultResponse {
            sub: "pairwise".into(),
            grants: [("admin".to_owned(), false)].into(),
            scopes: [("email".to_owned(), true), ("profile".to_owned(), false)].into(),
            exp: 100,
            ticket: ticket("pairwise", &["email"]),
        }
    }

    /// spec TSR-CONSUMER-7: each shape violation of a (verified) result is refused.
    #[test]
    fn result_shapes() {
        let p = pending();
        assert!(check_result(&result(), &p, "shop").is_ok());
        let mut cases: Vec<(&str, ResultResponse)> = Vec::new();
        let mut r = result();
        r.sub = String::new();
        cases.push(("empty sub", r));
        let mut r = result();
        r.sub = "a b".into();
        cases.push(("sub with space", r));
        let mut r = result();
        r.grants.insert("staff".into(), true);
        cases.push(("grant not requested", r));
        let mut r = result();
        r.scopes.remove("profile");
        cases.push(("scope missing", r));
        let mut r = result();
        r.ticket.scope.push("profile".into());
        cases.push(("ticket wider than granted", r));
        let mut r = result();
        r.ticket.scope.clear();
        cases.push(("ticket narrower than granted", r));
        let mut r = result();
        r.ticket.user = Some("other".into());
        cases.push(("ticket for another sub", r));
        let mut r = result();
        r.ticket.app = "other".into();
        cases.push(("ticket for another Consumer", r));
        let mut r = result();
        r.ticket.dlg = Some("x".into());
        cases.push(("delegated ticket", r));
        let mut r = result();
        r.ticket.algorithm = "sha1".into();
        cases.push(("algorithm", r));
        let mut r = result();
        r.ticket.key = "short".into();
        cases.push(("short key", r));
        let mut r = result();
        r.ticket.id = "bad\"id".into();
        cases.push(("id not a header value", r));
        for (what, r) in cases {
            let e = check_result(&r, &p, "shop").unwrap_err();
            assert!(matches!(e, Error::InvalidResponse(_)), "{what}: {e:?}");
        }
    }

    #[test]
    fn callback_params() {
        let p =
            CallbackParams::from_query("code=c&state=st&iss=https%3A%2F%2Fa.example&x=1").unwrap();
        assert_eq!(p.code.as_deref(), Some("c"));
        assert_eq!(p.state.as_deref(), Some("st"));
        assert!(matches!(
            CallbackParams::from_query("state=a&state=b"),
            Err(Error::MalformedCallback(_))
        ));
        assert_eq!(p.iss.as_deref(), Some("https://a.example"));
        assert!(matches!(
            CallbackParams::from_query("code=a&code=b"),
            Err(Error::MalformedCallback(_))
        ));
        assert!(matches!(
            CallbackParams::from_query("iss=a&iss=b"),
            Err(Error::MalformedCallback(_))
        ));
    }

    #[test]
    fn error_bodies_map_to_variants() {
        let e = decode::<serde_json::Value>(400, br#"{"error":"session_reused"}"#).unwrap_err();
        assert!(matches!(e, Error::SessionReused) && e.is_logout());
        let e = decode::<serde_json::Value>(400, br#"{"error":"invalid_code"}"#).unwrap_err();
        assert!(matches!(&e, Error::Authority { status: 400, code } if code == "invalid_code"));
        assert!(!e.is_logout());
        let e = decode::<serde_json::Value>(500, b"<html>").unwrap_err();
        assert!(matches!(&e, Error::Authority { code, .. } if code == "unknown"));
        let e = decode::<serde_json::Value>(400, br#"{"error":"<script>"}"#).unwrap_err();
        assert!(matches!(&e, Error::Authority { code, .. } if code == "unknown"));
    }

    /// spec TSR-CONSUMER-3, TSR-CONSUMER-4, TSR-CONSUMER-12, TSR-CONSUMER-13: every callback
    /// check refuses before any request (the Authority's issuer has nobody listening).
    #[tokio::test]
    async fn checks_before_any_request_need_no_authority() {
        let reg = Registration {
            consumer_id: "shop".into(),
            key: "k".repeat(43),
            redirect_uri: "https://shop.example/cb".into(),
            grants: vec![],
            scopes: vec![],
        };
        // An issuer nobody listens on: these checks must fail before any request is made.
        let c = Consumer::new(vec![AuthorityConfig::new("https://a.example", reg).unwrap()])
            .unwrap()
            .with_random(Arc::new(SeededRandom::new(7)));
        let cb = |q: &str| CallbackParams::from_query(q).unwrap();
        let p = pending();
        let st = "state=s1";
        assert!(matches!(
            c.complete_login(
                None,
                &cb(&format!("code=x&{st}&iss=https%3A%2F%2Fa.example"))
            )
            .await,
            Err(Error::NoPendingLogin)
        ));
        // spec TSR-CONSUMER-13: a pending login of another flow, or no state at all
        assert!(matches!(
            c.complete_login(
                Some(p.clone()),
                &cb("code=x&state=s2&iss=https%3A%2F%2Fa.example")
            )
            .await,
            Err(Error::NoPendingLogin)
        ));
        assert!(matches!(
            c.complete_login(Some(p.clone()), &cb("code=x&iss=https%3A%2F%2Fa.example"))
                .await,
            Err(Error::MalformedCallback(_))
        ));
        assert!(matches!(
            c.complete_login(Some(p.clone()), &cb(&format!("code=x&{st}")))
                .await,
            Err(Error::MissingIssuer)
        ));
        assert!(matches!(
            c.complete_login(
                Some(p.clone()),
                &cb(&format!("code=x&{st}&iss=https%3A%2F%2Fb.example"))
            )
            .await,
            Err(Error::IssuerMismatch { .. })
        ));
        assert!(matches!(
            c.complete_login(
                Some(p.clone()),
                &cb(&format!("{st}&iss=https%3A%2F%2Fa.example"))
            )
            .await,
            Err(Error::MalformedCallback(_))
        ));
        assert!(matches!(
            c.complete_login(Some(p.clone()), &cb(&format!("error=server_error&{st}&iss=https%3A%2F%2Fa.example"))).await,
            Err(Error::CallbackError(e)) if e == "server_error"
        ));
        let mut old = p;
        old.exp = 1;
        assert!(matches!(
            c.complete_login(
                Some(old),
                &cb(&format!("code=x&{st}&iss=https%3A%2F%2Fa.example"))
            )
            .await,
            Err(Error::PendingLoginExpired)
        ));
    }

    /// spec TSR-CONSUMER-15: a transient failure (here: connection refused) is not remembered
    /// by the single flight, so the next refresh tries again.
    #[tokio::test]
    async fn a_transient_refresh_failure_is_not_remembered() {
        let reg = Registration {
            consumer_id: "shop".into(),
            key: "k".repeat(43),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
            grants: vec![],
            scopes: vec![],
        };
        let c = Consumer::new(vec![
            AuthorityConfig::new("http://127.0.0.1:9", reg).unwrap()
        ])
        .unwrap();
        let login = Login {
            issuer: "http://127.0.0.1:9".into(),
            sub: "s".into(),
            sid: "the-sid".into(),
            exp: 10,
            grants: BTreeMap::new(),
            scopes: BTreeMap::new(),
            ticket: ticket("s", &[]),
        };
        for _ in 0..2 {
            let e = c.refresh(&login).await.unwrap_err();
            assert!(matches!(e, Error::Transport(_)), "{e:?}");
            assert!(!c.refreshes.0.lock().unwrap().contains_key("the-sid"));
        }
    }
}
