//! The rules of each endpoint (spec chapters 2, 5, 6, 7, 8 and appendix A), written from the
//! requirements' text.

use super::dsl::*;
use crate::vector::{Actor, Expect, Feature, Origin, Request, Step, Vector};
use serde_json::{json, Value};

fn req_vector(id: &str, title: &str, reqs: &[&str], steps: Vec<Step>) -> Vector {
    vector(id, title, reqs, Origin::Requirement, steps)
}

fn err_vector(id: &str, code: &str, title: &str, reqs: &[&str], steps: Vec<Step>) -> Vector {
    let mut r = reqs.to_vec();
    r.push("TSR-ERROR-1");
    vector(
        id,
        title,
        &r,
        Origin::ErrorTable {
            error: code.to_string(),
        },
        steps,
    )
}

/// The JSON-body endpoints: (name, path, setup, a correct body, its answer, ticket?).
/// (name, path, setup steps, a correct body, ticket credentials?, features).
type BodyEndpoint = (
    &'static str,
    &'static str,
    Vec<Step>,
    Value,
    bool,
    Vec<Feature>,
);

fn body_endpoints() -> Vec<BodyEndpoint> {
    vec![
        (
            "handshake",
            "/v1/handshake",
            vec![],
            handshake_body(C, "b"),
            false,
            vec![],
        ),
        (
            "result",
            "/v1/result",
            vec![handshake("1"), allow("1")],
            result_body("1"),
            false,
            vec![],
        ),
        (
            "refresh",
            "/v1/refresh",
            login("1"),
            sid_body("$sid1"),
            false,
            vec![],
        ),
        (
            "revoke",
            "/v1/revoke",
            vec![handshake("1")],
            sid_body("$sid1"),
            false,
            vec![],
        ),
        (
            "app-ticket",
            "/v1/app-ticket",
            vec![],
            json!({}),
            false,
            vec![Feature::AppTicket],
        ),
        (
            "reissue",
            "/v1/reissue",
            login("1"),
            json!({}),
            true,
            vec![Feature::Reissue],
        ),
    ]
}

fn raw(
    actor: Actor,
    path: &str,
    raw_body: &str,
    content_type: Option<&str>,
    expect: Expect,
) -> Request {
    let mut r = request(actor, "POST", path, None, expect);
    r.raw_body = Some(raw_body.to_string());
    r.content_type = content_type.map(String::from);
    r
}

pub fn bodies() -> Vec<Vector> {
    let mut out = Vec::new();
    for (name, path, setup, good, is_ticket, features) in body_endpoints() {
        let actor = || {
            if is_ticket {
                ticket("$t1")
            } else {
                consumer(C)
            }
        };
        let good_req = post(actor(), path, good.clone(), Expect::ok());
        let mut push = |case: &str, code: &str, title: &str, reqs: &[&str], bad: Request| {
            let mut steps = setup.clone();
            steps.push(step(bad));
            steps.push(step(good_req.clone()));
            let mut r = reqs.to_vec();
            r.push("TSR-CONV-7");
            out.push(with_features(
                err_vector(
                    &format!("body.{name}.{case}"),
                    code,
                    &format!("POST {path}: {title}"),
                    &r,
                    steps,
                ),
                &features,
            ));
        };
        push(
            "not-json",
            "invalid_request",
            "a body that is not JSON is 400 invalid_request",
            &["TSR-CONV-3"],
            raw(actor(), path, "{\"sid\": ", None, err("invalid_request")),
        );
        push(
            "not-object",
            "invalid_request",
            "a JSON array body is 400 invalid_request",
            &["TSR-CONV-3"],
            raw(actor(), path, "[]", None, err("invalid_request")),
        );
        let mut unknown = good.clone();
        unknown["scope_typo"] = json!(["email"]);
        push(
            "unknown-member",
            "invalid_request",
            "an unknown member is refused, not ignored",
            &["TSR-CONV-3"],
            post(actor(), path, unknown, err("invalid_request")),
        );
        if let Some((first, _)) = good.as_object().and_then(|o| o.iter().next()) {
            let mut missing = good.clone();
            missing.as_object_mut().expect("object").remove(first);
            let optional = name == "reissue";
            if !optional {
                push(
                    "missing-member",
                    "invalid_request",
                    &format!("a missing {first} is 400 invalid_request"),
                    &["TSR-CONV-3"],
                    post(actor(), path, missing, err("invalid_request")),
                );
                let mut wrong = good.clone();
                wrong[first.as_str()] = json!(42);
                push(
                    "wrong-type",
                    "invalid_request",
                    &format!("{first} of the wrong type is 400 invalid_request"),
                    &["TSR-CONV-3"],
                    post(actor(), path, wrong, err("invalid_request")),
                );
            }
        }
        push(
            "form-content-type",
            "unsupported_media_type",
            "a form-encoded body is 415 unsupported_media_type",
            &["TSR-CONV-4"],
            raw(
                actor(),
                path,
                "sid=abc",
                Some("application/x-www-form-urlencoded"),
                err("unsupported_media_type"),
            ),
        );
        push(
            "text-content-type",
            "unsupported_media_type",
            "JSON sent as text/plain is 415 unsupported_media_type",
            &["TSR-CONV-4"],
            raw(
                actor(),
                path,
                &good.to_string(),
                Some("text/plain"),
                err("unsupported_media_type"),
            ),
        );
        // exactly 16 KiB is not over the limit: the body is read, and refused for its content
        let exact = format!("{{\"pad\": \"{}\"}}", "a".repeat(16 * 1024 - 11));
        debug_assert_eq!(exact.len(), 16 * 1024);
        push(
            "exactly-16-kib",
            "invalid_request",
            "a body of exactly 16 KiB is read (400 invalid_request for its unknown member), not 413",
            &["TSR-CONV-5", "TSR-CONV-3"],
            raw(actor(), path, &exact, None, err("invalid_request")),
        );
        push(
            "no-content-type",
            "unsupported_media_type",
            "a non-empty body without Content-Type is 415 unsupported_media_type",
            &["TSR-CONV-4"],
            raw(
                actor(),
                path,
                &good.to_string(),
                Some(""),
                err("unsupported_media_type"),
            ),
        );
        let big = format!("{{\"pad\": \"{}\"}}", "a".repeat(16 * 1024 + 1));
        push(
            "too-large",
            "payload_too_large",
            "a body over 16 KiB is 413 payload_too_large",
            &["TSR-CONV-5"],
            raw(actor(), path, &big, None, err("payload_too_large")),
        );
    }
    out
}

