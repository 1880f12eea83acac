//! Races that a missing compare-and-set loses on every run, not most: many copies of one
//! single-use request at once (the runner opens a connection for each first and releases them
//! together), so that several are in flight before any is decided. Exactly one may win.

use super::dsl::*;
use crate::vector::{Actor, Expect, Origin, Outcome, Vector};
use serde_json::json;

/// How many copies race. Enough that, without an atomic check-and-set, two of them read the
/// unused state before either writes; bounded so a run stays short.
pub const RACERS: usize = 32;

fn losers(code: &str, also: &[&str], count: usize) -> Outcome {
    let mut o = outcome(&err(code), count);
    o.or_error = also.iter().map(|s| s.to_string()).collect();
    o
}

fn winner(bind: &[(&str, &str)]) -> Outcome {
    let mut o = outcome(&Expect::ok(), 1);
    for (name, pointer) in bind {
        o.bind.insert(name.to_string(), pointer.to_string());
    }
    o
}

fn race_vector(
    id: &str,
    title: &str,
    requirements: &[&str],
    steps: Vec<crate::vector::Step>,
) -> Vector {
    vector(id, title, requirements, Origin::Requirement, steps)
}

pub fn vectors() -> Vec<Vector> {
    let n = RACERS;
    let mut out = Vec::new();

    out.push(race_vector(
        "race.redeem",
        &format!("{n} redemptions of one code at once: exactly one succeeds, the others are code_reused (or see the family revoked)"),
        &["TSR-RESULT-7", "TSR-SESSION-2", "TSR-RESULT-9"],
        vec![
            handshake("1"),
            allow("1"),
            concurrent(
                (0..n).map(|_| result_as(C, "1", Expect::ok())).collect(),
                vec![winner(&[("t1", "/ticket")]), losers("code_reused", &["session_revoked"], n - 1)],
                "all at once",
            ),
            subject("$t1", err("ticket_revoked")),
        ],
    ));

    out.push(race_vector(
        "race.refresh",
        &format!("{n} refreshes of one sid at once: exactly one succeeds, the others are session_reused (or see the family revoked)"),
        &["TSR-SESSION-2", "TSR-REFRESH-5", "TSR-REFRESH-4"],
        [
            login("1"),
            vec![
                concurrent(
                    (0..n).map(|_| refresh("1", Expect::ok())).collect(),
                    vec![winner(&[("sid2", "/sid")]), losers("session_reused", &["session_revoked"], n - 1)],
                    "all at once",
                ),
                step(refresh("2", err("session_revoked"))),
            ],
        ]
        .concat(),
    ));

    // the same (id, ts, nonce), byte for byte, n times at once: the nonce is remembered once
    let same = || {
        tweak(get(ticket("$t1"), "/v1/subject", Expect::ok()), |h| {
            h.nonce = Some("${random:racing-nonce}".into());
        })
    };
    out.push(race_vector(
        "race.nonce",
        &format!("one signed request sent {n} times at once: exactly one is accepted, the others are replayed_request"),
        &["TSR-HAWK-9"],
        [
            login("1"),
            vec![concurrent(
                (0..n).map(|_| same()).collect(),
                vec![winner(&[]), losers("replayed_request", &[], n - 1)],
                "all at once",
            )],
        ]
        .concat(),
    ));

    // the consent of one authorize request, given n times at once: decided once
    let decide = || {
        post(
            Actor::Anonymous,
            "/conformance/authorize",
            json!({"authorize_url": "$authz1", "username": "alice", "decision": "allow"}),
            Expect::ok(),
        )
    };
    out.push(race_vector(
        "race.consent",
        &format!("{n} decisions on one authorize request at once: exactly one is taken, the others are invalid_request"),
        &["TSR-AUTHZ-7", "TSR-CONF-6"],
        vec![
            handshake("1"),
            concurrent(
                (0..n).map(|_| decide()).collect(),
                vec![winner(&[("redirect1", "/redirect")]), losers("invalid_request", &[], n - 1)],
                "all at once",
            ),
        ],
    ));
    out
}
