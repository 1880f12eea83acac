//! The world, its actions and the protocol's rules. See the crate docs for the overview.

use crate::switches::{Capabilities, Switch, Switches};
use serde::Serialize;
use stateright::{Model, Property};

/// A browser. `U` is the honest Subject's, `E` the attacker's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Browser {
    U,
    E,
}

impl Browser {
    /// The Subject whose account this browser logs in to at `A`.
    pub fn owner(self) -> Subject {
        match self {
            Browser::U => Subject::U,
            Browser::E => Subject::E,
        }
    }
    fn ix(self) -> usize {
        self as usize
    }
}

/// A Subject account at the honest Authority `A`: `u` is the victim, `e` the attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Subject {
    U,
    E,
}

/// An Authority: `A` is honest, `M` is run by the attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Auth {
    A,
    M,
}

/// A session's state at `A` (spec 6.1; `expired` is derived from the clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Status {
    Pending,
    Authorized,
    Active,
    Rotated,
    Revoked,
}

/// A session at the honest Authority. Its `sid` is its index; its code (if any) is the same
/// number, its authorize request handle too: abstract values only need to be distinct per kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Session {
    pub status: Status,
    /// The PKCE challenge: the Consumer login whose verifier it commits to.
    pub challenge: u8,
    /// The Consumer login that made the handshake (its redirect_uri carries it when binding is off).
    pub login: u8,
    pub subject: Option<Subject>,
    pub exp: u8,
    pub code_exp: u8,
    /// The family: the sid of the session its result started.
    pub family: u8,
    /// Ghost: the browser whose click made the handshake.
    pub started_by: Browser,
    /// Ghost: how many result requests succeeded for this session.
    pub redemptions: u8,
    /// Ghost: this session was refreshed away.
    pub refreshed: bool,
}

/// A pending login at the Consumer (`C`'s "temporary storage").
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Login {
    /// Ghost: the browser session that started it.
    pub browser: Browser,
    pub auth: Auth,
    /// The sid the chosen Authority returned (for `M`: 100 + login number).
    pub sid: u8,
}

/// A browser's session at the Consumer (cookie) and where it was last redirected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct BrowserState {
    /// The pending login kept in this browser session (binding on).
    pub pending: Option<u8>,
    /// A redirect the browser has been sent but not yet followed.
    pub at: Option<Url>,
    pub logged_in: Option<LoggedIn>,
}

/// Who the Consumer thinks is logged in, in one browser session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LoggedIn {
    /// The issuer the Consumer records with the `sub` (`None`: `sub` alone, a global A_UID).
    pub issuer: Option<Auth>,
    pub subject: Subject,
    /// Ghost: the Authority that actually answered the result request.
    pub vouched_by: Auth,
    /// The session the Consumer holds for it (ticket and sid).
    pub sid: u8,
    /// Ghost: the browser that started the flow at the Consumer.
    pub flow_by: Browser,
}

/// A URL a browser can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Url {
    /// `A`'s authorize page for the session whose request handle (or, in the proposal, sid) is given.
    Authorize(u8),
    /// The attacker's Authority's page: the attacker then sends the browser wherever it likes.
    MPage,
    /// The Consumer's callback.
    Callback(Callback),
}

/// What the callback URL carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Callback {
    /// A pending-login reference (`C_URL?login=…`): present only when binding is off and the
    /// callback carries a code (with the sid in the callback, the sid is the reference).
    pub login: Option<u8>,
    pub token: Token,
    pub iss: Option<Auth>,
}

/// The credential in a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Token {
    Code(u8),
    Sid(u8),
}

/// A request from a Consumer to `A`, as captured by the attacker or forged with a stolen key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Req {
    Handshake {
        challenge: u8,
        login: u8,
        browser: Browser,
    },
    Result {
        sid: u8,
        code: Option<u8>,
        verifier: u8,
    },
    Refresh {
        sid: u8,
    },
    Revoke {
        sid: u8,
    },
    Api {
        sid: u8,
    },
}

/// The attacker's own PKCE verifier (it never matches a challenge the Consumer sent).
pub const ATTACKER_VERIFIER: u8 = 200;

/// What the attacker knows. Bitsets over the small universes of abstract values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Knowledge {
    /// The Consumer's key (proposal: `C_SECRET`).
    pub key: bool,
    /// The attacker received a ticket, fresh sid or data of the honest Subject from `A`.
    pub loot: bool,
    pub sids: u8,
    pub codes: u8,
    pub requests: u8,
    pub logins: u8,
}

/// Ghost variables that properties read; set by the step that breaks or witnesses something.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Ghost {
    pub replay_accepted: bool,
    /// A replayed request gave the attacker a ticket or data of the honest Subject.
    pub replay_loot: bool,
    pub expired_accepted: bool,
    /// A data API call was accepted past the expiry of its ticket (or, Hawk off, its sid).
    pub expired_api: bool,
    pub refreshed_accepted: bool,
    pub api_ok: bool,
}

/// The whole world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct State {
    pub now: u8,
    pub sessions: Vec<Session>,
    pub logins: Vec<Login>,
    pub browsers: [BrowserState; 2],
    pub know: Knowledge,
    /// Requests the attacker captured and may replay (kept only when nonces are off: with them
    /// on, every replay is refused and changes nothing).
    pub captured: Vec<Req>,
    /// Requests the attacker has sent `A` itself (bounded).
    pub attacker_requests: u8,
    pub ghost: Ghost,
}

/// One step: an HTTP exchange or a browser step. A browser step that makes the Consumer send a
/// back-channel request (the login click, the callback) includes that request, since the
/// attacker cannot interleave with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// The browser clicks "log in with `authority`" at the Consumer (for `U`, the honest Subject
    /// or a CSRF); the Consumer sends the handshake. When the authority is `M`, `m_url` is the
    /// authorize URL the attacker's Authority answers with.
    Login {
        browser: Browser,
        authority: Auth,
        m_url: Url,
    },
    /// The browser opens `A`'s authorize page; its Subject logs in and allows.
    Authorize { browser: Browser, request: u8 },
    /// The browser opens the Consumer's callback; the Consumer checks it and sends the result
    /// request. `m_claim` is what `M` answers when the result request goes to `M`.
    Callback {
        browser: Browser,
        url: Callback,
        m_claim: Subject,
    },
    /// The Consumer refreshes the session it holds for the browser.
    Refresh { browser: Browser },
    /// The Consumer logs the browser out and revokes its session.
    Revoke { browser: Browser },
    /// The Consumer calls the Subject data API for the browser's session.
    Api { browser: Browser },
    /// Time passes.
    Tick,
    /// The attacker sends `A` a request of its own, with the stolen Consumer key.
    Forge { req: Req },
    /// The attacker replays the captured request with this index at `A`.
    Replay { index: u8 },
}

