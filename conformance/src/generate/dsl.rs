//! Building blocks for writing vectors in Rust: fixture names and the steps of a login.

use crate::vector::{
    Actor, Authorize, Expect, Feature, HawkTweaks, Origin, Outcome, Request, Step, Vector, FORMAT,
};
use serde_json::{json, Value};

/// The fixture Consumer that may delegate (spec A.3).
pub const C: &str = "conformance-consumer";
/// The fixture Consumer that may not.
pub const D: &str = "conformance-delegate";
pub const C_REDIRECT: &str = "https://consumer.example/callback";
pub const D_REDIRECT: &str = "https://delegate.example/callback";

/// Default TTLs of spec 2.4 (a target with other TTLs publishes them; these vectors assume
/// the defaults, as appendix A's conformance mode does).
pub const TTL_AUTHORIZE: i64 = 600;
pub const TTL_CODE: i64 = 60;
pub const TTL_SESSION: i64 = 86_400;
pub const TTL_FAMILY: i64 = 2_592_000;
pub const TTL_TICKET: i64 = 3_600;
pub const SKEW: i64 = 60;

pub fn vector(
    id: &str,
    title: &str,
    requirements: &[&str],
    origin: Origin,
    steps: Vec<Step>,
) -> Vector {
    let mut reqs: Vec<String> = requirements.iter().map(|s| s.to_string()).collect();
    reqs.dedup();
    Vector {
        format: FORMAT.to_string(),
        id: id.to_string(),
        title: title.to_string(),
        requirements: reqs,
        origin,
        features: vec![],
        steps,
    }
}

pub fn with_features(mut v: Vector, features: &[Feature]) -> Vector {
    v.features = features.to_vec();
    v
}

pub fn consumer(id: &str) -> Actor {
    Actor::Consumer(id.to_string())
}

pub fn ticket(sym: &str) -> Actor {
    Actor::Ticket(sym.to_string())
}

pub fn request(
    actor: Actor,
    method: &str,
    path: &str,
    body: Option<Value>,
    expect: Expect,
) -> Request {
    Request {
        name: None,
        actor,
        method: method.to_string(),
        path: path.to_string(),
        body,
        raw_body: None,
        content_type: None,
        hawk: HawkTweaks::default(),
        browser: None,
        expect,
        note: None,
    }
}

pub fn post(actor: Actor, path: &str, body: Value, expect: Expect) -> Request {
    request(actor, "POST", path, Some(body), expect)
}

pub fn get(actor: Actor, path: &str, expect: Expect) -> Request {
    request(actor, "GET", path, None, expect)
}

pub fn step(r: Request) -> Step {
    Step::Request(r)
}

pub fn named(mut r: Request, name: &str) -> Request {
    r.name = Some(name.to_string());
    r
}

pub fn note(mut r: Request, text: &str) -> Request {
    r.note = Some(text.to_string());
    r
}

pub fn tweak(mut r: Request, f: impl FnOnce(&mut HawkTweaks)) -> Request {
    f(&mut r.hawk);
    r
}

pub fn advance(seconds: i64, why: &str) -> Step {
    Step::Advance {
        seconds,
        note: Some(why.to_string()),
    }
}

pub fn replay(of: &str, expect: Expect) -> Step {
    Step::Replay {
        of: of.to_string(),
        expect,
        note: None,
    }
}

pub fn concurrent(requests: Vec<Request>, outcomes: Vec<Outcome>, why: &str) -> Step {
    Step::Concurrent {
        requests,
        outcomes,
        note: Some(why.to_string()),
    }
}

pub fn outcome(expect: &Expect, count: usize) -> Outcome {
    Outcome {
        status: expect.status,
        error: expect.error.clone(),
        or_error: vec![],
        count,
        bind: Default::default(),
    }
}

/// A handshake body for Consumer `who` for login `tag`, with a fresh `state` (spec
/// TSR-HANDSHAKE-7) that the callback must echo (TSR-CALLBACK-5).
pub fn handshake_body(who: &str, tag: &str) -> Value {
    let (redirect, grants, scopes) = if who == D {
        (D_REDIRECT, json!(["staff"]), json!(["email"]))
    } else {
        (
            C_REDIRECT,
            json!(["admin", "staff"]),
            json!(["email", "profile"]),
        )
    };
    json!({
        "redirect_uri": redirect,
        "grants": grants,
        "scopes": scopes,
        "state": state_of(tag),
    })
}

