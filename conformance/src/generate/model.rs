//! Vectors from the model (`tessera-model`).
//!
//! * **Coverage**: a breadth-first search of the hardened model within its default bounds
//!   records, for every (request kind, outcome) pair an Authority-facing exchange at the honest
//!   Authority `A` reaches, the first paths that reach it; the first one that concretizes
//!   becomes a vector.
//! * **Counterexamples**: for every weakened variant (`seed`, `hardened-minus-*`), the shortest
//!   counterexample of every violated property is replayed, action by action, in the hardened
//!   model. The first Authority-facing step whose answer differs from the weakened variant's
//!   (or that the hardened world does not allow: a replay of a captured request, a request
//!   forged with a stolen key) is where the hardened Authority must refuse the attack; the
//!   vector ends there. An attack the Consumer refuses before it reaches the Authority keeps
//!   the Authority-facing steps of the hardened run and says so (`refused_by: consumer`).
//!
//! **Concretization.** Abstract values become symbols: session `n` → `$sid{n}`, its code →
//! `$code{n}`, its authorize URL → `$authz{n}`, the ticket of session `n` → `$t{n}`, PKCE
//! login `l` → `$challenge:c{l}` / `$verifier:c{l}`. Browser `U` is the fixture Subject alice,
//! `E` is mallory. A model clock tick becomes a test-clock advance chosen so that exactly the
//! things the model lets expire at that tick expire with the spec's default TTLs (a path for
//! which no such advance exists is not concretizable and the next one is tried).

use super::dsl::*;
use crate::vector::{Actor, Expect, Origin, Request, Step, Vector};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use tessera_model::check::{check, model_for};
use tessera_model::switches::{Capabilities, Variant};
use tessera_model::world::{
    Action, Auth, Bounds, Browser, Exchange, Expectation, Outcome, RequestKind, Sender, State,
    Tessera,
};

/// How many paths per (kind, outcome) pair the search keeps as candidates.
const CANDIDATES: usize = 12;

/// The requirements a (kind, outcome) pair exercises.
fn requirements_of(kind: RequestKind, outcome: Outcome) -> Vec<&'static str> {
    let mut r: Vec<&'static str> = match kind {
        RequestKind::Handshake => vec!["TSR-HANDSHAKE-4"],
        RequestKind::Authorize => vec!["TSR-CONF-6", "TSR-CALLBACK-1"],
        RequestKind::Result => vec!["TSR-SESSION-1"],
        RequestKind::Refresh => vec!["TSR-SESSION-1"],
        RequestKind::Revoke => vec!["TSR-REVOKE-1"],
        RequestKind::Api => vec!["TSR-DATA-1"],
    };
    if outcome == Outcome::ErrorPage {
        r.push("TSR-AUTHZ-1");
    } else if let Some((_, _, reqs)) = crate::errors::TABLE
        .iter()
        .find(|(c, _, _)| *c == outcome.code())
    {
        r.extend(reqs.iter().copied());
    } else if outcome == Outcome::Ok {
        match kind {
            RequestKind::Result => r.push("TSR-RESULT-7"),
            RequestKind::Refresh => r.push("TSR-REFRESH-3"),
            _ => {}
        }
    }
    r.sort_unstable();
    r.dedup();
    r
}

fn kind_name(k: RequestKind) -> &'static str {
    match k {
        RequestKind::Handshake => "handshake",
        RequestKind::Authorize => "authorize",
        RequestKind::Result => "result",
        RequestKind::Refresh => "refresh",
        RequestKind::Revoke => "revoke",
        RequestKind::Api => "api",
    }
}

/// Concrete times of the things that can expire: (model exp, concrete exp).
#[derive(Default, Clone)]
struct Clock {
    model_now: i64,
    now: i64,
    items: Vec<(i64, i64)>,
}

impl Clock {
    fn add(&mut self, model_exp: i64, concrete_exp: i64) {
        self.items.push((model_exp, concrete_exp));
    }

