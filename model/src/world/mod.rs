//! The login flow: its world, the actions, `impl Model`, then each role's rules in its own
//! module. Spec chapters 4 (request authentication), 5 (login flow), 6 (sessions) and 10 (the
//! Consumer); the crate docs give the overview.
//!
//! * [`authority`]: the honest Authority `A` (one or two instances over one store) and its
//!   replay store.
//! * [`consumer`]: the honest Consumer `C`: login start, callback checks, its back channel.
//! * [`browsers`]: the two browsers and the URLs they open.
//! * [`attacker`]: what the attacker knows, captures, replays and forges.
//! * [`properties`]: the properties, each citing its requirement IDs.

pub mod attacker;
pub mod authority;
pub mod browsers;
pub mod consumer;
pub mod properties;

pub use authority::exchange_of;
pub use properties::*;

use crate::switches::{Capabilities, Capability, Switch, Switches};
use serde::Serialize;
use stateright::{Model, Property};
use std::fmt;

// ----- the parties and values -------------------------------------------------------------------

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
    pub(crate) fn ix(self) -> usize {
        self as usize
    }
}

/// A Subject account: `u` is the victim, `e` the attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Subject {
    U,
    E,
}

/// An Authority: `A` is honest, `M` is run by the attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
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

/// A session at `A`. Its `sid` is its index; its code and its authorize request handle carry
/// the same number: abstract values only need to be distinct per kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Session {
    pub status: Status,
    /// The Consumer login that made the handshake: its PKCE challenge and its `state`.
    pub login: u8,
    pub subject: Option<Subject>,
    pub exp: u8,
    pub code_exp: u8,
    /// The family: the sid of the session its result started.
    pub family: u8,
    /// The browser that first opened the authorize page (TSR-AUTHZ-9).
    pub opened_by: Option<Browser>,
    /// Ghost: the browser whose click made the handshake.
    pub started_by: Browser,
    /// Ghost: successful result requests for this session.
    pub redemptions: u8,
    /// Ghost: this session was refreshed away.
    pub refreshed: bool,
}

/// A login the Consumer started (its pending-login record).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Login {
    /// Ghost: the browser session that started it.
    pub browser: Browser,
    /// Ghost: whether that browser's user meant to start it (false: a login-start CSRF).
    pub intended: bool,
    pub auth: Auth,
    /// The sid the chosen Authority returned (for `M`: [`M_SID`] + login number).
    pub sid: u8,
    /// Still pending in the Consumer's global table (binding off; pending-once clears it).
    pub open: bool,
    /// Ghost: the Consumer has completed it (logged a browser in through it).
    pub completed: bool,
}

/// A browser's session at the Consumer and where it was last redirected.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct BrowserState {
    /// The pending logins kept in this browser session (binding on), as a bitset of logins.
    pub pending: u8,
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
    /// The session the Consumer holds for it.
    pub sid: u8,
    /// Ghost: the Authority that actually answered the result request.
    pub vouched_by: Auth,
    /// Ghost: the Authority the pending login chose.
    pub chose: Auth,
    /// Ghost: the browser that started the flow, and whether its user meant to.
    pub flow_by: Browser,
    pub intended: bool,
    /// Ghost: the login it came through had completed before (pending-once off): the user's
    /// intent to log in was already spent.
    pub spent: bool,
}

/// A URL a browser can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Url {
    /// `A`'s authorize page for the session whose request handle (or, in the proposal, sid)
    /// is given.
    Authorize(u8),
    /// The attacker's Authority's page: it then sends the browser wherever it likes.
    MPage,
    /// The Consumer's callback.
    Callback(Callback),
}

/// What the callback URL carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Callback {
    /// The flow reference: the `state` (state on), or the proposal's pending-login reference
    /// in `C_URL` (binding off, code on); `None` otherwise.
    pub flow: Option<u8>,
    pub token: Token,
    pub iss: Option<Auth>,
}

/// The credential in a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Token {
    Code(u8),
    Sid(u8),
}

/// A request from the Consumer to an Authority, as sent, captured or forged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Req {
    Handshake {
        login: u8,
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

/// A request the Consumer sent to `A` and has no answer for yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Flight {
    /// Its nonce: unique per request the Consumer signs.
    pub id: u8,
    pub req: Req,
    /// The browser session it is for.
    pub browser: Browser,
    /// The login whose callback sent it (result requests).
    pub login: u8,
    /// Sent before the replay store's restart.
    pub pre_restart: bool,
}