pub fn handshakes() -> Vec<Vector> {
    let mut out = Vec::new();
    let hs = |body: Value, expect: Expect| step(post(consumer(C), "/v1/handshake", body, expect));
    let with = |k: &str, v: Value| {
        let mut b = handshake_body(C, "1");
        b[k] = v;
        b
    };
    let bad = |id: &str, code: &str, title: &str, reqs: &[&str], body: Value| {
        err_vector(
            &format!("handshake.{id}"),
            code,
            &format!("POST /v1/handshake: {title}"),
            reqs,
            vec![hs(body, err(code)), handshake("ok")],
        )
    };
    for (id, uri, title) in [
        (
            "redirect-unregistered",
            "https://attacker.example/callback",
            "an unregistered redirect_uri",
        ),
        (
            "redirect-trailing-slash",
            "https://consumer.example/callback/",
            "a redirect_uri with a trailing slash",
        ),
        (
            "redirect-case",
            "https://Consumer.example/callback",
            "a redirect_uri differing in case",
        ),
        (
            "redirect-prefix",
            "https://consumer.example/callback/extra",
            "a redirect_uri extending a registered one",
        ),
        (
            "redirect-query",
            "https://consumer.example/callback?x=1",
            "a redirect_uri with an added query",
        ),
        (
            "redirect-other-consumer",
            D_REDIRECT,
            "another Consumer's redirect_uri",
        ),
        (
            "redirect-http",
            "http://consumer.example/callback",
            "the registered URI with http instead of https",
        ),
    ] {
        out.push(bad(
            id,
            "invalid_redirect_uri",
            &format!("{title} is 400 invalid_redirect_uri"),
            &["TSR-HANDSHAKE-1", "TSR-REG-3"],
            with("redirect_uri", json!(uri)),
        ));
    }
    out.push(bad(
        "grant-unregistered",
        "grant_not_allowed",
        "a grant not registered is 400 grant_not_allowed",
        &["TSR-HANDSHAKE-2"],
        with("grants", json!(["staff", "root"])),
    ));
    out.push(bad(
        "scope-unregistered",
        "scope_not_allowed",
        "a scope not registered is 400 scope_not_allowed",
        &["TSR-HANDSHAKE-2", "TSR-TICKET-9"],
        with("scopes", json!(["email", "phone"])),
    ));
    out.push(err_vector(
        "handshake.grant-of-other-consumer",
        "grant_not_allowed",
        "the delegate asks for admin, registered only for the other Consumer",
        &["TSR-HANDSHAKE-2"],
        vec![step(post(
            consumer(D),
            "/v1/handshake",
            {
                let mut b = handshake_body(D, "1");
                b["grants"] = json!(["admin"]);
                b
            },
            err("grant_not_allowed"),
        ))],
    ));
    out.push(err_vector(
        "handshake.scope-of-other-consumer",
        "scope_not_allowed",
        "the delegate asks for profile, registered only for the other Consumer",
        &["TSR-HANDSHAKE-2"],
        vec![step(post(
            consumer(D),
            "/v1/handshake",
            {
                let mut b = handshake_body(D, "1");
                b["scopes"] = json!(["profile"]);
                b
            },
            err("scope_not_allowed"),
        ))],
    ));
    for (id, k, v, title, reqs) in [
        (
            "state-short",
            "state",
            json!("abcdefghijabcdefghij1"),
            "a 21-character state",
            &["TSR-HANDSHAKE-7"][..],
        ),
        (
            "state-long",
            "state",
            json!("a".repeat(129)),
            "a 129-character state",
            &["TSR-HANDSHAKE-7"],
        ),
        (
            "state-not-base64url",
            "state",
            json!("abcdefghijabcdefghij+="),
            "a state with '+' and '='",
            &["TSR-HANDSHAKE-7"],
        ),
        (
            "state-not-string",
            "state",
            json!(12345),
            "a state that is a number",
            &["TSR-HANDSHAKE-7", "TSR-CONV-3"],
        ),
        (
            "pkce-challenge-withdrawn",
            "code_challenge",
            json!("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            "a v1 code_challenge member (PKCE withdrawn, now unknown)",
            &["TSR-HANDSHAKE-3", "TSR-CONV-3"],
        ),
        (
            "pkce-method-withdrawn",
            "code_challenge_method",
            json!("S256"),
            "a v1 code_challenge_method member (PKCE withdrawn, now unknown)",
            &["TSR-HANDSHAKE-3", "TSR-CONV-3"],
        ),
        (
            "name-uppercase",
            "scopes",
            json!(["Email"]),
            "a scope name with an upper-case letter",
            &["TSR-CONV-8"],
        ),
        (
            "name-duplicate",
            "grants",
            json!(["staff", "staff"]),
            "a grant named twice",
            &["TSR-CONV-8"],
        ),
        (
            "name-too-long",
            "scopes",
            json!(["a".repeat(65)]),
            "a 65-character name",
            &["TSR-CONV-8"],
        ),
        (
            "name-leading-digit",
            "grants",
            json!(["1staff"]),
            "a name starting with a digit",
            &["TSR-CONV-8"],
        ),
        (
            "grants-not-array",
            "grants",
            json!("staff"),
            "grants as a string",
            &["TSR-CONV-3"],
        ),
    ] {
        out.push(bad(
            id,
            "invalid_request",
            &format!("{title} is 400 invalid_request"),
            reqs,
            with(k, v),
        ));
    }
    out.push(req_vector(
        "handshake.success-shape",
        "a handshake answers sid, authorize_url, exp and iss as the spec says",
        &[
            "TSR-HANDSHAKE-4",
            "TSR-HANDSHAKE-5",
            "TSR-HANDSHAKE-6",
            "TSR-CONV-9",
        ],
        vec![
            hs(
                handshake_body(C, "1"),
                Expect::ok()
                    .with("/sid", json!({"$all": [{"$type": "string"}, {"$len": 43}]}))
                    .with("/iss", json!("$issuer"))
                    .with("/exp", json!({"$sum": ["$now", TTL_AUTHORIZE]}))
                    .with(
                        "/authorize_url",
                        json!({"$prefix": "${issuer}/authorize?request="}),
                    )
                    .bind("sid1", "/sid")
                    .bind("authz1", "/authorize_url"),
            ),
            step(get(Actor::Anonymous, "$authz1", Expect::status(200))),
        ],
    ));
    // the authorize_url never carries the sid
    out.push(req_vector(
        "handshake.authorize-url-without-sid",
        "the authorize_url does not contain the sid",
        &["TSR-HANDSHAKE-5"],
        vec![
            handshake("1"),
            step(post(
                consumer(C),
                "/v1/revoke",
                sid_body("$sid1"),
                Expect::ok(),
            )),
            hs(
                handshake_body(C, "2"),
                Expect::ok().with("/authorize_url", json!({"$not_contains": "$sid1"})),
            ),
        ],
    ));
    out.push(req_vector(
        "handshake.empty-lists",
        "empty grants and scopes are allowed; the result answers empty objects",
        &["TSR-RESULT-8"],
        vec![
            hs(
                with("grants", json!([]))
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.insert("scopes".into(), json!([]));
                        Value::Object(o)
                    })
                    .expect("object"),
                Expect::ok()
                    .bind("sid1", "/sid")
                    .bind("authz1", "/authorize_url"),
            ),
            allow("1"),
            step(result_as(
                C,
                "1",
                Expect::ok()
                    .with("/grants", json!({}))
                    .with("/scopes", json!({}))
                    .with("/ticket/scope", json!([])),
            )),
        ],
    ));
    out.push(req_vector(
        "handshake.distinct-sessions",
        "two handshakes give two different sids",
        &["TSR-HANDSHAKE-4", "TSR-CONV-9"],
        vec![
            handshake("1"),
            hs(
                handshake_body(C, "2"),
                Expect::ok().with("/sid", json!({"$not": "$sid1"})),
            ),
        ],
    ));
    out
}