    /// The advance for one model tick, or `None` when no advance fits.
    fn tick(&mut self) -> Option<i64> {
        let next = self.model_now + 1;
        let must = self
            .items
            .iter()
            .filter(|(m, _)| *m == next)
            .map(|(_, c)| *c)
            .max();
        let target = must.unwrap_or(self.now + 1).max(self.now + 1);
        let alive_ok = self
            .items
            .iter()
            .filter(|(m, _)| *m > next)
            .all(|(_, c)| *c > target);
        if !alive_ok {
            return None;
        }
        let advance = target - self.now;
        self.now = target;
        self.model_now = next;
        Some(advance)
    }
}

/// Turns a run of the model into vector steps.
struct Concretizer {
    state: State,
    steps: Vec<Step>,
    clock: Clock,
    bound: HashSet<String>,
    /// Consumer requests by their exchange fields → step name, for replays.
    sent: HashMap<ExKey, String>,
    session_exp: BTreeMap<u8, (i64, i64)>,
    n: usize,
}

/// An exchange's request fields: (kind, sid, code, verifier, challenge).
type ExKey = (u8, Option<u8>, Option<u8>, Option<u8>, Option<u8>);

fn key(ex: &Exchange) -> ExKey {
    (ex.kind as u8, ex.sid, ex.code, ex.verifier, ex.challenge)
}

impl Concretizer {
    fn new(model: &Tessera) -> Self {
        Concretizer {
            state: model.initial(),
            steps: Vec::new(),
            clock: Clock::default(),
            bound: HashSet::new(),
            sent: HashMap::new(),
            session_exp: BTreeMap::new(),
            n: 0,
        }
    }

    fn sym(&self, name: &str, fallback: &str) -> String {
        if self.bound.contains(name) {
            format!("${name}")
        } else {
            format!("$random:{fallback}")
        }
    }

    fn expect(outcome: Outcome) -> Expect {
        match outcome {
            Outcome::Ok => Expect::ok(),
            Outcome::ErrorPage => err("invalid_request"),
            o => err(o.code()),
        }
    }