/// A copy of a request the attacker captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Captured {
    pub id: u8,
    pub req: Req,
    pub pre_restart: bool,
}

/// The attacker's own PKCE verifier (it never matches a challenge the Consumer sent).
pub const ATTACKER_VERIFIER: u8 = 200;
/// `M`'s sids are this plus the login number.
pub const M_SID: u8 = 100;
/// The code `M`'s own authorize page hands out.
pub const M_CODE: u8 = 100;

/// What the attacker knows. Bitsets over the abstract values (sessions and logins are
/// range-checked against them in [`Bounds::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Knowledge {
    /// The Consumer's key (proposal: `C_SECRET`).
    pub key: bool,
    /// The attacker received a ticket, fresh sid or data of the honest Subject from `A`
    /// (outside a stolen family).
    pub loot: bool,
    pub sids: u16,
    pub codes: u16,
    pub requests: u16,
    /// Flow references (states or `C_URL` login references) it knows.
    pub flows: u16,
    /// PKCE verifiers it knows (by login).
    pub verifiers: u16,
}

/// Ghost variables that properties read; set by the step that breaks or witnesses something.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Ghost {
    /// Nonces (request ids) `A` has processed.
    pub processed: u32,
    /// A signed request was processed twice.
    pub processed_twice: bool,
    /// `A` accepted a request on the honest Subject's session or code past its expiry, for
    /// the attacker.
    pub expired_for_attacker: bool,
    pub api_ok: bool,
    /// Families the attacker stole (theft), and those the honest Consumer then refreshed.
    pub stolen: u16,
    pub recovered: u16,
    /// The sid the theft took, and the sessions the attacker created by refreshing it (or
    /// its forks).
    pub stolen_sids: u16,
    pub forked: u16,
    /// `A` accepted an attacker's refresh or result in a family the honest Consumer had
    /// refreshed since the theft.
    pub theft_outlived_refresh: bool,
    /// The attacker used a stolen session (witness).
    pub stolen_used: bool,
    /// The Consumer's key came from a theft: what the attacker forges with it is the theft's
    /// consequence, which recovery bounds, not a secrecy failure.
    pub key_stolen: bool,
}

/// The whole world.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct State {
    pub now: u8,
    pub sessions: Vec<Session>,
    pub logins: Vec<Login>,
    pub browsers: [BrowserState; 2],
    /// The Consumer's requests to `A` awaiting an answer, kept sorted: any may be answered next.
    pub inflight: Vec<Flight>,
    /// Requests the Consumer has signed so far (the next nonce).
    pub sent: u8,
    /// Per instance of `A`: the nonces its replay store holds.
    pub seen: [u32; 2],
    /// The replay store has restarted once.
    pub restarted: bool,
    pub know: Knowledge,
    /// Captured requests the attacker may replay, kept sorted.
    pub captured: Vec<Captured>,
    /// Requests the attacker has sent `A` itself (bounded).
    pub attacker_requests: u8,
    pub ghost: Ghost,
}

// ----- actions ----------------------------------------------------------------------------------

/// One step: an HTTP exchange, one leg of one, or a browser step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// The browser clicks "log in with `authority`" at the Consumer (`intended: false`: the
    /// attacker made `U` do it, a login-start CSRF); the Consumer sends the handshake. For
    /// `M`, `m_url` is the authorize URL the attacker's Authority answers with.
    LoginStart {
        browser: Browser,
        authority: Auth,
        intended: bool,
        m_url: Url,
    },
    /// The browser opens `A`'s authorize page; its Subject logs in and allows (`allow`), or
    /// only looks at it (with leaks on: the URL then leaks).
    AuthorizeOpen {
        browser: Browser,
        request: u8,
        allow: bool,
    },
    /// The browser opens the Consumer's callback; the Consumer checks it and sends the result
    /// request (to `A`: in flight; to `M`: answered at once with `m_claim`).
    CallbackOpen {
        browser: Browser,
        url: Callback,
        m_claim: Subject,
    },
    /// `A` (instance `instance`) processes the in-flight request with this nonce and the
    /// Consumer gets the answer.
    AuthorityDelivers { id: u8, instance: u8 },
    /// `A` refuses the in-flight request for a reason outside the protocol (refusal).
    AuthorityRefuses { id: u8 },
    /// The Consumer refreshes the session it holds for the browser (in flight).
    ConsumerRefreshes { browser: Browser },
    /// The Consumer logs the browser out and revokes its session.
    ConsumerRevokes { browser: Browser },
    /// The Consumer calls the Subject data API for the browser's session.
    ConsumerCallsApi { browser: Browser },
    /// Time passes.
    ClockTicks,
    /// The replay store restarts and forgets its memory (restart).
    ReplayStoreRestarts,
    /// The attacker steals the honest Subject's live session and the Consumer's key (theft).
    AttackerSteals,
    /// The attacker sends `A` a request of its own, signed with the Consumer's key it holds.
    AttackerForges { req: Req },
    /// The attacker replays the captured request with this nonce at `A`'s instance.
    AttackerReplays { id: u8, instance: u8 },
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
    /// Refused as stale: the timestamp is from before the restart fence.
    StaleTimestamp,
    /// Refused for a reason outside the protocol (overload, lost connection).
    Unavailable,
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
            Outcome::StaleTimestamp => "stale_timestamp",
            Outcome::Unavailable => "unavailable",
            Outcome::ErrorPage => "error_page",
            Outcome::AttackerChosen => "attacker_chosen",
        }
    }
    /// Whether the Authority did nothing for a reason outside the session logic (the request
    /// was never processed).
    pub fn unprocessed(self) -> bool {
        matches!(
            self,
            Outcome::ReplayedRequest | Outcome::StaleTimestamp | Outcome::Unavailable
        )
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
    /// The attacker, with the Consumer key it holds.
    Forged,
}