/// The kind of request an Authority received (for conformance vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Handshake,
    Authorize,
    Result,
    Refresh,
    Revoke,
    Api,
}

/// The answer an Authority gave, named after the spec's wire error codes (chapter 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    UnknownSession,
    SessionExpired,
    SessionRevoked,
    AuthorizationPending,
    InvalidCode,
    CodeExpired,
    InvalidVerifier,
    CodeReused,
    SessionNotActive,
    SessionReused,
    TicketExpired,
    TicketRevoked,
    ReplayedRequest,
    InvalidCredentials,
    /// The authorize page's HTML error (status 400, no redirect: TSR-AUTHZ-1).
    ErrorPage,
    /// The Authority is the attacker's: it answers whatever suits the attacker.
    AttackerChosen,
}

impl Outcome {
    /// The wire name.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::UnknownSession => "unknown_session",
            Outcome::SessionExpired => "session_expired",
            Outcome::SessionRevoked => "session_revoked",
            Outcome::AuthorizationPending => "authorization_pending",
            Outcome::InvalidCode => "invalid_code",
            Outcome::CodeExpired => "code_expired",
            Outcome::InvalidVerifier => "invalid_verifier",
            Outcome::CodeReused => "code_reused",
            Outcome::SessionNotActive => "session_not_active",
            Outcome::SessionReused => "session_reused",
            Outcome::TicketExpired => "ticket_expired",
            Outcome::TicketRevoked => "ticket_revoked",
            Outcome::ReplayedRequest => "replayed_request",
            Outcome::InvalidCredentials => "invalid_credentials",
            Outcome::ErrorPage => "error_page",
            Outcome::AttackerChosen => "attacker_chosen",
        }
    }
}

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// The honest Consumer (signed with its key, or carrying its secret).
    Consumer,
    /// A browser (authorize page).
    Browser(Browser),
    /// The attacker, replaying a captured request.
    Replay,
    /// The attacker, with the stolen Consumer key.
    Forged,
}

/// One request to an Authority and its answer: what conformance vectors are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Exchange {
    pub kind: RequestKind,
    pub authority: Auth,
    pub sender: Sender,
    /// The abstract values sent (`None`: not part of this request).
    pub sid: Option<u8>,
    pub code: Option<u8>,
    pub verifier: Option<u8>,
    pub challenge: Option<u8>,
    /// Whether the request carried the Consumer's secret in clear (Hawk off).
    pub secret_in_clear: bool,
    pub outcome: Outcome,
    /// For a success that creates a session: its sid.
    pub new_sid: Option<u8>,
}

/// What the Consumer decided about a callback before (or instead of) asking an Authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerOutcome {
    /// TSR-CONSUMER-3.
    NoPendingLogin,
    /// The callback's reference does not match the browser's pending login.
    LoginMismatch,
    /// TSR-CONSUMER-4.
    IssuerMismatch,
    /// The result request was sent; this is the logged-in identity if it succeeded.
    LoggedIn,
    LoginFailed,
    /// A refresh/revoke/API answer made the Consumer log the browser out (TSR-CONSUMER-11).
    LoggedOut,
}

/// Everything one step did, for traces and vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Effect {
    pub exchange: Option<Exchange>,
    pub consumer: Option<ConsumerOutcome>,
    /// The browser opened a URL it was redirected to (not a CSRF).
    pub followed: bool,
    /// Where the step redirected the browser.
    pub redirect: Option<Url>,
}

/// Bounds that keep the state space finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bounds {
    /// Logins the Consumer starts (handshakes to `A` or `M`).
    pub logins: u8,
    /// Sessions at `A` (handshakes plus refreshes).
    pub sessions: u8,
    /// The clock stops here.
    pub max_time: u8,
    /// Captured requests kept for replay.
    pub captured: u8,
    /// Requests the attacker sends `A` itself (forged or replayed).
    pub attacker_requests: u8,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            logins: 2,
            sessions: 2,
            max_time: 2,
            captured: 3,
            attacker_requests: 2,
        }
    }
}

/// TTLs in clock ticks.
pub const PENDING_TTL: u8 = 2;
pub const CODE_TTL: u8 = 1;
pub const SESSION_TTL: u8 = 2;

/// The model: one protocol variant, the attacker's capabilities, the bounds.
#[derive(Clone, Debug)]
pub struct Tessera {
    pub switches: Switches,
    pub caps: Capabilities,
    pub bounds: Bounds,
}

fn bit(set: u8, i: u8) -> bool {
    i < 8 && set & (1 << i) != 0
}
fn set_bit(set: &mut u8, i: u8) {
    if i < 8 {
        *set |= 1 << i;
    }
}
fn bits(set: u8) -> impl Iterator<Item = u8> {
    (0..8u8).filter(move |i| set & (1 << i) != 0)
}

impl Tessera {
    /// A model of the given switches with default capabilities and bounds.
    pub fn new(switches: Switches) -> Self {
        Tessera {
            switches,
            caps: Capabilities::default(),
            bounds: Bounds::default(),
        }
    }

    fn on(&self, w: Switch) -> bool {
        self.switches.on(w)
    }

    /// The initial state.
    pub fn initial(&self) -> State {
        State {
            now: 0,
            sessions: Vec::new(),
            logins: Vec::new(),
            browsers: [BrowserState::default(), BrowserState::default()],
            know: Knowledge::default(),
            captured: Vec::new(),
            attacker_requests: 0,
            ghost: Ghost::default(),
        }
    }

    // ----- the honest Authority A ------------------------------------------------------------

    fn expired(&self, now: u8, exp: u8) -> bool {
        now >= exp
    }