    /// The concrete request of an exchange at `A` (not an authorize).
    fn request(&self, ex: &Exchange) -> Request {
        let sid = |s: Option<u8>| {
            let s = s.unwrap_or(255);
            self.sym(&format!("sid{s}"), &format!("sid{s}"))
        };
        match ex.kind {
            RequestKind::Handshake => {
                // login l's state is `$random:statec{l}` (the Consumer's per-flow value)
                let body = handshake_body(C, &format!("c{}", ex.state.unwrap_or(255)));
                post(consumer(C), "/v1/handshake", body, Expect::ok())
            }
            RequestKind::Result => {
                let code = match ex.code {
                    Some(c) => self.sym(&format!("code{c}"), &format!("code{c}")),
                    None => "$random:nocode".to_string(),
                };
                // v1.1 has no PKCE: the hardened model sends no verifier
                post(
                    consumer(C),
                    "/v1/result",
                    json!({"sid": sid(ex.sid), "code": code}),
                    Expect::ok(),
                )
            }
            RequestKind::Refresh => post(
                consumer(C),
                "/v1/refresh",
                json!({"sid": sid(ex.sid)}),
                Expect::ok(),
            ),
            RequestKind::Revoke => post(
                consumer(C),
                "/v1/revoke",
                json!({"sid": sid(ex.sid)}),
                Expect::ok(),
            ),
            RequestKind::Api | RequestKind::Authorize => {
                let t = format!("t{}", ex.sid.unwrap_or(255));
                if self.bound.contains(&t) {
                    get(ticket(&format!("${t}")), "/v1/subject", Expect::ok())
                } else {
                    // no ticket was ever issued for this session: a Hawk request with an id that
                    // opens nothing
                    get(
                        Actor::Authorization("Hawk id=\"${random:noticket}\", ts=\"${now}\", nonce=\"${random:n}\", mac=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"".into()),
                        "/v1/subject",
                        Expect::ok(),
                    )
                }
            }
        }
    }

    /// Binds what a successful exchange created; tracks expiries.
    fn bind(&mut self, ex: &Exchange, r: &mut Request) {
        if ex.outcome != Outcome::Ok {
            return;
        }
        let now = self.clock.now;
        let m = self.clock.model_now;
        match ex.kind {
            RequestKind::Handshake => {
                if let Some(n) = ex.new_sid {
                    r.expect = r
                        .expect
                        .clone()
                        .bind(&format!("sid{n}"), "/sid")
                        .bind(&format!("authz{n}"), "/authorize_url");
                    self.bound.insert(format!("sid{n}"));
                    self.bound.insert(format!("authz{n}"));
                    let e = (
                        m + i64::from(tessera_model::world::PENDING_TTL),
                        now + TTL_AUTHORIZE,
                    );
                    self.session_exp.insert(n, e);
                    self.clock.add(e.0, e.1);
                }
            }
            RequestKind::Result => {
                if let Some(s) = ex.sid {
                    r.expect = r.expect.clone().bind(&format!("t{s}"), "/ticket");
                    self.bound.insert(format!("t{s}"));
                    let e = (
                        m + i64::from(tessera_model::world::SESSION_TTL),
                        now + TTL_SESSION,
                    );
                    self.session_exp.insert(s, e);
                    self.clock.add(e.0, e.1);
                    self.clock.add(e.0, now + TTL_TICKET);
                }
            }
            RequestKind::Refresh => {
                if let Some(n) = ex.new_sid {
                    r.expect = r
                        .expect
                        .clone()
                        .bind(&format!("sid{n}"), "/sid")
                        .bind(&format!("t{n}"), "/ticket");
                    self.bound.insert(format!("sid{n}"));
                    self.bound.insert(format!("t{n}"));
                    let e = (
                        m + i64::from(tessera_model::world::SESSION_TTL),
                        now + TTL_SESSION,
                    );
                    self.session_exp.insert(n, e);
                    self.clock.add(e.0, e.1);
                    self.clock.add(e.0, now + TTL_TICKET);
                }
            }
            _ => {}
        }
    }

    /// Applies one action in the model and appends its steps. `Err(())`: not concretizable.
    fn push(
        &mut self,
        action: &Action,
        exchange: Option<Exchange>,
        next: State,
    ) -> Result<Option<usize>, ()> {
        let mut at = None;
        match action {
            Action::ClockTicks => {
                let adv = self.clock.tick().ok_or(())?;
                self.steps
                    .push(advance(adv, "one tick of the model's clock"));
            }
            // a black-box Authority cannot be made to refuse outside the protocol, restart its
            // replay store on cue, or lose a session to a theft; a browser that only looks at
            // the consent page leaves nothing to check
            Action::AuthorityRefuses { .. }
            | Action::ReplayStoreRestarts
            | Action::AttackerSteals
            | Action::AuthorizeOpen { allow: false, .. } => return Err(()),
            Action::AuthorizeOpen {
                browser, request, ..
            } => {
                let ex = exchange.ok_or(())?;
                let user = if *browser == Browser::U {
                    "alice"
                } else {
                    "mallory"
                };
                let url = if self.bound.contains(&format!("authz{request}")) {
                    format!("$authz{request}")
                } else {
                    "${issuer}/authorize?request=${random:r}".to_string()
                };
                let mut expect = Self::expect(ex.outcome);
                if ex.outcome == Outcome::Ok {
                    let login = self.state.sessions[*request as usize].login;
                    expect = expect
                        .with("/query/state", json!(state_of(&format!("c{login}"))))
                        .bind(&format!("code{request}"), "/query/code");
                    self.bound.insert(format!("code{request}"));
                    let (sm, sc) = self
                        .session_exp
                        .get(request)
                        .copied()
                        .unwrap_or((i64::MAX, i64::MAX));
                    self.clock.add(
                        (self.clock.model_now + i64::from(tessera_model::world::CODE_TTL)).min(sm),
                        (self.clock.now + TTL_CODE).min(sc),
                    );
                }
                self.steps.push(Step::Authorize(crate::vector::Authorize {
                    authorize_url: url,
                    username: user.into(),
                    decision: "allow".into(),
                    scopes: None,
                    expect,
                    note: Some(format!("browser {browser:?} at the authorize page")),
                }));
                at = Some(self.steps.len());
            }
            _ => {
                if let Some(ex) = exchange.filter(|e| e.authority == Auth::A) {
                    if ex.sender == Sender::Replay {
                        let of = self.sent.get(&key(&ex)).cloned().ok_or(())?;
                        self.steps.push(replay(&of, Self::expect(ex.outcome)));
                    } else {
                        let mut r = self.request(&ex);
                        r.expect = Self::expect(ex.outcome);
                        self.bind(&ex, &mut r);
                        self.n += 1;
                        let name = format!("m{}", self.n);
                        r.name = Some(name.clone());
                        if ex.sender == Sender::Consumer {
                            self.sent.entry(key(&ex)).or_insert(name);
                        }
                        self.steps.push(step(r));
                    }
                    at = Some(self.steps.len());
                }
            }
        }
        self.state = next;
        Ok(at)
    }
}

/// Concretizes a path of the hardened model: the steps, and the step index of each action
/// that reached `A`.
fn concretize(model: &Tessera, path: &[Action]) -> Option<(Vec<Step>, Vec<Option<usize>>)> {
    let mut c = Concretizer::new(model);
    let mut at = Vec::new();
    for a in path {
        let (next, eff) = model.step(&c.state, a)?;
        at.push(c.push(a, eff.exchange, next).ok()?);
    }
    Some((c.steps, at))
}

fn coverage() -> Vec<Vector> {
    let model = model_for(
        &Variant::hardened(),
        Capabilities::default(),
        Bounds::default(),
    );
    // BFS, keeping up to CANDIDATES paths per pair (shortest first)
    let mut found: BTreeMap<(String, String), Vec<Vec<Action>>> = BTreeMap::new();
    let mut seen: HashSet<State> = HashSet::new();
    let init = model.initial();
    seen.insert(init.clone());
    let mut frontier: Vec<(State, Vec<Action>)> = vec![(init, vec![])];
    let mut actions = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for (st, path) in frontier.drain(..) {
            actions.clear();
            model.all_actions(&st, &mut actions);
            for a in &actions {
                let Some((s2, eff)) = model.step(&st, a) else {
                    continue;
                };
                let mut p = path.clone();
                p.push(*a);
                if let Some(ex) = eff.exchange.filter(|e| e.authority == Auth::A) {
                    let k = (
                        kind_name(ex.kind).to_string(),
                        ex.outcome.code().to_string(),
                    );
                    let list = found.entry(k).or_default();
                    if list.len() < CANDIDATES {
                        list.push(p.clone());
                    }
                }
                if seen.insert(s2.clone()) {
                    next.push((s2, p));
                }
            }
        }
        frontier = next;
    }
    let mut out = Vec::new();
    for ((kind, outcome), paths) in found {
        let Some((steps, at)) = paths.iter().find_map(|p| concretize(&model, p)) else {
            if std::env::var_os("TESSERA_DEBUG_GEN").is_some() {
                eprintln!(
                    "not concretizable: {kind} {outcome} ({} paths)",
                    paths.len()
                );
            }
            continue;
        };
        let _ = at;
        let (k, o) = paths[0]
            .last()
            .and_then(|a| {
                let st =
                    tessera_model::check::replay(&model, &paths[0][..paths[0].len() - 1]).pop()?;
                a.exchange(&model, &st).map(|e| (e.kind, e.outcome))
            })
            .expect("the recorded path ends with its exchange");
        let reqs = requirements_of(k, o);
        out.push(vector(
            &format!("model.coverage.{kind}.{}", outcome.replace('_', "-")),
            &format!("the model's {kind} answered {outcome}, concretely (shortest path of the hardened model)"),
            &reqs,
            Origin::Coverage { request: kind, outcome },
            steps,
        ));
    }
    out
}