/// One request to an Authority and its answer: what conformance vectors are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Exchange {
    pub kind: RequestKind,
    pub authority: Auth,
    /// The instance of `A` that answered.
    pub instance: u8,
    pub sender: Sender,
    /// The request's nonce, for requests the Consumer signed (replays name the original).
    pub id: Option<u8>,
    /// The abstract values sent (`None`: not part of this request).
    pub sid: Option<u8>,
    pub code: Option<u8>,
    pub verifier: Option<u8>,
    pub challenge: Option<u8>,
    /// The `state` sent in a handshake (state on).
    pub state: Option<u8>,
    /// Whether the request carried the Consumer's secret in clear (Hawk off).
    pub secret_in_clear: bool,
    pub outcome: Outcome,
    /// For a success that creates a session: its sid.
    pub new_sid: Option<u8>,
}

/// What the Consumer decided about a callback or an answer on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerOutcome {
    /// TSR-CONSUMER-3, TSR-CONSUMER-13.
    NoPendingLogin,
    /// The callback's sid does not match the browser's pending login (code off).
    LoginMismatch,
    /// TSR-CONSUMER-4.
    IssuerMismatch,
    /// The result request was sent (to `A`: the answer comes later).
    ResultSent,
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
    /// A request the Consumer signed and sent in this step (now in flight).
    pub sent: Option<Flight>,
    /// What the attacker learnt in this step, in words (for traces).
    pub learnt: Option<&'static str>,
}

// ----- bounds and the model ---------------------------------------------------------------------

/// Bounds that keep the state space finite. Every one is range-checked ([`Bounds::validate`]):
/// nothing is capped silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Bounds {
    /// Logins the Consumer starts (handshakes to `A` or `M`).
    pub logins: u8,
    /// Sessions at `A` (handshakes plus refreshes).
    pub sessions: u8,
    /// The clock stops here.
    pub max_time: u8,
    /// Requests the Consumer signs to `A` (result, refresh, revoke, api; handshakes count too).
    pub requests: u8,
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
            requests: 6,
            captured: 3,
            attacker_requests: 2,
        }
    }
}

impl Bounds {
    /// The largest value of each bound the state's bitsets can hold.
    pub const LIMITS: [(&'static str, u8); 6] = [
        ("logins", 8),
        ("sessions", 16),
        ("max-time", 200),
        ("requests", 32),
        ("captured", 32),
        ("attacker-requests", 32),
    ];

    /// Refuses bounds the state cannot represent.
    pub fn validate(&self) -> Result<(), String> {
        let vals = [
            self.logins,
            self.sessions,
            self.max_time,
            self.requests,
            self.captured,
            self.attacker_requests,
        ];
        for ((name, max), v) in Self::LIMITS.iter().zip(vals) {
            if v > *max {
                return Err(format!("--{name} {v} is over its limit of {max}"));
            }
        }
        if self.logins == 0 {
            return Err("--logins must be at least 1".into());
        }
        Ok(())
    }
}

/// TTLs in clock ticks.
pub const PENDING_TTL: u8 = 2;
pub const CODE_TTL: u8 = 1;
pub const SESSION_TTL: u8 = 2;

/// The login-flow model: one protocol variant, the capabilities in force, the bounds.
#[derive(Clone, Debug)]
pub struct Tessera {
    pub switches: Switches,
    pub caps: Capabilities,
    pub bounds: Bounds,
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
        action.to_string()
    }
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