    /// Accepting something past its expiry (only possible with the expiry switch off).
    fn note_expired(&self, st: &mut State, exp: u8) {
        if self.expired(st.now, exp) {
            st.ghost.expired_accepted = true;
        }
    }

    fn revoke_family(st: &mut State, family: u8) {
        for s in st.sessions.iter_mut() {
            if s.family == family {
                // Nothing but the ghosts matters about a revoked session any more.
                s.status = Status::Revoked;
                s.exp = 0;
                s.code_exp = 0;
            }
        }
    }

    /// `POST /v1/handshake` at `A`. `None` when the bound on sessions is reached.
    fn a_handshake(
        &self,
        st: &mut State,
        challenge: u8,
        login: u8,
        browser: Browser,
    ) -> Option<u8> {
        if st.sessions.len() >= self.bounds.sessions as usize {
            return None;
        }
        let sid = st.sessions.len() as u8;
        st.sessions.push(Session {
            status: Status::Pending,
            challenge,
            login,
            subject: None,
            exp: st.now + PENDING_TTL,
            code_exp: 0,
            family: sid,
            started_by: browser,
            redemptions: 0,
            refreshed: false,
        });
        Some(sid)
    }

    /// `POST /v1/result` at `A` (spec 5.5, table of 6.1).
    fn a_result(&self, st: &mut State, sid: u8, code: Option<u8>, verifier: u8) -> Outcome {
        let now = st.now;
        if self.on(Switch::Burn) && self.on(Switch::Code) {
            // A code shown with another session's sid has left its flow: burn it.
            if let Some(c) = code.filter(|&c| c != sid) {
                if let Some(f) = st
                    .sessions
                    .get(c as usize)
                    .filter(|x| x.status == Status::Authorized)
                {
                    let fam = f.family;
                    Self::revoke_family(st, fam);
                }
            }
        }
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Outcome::UnknownSession;
        };
        if s.status == Status::Revoked {
            return Outcome::SessionRevoked;
        }
        if self.on(Switch::Expiry) && self.expired(now, s.exp) {
            return Outcome::SessionExpired;
        }
        let pkce_ok = !self.on(Switch::Pkce) || verifier == s.challenge;
        match s.status {
            Status::Pending => Outcome::AuthorizationPending,
            Status::Authorized => {
                if self.on(Switch::Code) {
                    if code != Some(sid) {
                        return Outcome::InvalidCode;
                    }
                    if self.on(Switch::Expiry) && self.expired(now, s.code_exp) {
                        return Outcome::CodeExpired;
                    }
                }
                if !pkce_ok {
                    return Outcome::InvalidVerifier;
                }
                self.note_expired(st, s.exp);
                if self.on(Switch::Code) {
                    self.note_expired(st, s.code_exp);
                }
                let m = &mut st.sessions[sid as usize];
                m.status = Status::Active;
                m.exp = now + SESSION_TTL;
                m.redemptions = (m.redemptions + 1).min(2);
                Outcome::Ok
            }
            Status::Active | Status::Rotated => {
                if self.on(Switch::Code) {
                    if code == Some(sid) {
                        Self::revoke_family(st, s.family);
                        Outcome::CodeReused
                    } else {
                        Outcome::InvalidCode
                    }
                } else {
                    // The proposal: the Result Request names only A_SID, which stays valid.
                    if !pkce_ok {
                        return Outcome::InvalidVerifier;
                    }
                    self.note_expired(st, s.exp);
                    if s.refreshed {
                        st.ghost.refreshed_accepted = true;
                    }
                    let m = &mut st.sessions[sid as usize];
                    m.redemptions = (m.redemptions + 1).min(2);
                    Outcome::Ok
                }
            }
            Status::Revoked => Outcome::SessionRevoked,
        }
    }

    /// `POST /v1/refresh` at `A` (spec 6.3). `Err(())` when the bound on sessions is reached.
    fn a_refresh(&self, st: &mut State, sid: u8) -> Result<(Outcome, Option<u8>), ()> {
        let now = st.now;
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Ok((Outcome::UnknownSession, None));
        };
        if s.status == Status::Revoked {
            return Ok((Outcome::SessionRevoked, None));
        }
        // Even the proposal says the refresh fails after A_EXP.
        if self.expired(now, s.exp) {
            return Ok((Outcome::SessionExpired, None));
        }
        match s.status {
            Status::Pending | Status::Authorized => Ok((Outcome::SessionNotActive, None)),
            Status::Rotated => {
                Self::revoke_family(st, s.family);
                Ok((Outcome::SessionReused, None))
            }
            Status::Active => {
                if st.sessions.len() >= self.bounds.sessions as usize {
                    return Err(());
                }
                if s.refreshed {
                    st.ghost.refreshed_accepted = true;
                }
                let new = st.sessions.len() as u8;
                st.sessions.push(Session {
                    status: Status::Active,
                    exp: now + SESSION_TTL,
                    refreshed: false,
                    redemptions: 0,
                    ..s
                });
                let old = &mut st.sessions[sid as usize];
                old.refreshed = true;
                if self.on(Switch::Rotation) {
                    old.status = Status::Rotated;
                }
                Ok((Outcome::Ok, Some(new)))
            }
            Status::Revoked => Ok((Outcome::SessionRevoked, None)),
        }
    }

    /// `POST /v1/revoke` at `A`: always `200 {}` (TSR-REVOKE-1, TSR-REVOKE-2).
    fn a_revoke(&self, st: &mut State, sid: u8) -> Outcome {
        if let Some(s) = st.sessions.get(sid as usize).cloned() {
            Self::revoke_family(st, s.family);
        }
        Outcome::Ok
    }

    /// The Subject data API with the ticket issued from session `sid` (with Hawk off, the
    /// proposal's "C_ID, C_SECRET, A_SID, A_UID" call, which names the sid itself).
    fn a_api(&self, st: &mut State, sid: u8) -> Outcome {
        let now = st.now;
        let Some(s) = st.sessions.get(sid as usize).cloned() else {
            return Outcome::InvalidCredentials;
        };
        if s.status == Status::Revoked {
            return Outcome::TicketRevoked;
        }
        if !matches!(s.status, Status::Active | Status::Rotated) {
            // No ticket was ever issued from this session.
            return if self.on(Switch::Hawk) {
                Outcome::InvalidCredentials
            } else {
                Outcome::SessionNotActive
            };
        }
        if self.on(Switch::Expiry) && self.expired(now, s.exp) {
            return Outcome::TicketExpired;
        }
        if self.expired(now, s.exp) {
            st.ghost.expired_api = true;
        }
        self.note_expired(st, s.exp);
        if !self.on(Switch::Hawk) && s.refreshed {
            // The proposal's data call names the A_SID: a refreshed-away one still works.
            st.ghost.refreshed_accepted = true;
        }
        st.ghost.api_ok = true;
        Outcome::Ok
    }

    /// The authorize page: the browser's Subject logs in and allows.
    fn a_authorize(&self, st: &mut State, browser: Browser, r: u8) -> Result<Callback, Outcome> {
        let now = st.now;
        let Some(s) = st.sessions.get(r as usize).cloned() else {
            return Err(Outcome::ErrorPage);
        };
        if s.status != Status::Pending {
            return Err(Outcome::ErrorPage);
        }
        if self.on(Switch::Expiry) && self.expired(now, s.exp) {
            return Err(Outcome::ErrorPage);
        }
        self.note_expired(st, s.exp);
        let m = &mut st.sessions[r as usize];
        m.status = Status::Authorized;
        m.subject = Some(browser.owner());
        if self.on(Switch::Code) {
            m.code_exp = (now + CODE_TTL).min(s.exp);
        }
        Ok(Callback {
            login: (!self.on(Switch::Binding) && self.on(Switch::Code)).then_some(s.login),
            token: if self.on(Switch::Code) {
                Token::Code(r)
            } else {
                Token::Sid(r)
            },
            iss: self.on(Switch::Issuer).then_some(Auth::A),
        })
    }

    // ----- the attacker's knowledge ------------------------------------------------------------

    /// The attacker sees a URL (its own browser's, or a leaked one).
    fn learn_url(&self, st: &mut State, url: Url) {
        match url {
            Url::Authorize(r) => {
                set_bit(&mut st.know.requests, r);
                if !self.on(Switch::SidHidden) {
                    set_bit(&mut st.know.sids, r);
                }
            }
            Url::MPage => {}
            Url::Callback(cb) => {
                if let Some(l) = cb.login {
                    set_bit(&mut st.know.logins, l);
                }
                match cb.token {
                    Token::Code(c) => set_bit(&mut st.know.codes, c),
                    Token::Sid(s) => set_bit(&mut st.know.sids, s),
                }
            }
        }
    }

    /// A request the Consumer sent to `A` is captured (capture capability).
    fn capture(&self, st: &mut State, req: Req) {
        if !self.caps.capture {
            return;
        }
        if !self.on(Switch::Hawk) {
            st.know.key = true;
        }
        match req {
            Req::Handshake { .. } => {}
            Req::Result { sid, code, .. } => {
                set_bit(&mut st.know.sids, sid);
                if let Some(c) = code {
                    set_bit(&mut st.know.codes, c);
                }
            }
            Req::Refresh { sid } | Req::Revoke { sid } => set_bit(&mut st.know.sids, sid),
            Req::Api { sid } => {
                if !self.on(Switch::Hawk) {
                    set_bit(&mut st.know.sids, sid);
                }
            }
        }
        // A set, kept sorted: the order of capture does not matter to the attacker.
        if !self.on(Switch::Nonce)
            && st.captured.len() < self.bounds.captured as usize
            && !st.captured.contains(&req)
        {
            st.captured.push(req);
            st.captured.sort_unstable();
        }
    }

    /// The attacker receives `A`'s answer to a request it sent (replayed or forged).
    fn loot(&self, st: &mut State, sid: u8) {
        set_bit(&mut st.know.sids, sid);
        if st.sessions.get(sid as usize).and_then(|s| s.subject) == Some(Subject::U) {
            st.know.loot = true;
        }
    }

    /// A request sent by the attacker (replayed or forged) to `A`.
    fn attacker_request(&self, st: &mut State, req: Req, sender: Sender) -> Option<Exchange> {
        if st.attacker_requests >= self.bounds.attacker_requests {
            return None;
        }
        st.attacker_requests += 1;
        let mut ex = exchange_of(&req, sender, self.switches);
        match req {
            Req::Handshake {
                challenge,
                login,
                browser,
            } => {
                let sid = self.a_handshake(st, challenge, login, browser)?;
                set_bit(&mut st.know.sids, sid);
                set_bit(&mut st.know.requests, sid);
                ex.new_sid = Some(sid);
                ex.outcome = Outcome::Ok;
            }
            Req::Result {
                sid,
                code,
                verifier,
            } => {
                ex.outcome = self.a_result(st, sid, code, verifier);
                if ex.outcome == Outcome::Ok {
                    self.loot(st, sid);
                }
            }
            Req::Refresh { sid } => {
                let (o, new) = self.a_refresh(st, sid).ok()?;
                ex.outcome = o;
                if let Some(n) = new {
                    self.loot(st, n);
                    ex.new_sid = Some(n);
                }
            }
            Req::Revoke { sid } => ex.outcome = self.a_revoke(st, sid),
            Req::Api { sid } => {
                ex.outcome = self.a_api(st, sid);
                if ex.outcome == Outcome::Ok {
                    self.loot(st, sid);
                }
            }
        }
        Some(ex)
    }

    // ----- the Consumer ----------------------------------------------------------------------

    fn consumer_request(&self, st: &mut State, req: Req) -> Option<Exchange> {
        let mut ex = exchange_of(&req, Sender::Consumer, self.switches);
        match req {
            Req::Handshake {
                challenge,
                login,
                browser,
            } => {
                let sid = self.a_handshake(st, challenge, login, browser)?;
                ex.new_sid = Some(sid);
                ex.outcome = Outcome::Ok;
            }
            Req::Result {
                sid,
                code,
                verifier,
            } => ex.outcome = self.a_result(st, sid, code, verifier),
            Req::Refresh { sid } => {
                let (o, new) = self.a_refresh(st, sid).ok()?;
                ex.outcome = o;
                ex.new_sid = new;
            }
            Req::Revoke { sid } => ex.outcome = self.a_revoke(st, sid),
            Req::Api { sid } => ex.outcome = self.a_api(st, sid),
        }
        self.capture(st, req);
        Some(ex)
    }

    /// Apply an action. `None`: not enabled (or past a bound).
    pub fn step(&self, st: &State, action: &Action) -> Option<(State, Effect)> {
        let mut st = st.clone();
        let mut eff = Effect::default();
        match *action {
            Action::Tick => {
                if st.now >= self.bounds.max_time {
                    return None;
                }
                st.now += 1;
            }
            Action::Login {
                browser,
                authority,
                m_url,
            } => {
                if st.logins.len() >= self.bounds.logins as usize {
                    return None;
                }
                let login = st.logins.len() as u8;
                let url = match authority {
                    Auth::A => {
                        let req = Req::Handshake {
                            challenge: login,
                            login,
                            browser,
                        };
                        let ex = self.consumer_request(&mut st, req)?;
                        let sid = ex.new_sid.expect("handshake success");
                        eff.exchange = Some(ex);
                        st.logins.push(Login {
                            browser,
                            auth: Auth::A,
                            sid,
                        });
                        Url::Authorize(sid)
                    }
                    Auth::M => {
                        // M learns the request: the secret (Hawk off) and the redirect_uri,
                        // whose login reference it can use when binding is off.
                        if !self.on(Switch::Hawk) {
                            st.know.key = true;
                        }
                        set_bit(&mut st.know.logins, login);
                        let mut ex = exchange_of(
                            &Req::Handshake {
                                challenge: login,
                                login,
                                browser,
                            },
                            Sender::Consumer,
                            self.switches,
                        );
                        ex.authority = Auth::M;
                        ex.outcome = Outcome::AttackerChosen;
                        eff.exchange = Some(ex);
                        st.logins.push(Login {
                            browser,
                            auth: Auth::M,
                            sid: 100 + login,
                        });
                        m_url
                    }
                };
                eff.redirect = Some(url);
                let b = &mut st.browsers[browser.ix()];
                b.pending = Some(login);
                // The attacker's browser needs no redirect slot: what it is sent, the attacker
                // knows, and it opens whatever it knows.
                if browser == Browser::U {
                    b.at = Some(url);
                }
                if browser == Browser::E || self.caps.leaks {
                    self.learn_url(&mut st, url);
                }
            }
            Action::Authorize { browser, request } => {
                let followed = st.browsers[browser.ix()].at == Some(Url::Authorize(request));
                if followed {
                    st.browsers[browser.ix()].at = None;
                }
                eff.followed = followed && browser == Browser::U;
                if browser == Browser::U && self.caps.leaks {
                    self.learn_url(&mut st, Url::Authorize(request));
                }
                let outcome = match self.a_authorize(&mut st, browser, request) {
                    Ok(cb) => {
                        eff.redirect = Some(Url::Callback(cb));
                        if browser == Browser::E {
                            self.learn_url(&mut st, Url::Callback(cb));
                        } else {
                            st.browsers[browser.ix()].at = Some(Url::Callback(cb));
                        }
                        Outcome::Ok
                    }
                    Err(o) => o,
                };
                eff.exchange = Some(Exchange {
                    kind: RequestKind::Authorize,
                    authority: Auth::A,
                    sender: Sender::Browser(browser),
                    sid: (!self.on(Switch::SidHidden)).then_some(request),
                    code: None,
                    verifier: None,
                    challenge: None,
                    secret_in_clear: false,
                    outcome,
                    new_sid: None,
                });
            }
            Action::Callback {
                browser,
                url,
                m_claim,
            } => {
                let followed = st.browsers[browser.ix()].at == Some(Url::Callback(url));
                if followed {
                    st.browsers[browser.ix()].at = None;
                }
                eff.followed = followed && browser == Browser::U;
                if browser == Browser::U && self.caps.leaks {
                    self.learn_url(&mut st, Url::Callback(url));
                }
                let (c, ex) = self.callback(&mut st, browser, url, m_claim)?;
                eff.consumer = Some(c);
                eff.exchange = ex;
            }
            Action::Refresh { browser } => {
                let li = st.browsers[browser.ix()].logged_in.clone()?;
                if li.vouched_by != Auth::A {
                    return None;
                }
                let ex = self.consumer_request(&mut st, Req::Refresh { sid: li.sid })?;
                let b = &mut st.browsers[browser.ix()];
                match (ex.outcome, ex.new_sid) {
                    (Outcome::Ok, Some(n)) => b.logged_in.as_mut().expect("logged in").sid = n,
                    _ => {
                        b.logged_in = None;
                        eff.consumer = Some(ConsumerOutcome::LoggedOut);
                    }
                }
                eff.exchange = Some(ex);
            }
            Action::Revoke { browser } => {
                let li = st.browsers[browser.ix()].logged_in.clone()?;
                if li.vouched_by != Auth::A {
                    return None;
                }
                let ex = self.consumer_request(&mut st, Req::Revoke { sid: li.sid })?;
                st.browsers[browser.ix()].logged_in = None;
                eff.consumer = Some(ConsumerOutcome::LoggedOut);
                eff.exchange = Some(ex);
            }
            Action::Api { browser } => {
                let li = st.browsers[browser.ix()].logged_in.clone()?;
                if li.vouched_by != Auth::A {
                    return None;
                }
                let ex = self.consumer_request(&mut st, Req::Api { sid: li.sid })?;
                if matches!(ex.outcome, Outcome::TicketRevoked | Outcome::TicketExpired) {
                    st.browsers[browser.ix()].logged_in = None;
                    eff.consumer = Some(ConsumerOutcome::LoggedOut);
                }
                eff.exchange = Some(ex);
            }
            Action::Forge { req } => {
                if !st.know.key {
                    return None;
                }
                eff.exchange = Some(self.attacker_request(&mut st, req, Sender::Forged)?);
            }
            Action::Replay { index } => {
                let req = *st.captured.get(index as usize)?;
                if self.on(Switch::Nonce) {
                    let mut ex = exchange_of(&req, Sender::Replay, self.switches);
                    ex.outcome = Outcome::ReplayedRequest;
                    eff.exchange = Some(ex);
                } else {
                    st.ghost.replay_accepted = true;
                    let had = st.know.loot;
                    eff.exchange = Some(self.attacker_request(&mut st, req, Sender::Replay)?);
                    if st.know.loot && !had {
                        st.ghost.replay_loot = true;
                    }
                }
            }
        }
        Some((st, eff))
    }

    /// The Consumer's callback endpoint: its own checks, then the result request.
    fn callback(
        &self,
        st: &mut State,
        browser: Browser,
        url: Callback,
        m_claim: Subject,
    ) -> Option<(ConsumerOutcome, Option<Exchange>)> {
        let login = if self.on(Switch::Binding) {
            // TSR-CONSUMER-2/3/6: the browser's own pending login, used once.
            let Some(l) = st.browsers[browser.ix()].pending.take() else {
                return Some((ConsumerOutcome::NoPendingLogin, None));
            };
            if let Token::Sid(s) = url.token {
                if st.logins[l as usize].sid != s {
                    return Some((ConsumerOutcome::LoginMismatch, None));
                }
            }
            l
        } else {
            // The pending login the URL refers to, in the Consumer's global table.
            let found = match (url.login, url.token) {
                (_, Token::Sid(s)) => st.logins.iter().position(|p| p.sid == s),
                (Some(l), Token::Code(_)) => ((l as usize) < st.logins.len()).then_some(l as usize),
                (None, Token::Code(_)) => None,
            };
            let Some(l) = found else {
                return Some((ConsumerOutcome::NoPendingLogin, None));
            };
            l as u8
        };
        let p = st.logins[login as usize].clone();
        if self.on(Switch::Issuer) && url.iss != Some(p.auth) {
            return Some((ConsumerOutcome::IssuerMismatch, None));
        }
        let code = match url.token {
            Token::Code(c) => Some(c),
            Token::Sid(_) => None,
        };
        let req = Req::Result {
            sid: p.sid,
            code,
            verifier: login,
        };
        let issuer = self.on(Switch::Issuer).then_some(p.auth);
        match p.auth {
            Auth::M => {
                // The result request goes to the attacker's Authority: it learns the code.
                if let Some(c) = code {
                    set_bit(&mut st.know.codes, c);
                }
                if !self.on(Switch::Hawk) {
                    st.know.key = true;
                }
                let mut ex = exchange_of(&req, Sender::Consumer, self.switches);
                ex.authority = Auth::M;
                ex.outcome = Outcome::AttackerChosen;
                st.browsers[browser.ix()].logged_in = Some(LoggedIn {
                    issuer,
                    subject: m_claim,
                    vouched_by: Auth::M,
                    sid: p.sid,
                    flow_by: p.browser,
                });
                Some((ConsumerOutcome::LoggedIn, Some(ex)))
            }
            Auth::A => {
                let ex = self.consumer_request(st, req)?;
                if ex.outcome == Outcome::Ok {
                    let s = &st.sessions[p.sid as usize];
                    let li = LoggedIn {
                        issuer,
                        subject: s.subject.expect("authorized session has a subject"),
                        vouched_by: Auth::A,
                        sid: p.sid,
                        flow_by: s.started_by,
                    };
                    st.browsers[browser.ix()].logged_in = Some(li);
                    Some((ConsumerOutcome::LoggedIn, Some(ex)))
                } else {
                    Some((ConsumerOutcome::LoginFailed, Some(ex)))
                }
            }
        }
    }

    /// The callback URLs the attacker can build from what it knows (its own browser's
    /// redirects included: it knows every URL its browser was sent).
    fn crafted_callbacks(&self, st: &State, out: &mut Vec<Callback>) {
        let isses: &[Option<Auth>] = if self.on(Switch::Issuer) {
            &[Some(Auth::A), Some(Auth::M)]
        } else {
            &[None]
        };
        let mut tokens: Vec<Token> = Vec::new();
        if self.on(Switch::Code) {
            tokens.extend(bits(st.know.codes).map(Token::Code));
        } else {
            tokens.extend(bits(st.know.sids).map(Token::Sid));
            // The sids its own Authority handed out.
            tokens.extend(
                st.logins
                    .iter()
                    .filter(|p| p.auth == Auth::M)
                    .map(|p| Token::Sid(p.sid)),
            );
        }
        let logins: Vec<Option<u8>> = if !self.on(Switch::Binding) && self.on(Switch::Code) {
            bits(st.know.logins).map(Some).collect()
        } else {
            vec![None]
        };
        for &token in &tokens {
            for &login in &logins {
                for &iss in isses {
                    out.push(Callback { login, token, iss });
                }
            }
        }
        // A callback from M's own "authorize page": a made-up code for a login via M.
        if self.on(Switch::Code) {
            for (l, p) in st.logins.iter().enumerate() {
                if p.auth == Auth::M {
                    let login = (!self.on(Switch::Binding)).then_some(l as u8);
                    for &iss in isses {
                        out.push(Callback {
                            login,
                            token: Token::Code(100),
                            iss,
                        });
                    }
                }
            }
        }
    }

    /// Whether the callback would be answered by `M` (then `M`'s claim is a choice).
    fn goes_to_m(&self, st: &State, browser: Browser, url: &Callback) -> bool {
        let l = if self.on(Switch::Binding) {
            st.browsers[browser.ix()].pending
        } else {
            match (url.login, url.token) {
                (_, Token::Sid(s)) => st.logins.iter().position(|p| p.sid == s).map(|x| x as u8),
                (l, _) => l,
            }
        };
        l.and_then(|l| st.logins.get(l as usize))
            .is_some_and(|p| p.auth == Auth::M)
    }

    /// Every action in a fixed order (paths are stored as action lists).
    pub fn all_actions(&self, st: &State, out: &mut Vec<Action>) {
        // The attacker's browser first: of two counterexamples of the same length, BFS reports
        // the one where the attacker acts itself (the more telling one).
        let browsers = [Browser::E, Browser::U];
        // Logins: U chooses A or M; E (the attacker) too. M answers with its own page or any
        // authorize URL of A the attacker knows.
        if st.logins.len() < self.bounds.logins as usize {
            for &b in &browsers {
                out.push(Action::Login {
                    browser: b,
                    authority: Auth::A,
                    m_url: Url::MPage,
                });
                out.push(Action::Login {
                    browser: b,
                    authority: Auth::M,
                    m_url: Url::MPage,
                });
                for r in bits(st.know.requests) {
                    out.push(Action::Login {
                        browser: b,
                        authority: Auth::M,
                        m_url: Url::Authorize(r),
                    });
                }
            }
        }
        // Authorize pages: U follows its redirect or is sent by the attacker; E goes anywhere
        // the attacker knows.
        for &b in &browsers {
            let mut rs = st.know.requests;
            if let Some(Url::Authorize(r)) = st.browsers[b.ix()].at {
                set_bit(&mut rs, r);
            }
            for r in bits(rs) {
                if st
                    .sessions
                    .get(r as usize)
                    .is_some_and(|s| s.status == Status::Pending)
                {
                    out.push(Action::Authorize {
                        browser: b,
                        request: r,
                    });
                }
            }
        }
        // Callbacks.
        let mut cbs = Vec::new();
        self.crafted_callbacks(st, &mut cbs);
        for &b in &browsers {
            let mut mine = cbs.clone();
            if let Some(Url::Callback(cb)) = st.browsers[b.ix()].at {
                if !mine.contains(&cb) {
                    mine.insert(0, cb);
                }
            }
            for url in mine {
                if self.goes_to_m(st, b, &url) {
                    out.push(Action::Callback {
                        browser: b,
                        url,
                        m_claim: Subject::U,
                    });
                    out.push(Action::Callback {
                        browser: b,
                        url,
                        m_claim: Subject::E,
                    });
                } else {
                    out.push(Action::Callback {
                        browser: b,
                        url,
                        m_claim: Subject::E,
                    });
                }
            }
        }
        // The Consumer's own use of its sessions.
        for &b in &browsers {
            if st.browsers[b.ix()]
                .logged_in
                .as_ref()
                .is_some_and(|l| l.vouched_by == Auth::A)
            {
                out.push(Action::Api { browser: b });
                out.push(Action::Refresh { browser: b });
                out.push(Action::Revoke { browser: b });
            }
        }
        if st.now < self.bounds.max_time {
            out.push(Action::Tick);
        }
        if st.know.key && st.attacker_requests < self.bounds.attacker_requests {
            for sid in bits(st.know.sids) {
                if (sid as usize) < st.sessions.len() {
                    let code = if self.on(Switch::Code) {
                        Some(sid)
                    } else {
                        None
                    };
                    if code.is_none_or(|c| bit(st.know.codes, c)) {
                        out.push(Action::Forge {
                            req: Req::Result {
                                sid,
                                code,
                                verifier: ATTACKER_VERIFIER,
                            },
                        });
                    }
                    out.push(Action::Forge {
                        req: Req::Refresh { sid },
                    });
                    out.push(Action::Forge {
                        req: Req::Api { sid },
                    });
                }
            }
        }
        for i in
            0..st.captured.len() * usize::from(st.attacker_requests < self.bounds.attacker_requests)
        {
            out.push(Action::Replay { index: i as u8 });
        }
    }
}