fn counterexamples() -> Vec<Vector> {
    let caps = Capabilities::default();
    let hardened = model_for(&Variant::hardened(), caps, Bounds::default());
    let mut out = Vec::new();
    for variant in Variant::all().into_iter().filter(|v| v.name != "hardened") {
        let weak = model_for(&variant, caps, Bounds::default());
        let report = check(&variant.name, &weak, None);
        for p in report
            .properties
            .iter()
            .filter(|p| p.def.expectation == Expectation::Always && !p.holds)
        {
            let Some(path) = &p.path else { continue };
            if let Some(v) = negative(
                &hardened,
                &weak,
                &variant.name,
                p.def.name,
                p.def.requirements,
                path,
            ) {
                out.push(v);
            }
        }
    }
    out
}

/// The attack `path` (found on `weak`) against the hardened Authority.
fn negative(
    hardened: &Tessera,
    weak: &Tessera,
    variant: &str,
    property: &str,
    reqs: &[&str],
    path: &[Action],
) -> Option<Vector> {
    let mut c = Concretizer::new(hardened);
    let mut weak_state = weak.initial();
    let mut refused_at = None;
    let mut weak_sent: HashMap<ExKey, String> = HashMap::new();
    for a in path {
        let (weak_next, weak_eff) = weak.step(&weak_state, a)?;
        let weak_ex = weak_eff.exchange.filter(|e| e.authority == Auth::A);
        match hardened.step(&c.state, a) {
            Some((next, eff)) => {
                let ex = eff.exchange.filter(|e| e.authority == Auth::A);
                let at = c.push(a, eff.exchange, next).ok()?;
                if let (Some(w), Some(h), Some(i)) = (weak_ex, ex, at) {
                    if w.outcome == Outcome::Ok && h.outcome != Outcome::Ok {
                        refused_at = Some(i);
                    }
                }
                if let Some(Step::Request(r)) = c.steps.last() {
                    if let (Some(w), Some(n)) = (weak_ex, &r.name) {
                        weak_sent.entry(key(&w)).or_insert(n.clone());
                    }
                }
            }
            None => match a {
                Action::AttackerReplays { .. } => {
                    // no capture is replayable with nonces on: the request is replayed verbatim
                    // and refused
                    let w = weak_ex?;
                    let of = weak_sent
                        .get(&key(&w))
                        .or_else(|| c.sent.get(&key(&w)))
                        .cloned()?;
                    c.steps.push(replay(&of, err("replayed_request")));
                    refused_at = Some(c.steps.len());
                }
                Action::AttackerForges { .. } => {
                    // with Hawk on the key never leaks: the attacker can only sign with a key of
                    // its own
                    let w = weak_ex?;
                    let mut r = c.request(&w);
                    r.expect = err("invalid_credentials");
                    r.hawk.key = Some("${random:attackerkey}".into());
                    c.steps.push(step(r));
                    refused_at = Some(c.steps.len());
                }
                _ => {
                    if weak_ex.is_some() {
                        // the hardened world does not let this request be made at all (the
                        // Consumer refuses the callback first, or the value is never learnt)
                        break;
                    }
                }
            },
        }
        weak_state = weak_next;
        if refused_at.is_some() {
            break;
        }
    }
    if refused_at.is_none() && weak_state.know.key {
        // the weakened run leaked the Consumer's key (the proposal's C_SECRET on the wire);
        // with Hawk the key never travels, so all the attacker can send is a request signed
        // with a key of its own, which the hardened Authority refuses
        let mut r = post(
            consumer(C),
            "/v1/handshake",
            handshake_body(C, "attacker"),
            err("invalid_credentials"),
        );
        r.hawk.key = Some("${random:attackerkey}".into());
        r.note = Some("the attacker acts as the Consumer with the key it would have learnt".into());
        c.steps.push(step(r));
        refused_at = Some(c.steps.len());
    }
    if c.steps.is_empty() {
        // the attack never reaches the honest Authority (e.g. a mix-up played entirely at the
        // attacker's Authority): what the honest Authority contributes to the defence is an
        // honest login whose callback names it (TSR-CALLBACK-2), which the Consumer checks
        let mut s = vec![handshake("0")];
        if let Step::Authorize(a) = allow("0") {
            s.push(Step::Authorize(crate::vector::Authorize {
                note: Some("the callback carries iss = the honest Authority's issuer".into()),
                ..a
            }));
        }
        c.steps = s;
    }
    let refused_by_authority = refused_at.is_some();
    let refused = refused_at.unwrap_or(c.steps.len());
    // the property's Consumer-side requirements are not what these Authority-facing steps
    // test: the Consumer profile replays the same counterexamples against a Consumer
    // (`generate/consumer.rs`)
    let mut r: Vec<&str> = reqs
        .iter()
        .copied()
        .filter(|id| !crate::consumer::is_consumer_side(id))
        .collect();
    let refused_error = match c.steps.get(refused - 1) {
        Some(Step::Request(req)) => req.expect.error.clone(),
        Some(Step::Replay { expect, .. }) => expect.error.clone(),
        Some(Step::Authorize(a)) => a.expect.error.clone(),
        _ => None,
    };
    if let Some(code) = refused_error.filter(|_| refused_by_authority) {
        if let Some((_, _, more)) = crate::errors::TABLE.iter().find(|(c, _, _)| *c == code) {
            r.extend(more.iter().copied());
        }
    }
    if let Some(Step::Replay { .. }) = c.steps.get(refused - 1) {
        r.push("TSR-HAWK-9");
    }
    r.sort_unstable();
    r.dedup();
    let short = tessera_model::world::short_name(property).replace(' ', "-");
    let title = if refused_by_authority {
        format!("{variant}'s counterexample to \"{property}\", refused by the hardened Authority at step {refused}")
    } else {
        format!("{variant}'s counterexample to \"{property}\": the Authority-facing part, which the hardened Authority answers as the model says (the Consumer refuses the attack)")
    };
    Some(vector(
        &format!("model.counterexample.{variant}.{short}"),
        &title,
        &r,
        Origin::Counterexample {
            variant: variant.to_string(),
            property: property.to_string(),
            refused_at_step: refused,
            refused_by: if refused_by_authority {
                "authority".into()
            } else {
                "consumer".into()
            },
        },
        c.steps,
    ))
}