    pub(crate) fn on(&self, w: Switch) -> bool {
        self.switches.on(w)
    }

    pub(crate) fn can(&self, c: Capability) -> bool {
        self.caps.has(c)
    }

    /// The instances of `A` a request can reach.
    pub(crate) fn instances(&self) -> u8 {
        if self.can(Capability::Instances) {
            2
        } else {
            1
        }
    }

    /// The initial state.
    pub fn initial(&self) -> State {
        State {
            now: 0,
            sessions: Vec::new(),
            logins: Vec::new(),
            browsers: [BrowserState::default(), BrowserState::default()],
            inflight: Vec::new(),
            sent: 0,
            seen: [0, 0],
            restarted: false,
            know: Knowledge::default(),
            captured: Vec::new(),
            attacker_requests: 0,
            ghost: Ghost::default(),
        }
    }

    /// Apply an action. `None`: not enabled (or past a bound).
    pub fn step(&self, st: &State, action: &Action) -> Option<(State, Effect)> {
        let mut st = st.clone();
        let mut eff = Effect::default();
        match *action {
            Action::LoginStart {
                browser,
                authority,
                intended,
                m_url,
            } => self.login_start(&mut st, &mut eff, browser, authority, intended, m_url)?,
            Action::AuthorizeOpen {
                browser,
                request,
                allow,
            } => self.authorize_open(&mut st, &mut eff, browser, request, allow)?,
            Action::CallbackOpen {
                browser,
                url,
                m_claim,
            } => self.callback_open(&mut st, &mut eff, browser, url, m_claim)?,
            Action::AuthorityDelivers { id, instance } => {
                self.deliver(&mut st, &mut eff, id, instance)?;
            }
            Action::AuthorityRefuses { id } => self.refuse(&mut st, &mut eff, id)?,
            Action::ConsumerRefreshes { browser } => {
                self.consumer_refresh(&mut st, &mut eff, browser)?;
            }
            Action::ConsumerRevokes { browser } => {
                self.consumer_revoke(&mut st, &mut eff, browser)?;
            }
            Action::ConsumerCallsApi { browser } => {
                self.consumer_api(&mut st, &mut eff, browser)?;
            }
            Action::ClockTicks => {
                if st.now >= self.bounds.max_time {
                    return None;
                }
                st.now += 1;
            }
            Action::ReplayStoreRestarts => {
                if !self.can(Capability::Restart) || st.restarted {
                    return None;
                }
                self.restart_replay_store(&mut st);
            }
            Action::AttackerSteals => self.steal(&mut st, &mut eff)?,
            Action::AttackerForges { req } => self.forge(&mut st, &mut eff, req)?,
            Action::AttackerReplays { id, instance } => {
                self.replay(&mut st, &mut eff, id, instance)?;
            }
        }
        self.canonicalize(&mut st);
        Some((st, eff))
    }

    /// Forgets what can no longer matter, so that states that differ only there are one
    /// state: nonces of requests nobody can present again, and captured copies every instance
    /// will refuse for good.
    fn canonicalize(&self, st: &mut State) {
        let refused_for_good = |st: &State, c: &Captured| {
            (0..self.instances()).all(|i| self.replay_refusal(st, c.id, i, c.pre_restart).is_some())
                && (st.restarted || !self.can(Capability::Restart) || self.on(Switch::Fence))
        };
        let keep: Vec<bool> = st
            .captured
            .iter()
            .map(|c| !refused_for_good(st, c))
            .collect();
        let mut i = 0;
        st.captured.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let live: u32 = st.captured.iter().fold(0, |m, c| m | (1 << c.id));
        st.ghost.processed &= live;
        st.seen[0] &= live;
        st.seen[1] &= live;
    }

    /// Every action in a fixed order (paths are stored as action lists). The attacker's
    /// browser comes first: of two counterexamples of the same length, BFS then reports the
    /// one where the attacker acts itself.
    pub fn all_actions(&self, st: &State, out: &mut Vec<Action>) {
        self.browser_actions(st, out);
        self.consumer_actions(st, out);
        self.authority_actions(st, out);
        if st.now < self.bounds.max_time {
            out.push(Action::ClockTicks);
        }
        self.attacker_actions(st, out);
    }
}