/// The exchange a request makes, before the Authority answers.
fn exchange_of(req: &Req, sender: Sender, sw: Switches) -> Exchange {
    let mut ex = Exchange {
        kind: RequestKind::Handshake,
        authority: Auth::A,
        sender,
        sid: None,
        code: None,
        verifier: None,
        challenge: None,
        secret_in_clear: !sw.on(Switch::Hawk),
        outcome: Outcome::Ok,
        new_sid: None,
    };
    match *req {
        Req::Handshake { challenge, .. } => {
            ex.challenge = sw.on(Switch::Pkce).then_some(challenge);
        }
        Req::Result {
            sid,
            code,
            verifier,
        } => {
            ex.kind = RequestKind::Result;
            ex.sid = Some(sid);
            ex.code = code;
            ex.verifier = sw.on(Switch::Pkce).then_some(verifier);
        }
        Req::Refresh { sid } => {
            ex.kind = RequestKind::Refresh;
            ex.sid = Some(sid);
        }
        Req::Revoke { sid } => {
            ex.kind = RequestKind::Revoke;
            ex.sid = Some(sid);
        }
        Req::Api { sid } => {
            ex.kind = RequestKind::Api;
            ex.sid = Some(sid);
        }
    }
    ex
}

impl Action {
    /// The request this action makes to an Authority and the answer, in state `st` (`None`
    /// for a step that reaches no Authority: a tick, a callback the Consumer refuses itself).
    /// This is the Authority-facing behaviour the conformance suite is generated from.
    pub fn exchange(&self, model: &Tessera, st: &State) -> Option<Exchange> {
        model.step(st, self).and_then(|(_, e)| e.exchange)
    }
}