pub fn results() -> Vec<Vector> {
    let mut out = Vec::new();
    let res = |body: Value, expect: Expect| step(post(consumer(C), "/v1/result", body, expect));
    out.push(err_vector(
        "result.unknown-sid",
        "unknown_session",
        "a sid nobody issued is 400 unknown_session",
        &["TSR-RESULT-1"],
        vec![
            handshake("1"),
            allow("1"),
            res(
                json!({"sid": "$random:s", "code": "$random:c"}),
                err("unknown_session"),
            ),
            redeem("1"),
        ],
    ));
    out.push(err_vector(
        "result.other-consumers-sid",
        "unknown_session",
        "another Consumer's sid is 400 unknown_session",
        &["TSR-RESULT-1"],
        vec![
            handshake("1"),
            allow("1"),
            step(result_as(D, "1", err("unknown_session"))),
            redeem("1"),
        ],
    ));
    out.push(err_vector(
        "result.code-expired",
        "code_expired",
        "a code past its 60 s is 400 code_expired",
        &["TSR-RESULT-5", "TSR-CONV-12"],
        vec![
            handshake("1"),
            allow("1"),
            advance(TTL_CODE, "the code's exp is reached"),
            step(result_as(C, "1", err("code_expired"))),
        ],
    ));
    out.push(req_vector(
        "result.code-just-alive",
        "a code one second before its exp is redeemed",
        &["TSR-RESULT-5", "TSR-CONV-12"],
        vec![
            handshake("1"),
            allow("1"),
            advance(TTL_CODE - 1, "one second before the code's exp"),
            redeem("1"),
        ],
    ));
    out.push(err_vector(
        "result.verifier-withdrawn",
        "invalid_request",
        "a v1 result request with code_verifier is 400 invalid_request (PKCE withdrawn), and the code stays unredeemed",
        &["TSR-RESULT-6", "TSR-CONV-3", "TSR-CONV-7"],
        vec![
            handshake("1"),
            allow("1"),
            res(
                json!({"sid": "$sid1", "code": "$code1", "code_verifier": "$random:v"}),
                err("invalid_request"),
            ),
            redeem("1"),
        ],
    ));
    out.push(err_vector(
        "result.random-code",
        "invalid_code",
        "a code nobody issued is 400 invalid_code, and the session stays authorized",
        &["TSR-RESULT-4"],
        vec![
            handshake("1"),
            allow("1"),
            res(
                json!({"sid": "$sid1", "code": "$random:c"}),
                err("invalid_code"),
            ),
            redeem("1"),
        ],
    ));
    out.push(req_vector(
        "result.success-shape",
        "a result answers sub, grants, scopes, exp and a user ticket as the spec says",
        &[
            "TSR-RESULT-7",
            "TSR-RESULT-8",
            "TSR-TICKET-4",
            "TSR-CONV-9",
            "TSR-TICKET-3",
        ],
        vec![
            handshake("1"),
            allow("1"),
            step(result_as(
                C,
                "1",
                Expect::ok()
                    .with("/grants", json!({"staff": true, "admin": false}))
                    .with("/scopes", json!({"email": true, "profile": true}))
                    .with("/exp", json!({"$sum": ["$now", TTL_SESSION]}))
                    .with("/sub", json!({"$type": "string"}))
                    .with("/ticket/app", json!(C))
                    .with("/ticket/user", json!({"$type": "string"}))
                    .with("/ticket/scope", json!(["email", "profile"]))
                    .with("/ticket/algorithm", json!("sha256"))
                    .with("/ticket/exp", json!({"$sum": ["$now", TTL_TICKET]}))
                    .with("/ticket/grant", json!({"$type": "string"}))
                    .with("/ticket/dlg", json!(null))
                    .with("/ticket/delegate", json!(true))
                    .with("/ticket/key", json!({"$len": 43}))
                    .bind("r1", ""),
            )),
        ],
    ));
    out.push(req_vector(
        "result.code-reuse-late",
        "a code presented again late in its session's life is still recognised as reused",
        &["TSR-SESSION-7", "TSR-RESULT-9"],
        [
            login("1"),
            vec![
                advance(TTL_SESSION - 2, "late in the active session's life"),
                step(result_as(C, "1", err("code_reused"))),
                subject("$t1", err("ticket_revoked")),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "result.ticket-user-is-sub",
        "the ticket's user is the result's sub",
        &["TSR-TICKET-4", "TSR-DATA-2"],
        vec![
            handshake("1"),
            allow("1"),
            redeem("1"),
            subject("$t1", Expect::ok().with("/sub", json!("$sub1"))),
        ],
    ));
    out.push(req_vector(
        "result.consent-narrows-scopes",
        "scopes the Subject unticks are answered false and left out of the ticket",
        &["TSR-RESULT-8", "TSR-AUTHZ-7", "TSR-TICKET-9", "TSR-DATA-1"],
        vec![
            handshake("1"),
            allow_as("1", "alice", Some(vec!["email"])),
            step(result_as(
                C,
                "1",
                Expect::ok()
                    .with("/scopes", json!({"email": true, "profile": false}))
                    .with("/ticket/scope", json!(["email"]))
                    .bind("t1", "/ticket"),
            )),
            subject(
                "$t1",
                Expect::ok()
                    .with("/email", json!("alice@example.org"))
                    .without("/profile"),
            ),
        ],
    ));
    out.push(req_vector(
        "result.roles-of-subject",
        "grants are true only for roles the Subject holds (mallory holds none)",
        &["TSR-RESULT-8"],
        vec![
            handshake("1"),
            allow_as("1", "mallory", None),
            step(result_as(
                C,
                "1",
                Expect::ok().with("/grants", json!({"staff": false, "admin": false})),
            )),
        ],
    ));
    out.push(req_vector(
        "result.sub-pairwise-stable",
        "the same Subject gets the same sub at the same Consumer",
        &["TSR-RESULT-10", "TSR-REG-7"],
        [
            login("1"),
            vec![
                handshake("2"),
                allow("2"),
                step(result_as(C, "2", Expect::ok().with("/sub", json!("$sub1")))),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector("result.sub-pairwise-differs", "the same Subject gets different subs at different Consumers, and neither is the login name", &["TSR-RESULT-10", "TSR-REG-7"],
        [login("1"), vec![handshake_as(D, "2"), allow("2"),
            step(result_as(D, "2", Expect::ok().with("/sub", json!({"$all": [{"$not": "$sub1"}, {"$not_contains": "alice"}]}))))]].concat()));
    out.push(req_vector(
        "result.subjects-differ",
        "two Subjects get different subs at one Consumer",
        &["TSR-RESULT-10"],
        [
            login("1"),
            vec![
                handshake("2"),
                allow_as("2", "mallory", None),
                step(result_as(
                    C,
                    "2",
                    Expect::ok().with("/sub", json!({"$not": "$sub1"})),
                )),
            ],
        ]
        .concat(),
    ));
    out
}

pub fn sessions() -> Vec<Vector> {
    let mut out = Vec::new();
    out.push(err_vector(
        "refresh.unknown-sid",
        "unknown_session",
        "refresh of a sid nobody issued is 400 unknown_session",
        &["TSR-REFRESH-1"],
        vec![step(post(
            consumer(C),
            "/v1/refresh",
            sid_body("$random:s"),
            err("unknown_session"),
        ))],
    ));
    out.push(err_vector(
        "refresh.other-consumers-sid",
        "unknown_session",
        "refresh of another Consumer's sid is 400 unknown_session, and it stays active",
        &["TSR-REFRESH-1", "TSR-CONV-7"],
        [
            login("1"),
            vec![
                step(post(
                    consumer(D),
                    "/v1/refresh",
                    sid_body("$sid1"),
                    err("unknown_session"),
                )),
                rotate("1", "2"),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "revoke.unknown-sid",
        "revoking a sid nobody issued answers 200 {}",
        &["TSR-REVOKE-2"],
        vec![step(post(
            consumer(C),
            "/v1/revoke",
            sid_body("$random:s"),
            Expect::ok().with("", json!({})),
        ))],
    ));
    out.push(req_vector(
        "revoke.other-consumers-sid",
        "revoking another Consumer's sid answers 200 {} and changes nothing",
        &["TSR-REVOKE-2"],
        [
            login("1"),
            vec![
                step(post(
                    consumer(D),
                    "/v1/revoke",
                    sid_body("$sid1"),
                    Expect::ok().with("", json!({})),
                )),
                ok_subject("$t1"),
                rotate("1", "2"),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "refresh.chain",
        "three refreshes in a row: each new sid works, every old one is dead",
        &["TSR-REFRESH-3", "TSR-REFRESH-4"],
        [
            login("1"),
            vec![
                rotate("1", "2"),
                rotate("2", "3"),
                rotate("3", "4"),
                ok_subject("$t4"),
                step(post(
                    consumer(C),
                    "/v1/result",
                    result_body("1"),
                    err("code_reused"),
                )),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "refresh.exp-capped-by-family",
        "after 30 days of refreshes the family ends",
        &["TSR-SESSION-5", "TSR-SESSION-3"],
        {
            let mut s = login("1");
            let mut tag = "1".to_string();
            for i in 0..29 {
                s.push(advance(TTL_SESSION - 1, "a day, minus a second"));
                let next = format!("r{i}");
                s.push(rotate(&tag, &next));
                tag = next;
            }
            // the 30th refresh comes 30 s before the family's end: its session ends with the
            // family (result time + 30 days = exp1 - session TTL + family TTL)
            s.push(advance(TTL_SESSION - 1, "a day, minus a second"));
            s.push(step(refresh(
                &tag,
                Expect::ok()
                    .with("/exp", json!({"$sum": ["$exp1", TTL_FAMILY - TTL_SESSION]}))
                    .bind("sidlast", "/sid"),
            )));
            s.push(advance(31, "one second past the family's end"));
            s.push(step(post(
                consumer(C),
                "/v1/refresh",
                sid_body("$sidlast"),
                err("session_expired"),
            )));
            s
        },
    ));
    out.push(req_vector(
        "session.expiry-edge",
        "a session is valid one second before exp and expired at exp",
        &["TSR-CONV-12", "TSR-SESSION-6"],
        [
            login("1"),
            vec![
                advance(TTL_SESSION - 1, "one second before the session's exp"),
                rotate("1", "2"),
                advance(TTL_SESSION, "the new session's exp"),
                step(refresh("2", err("session_expired"))),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "session.pending-expires",
        "a pending session expires after the authorize TTL; the authorize request with it",
        &[
            "TSR-CONV-12",
            "TSR-HANDSHAKE-4",
            "TSR-AUTHZ-1",
            "TSR-CONF-6",
        ],
        vec![
            handshake("1"),
            advance(TTL_AUTHORIZE, "the pending session's exp"),
            Step::Authorize(crate::vector::Authorize {
                authorize_url: "$authz1".into(),
                username: "alice".into(),
                decision: "allow".into(),
                scopes: None,
                expect: err("invalid_request"),
                note: Some("the authorize page would show an error".into()),
            }),
        ],
    ));
    out
}

pub fn tickets() -> Vec<Vector> {
    let mut out = Vec::new();
    let app = |expect: Expect| step(post(consumer(C), "/v1/app-ticket", json!({}), expect));
    let reissue = |parent: &str, body: Value, expect: Expect| {
        step(post(ticket(parent), "/v1/reissue", body, expect))
    };
    let f_app = [Feature::AppTicket];
    let f_re = [Feature::Reissue];
    let f_dlg = [Feature::Reissue, Feature::Delegation];
    out.push(with_features(
        req_vector(
            "app-ticket.shape",
            "an app ticket has no user, no grant, empty scope, app = the Consumer",
            &["TSR-APP-1", "TSR-CONV-9"],
            vec![app(Expect::ok()
                .with("/user", json!(null))
                .with("/grant", json!(null))
                .with("/scope", json!([]))
                .with("/app", json!(C))
                .with("/dlg", json!(null))
                .with("/exp", json!({"$sum": ["$now", TTL_TICKET]}))
                .with("/key", json!({"$len": 43}))
                .bind("a", ""))],
        ),
        &f_app,
    ));
    out.push(with_features(
        err_vector(
            "app-ticket.no-subject-data",
            "insufficient_scope",
            "an app ticket at the Subject data API is 403 insufficient_scope",
            &["TSR-APP-2"],
            vec![
                app(Expect::ok().bind("a", "")),
                subject("$a", err("insufficient_scope")),
            ],
        ),
        &f_app,
    ));
    out.push(with_features(req_vector("app-ticket.info", "GET /v1/ticket with an app ticket shows its public members", &["TSR-DATA-3", "TSR-APP-1"],
        vec![app(Expect::ok().bind("a", "")), step(get(ticket("$a"), "/v1/ticket", Expect::ok()
            .with("", json!({"app": C, "user": null, "scope": [], "exp": "$a/exp", "grant": null, "dlg": null, "delegate": "$a/delegate"}))))]), &[Feature::AppTicket, Feature::TicketInfo]));
    out.push(with_features(
        req_vector(
            "app-ticket.expires",
            "an app ticket dies at its exp",
            &["TSR-TICKET-5", "TSR-APP-1"],
            vec![
                app(Expect::ok().bind("a", "")),
                advance(TTL_TICKET, "the app ticket's exp"),
                step(get(ticket("$a"), "/v1/ticket", err("ticket_expired"))),
            ],
        ),
        &[Feature::AppTicket, Feature::TicketInfo],
    ));
    out.push(with_features(
        req_vector(
            "app-ticket.empty-body",
            "an empty body is accepted at the app-ticket endpoint",
            &["TSR-APP-1"],
            vec![step(request(
                consumer(C),
                "POST",
                "/v1/app-ticket",
                None,
                Expect::ok(),
            ))],
        ),
        &f_app,
    ));
    out.push(with_features(req_vector("ticket.info", "GET /v1/ticket shows exactly the sealed public members", &["TSR-DATA-3", "TSR-TICKET-1"],
        [login("1"), vec![step(get(ticket("$t1"), "/v1/ticket", Expect::ok()
            .with("", json!({"app": C, "user": "$t1/user", "scope": "$t1/scope", "exp": "$t1/exp", "grant": "$t1/grant", "dlg": null, "delegate": "$t1/delegate"}))))]].concat()), &[Feature::TicketInfo]));
    out.push(req_vector("subject.data", "the Subject data API gives sub and the data of exactly the ticket's scopes", &["TSR-DATA-1", "TSR-DATA-2"],
        [login("1"), vec![subject("$t1", Expect::ok().with("", json!({"sub": "$sub1", "email": "alice@example.org", "profile": {"name": "Alice"}})))]].concat()));
    out.push(req_vector(
        "subject.ticket-edge",
        "a ticket one second before its exp works; at its exp it is 401 ticket_expired",
        &["TSR-TICKET-5", "TSR-CONV-12"],
        [
            login("1"),
            vec![
                advance(TTL_TICKET - 1, "one second before the ticket's exp"),
                ok_subject("$t1"),
                advance(1, "the ticket's exp"),
                subject("$t1", err("ticket_expired")),
            ],
        ]
        .concat(),
    ));
    out.push(req_vector(
        "subject.ticket-key-not-id",
        "a ticket id signed with the Consumer's key is refused",
        &["TSR-TICKET-8", "TSR-HAWK-4"],
        [
            login("1"),
            vec![step(tweak(
                get(ticket("$t1"), "/v1/subject", err("invalid_credentials")),
                |h| h.key = Some("${t1/id}".into()),
            ))],
        ]
        .concat(),
    ));
    // reissue
    out.push(with_features(
        req_vector(
            "reissue.same",
            "{} reissues the same access with a new key",
            &["TSR-REISSUE-7", "TSR-REISSUE-6", "TSR-TICKET-3"],
            [
                login("1"),
                vec![
                    reissue(
                        "$t1",
                        json!({}),
                        Expect::ok()
                            .with("/key", json!({"$not": "$t1/key"}))
                            .with("/scope", json!("$t1/scope"))
                            .with("/user", json!("$t1/user"))
                            .with("/grant", json!("$t1/grant"))
                            .with("/app", json!(C))
                            .with("/dlg", json!(null))
                            .with("/exp", json!({"$le": "$t1/exp"}))
                            .bind("t2", ""),
                    ),
                    ok_subject("$t2"),
                ],
            ]
            .concat(),
        ),
        &f_re,
    ));
    out.push(with_features(
        req_vector(
            "reissue.narrower",
            "a reissue with a subset scope reads only that scope",
            &["TSR-REISSUE-1", "TSR-DATA-1", "TSR-TICKET-9"],
            [
                login("1"),
                vec![
                    reissue(
                        "$t1",
                        json!({"scope": ["email"]}),
                        Expect::ok().with("/scope", json!(["email"])).bind("t2", ""),
                    ),
                    subject(
                        "$t2",
                        Expect::ok()
                            .with("", json!({"sub": "$sub1", "email": "alice@example.org"})),
                    ),
                ],
            ]
            .concat(),
        ),
        &f_re,
    ));
    out.push(with_features(
        err_vector(
            "reissue.wider",
            "scope_not_allowed",
            "a reissue wider than the parent is 400 scope_not_allowed",
            &["TSR-REISSUE-1", "TSR-TICKET-9"],
            vec![
                handshake("1"),
                allow_as("1", "alice", Some(vec!["email"])),
                redeem("1"),
                reissue(
                    "$t1",
                    json!({"scope": ["email", "profile"]}),
                    err("scope_not_allowed"),
                ),
            ],
        ),
        &f_re,
    ));
    out.push(with_features(
        req_vector(
            "reissue.shorter",
            "a reissue with ttl lives min(now + ttl, parent exp)",
            &["TSR-REISSUE-2"],
            [
                login("1"),
                vec![
                    reissue(
                        "$t1",
                        json!({"ttl": 10}),
                        Expect::ok()
                            .with("/exp", json!({"$sum": ["$now", 10]}))
                            .bind("t2", ""),
                    ),
                    advance(10, "the reissued ticket's exp"),
                    subject("$t2", err("ticket_expired")),
                    ok_subject("$t1"),
                ],
            ]
            .concat(),
        ),
        &f_re,
    ));
    out.push(with_features(
        req_vector(
            "reissue.never-outlives-parent",
            "a reissue late in the parent's life ends with the parent",
            &["TSR-REISSUE-2"],
            [
                login("1"),
                vec![
                    advance(TTL_TICKET - 100, "late in the parent's life"),
                    reissue(
                        "$t1",
                        json!({"ttl": TTL_TICKET}),
                        Expect::ok().with("/exp", json!("$t1/exp")),
                    ),
                ],
            ]
            .concat(),
        ),
        &f_re,
    ));
    for (id, body, title) in [
        (
            "ttl-one",
            json!({"ttl": 1}),
            "a ttl of 1 second is the smallest allowed",
        ),
        (
            "ttl-max",
            json!({"ttl": TTL_TICKET}),
            "a ttl of the ticket TTL is the largest allowed",
        ),
        (
            "scope-equal",
            json!({"scope": ["email", "profile"]}),
            "a scope equal to the parent's is a subset",
        ),
        (
            "scope-empty",
            json!({"scope": []}),
            "an empty scope is a subset",
        ),
    ] {
        let scope = body
            .get("scope")
            .cloned()
            .unwrap_or(json!(["email", "profile"]));
        out.push(with_features(
            req_vector(
                &format!("reissue.{id}"),
                &format!("{title}: 200"),
                &["TSR-REISSUE-1", "TSR-REISSUE-2"],
                [
                    login("1"),
                    vec![reissue("$t1", body, Expect::ok().with("/scope", scope))],
                ]
                .concat(),
            ),
            &f_re,
        ));
    }
    for (id, ttl) in [
        ("ttl-zero", 0),
        ("ttl-over", TTL_TICKET + 1),
        ("ttl-negative", -5),
    ] {
        out.push(with_features(
            err_vector(
                &format!("reissue.{id}"),
                "invalid_request",
                &format!("a reissue ttl of {ttl} is 400 invalid_request"),
                &["TSR-REISSUE-2"],
                [
                    login("1"),
                    vec![
                        reissue("$t1", json!({"ttl": ttl}), err("invalid_request")),
                        reissue("$t1", json!({}), Expect::ok()),
                    ],
                ]
                .concat(),
            ),
            &f_re,
        ));
    }
    out.push(with_features(
        req_vector(
            "reissue.dies-with-family",
            "a reissued ticket is revoked with its family",
            &["TSR-REISSUE-6", "TSR-SESSION-4"],
            [
                login("1"),
                vec![
                    reissue("$t1", json!({}), Expect::ok().bind("t2", "")),
                    revoke("1"),
                    subject("$t2", err("ticket_revoked")),
                ],
            ]
            .concat(),
        ),
        &f_re,
    ));
    out.push(with_features(
        req_vector(
            "reissue.app-ticket",
            "an app ticket can be reissued and stays without Subject",
            &["TSR-REISSUE-7", "TSR-APP-2"],
            vec![
                app(Expect::ok().bind("a", "")),
                reissue(
                    "$a",
                    json!({"ttl": 60}),
                    Expect::ok()
                        .with("/user", json!(null))
                        .with("/grant", json!(null))
                        .bind("a2", ""),
                ),
                subject("$a2", err("insufficient_scope")),
            ],
        ),
        &[Feature::AppTicket, Feature::Reissue],
    ));
    // delegation by token exchange (spec 7.7)
    let delegate = |parent: &str, body: Value, expect: Expect| {
        step(post(ticket(parent), "/v1/delegate", body, expect))
    };
    let exchange = |who: &str, grant: &str, expect: Expect| {
        step(post(
            consumer(who),
            "/v1/exchange",
            json!({ "grant": grant }),
            expect,
        ))
    };
    // login 1 of C (alice allows every scope and, by default, delegation to D: A.4), a grant for
    // D bound as `g`, exchanged by D into `t2`
    let delegated = || {
        [
            login("1"),
            vec![
                delegate(
                    "$t1",
                    json!({ "delegate": D }),
                    Expect::ok().with("/delegate", json!(D)).bind("g", "/grant"),
                ),
                exchange(D, "$g", Expect::ok().bind("t2", "")),
            ],
        ]
        .concat()
    };
    out.push(with_features(
        req_vector(
            "delegation.shape",
            "a delegated ticket is the delegate's: app = the delegate, dlg = the delegator, its own pairwise sub and a fresh key, scope = the delegator's ∩ the delegate's registration",
            &["TSR-DELEGATE-1", "TSR-DELEGATE-2", "TSR-DELEGATE-3", "TSR-HAWK-14", "TSR-DATA-2"],
            [
                login("1"),
                login_as(D, "2"),
                vec![
                    delegate(
                        "$t1",
                        json!({ "delegate": D }),
                        Expect::ok()
                            .with("/exp", json!({"$le": {"$sum": ["$now", 60]}}))
                            .bind("g", "/grant"),
                    ),
                    exchange(
                        D,
                        "$g",
                        Expect::ok()
                            .with("/app", json!(D))
                            .with("/dlg", json!(C))
                            .with("/delegate", json!(false))
                            .with("/grant", json!("$t1/grant"))
                            .with("/scope", json!(["email"]))
                            .with("/user", json!("$sub2"))
                            .with("/key", json!({"$not": "$t1/key"}))
                            .bind("t3", ""),
                    ),
                    subject(
                        "$t3",
                        Expect::ok().with("", json!({"sub": "$sub2", "email": "alice@example.org"})),
                    ),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.grant-single-use",
            "invalid_grant",
            "a delegation grant is exchanged once; again is 400 invalid_grant",
            &["TSR-DELEGATE-4"],
            [delegated(), vec![exchange(D, "$g", err("invalid_grant"))]].concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.grant-expired",
            "invalid_grant",
            "a delegation grant 60 s old is 400 invalid_grant",
            &["TSR-DELEGATE-4", "TSR-CONV-12"],
            [
                login("1"),
                vec![
                    delegate(
                        "$t1",
                        json!({ "delegate": D }),
                        Expect::ok().bind("g", "/grant"),
                    ),
                    advance(60, "the grant's exp is reached"),
                    exchange(D, "$g", err("invalid_grant")),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.grant-other-presenter",
            "invalid_grant",
            "a delegation grant presented by another Consumer than its delegate is 400 invalid_grant",
            &["TSR-DELEGATE-3"],
            [
                login("1"),
                vec![
                    delegate("$t1", json!({ "delegate": D }), Expect::ok().bind("g", "/grant")),
                    exchange(C, "$g", err("invalid_grant")),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.grant-random",
            "invalid_grant",
            "a delegation grant nobody issued is 400 invalid_grant",
            &["TSR-DELEGATE-4"],
            vec![exchange(D, "$random:g", err("invalid_grant"))],
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.narrowed",
            "delegation_not_allowed",
            "a narrower scope in the request narrows the delegated ticket; a delegation to a Consumer not registered as a delegate is 403 delegation_not_allowed",
            &["TSR-DELEGATE-1"],
            [
                login("1"),
                vec![
                    delegate(
                        "$t1",
                        json!({ "delegate": D, "scope": ["profile"] }),
                        Expect::ok().bind("g", "/grant"),
                    ),
                    exchange(D, "$g", Expect::ok().with("/scope", json!([]))),
                    delegate("$t1", json!({ "delegate": C }), err("delegation_not_allowed")),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.dlg-missing",
            "invalid_credentials",
            "a delegated ticket used without its dlg is 401 invalid_credentials",
            &["TSR-HAWK-14"],
            [
                delegated(),
                vec![
                    step(tweak(
                        get(ticket("$t2"), "/v1/subject", err("invalid_credentials")),
                        |h| {
                            h.omit_app = true;
                            h.app = Some(D.into());
                        },
                    )),
                    ok_subject("$t2"),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.dlg-wrong",
            "invalid_credentials",
            "a delegated ticket used with another dlg is 401 invalid_credentials",
            &["TSR-HAWK-14"],
            [
                delegated(),
                vec![step(tweak(
                    get(ticket("$t2"), "/v1/subject", err("invalid_credentials")),
                    |h| h.dlg = Some(D.into()),
                ))],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.twice",
            "delegation_not_allowed",
            "a delegated ticket cannot be delegated again",
            &["TSR-DELEGATE-1"],
            [
                delegated(),
                vec![delegate(
                    "$t2",
                    json!({ "delegate": C }),
                    err("delegation_not_allowed"),
                )],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.consumer-may-not",
            "delegation_not_allowed",
            "a Consumer registered without delegates cannot delegate",
            &["TSR-DELEGATE-1"],
            [
                login_as(D, "1"),
                vec![
                    delegate(
                        "$t1",
                        json!({ "delegate": C }),
                        err("delegation_not_allowed"),
                    ),
                    reissue("$t1", json!({}), Expect::ok()),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "delegation.app-ticket",
            "delegation_not_allowed",
            "an app ticket acts for no Subject and cannot be delegated",
            &["TSR-DELEGATE-1"],
            vec![
                app(Expect::ok().bind("a", "")),
                delegate(
                    "$a",
                    json!({ "delegate": D }),
                    err("delegation_not_allowed"),
                ),
            ],
        ),
        &[Feature::AppTicket, Feature::Delegation],
    ));
    out.push(with_features(
        err_vector(
            "delegation.unknown-consumer",
            "unknown_consumer",
            "a delegate naming no Consumer is 400 unknown_consumer",
            &["TSR-DELEGATE-1"],
            [
                login("1"),
                vec![delegate(
                    "$t1",
                    json!({ "delegate": "no-such-consumer" }),
                    err("unknown_consumer"),
                )],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        req_vector(
            "delegation.dies-with-family",
            "a delegated ticket is revoked with the delegator's family, and an unexchanged grant with it",
            &["TSR-SESSION-4", "TSR-DELEGATE-4"],
            [
                delegated(),
                vec![
                    ok_subject("$t2"),
                    delegate("$t1", json!({ "delegate": D }), Expect::ok().bind("g2", "/grant")),
                    revoke("1"),
                    subject("$t2", err("ticket_revoked")),
                    exchange(D, "$g2", err("invalid_grant")),
                ],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        req_vector(
            "delegation.reissue-keeps-dlg",
            "a reissue of a delegated ticket keeps app, dlg, user and delegate",
            &["TSR-REISSUE-7"],
            [
                delegated(),
                vec![reissue(
                    "$t2",
                    json!({"scope": ["email"]}),
                    Expect::ok()
                        .with("/app", json!(D))
                        .with("/dlg", json!(C))
                        .with("/user", json!("$t2/user"))
                        .with("/delegate", json!(false)),
                )],
            ]
            .concat(),
        ),
        &f_dlg,
    ));
    out.push(with_features(
        err_vector(
            "reissue.issue-to-withdrawn",
            "invalid_request",
            "v1's delegation by reissue (issue_to) is withdrawn: the member is unknown, 400 invalid_request",
            &["TSR-REISSUE-3", "TSR-REISSUE-4", "TSR-REISSUE-5", "TSR-CONV-3"],
            [
                login("1"),
                vec![reissue("$t1", json!({"issue_to": D}), err("invalid_request"))],
            ]
            .concat(),
        ),
        &f_re,
    ));
    out
}

pub fn misc() -> Vec<Vector> {
    let mut out = Vec::new();
    out.push(req_vector("metadata.document", "the metadata names the issuer, endpoints under it, skew, grants, scopes, TTLs, conformance mode and protocol version 1.1",
        &["TSR-META-1", "TSR-META-2", "TSR-META-3", "TSR-CONF-2", "TSR-CONV-13"],
        vec![step(get(Actor::Anonymous, "/.well-known/tessera-authority", Expect::ok()
            .with("/issuer", json!("$issuer"))
            .with("/handshake_endpoint", json!("${issuer}/v1/handshake"))
            .with("/authorize_endpoint", json!("${issuer}/authorize"))
            .with("/result_endpoint", json!("${issuer}/v1/result"))
            .with("/refresh_endpoint", json!("${issuer}/v1/refresh"))
            .with("/revoke_endpoint", json!("${issuer}/v1/revoke"))
            .with("/subject_endpoint", json!("${issuer}/v1/subject"))
            .with("/hawk/timestamp_skew_seconds", json!({"$le": 300}))
                    .with("/hawk/version", json!("1.1"))
                    .with("/hawk/algorithms", json!(["sha256"]))
            .with("/protocol_version", json!("1.1"))
            .with("/grants_supported", json!({"$type": "array"}))
            .with("/scopes_supported", json!({"$type": "array"}))
            .with("/ttl/code", json!({"$le": 600}))
            .with("/ttl", json!({"authorize": TTL_AUTHORIZE, "code": TTL_CODE, "session": TTL_SESSION, "family": TTL_FAMILY, "ticket": TTL_TICKET}))
            .with("/conformance_mode", json!(true))))]));
    out.push(err_vector(
        "errors.not-found",
        "not_found",
        "an unknown endpoint is 404 not_found",
        &["TSR-ERROR-1"],
        vec![step(get(
            Actor::Anonymous,
            "/v1/nothing-here",
            err("not_found"),
        ))],
    ));
    out.push(err_vector(
        "errors.method-not-allowed",
        "method_not_allowed",
        "GET on a POST endpoint is 405 method_not_allowed",
        &["TSR-ERROR-1"],
        vec![step(get(
            consumer(C),
            "/v1/handshake",
            err("method_not_allowed"),
        ))],
    ));
    out.push(req_vector("errors.no-secrets-in-description", "an error description does not echo the sid or code sent", &["TSR-ERROR-2", "TSR-CONV-11"],
        vec![handshake("1"), allow("1"),
            step(post(consumer(C), "/v1/result", json!({"sid": "$sid1", "code": "$random:wrong"}), err("invalid_code")
                .with("/error_description", json!({"$all": [{"$not_contains": "$sid1"}, {"$not_contains": "$random:wrong"}]})))),
            step(post(consumer(C), "/v1/result", json!({"sid": "$sid1", "code": {"secret": "$code1"}}), err("invalid_request")
                .with("/error_description", json!({"$not_contains": "$code1"}))))]));
    // conformance mode (appendix A)
    let clock = |body: Value, expect: Expect| {
        step(post(Actor::Anonymous, "/conformance/clock", body, expect))
    };
    out.push(req_vector(
        "conformance.clock-advance",
        "the test clock advances by exactly the amount asked",
        &["TSR-CONF-3"],
        vec![
            step(get(
                Actor::Anonymous,
                "/conformance/clock",
                Expect::ok().bind("t0", "/now"),
            )),
            clock(
                json!({"advance": 5}),
                Expect::ok().with("/now", json!({"$sum": ["$t0", 5]})),
            ),
            clock(
                json!({"advance": 0}),
                Expect::ok().with("/now", json!({"$sum": ["$t0", 5]})),
            ),
        ],
    ));
    for (id, v, title) in [
        ("negative", json!(-1), "a negative advance"),
        ("fraction", json!(1.5), "a fractional advance"),
        ("over-a-year", json!(31_536_001), "an advance over a year"),
        ("string", json!("10"), "an advance as a string"),
    ] {
        out.push(req_vector(
            &format!("conformance.clock-{id}"),
            &format!("{title} is 400 invalid_request and the clock does not move"),
            &["TSR-CONF-4"],
            vec![
                step(get(
                    Actor::Anonymous,
                    "/conformance/clock",
                    Expect::ok().bind("t0", "/now"),
                )),
                clock(json!({"advance": v}), err("invalid_request")),
                step(get(
                    Actor::Anonymous,
                    "/conformance/clock",
                    Expect::ok().with("/now", json!("$t0")),
                )),
            ],
        ));
    }
    out.push(req_vector(
        "conformance.restart-fence",
        "a fresh Authority refuses as stale a ts at the restart fence it declares, and accepts the first ts past it",
        &["TSR-HAWK-10", "TSR-CONF-16"],
        vec![Step::RestartFence {
            note: Some("runs first, before the runner clears the fence (A.5.4)".into()),
        }],
    ));
    out.push(req_vector("conformance.clock-drives-expiry", "the Hawk timestamp follows the test clock: a request signed with the real time after an advance is stale",
        &["TSR-CONF-3", "TSR-HAWK-7"],
        vec![advance(3600, "an hour"), step(tweak(post(consumer(C), "/v1/app-ticket", json!({}), err("stale_timestamp")), |h| h.ts_offset = -3600))]));
    out.push(req_vector(
        "conformance.fixtures",
        "the fixtures name the Consumers and Subjects of appendix A.3",
        &["TSR-CONF-5"],
        vec![step(get(
            Actor::Anonymous,
            "/conformance/fixtures",
            Expect::ok()
                .with("/issuer", json!("$issuer"))
                .with("/consumers/0/consumer_id", json!(C))
                .with("/consumers/0/redirect_uris", json!([C_REDIRECT]))
                .with("/consumers/0/grants", json!(["admin", "staff"]))
                .with("/consumers/0/scopes", json!(["email", "profile"]))
                .with("/consumers/0/may_delegate", json!(true))
                .with("/consumers/0/key", json!({"$len": 43}))
                .with("/consumers/0/algorithm", json!("sha256"))
                .with("/consumers/1/consumer_id", json!(D))
                .with("/consumers/1/redirect_uris", json!([D_REDIRECT]))
                .with("/consumers/1/may_delegate", json!(false))
                .with("/subjects/0/username", json!("alice"))
                .with("/subjects/0/roles", json!(["staff"]))
                .with("/subjects/1/username", json!("mallory"))
                .with("/subjects/1/roles", json!([])),
        ))],
    ));
    let authz = |url: &str, user: &str, decision: &str, expect: Expect| {
        Step::Authorize(crate::vector::Authorize {
            authorize_url: url.into(),
            username: user.into(),
            decision: decision.into(),
            scopes: None,
            expect,
            note: None,
        })
    };
    out.push(req_vector(
        "authorize.decided-once",
        "an authorize request is decided at most once",
        &["TSR-AUTHZ-7", "TSR-AUTHZ-1", "TSR-CONF-6"],
        vec![
            handshake("1"),
            allow("1"),
            authz("$authz1", "mallory", "allow", err("invalid_request")),
            redeem("1"),
        ],
    ));
    out.push(req_vector(
        "authorize.deny-then-allow",
        "a denied request cannot be allowed afterwards",
        &["TSR-AUTHZ-7", "TSR-CALLBACK-4"],
        vec![
            handshake("1"),
            deny("1"),
            authz("$authz1", "alice", "allow", err("invalid_request")),
        ],
    ));
    out.push(req_vector(
        "authorize.unknown-request",
        "an unknown authorize request is refused without a redirect",
        &["TSR-AUTHZ-1", "TSR-CONF-6"],
        vec![
            authz(
                "${issuer}/authorize?request=${random:r}",
                "alice",
                "allow",
                err("invalid_request"),
            ),
            step(get(
                Actor::Anonymous,
                "/authorize?request=${random:r}",
                Expect::status(400).header("location", Value::Null),
            )),
        ],
    ));
    out.push(req_vector(
        "authorize.no-request",
        "GET /authorize without request is an error page without a redirect",
        &["TSR-AUTHZ-1"],
        vec![step(get(
            Actor::Anonymous,
            "/authorize",
            Expect::status(400).header("location", Value::Null),
        ))],
    ));
    out.push(req_vector(
        "authorize.page-headers",
        "the authorize page forbids framing and referrers and caching",
        &["TSR-AUTHZ-4"],
        vec![
            handshake("1"),
            step(get(
                Actor::Anonymous,
                "$authz1",
                Expect::status(200)
                    .header("x-frame-options", json!("DENY"))
                    .header(
                        "content-security-policy",
                        json!({"$contains": "frame-ancestors 'none'"}),
                    )
                    .header("referrer-policy", json!("no-referrer"))
                    .header("cache-control", json!({"$contains": "no-store"})),
            )),
        ],
    ));
    // spec TSR-AUTHZ-9: the first browser to open the request owns it; the runner's named
    // browsers keep the Authority's cookies between steps
    let in_browser = |browser: &str, expect: Expect| {
        let mut r = get(Actor::Anonymous, "$authz1", expect);
        r.browser = Some(browser.into());
        step(r)
    };
    let refused = || Expect::status(400).header("location", Value::Null);
    out.push(req_vector(
        "authorize.bound-to-first-browser",
        "an authorize request opens again in the browser that opened it first, and never in another",
        &["TSR-AUTHZ-9", "TSR-AUTHZ-1"],
        vec![
            handshake("1"),
            in_browser("victim", Expect::status(200)),
            in_browser("victim", Expect::status(200)),
            in_browser("attacker", refused()),
            in_browser("attacker", refused()),
            in_browser("victim", Expect::status(200)),
        ],
    ));
    out.push(req_vector(
        "callback.shape",
        "the callback goes to the registered redirect_uri with only code, the handshake's state and iss",
        &[
            "TSR-CALLBACK-1",
            "TSR-CALLBACK-2",
            "TSR-CALLBACK-3",
            "TSR-CALLBACK-5",
            "TSR-HANDSHAKE-7",
            "TSR-CONV-9",
        ],
        vec![
            handshake("1"),
            Step::Authorize(crate::vector::Authorize {
                authorize_url: "$authz1".into(),
                username: "alice".into(),
                decision: "allow".into(),
                scopes: None,
                expect: Expect::ok()
                    .with(
                        "/redirect",
                        json!({"$prefix": format!("{C_REDIRECT}?code=")}),
                    )
                    .with(
                        "/query",
                        json!({"code": {"$len": 43}, "state": state_of("1"), "iss": "$issuer"}),
                    )
                    .with("/redirect", json!({"$not_contains": "$sid1"})),
                note: None,
            }),
        ],
    ));
    out.push(req_vector(
        "callback.deny-shape",
        "a denial callback carries error=access_denied and iss, and no code",
        &["TSR-CALLBACK-2", "TSR-CALLBACK-3", "TSR-CALLBACK-4"],
        vec![
            handshake("1"),
            Step::Authorize(crate::vector::Authorize {
                authorize_url: "$authz1".into(),
                username: "alice".into(),
                decision: "deny".into(),
                scopes: None,
                expect: Expect::ok().with(
                    "/query",
                    json!({"error": "access_denied", "state": state_of("1"), "iss": "$issuer"}),
                ),
                note: None,
            }),
            step(post(
                consumer(C),
                "/v1/result",
                json!({"sid": "$sid1", "code": "$random:c"}),
                err("access_denied"),
            )),
        ],
    ));
    out
}

/// `count` losers: the reuse error, or `session_revoked` once another loser's reuse has revoked
/// the family (revocation is checked first, TSR-SESSION-1).
fn losers(code: &str, count: usize) -> crate::vector::Outcome {
    let mut o = outcome(&err(code), count);
    o.or_error = vec!["session_revoked".into()];
    o
}

pub fn concurrency() -> Vec<Vector> {
    let n = 5;
    let mut out = Vec::new();
    let redeem_req = || result_as(C, "1", Expect::ok());
    let mut winner = outcome(&Expect::ok(), 1);
    winner.bind.insert("t1".into(), "/ticket".into());
    out.push(req_vector("concurrency.redeem", "five concurrent redemptions of one code: exactly one succeeds, the others are code_reused and revoke the family",
        &["TSR-RESULT-7", "TSR-SESSION-2", "TSR-RESULT-9"],
        vec![handshake("1"), allow("1"),
            concurrent((0..n).map(|_| redeem_req()).collect(), vec![winner, losers("code_reused", n - 1)], "all at once"),
            subject("$t1", err("ticket_revoked"))]));
    let mut winner = outcome(&Expect::ok(), 1);
    winner.bind.insert("sid2".into(), "/sid".into());
    out.push(req_vector("concurrency.refresh", "five concurrent refreshes of one sid: exactly one succeeds, the others are session_reused and revoke the family",
        &["TSR-SESSION-2", "TSR-REFRESH-5", "TSR-REFRESH-4"],
        [login("1"), vec![
            concurrent((0..n).map(|_| refresh("1", Expect::ok())).collect(), vec![winner, losers("session_reused", n - 1)], "all at once"),
            step(refresh("2", err("session_revoked")))]].concat()));
    out.push(req_vector(
        "concurrency.revoke-and-refresh",
        "a revoke and refreshes at once: afterwards the whole family is dead",
        &["TSR-REVOKE-3", "TSR-SESSION-2"],
        [
            login("1"),
            vec![
                step(post(
                    consumer(C),
                    "/v1/revoke",
                    sid_body("$sid1"),
                    Expect::ok(),
                )),
                concurrent(
                    (0..3).map(|_| refresh("1", Expect::ok())).collect(),
                    vec![outcome(&err("session_revoked"), 3)],
                    "after the revoke",
                ),
                subject("$t1", err("ticket_revoked")),
            ],
        ]
        .concat(),
    ));
    out
}