impl Action {
    /// The request this action makes to an Authority and the answer, in state `st` (`None`
    /// for a step that reaches no Authority: a tick, a callback the Consumer refuses itself, a
    /// request put in flight). This is the Authority-facing behaviour the conformance suite is
    /// generated from.
    pub fn exchange(&self, model: &Tessera, st: &State) -> Option<Exchange> {
        model.step(st, self).and_then(|(_, e)| e.exchange)
    }
}

fn sid_text(s: u8) -> String {
    if s >= M_SID {
        format!("m{}", s - M_SID)
    } else {
        format!("s{s}")
    }
}

impl fmt::Display for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Req::Handshake { login } => write!(f, "handshake(L{login})"),
            Req::Result {
                sid,
                code,
                verifier,
            } => {
                write!(f, "result(sid={}", sid_text(sid))?;
                if let Some(c) = code {
                    write!(f, ", code=k{c}")?;
                }
                if verifier == ATTACKER_VERIFIER {
                    write!(f, ", verifier=attacker's)")
                } else {
                    write!(f, ", verifier=v{verifier})")
                }
            }
            Req::Refresh { sid } => write!(f, "refresh(sid={})", sid_text(sid)),
            Req::Revoke { sid } => write!(f, "revoke(sid={})", sid_text(sid)),
            Req::Api { sid } => write!(f, "api(ticket of {})", sid_text(sid)),
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Url::Authorize(r) => write!(f, "A/authorize?request=r{r}"),
            Url::MPage => write!(f, "M/authorize"),
            Url::Callback(cb) => write!(f, "{cb}"),
        }
    }
}

impl fmt::Display for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C/callback?")?;
        match self.token {
            Token::Code(c) if c == M_CODE => write!(f, "code=M's")?,
            Token::Code(c) => write!(f, "code=k{c}")?,
            Token::Sid(s) => write!(f, "sid={}", sid_text(s))?,
        }
        if let Some(l) = self.flow {
            write!(f, "&state=L{l}")?;
        }
        if let Some(i) = self.iss {
            write!(f, "&iss={i:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::LoginStart {
                browser,
                authority,
                intended,
                m_url,
            } => {
                let how = if intended { "" } else { " (CSRF)" };
                match authority {
                    Auth::A => write!(f, "{browser:?} logs in with A{how}"),
                    Auth::M => write!(f, "{browser:?} logs in with M{how}, M answers {m_url}"),
                }
            }
            Action::AuthorizeOpen {
                browser,
                request,
                allow,
            } => {
                if allow {
                    write!(f, "{browser:?} allows at A/authorize?request=r{request}")
                } else {
                    write!(f, "{browser:?} looks at A/authorize?request=r{request}")
                }
            }
            Action::CallbackOpen {
                browser,
                url,
                m_claim,
            } => write!(f, "{browser:?} opens {url} (M would claim {m_claim:?})"),
            Action::AuthorityDelivers { id, instance } => {
                write!(f, "A#{instance} answers request #{id}")
            }
            Action::AuthorityRefuses { id } => {
                write!(f, "A refuses request #{id} (outside the protocol)")
            }
            Action::ConsumerRefreshes { browser } => write!(f, "C refreshes {browser:?}'s session"),
            Action::ConsumerRevokes { browser } => write!(f, "C logs {browser:?} out"),
            Action::ConsumerCallsApi { browser } => write!(f, "C calls the API for {browser:?}"),
            Action::ClockTicks => write!(f, "time passes"),
            Action::ReplayStoreRestarts => write!(f, "A's replay store restarts"),
            Action::AttackerSteals => write!(f, "the attacker steals U's session and C's key"),
            Action::AttackerForges { req } => write!(f, "the attacker sends A {req}"),
            Action::AttackerReplays { id, instance } => {
                write!(f, "the attacker replays request #{id} at A#{instance}")
            }
        }
    }
}

// ----- small bitset helpers (callers stay within [`Bounds::LIMITS`]) ----------------------------

pub(crate) fn has(set: u16, i: u8) -> bool {
    i < 16 && set & (1 << i) != 0
}
pub(crate) fn add(set: &mut u16, i: u8) {
    debug_assert!(!(16..M_SID).contains(&i), "value {i} outside the bitset");
    if i < 16 {
        *set |= 1 << i;
    }
}
pub(crate) fn members(set: u16) -> impl Iterator<Item = u8> {
    (0..16u8).filter(move |i| set & (1 << i) != 0)
}