// ----- properties ------------------------------------------------------------------------------

/// Whether a property must hold everywhere or be witnessed somewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Always,
    Sometimes,
}

/// A property with its requirement IDs.
#[derive(Clone, Copy, Debug)]
pub struct PropertyDef {
    pub name: &'static str,
    pub expectation: Expectation,
    pub requirements: &'static [&'static str],
    /// For an `always`: the name of the `sometimes` witness that shows it is not vacuous.
    pub witness: Option<&'static str>,
    pub condition: fn(&Tessera, &State) -> bool,
}

pub const P_REDEEMED_TWICE: &str = "no code or session is redeemed twice";
pub const P_REPLAY: &str = "no signed request is accepted twice";
pub const P_EXPIRY: &str = "nothing is accepted after its expiry";
pub const P_INTEGRITY: &str =
    "a browser is logged in only as its own subject, through a flow it started";
pub const P_MIXUP: &str =
    "the consumer logs in only identities vouched for by the authority it chose";
pub const P_SECRECY: &str = "the attacker never holds the consumer's key nor a ticket, session or data of the honest subject";
pub const P_ROTATION: &str = "a refreshed-away session is dead";
pub const W_LOGIN: &str = "an honest login completes";
pub const W_REFRESH: &str = "a refresh completes";
pub const W_API: &str = "an api call succeeds";
pub const W_ATTACKER_LOGIN: &str = "the attacker's own honest login completes";

