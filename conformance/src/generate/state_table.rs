//! One vector per cell of the session state table (spec 6.1), with the follow-up requests
//! that show the state the answer left behind.

use super::dsl::*;
use crate::vector::{Expect, Origin, Step, Vector};
use serde_json::json;

/// The states of spec 6.1, as reached from a fresh handshake `1` (with a second login `2` of
/// the same Consumer, authorized, whose code serves as "another code").
const STATES: &[&str] = &[
    "pending",
    "authorized",
    "denied",
    "active",
    "rotated",
    "revoked",
    "expired-authorized",
    "expired-active",
];

fn reach(state: &str) -> Vec<Step> {
    let mut s = vec![handshake("2"), allow("2")];
    match state {
        "pending" => s.push(handshake("1")),
        "authorized" => s.extend([handshake("1"), allow("1")]),
        "denied" => s.extend([handshake("1"), deny("1")]),
        "active" => s.extend(login("1")),
        "rotated" => {
            s.extend(login("1"));
            s.push(rotate("1", "1b"));
        }
        "revoked" => {
            s.extend(login("1"));
            s.push(revoke("1"));
        }
        "expired-authorized" => {
            s.extend([handshake("1"), allow("1")]);
            s.push(advance(
                TTL_AUTHORIZE,
                "the pending session's exp is reached (now >= exp)",
            ));
        }
        "expired-active" => {
            s.extend(login("1"));
            s.push(advance(TTL_SESSION, "the active session's exp is reached"));
        }
        _ => unreachable!("unknown state {state}"),
    }
    s
}

fn cell(state: &str, request: &str, reqs: &[&str], title: &str, mut steps: Vec<Step>) -> Vector {
    let mut all = reach(state);
    all.append(&mut steps);
    let mut r = vec!["TSR-SESSION-1"];
    r.extend_from_slice(reqs);
    vector(
        &format!("state.{state}.{request}"),
        &format!("state table: {state} / {request}: {title}"),
        &r,
        Origin::StateTable {
            state: state.to_string(),
            request: request.to_string(),
        },
        all,
    )
}

/// `$t1` is revoked and `$sid{tag}` answers refresh with `session_revoked`.
fn family_revoked(tag: &str, ticket_sym: &str) -> Vec<Step> {
    vec![
        subject(ticket_sym, err("ticket_revoked")),
        step(refresh(tag, err("session_revoked"))),
    ]
}