/// The model the differential test compares the Authority with: the hardened variant, with
/// bounds wider than the checker's so that random walks go further.
pub fn differential_model() -> Tessera {
    model_for(
        &Variant::hardened(),
        Capabilities::default(),
        differential_bounds(),
    )
}

fn differential_bounds() -> Bounds {
    Bounds {
        logins: 4,
        sessions: 6,
        max_time: 4,
        requests: 24,
        ..Bounds::default()
    }
}

/// The model regression walks are concretized with: the hardened variant, as the protocol is.
fn regression_model() -> Tessera {
    model_for(
        &Variant::hardened(),
        Capabilities::default(),
        differential_bounds(),
    )
}

/// A walk through `model`: at each step, of the actions enabled in the current state, the one
/// `choice % count` picks. `None` when the walk cannot be concretized (a tick for which no
/// test-clock advance fits).
pub fn walk(model: &Tessera, choices: &[u16]) -> Option<Vec<Step>> {
    let mut c = Concretizer::new(model);
    let mut actions = Vec::new();
    for &choice in choices {
        actions.clear();
        model.all_actions(&c.state, &mut actions);
        let enabled: Vec<(Action, State, Option<Exchange>)> = actions
            .iter()
            .filter_map(|a| model.step(&c.state, a).map(|(s, e)| (*a, s, e.exchange)))
            .collect();
        if enabled.is_empty() {
            break;
        }
        let (a, next, ex) = enabled[usize::from(choice) % enabled.len()].clone();
        c.push(&a, ex, next).ok()?;
    }
    Some(c.steps)
}

/// A shrunk failure of the differential test, kept as the choices of its walk.
#[derive(Debug, Clone, serde::Deserialize)]
struct Regression {
    seed: String,
    choices: Vec<u16>,
    #[serde(default)]
    note: String,
}

/// The regression vectors of `conformance/regressions.json`.
fn regressions() -> Vec<Vector> {
    let list: Vec<Regression> = serde_json::from_str(include_str!("../../regressions.json"))
        .expect("conformance/regressions.json is a list of {seed, choices}");
    let model = regression_model();
    list.iter()
        .filter_map(|r| {
            let steps = walk(&model, &r.choices)?;
            Some(vector(
                &format!("regression.{}", r.seed),
                &format!("differential test regression {}: {}", r.seed, r.note),
                &["TSR-SESSION-1"],
                Origin::Regression {
                    seed: r.seed.clone(),
                },
                steps,
            ))
        })
        .collect()
}

pub fn vectors() -> Vec<Vector> {
    let mut v = coverage();
    v.extend(counterexamples());
    v.extend(regressions());
    v
}