fn redeemed_once(_: &Tessera, s: &State) -> bool {
    s.sessions.iter().all(|x| x.redemptions <= 1)
}
fn no_replay(_: &Tessera, s: &State) -> bool {
    !s.ghost.replay_accepted
}
fn no_expired(_: &Tessera, s: &State) -> bool {
    !s.ghost.expired_accepted
}
fn integrity(_: &Tessera, s: &State) -> bool {
    [Browser::U, Browser::E]
        .iter()
        .all(|&b| match &s.browsers[b.ix()].logged_in {
            Some(l) if l.vouched_by == Auth::A => l.subject == b.owner() && l.flow_by == b,
            _ => true,
        })
}
fn mixup(_: &Tessera, s: &State) -> bool {
    s.browsers.iter().all(|b| match &b.logged_in {
        // A missing issuer means the `sub` alone: the proposal's global A_UID, i.e. A's account.
        Some(l) => l.issuer.unwrap_or(Auth::A) == l.vouched_by,
        None => true,
    })
}
fn secrecy(_: &Tessera, s: &State) -> bool {
    !s.know.key && !s.know.loot
}
fn rotation(_: &Tessera, s: &State) -> bool {
    !s.ghost.refreshed_accepted
        && s.sessions
            .iter()
            .all(|x| !(x.refreshed && x.status == Status::Active))
}
fn w_login(_: &Tessera, s: &State) -> bool {
    s.browsers[0]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.vouched_by == Auth::A && l.subject == Subject::U)
}
fn w_refresh(_: &Tessera, s: &State) -> bool {
    s.sessions.iter().any(|x| x.refreshed)
}
fn w_api(_: &Tessera, s: &State) -> bool {
    s.ghost.api_ok
}
fn w_attacker_login(_: &Tessera, s: &State) -> bool {
    s.browsers[1].logged_in.as_ref().is_some_and(|l| {
        l.vouched_by == Auth::A && l.subject == Subject::E && l.flow_by == Browser::E
    })
}