pub fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let other_code = |expect: Expect| {
        step(post(
            consumer(C),
            "/v1/result",
            json!({"sid": "$sid1", "code": "$code2"}),
            expect,
        ))
    };
    let right_code = |expect: Expect| step(result_as(C, "1", expect));
    for &state in STATES {
        // result, the session's own code
        let right: Option<Vector> = match state {
            "pending" | "denied" => None, // no code was issued for this session
            "authorized" => Some(cell(
                state,
                "result-right-code",
                &["TSR-RESULT-7", "TSR-CALLBACK-1"],
                "200, the session becomes active",
                vec![
                    right_code(Expect::ok().bind("t1", "/ticket")),
                    ok_subject("$t1"),
                    rotate("1", "1c"),
                ],
            )),
            "active" => Some(cell(
                state,
                "result-right-code",
                &["TSR-RESULT-9", "TSR-SESSION-4"],
                "400 code_reused, and the family is revoked",
                [
                    vec![right_code(err("code_reused"))],
                    family_revoked("1", "$t1"),
                ]
                .concat(),
            )),
            "rotated" => Some(cell(
                state,
                "result-right-code",
                &["TSR-RESULT-9", "TSR-SESSION-4", "TSR-REFRESH-4"],
                "400 code_reused, and the family (with the newer session) is revoked",
                [
                    vec![right_code(err("code_reused"))],
                    family_revoked("1b", "$t1b"),
                ]
                .concat(),
            )),
            "revoked" => Some(cell(
                state,
                "result-right-code",
                &["TSR-RESULT-2"],
                "400 session_revoked",
                vec![right_code(err("session_revoked"))],
            )),
            "expired-authorized" | "expired-active" => Some(cell(
                state,
                "result-right-code",
                &["TSR-RESULT-2", "TSR-CONV-12", "TSR-SESSION-6"],
                "400 session_expired",
                vec![right_code(err("session_expired"))],
            )),
            _ => unreachable!(),
        };
        out.extend(right);
        // result, other code (the code of session 2)
        let (expect, reqs, title): (Expect, &[&str], &str) = match state {
            "pending" => (
                err("authorization_pending"),
                &["TSR-RESULT-3"],
                "400 authorization_pending",
            ),
            "denied" => (
                err("access_denied"),
                &["TSR-RESULT-3", "TSR-CALLBACK-4"],
                "403 access_denied",
            ),
            "authorized" | "active" | "rotated" => (
                err("invalid_code"),
                &["TSR-RESULT-4", "TSR-RESULT-9", "TSR-CONV-7"],
                "400 invalid_code, nothing changes",
            ),
            "revoked" => (
                err("session_revoked"),
                &["TSR-RESULT-2"],
                "400 session_revoked",
            ),
            _ => (
                err("session_expired"),
                &["TSR-RESULT-2", "TSR-CONV-12"],
                "400 session_expired",
            ),
        };
        let mut after = vec![other_code(expect)];
        match state {
            // the named session is unchanged; session 2, whose code was shown with the wrong
            // sid, is the foreign-code vectors' business (TSR-RESULT-12)
            "authorized" => after.push(right_code(Expect::ok())),
            "active" => after.extend([ok_subject("$t1"), rotate("1", "1c")]),
            "rotated" => after.extend([ok_subject("$t1b"), rotate("1b", "1c")]),
            "pending" => after.push(step(refresh("1", err("session_not_active")))),
            "denied" => after.push(step(refresh("1", err("session_not_active")))),
            _ => {}
        }
        out.push(cell(state, "result-other-code", reqs, title, after));
        // refresh
        let (steps, reqs, title): (Vec<Step>, &[&str], &str) = match state {
            "pending" | "authorized" | "denied" => (
                vec![step(refresh("1", err("session_not_active")))],
                &["TSR-REFRESH-2"],
                "400 session_not_active",
            ),
            "active" => (
                vec![
                    step(refresh(
                        "1",
                        Expect::ok()
                            .with("/previous_sid", json!("$sid1"))
                            .with("/sid", json!({"$all": [{"$not": "$sid1"}, {"$len": 43}]}))
                            .with("/exp", json!({"$le": {"$sum": ["$now", TTL_SESSION]}}))
                            .with("/ticket/scope", json!(["email", "profile"]))
                            .with("/ticket/grant", json!("$t1/grant"))
                            .with("/ticket/user", json!("$sub1"))
                            .bind("sid1b", "/sid")
                            .bind("t1b", "/ticket"),
                    )),
                    ok_subject("$t1b"),
                    rotate("1b", "1c"),
                ],
                &[
                    "TSR-REFRESH-3",
                    "TSR-REFRESH-6",
                    "TSR-TICKET-4",
                    "TSR-CONV-9",
                ],
                "200, the session is rotated and a new one is active",
            ),
            "rotated" => (
                [
                    vec![step(refresh("1", err("session_reused")))],
                    family_revoked("1b", "$t1b"),
                ]
                .concat(),
                &["TSR-REFRESH-5", "TSR-REFRESH-4", "TSR-SESSION-4"],
                "400 session_reused, and the family is revoked",
            ),
            "revoked" => (
                vec![step(refresh("1", err("session_revoked")))],
                &["TSR-REFRESH-1"],
                "400 session_revoked",
            ),
            _ => (
                vec![step(refresh("1", err("session_expired")))],
                &["TSR-REFRESH-1", "TSR-CONV-12", "TSR-SESSION-6"],
                "400 session_expired",
            ),
        };
        out.push(cell(state, "refresh", reqs, title, steps));
        // revoke
        let mut steps = vec![revoke("1")];
        let reqs: &[&str] = match state {
            "pending" => {
                steps.push(other_code(err("session_revoked")));
                &["TSR-REVOKE-1", "TSR-SESSION-4"]
            }
            "authorized" => {
                steps.push(step(result_as(C, "1", err("session_revoked"))));
                &["TSR-REVOKE-1", "TSR-SESSION-4"]
            }
            "denied" => {
                steps.push(step(refresh("1", err("session_revoked"))));
                &["TSR-REVOKE-1"]
            }
            "active" => {
                steps.extend(family_revoked("1", "$t1"));
                &["TSR-REVOKE-1", "TSR-SESSION-4", "TSR-REVOKE-3"]
            }
            "rotated" => {
                steps.extend(family_revoked("1b", "$t1b"));
                steps.push(subject("$t1", err("ticket_revoked")));
                &["TSR-REVOKE-1", "TSR-SESSION-4"]
            }
            "revoked" => {
                steps.push(step(refresh("1", err("session_revoked"))));
                &["TSR-REVOKE-2"]
            }
            _ => {
                // revocation is checked before expiry: the answer is now session_revoked
                steps.push(step(result_as(C, "1", err("session_revoked"))));
                &["TSR-REVOKE-1", "TSR-SESSION-1"]
            }
        };
        out.push(cell(
            state,
            "revoke",
            reqs,
            "200 {}, the family is revoked",
            steps,
        ));
        // ticket use
        let (steps, reqs, title): (Vec<Step>, &[&str], &str) = match state {
            "active" => (vec![ok_subject("$t1")], &["TSR-DATA-1"], "200"),
            "rotated" => (
                vec![ok_subject("$t1"), ok_subject("$t1b")],
                &["TSR-DATA-1"],
                "200 until the ticket's exp",
            ),
            "revoked" => (
                vec![subject("$t1", err("ticket_revoked"))],
                &["TSR-TICKET-6", "TSR-SESSION-4"],
                "401 ticket_revoked",
            ),
            "expired-active" => (
                vec![subject("$t1", err("ticket_expired"))],
                &["TSR-TICKET-5"],
                "401 ticket_expired",
            ),
            _ => continue, // no ticket exists in this state
        };
        out.push(cell(state, "ticket-use", reqs, title, steps));
    }
    // TSR-RESULT-12 (v1's burn, TSR-RESULT-11, withdrawn): in every state of the named
    // session, the code of session 2 shown with sid 1 changes nothing for session 2, whose code
    // still redeems (unless the clock has taken both sessions past their exp)
    for &state in STATES {
        let answer = match state {
            "pending" => err("authorization_pending"),
            "denied" => err("access_denied"),
            "authorized" | "active" | "rotated" => err("invalid_code"),
            "revoked" => err("session_revoked"),
            _ => err("session_expired"),
        };
        let mut all = reach(state);
        all.push(other_code(answer));
        let own = if state.starts_with("expired") {
            err("session_expired")
        } else {
            Expect::ok()
        };
        all.push(step(result_as(C, "2", own)));
        out.push(vector(
            &format!("foreign-code.{state}"),
            &format!("a code shown with the sid of a {state} session burns nothing: its own session is unchanged"),
            &["TSR-RESULT-12", "TSR-RESULT-11", "TSR-SESSION-1", "TSR-CONV-7"],
            Origin::StateTable {
                state: state.to_string(),
                request: "result-foreign-code".to_string(),
            },
            all,
        ));
    }
    // a rotated session's old ticket dies at its own exp even while the family lives
    out.push(cell(
        "rotated",
        "ticket-use-after-ticket-exp",
        &["TSR-TICKET-5", "TSR-TICKET-4"],
        "the old ticket expires at its own exp",
        vec![
            advance(TTL_TICKET, "the first ticket's exp is reached"),
            subject("$t1", err("ticket_expired")),
            rotate("1b", "1c"),
            ok_subject("$t1c"),
        ],
    ));
    out
}