/// The `state` symbol of login `tag`.
pub fn state_of(tag: &str) -> String {
    format!("$random:state{tag}")
}

/// `POST /v1/handshake` by `who`, binding `sid{tag}` and `authz{tag}`.
pub fn handshake_as(who: &str, tag: &str) -> Step {
    step(post(
        consumer(who),
        "/v1/handshake",
        handshake_body(who, tag),
        Expect::ok()
            .bind(&format!("sid{tag}"), "/sid")
            .bind(&format!("authz{tag}"), "/authorize_url"),
    ))
}

pub fn handshake(tag: &str) -> Step {
    handshake_as(C, tag)
}

/// The Subject `user` allows the request of handshake `tag`; binds `code{tag}`.
pub fn allow_as(tag: &str, user: &str, scopes: Option<Vec<&str>>) -> Step {
    Step::Authorize(Authorize {
        authorize_url: format!("$authz{tag}"),
        username: user.to_string(),
        decision: "allow".into(),
        scopes: scopes.map(|s| s.into_iter().map(String::from).collect()),
        expect: Expect::ok()
            .with("/query/iss", json!("$issuer"))
            .with("/query/state", json!(state_of(tag)))
            .bind(&format!("code{tag}"), "/query/code"),
        note: None,
    })
}

pub fn allow(tag: &str) -> Step {
    allow_as(tag, "alice", None)
}

pub fn deny(tag: &str) -> Step {
    Step::Authorize(Authorize {
        authorize_url: format!("$authz{tag}"),
        username: "alice".into(),
        decision: "deny".into(),
        scopes: None,
        expect: Expect::ok()
            .with("/query/error", json!("access_denied"))
            .with("/query/iss", json!("$issuer"))
            .with("/query/state", json!(state_of(tag)))
            .without("/query/code"),
        note: None,
    })
}

pub fn result_body(tag: &str) -> Value {
    json!({
        "sid": format!("$sid{tag}"),
        "code": format!("$code{tag}"),
    })
}

/// `POST /v1/result` for login `tag` by `who`, expecting `expect`.
pub fn result_as(who: &str, tag: &str, expect: Expect) -> Request {
    post(consumer(who), "/v1/result", result_body(tag), expect)
}

/// A successful result of login `tag`: binds `t{tag}` (the ticket) and `sub{tag}`.
pub fn redeem(tag: &str) -> Step {
    redeem_as(C, tag)
}

pub fn redeem_as(who: &str, tag: &str) -> Step {
    step(result_as(
        who,
        tag,
        Expect::ok()
            .bind(&format!("t{tag}"), "/ticket")
            .bind(&format!("sub{tag}"), "/sub")
            .bind(&format!("exp{tag}"), "/exp"),
    ))
}

/// Handshake, allow and result: an active session `sid{tag}` with ticket `t{tag}`.
pub fn login(tag: &str) -> Vec<Step> {
    vec![handshake(tag), allow(tag), redeem(tag)]
}

pub fn login_as(who: &str, tag: &str) -> Vec<Step> {
    vec![handshake_as(who, tag), allow(tag), redeem_as(who, tag)]
}

pub fn sid_body(sym: &str) -> Value {
    json!({ "sid": sym })
}

/// `POST /v1/refresh` of `sid{from}`.
pub fn refresh(from: &str, expect: Expect) -> Request {
    post(
        consumer(C),
        "/v1/refresh",
        sid_body(&format!("$sid{from}")),
        expect,
    )
}

/// A successful refresh of `sid{from}` binding `sid{to}` and `t{to}`.
pub fn rotate(from: &str, to: &str) -> Step {
    step(refresh(
        from,
        Expect::ok()
            .with("/previous_sid", json!(format!("$sid{from}")))
            .bind(&format!("sid{to}"), "/sid")
            .bind(&format!("t{to}"), "/ticket"),
    ))
}

pub fn revoke(sym_tag: &str) -> Step {
    step(post(
        consumer(C),
        "/v1/revoke",
        sid_body(&format!("$sid{sym_tag}")),
        Expect::ok().with("", json!({})),
    ))
}

/// `GET /v1/subject` with ticket `sym` (a symbol such as `$t1`).
pub fn subject(sym: &str, expect: Expect) -> Step {
    step(get(ticket(sym), "/v1/subject", expect))
}

pub fn ok_subject(sym: &str) -> Step {
    subject(sym, Expect::ok())
}

pub fn err(code: &str) -> Expect {
    Expect::error(code)
}