/// Every property, `always` first, each citing the spec's requirement IDs.
pub const PROPERTIES: &[PropertyDef] = &[
    PropertyDef {
        name: P_REDEEMED_TWICE,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-RESULT-7",
            "TSR-RESULT-9",
            "TSR-CALLBACK-1",
            "TSR-SESSION-2",
        ],
        witness: Some(W_LOGIN),
        condition: redeemed_once,
    },
    PropertyDef {
        name: P_REPLAY,
        expectation: Expectation::Always,
        requirements: &["TSR-HAWK-7", "TSR-HAWK-9", "TSR-HAWK-10"],
        witness: Some(W_API),
        condition: no_replay,
    },
    PropertyDef {
        name: P_EXPIRY,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-CONV-12",
            "TSR-SESSION-6",
            "TSR-RESULT-2",
            "TSR-RESULT-5",
            "TSR-TICKET-5",
            "TSR-AUTHZ-1",
        ],
        witness: Some(W_REFRESH),
        condition: no_expired,
    },
    PropertyDef {
        name: P_INTEGRITY,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-CONSUMER-2",
            "TSR-CONSUMER-3",
            "TSR-CONSUMER-6",
            "TSR-CALLBACK-3",
            "TSR-HANDSHAKE-5",
            "TSR-RESULT-6",
        ],
        witness: Some(W_ATTACKER_LOGIN),
        condition: integrity,
    },
    PropertyDef {
        name: P_MIXUP,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-CALLBACK-2",
            "TSR-CONSUMER-4",
            "TSR-CONSUMER-5",
            "TSR-CONSUMER-10",
        ],
        witness: Some(W_LOGIN),
        condition: mixup,
    },
    PropertyDef {
        name: P_SECRECY,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-HAWK-4",
            "TSR-REG-4",
            "TSR-CONV-11",
            "TSR-HAWK-9",
            "TSR-TICKET-3",
        ],
        witness: Some(W_API),
        condition: secrecy,
    },
    PropertyDef {
        name: P_ROTATION,
        expectation: Expectation::Always,
        requirements: &["TSR-REFRESH-3", "TSR-REFRESH-4", "TSR-REFRESH-5"],
        witness: Some(W_REFRESH),
        condition: rotation,
    },
    PropertyDef {
        name: W_LOGIN,
        expectation: Expectation::Sometimes,
        requirements: &["TSR-HANDSHAKE-4", "TSR-CALLBACK-1", "TSR-RESULT-7"],
        witness: None,
        condition: w_login,
    },
    PropertyDef {
        name: W_REFRESH,
        expectation: Expectation::Sometimes,
        requirements: &["TSR-REFRESH-3"],
        witness: None,
        condition: w_refresh,
    },
    PropertyDef {
        name: W_API,
        expectation: Expectation::Sometimes,
        requirements: &["TSR-DATA-1", "TSR-TICKET-4"],
        witness: None,
        condition: w_api,
    },
    PropertyDef {
        name: W_ATTACKER_LOGIN,
        expectation: Expectation::Sometimes,
        requirements: &["TSR-RESULT-10", "TSR-CONSUMER-2"],
        witness: None,
        condition: w_attacker_login,
    },
];

/// Look a property up by name.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

impl Model for Tessera {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.all_actions(state, actions);
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.step(state, &action).map(|(s, _)| s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        PROPERTIES
            .iter()
            .map(|p| match p.expectation {
                Expectation::Always => Property::always(p.name, p.condition),
                Expectation::Sometimes => Property::sometimes(p.name, p.condition),
            })
            .collect()
    }

    fn format_action(&self, action: &Action) -> String {
        crate::render::action_label(action)
    }
}

/// The short column name of a property in the attack matrix.
pub fn short_name(name: &str) -> &'static str {
    match name {
        P_REDEEMED_TWICE => "redeemed twice",
        P_REPLAY => "replay",
        P_EXPIRY => "expiry",
        P_INTEGRITY => "session integrity",
        P_MIXUP => "mix-up",
        P_SECRECY => "secrecy",
        P_ROTATION => "rotation",
        W_LOGIN => "honest login",
        W_REFRESH => "refresh",
        W_API => "api call",
        W_ATTACKER_LOGIN => "attacker login",
        _ => "?",
    }
}
