//! The Consumer profile's scenarios (`conformance/consumer-vectors/`, spec A.6.4).
//!
//! Every Consumer-side switch of the model (`tessera_model::switches::Switch` whose
//! requirements include a TSR-CONSUMER requirement in force) maps to the scenarios that replay
//! its counterexample against a Consumer, which must refuse it; [`scenarios`] fails when a
//! switch has none, so a switch added to the model needs its scenario here. Beside them: the
//! honest flows every Consumer must complete, and the negative scenarios written from the text
//! of chapter 10 and of the Consumer's obligations in chapters 4 and 5 (`Server-Authorization`,
//! `tsm`, result shapes, metadata).

use crate::consumer::scenario::{Origin, Scenario, FORMAT};
use serde_json::{json, Value};
use tessera_model::switches::Switch;

/// The model's Consumer-side switches: those standing for a TSR-CONSUMER requirement still in
/// force (PKCE's TSR-CONSUMER-1 is withdrawn).
pub fn consumer_side_switches() -> Vec<Switch> {
    Switch::ALL
        .iter()
        .copied()
        .filter(|w| {
            w.requirements()
                .iter()
                .any(|r| r.starts_with("TSR-CONSUMER-") && *r != "TSR-CONSUMER-1")
        })
        .collect()
}

/// Every scenario, sorted by id; an error when a Consumer-side switch has no scenario or an id
/// is used twice.
pub fn scenarios() -> Result<Vec<Scenario>, String> {
    let mut out = honest_flows();
    for w in consumer_side_switches() {
        let negatives = counterexamples(w);
        if negatives.is_empty() {
            return Err(format!(
                "the model's Consumer-side switch {} has no scenario: add its counterexample to \
                 conformance/src/generate/consumer.rs",
                w.name()
            ));
        }
        out.extend(negatives);
    }
    out.extend(from_requirements());
    out.extend(refreshes());
    out.extend(data_and_logout());
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for pair in out.windows(2) {
        if pair[0].id == pair[1].id {
            return Err(format!("scenario id {} is used twice", pair[0].id));
        }
    }
    Ok(out)
}

/// The file text of a scenario.
pub fn to_file_text(s: &Scenario) -> String {
    let mut t = serde_json::to_string_pretty(s).expect("a scenario serializes");
    t.push('\n');
    t
}

/// Writes every scenario to `dir` as `{id}.json` and removes stale `*.json` files there.
pub fn write(dir: &std::path::Path) -> Result<usize, String> {
    let all = scenarios()?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let keep: std::collections::BTreeSet<String> =
        all.iter().map(|s| format!("{}.json", s.id)).collect();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && !keep.contains(name) {
            std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        }
    }
    for s in &all {
        std::fs::write(dir.join(format!("{}.json", s.id)), to_file_text(s))
            .map_err(|e| e.to_string())?;
    }
    Ok(all.len())
}

// ---- building blocks ----------------------------------------------------------------------

fn scenario(
    id: &str,
    title: &str,
    requirements: &[&str],
    origin: Origin,
    attacker: Value,
    steps: Vec<Value>,
) -> Scenario {
    Scenario {
        format: FORMAT.into(),
        id: id.into(),
        title: title.into(),
        requirements: requirements.iter().map(|r| (*r).to_string()).collect(),
        origin,
        attacker: serde_json::from_value(attacker).expect("a valid attacker behaviour"),
        steps: serde_json::from_value(Value::Array(steps)).expect("valid steps"),
    }
}

fn switch(name: &str, attack: Option<&str>) -> Origin {
    Origin::ModelSwitch {
        switch: name.into(),
        attack: attack.map(String::from),
    }
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

/// A login start by `browser` at `authority`, named `name` (`extra`: `form`, `expect`,
/// `back_channel`).
fn start(browser: &str, authority: &str, name: &str, extra: Value) -> Value {
    merge(
        json!({"do": "start", "browser": browser, "authority": authority, "name": name}),
        extra,
    )
}

fn get_only(browser: &str) -> Value {
    json!({"do": "start", "browser": browser, "authority": "A", "form": "get-only", "expect": "refused"})
}

fn authorize(login: &str, name: &str, extra: Value) -> Value {
    merge(
        json!({"do": "authorize", "login": login, "name": name}),
        extra,
    )
}

/// `browser` opens callback `of` (`extra`: `change`, `back_channel`).
fn callback(of: &str, browser: &str, extra: Value) -> Value {
    merge(
        json!({"do": "callback", "browser": browser, "of": of}),
        extra,
    )
}

fn observe(browser: &str, logged_in: Value) -> Value {
    let mut step = json!({"do": "observe", "browser": browser});
    step["logged_in"] = logged_in;
    step
}

fn observe_bind(browser: &str, logged_in: Value, name: &str) -> Value {
    let mut step = observe(browser, logged_in);
    step["bind"] = json!({ name: "/logged_in/sub" });
    step
}

fn at(issuer: &str) -> Value {
    json!({"issuer": issuer, "sub": {"$type": "string"}})
}

fn none() -> Value {
    json!({})
}

fn no_request() -> Value {
    json!({"back_channel": []})
}

fn result_at(who: &str) -> Value {
    json!({ "back_channel": [format!("{who} /v1/result")] })
}

/// The victim logs in at `A`: start, authorize as alice, callback.
fn victim_logs_in_at_a() -> Vec<Value> {
    vec![
        start("victim", "A", "l1", none()),
        authorize("l1", "cb1", none()),
        callback("cb1", "victim", result_at("A")),
    ]
}

/// The victim logs in at `M` (start, authorize, callback) and `$msub` is bound to its `sub`.
fn victim_logged_in_at_m() -> Vec<Value> {
    vec![
        start("victim", "M", "l1", none()),
        authorize("l1", "cb1", none()),
        callback("cb1", "victim", result_at("M")),
        observe_bind("victim", at("M"), "msub"),
    ]
}

// ---- the honest flows ---------------------------------------------------------------------

fn honest_flows() -> Vec<Scenario> {
    let r = Origin::Requirement;
    vec![
        scenario(
            "consumer.login.honest",
            "one login at the honest Authority completes as (A, sub)",
            &["TSR-CONSUMER-5", "TSR-CONSUMER-10", "TSR-CONSUMER-13"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", json!({"back_channel": ["A /v1/handshake"]})),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", result_at("A")),
                observe("victim", at("A")),
            ],
        ),
        scenario(
            "consumer.login.two-tabs",
            "two logins started in one browser (two tabs) both complete, in either order",
            &["TSR-CONSUMER-13", "TSR-CONSUMER-8"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                start("victim", "A", "l2", none()),
                authorize("l1", "cb1", none()),
                authorize("l2", "cb2", json!({"username": "mallory"})),
                callback("cb2", "victim", result_at("A")),
                observe_bind("victim", at("A"), "mallory"),
                callback("cb1", "victim", result_at("A")),
                observe(
                    "victim",
                    json!({"issuer": "A", "sub": {"$not": "$mallory"}}),
                ),
            ],
        ),
        scenario(
            "consumer.login.after-reload",
            "the login page reloaded before its form is sent still starts a login that completes",
            &["TSR-CONSUMER-14"],
            r.clone(),
            none(),
            [vec![get_only("victim")], victim_logs_in_at_a(), vec![observe("victim", at("A"))]]
                .concat(),
        ),
        scenario(
            "consumer.login.attacker-authority",
            "a login at M, answering correctly, completes as (M, sub): the twin of every scenario where M misbehaves",
            &["TSR-CONSUMER-5", "TSR-CONSUMER-10"],
            r.clone(),
            none(),
            vec![
                start("victim", "M", "l1", json!({"back_channel": ["M /v1/handshake"]})),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", result_at("M")),
                observe("victim", at("M")),
            ],
        ),
        scenario(
            "consumer.login.metadata-endpoints",
            "M publishes its endpoints under /alt/ (its metadata says so): the Consumer sends the handshake and the result request there, and the login completes",
            &["TSR-CONSUMER-5", "TSR-META-1"],
            r.clone(),
            json!({"metadata": "other-paths"}),
            vec![
                start("victim", "M", "l1", json!({"back_channel": ["M /alt/v1/handshake"]})),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", json!({"back_channel": ["M /alt/v1/result"]})),
                observe("victim", at("M")),
            ],
        ),
        scenario(
            "consumer.login.unknown-members",
            "M's metadata, handshake and result (and the ticket in it) carry members no version of the spec defines: the Consumer ignores them and the login completes",
            &["TSR-CONV-17"],
            r.clone(),
            json!({"unknown_members": true}),
            vec![
                start("victim", "M", "l1", json!({"back_channel": ["M /v1/handshake"]})),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", result_at("M")),
                observe("victim", at("M")),
            ],
        ),
        scenario(
            "consumer.login.denied",
            "a denial callback is refused like any, logs nobody in, and a new login still completes",
            &["TSR-CONSUMER-12"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", json!({"decision": "deny"})),
                callback("cb1", "victim", no_request()),
                observe("victim", Value::Null),
                start("victim", "A", "l2", none()),
                authorize("l2", "cb2", none()),
                callback("cb2", "victim", result_at("A")),
                observe("victim", at("A")),
            ],
        ),
        scenario(
            "consumer.login.denial-with-code",
            "a callback that carries a valid code and error=access_denied (5.4 sends one or the other) is refused without any request: the denial wins, the code is never presented",
            &["TSR-CONSUMER-12"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", none()),
                callback(
                    "cb1",
                    "victim",
                    json!({"change": {"error": "access_denied"}, "back_channel": []}),
                ),
                observe("victim", Value::Null),
            ],
        ),
        scenario(
            "consumer.login.denied-other-browser",
            "a denial callback opened in a browser that did not start the flow is refused before anything, and cancels nothing",
            &["TSR-CONSUMER-12", "TSR-CONSUMER-13"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", json!({"decision": "deny"})),
                callback("cb1", "attacker", no_request()),
                observe("attacker", Value::Null),
                callback("cb1", "victim", no_request()),
                observe("victim", Value::Null),
            ],
        ),
        scenario(
            "consumer.state.fresh",
            "every login sends a fresh state of at least 128 bits (M refuses a repeated or shorter one): three logins at M, two in one browser, all start",
            &["TSR-CONSUMER-13", "TSR-HANDSHAKE-7"],
            r.clone(),
            none(),
            vec![
                start("victim", "M", "l1", json!({"back_channel": ["M /v1/handshake"]})),
                start("victim", "M", "l2", json!({"back_channel": ["M /v1/handshake"]})),
                start("attacker", "M", "l3", json!({"back_channel": ["M /v1/handshake"]})),
                authorize("l2", "cb2", none()),
                callback("cb2", "victim", result_at("M")),
                observe("victim", at("M")),
            ],
        ),
        scenario(
            "consumer.hawk.stale-timestamp",
            "M answers the first handshake with a stale-timestamp reply whose tsm verifies: the Consumer adopts M's time and the login completes",
            &["TSR-HAWK-8"],
            r,
            json!({"stale": "valid-tsm"}),
            vec![
                start(
                    "victim",
                    "M",
                    "l1",
                    json!({"back_channel": ["M /v1/handshake", "M /v1/handshake"]}),
                ),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", result_at("M")),
                observe("victim", at("M")),
            ],
        ),
    ]
}

// ---- the counterexamples of the model's Consumer-side switches -----------------------------

/// The scenarios replaying the counterexample of `w` off: each must be refused.
fn counterexamples(w: Switch) -> Vec<Scenario> {
    let name = w.name();
    match name {
        // off: the callback is looked up outside the browser session that started the login
        "binding" => vec![scenario(
            "consumer.binding.no-pending-login",
            "the victim's callback opened in a browser with no pending login is refused without any request, and the victim's own login still completes",
            &["TSR-CONSUMER-3", "TSR-CONSUMER-6"],
            switch(name, Some("session-fixation")),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", none()),
                callback("cb1", "attacker", no_request()),
                observe("attacker", Value::Null),
                callback("cb1", "victim", result_at("A")),
                observe("victim", at("A")),
            ],
        )],
        // off: the callback does not say which flow it ends
        "state" => vec![
            scenario(
                "consumer.state.other-browser",
                "login CSRF: the attacker's callback (his flow, his account) opened in the victim's browser, which has a login of its own pending, is refused without any request",
                &["TSR-CONSUMER-13", "TSR-CONSUMER-3", "TSR-CONSUMER-6"],
                switch(name, Some("login-csrf")),
                none(),
                vec![
                    start("victim", "A", "lv", none()),
                    start("attacker", "A", "le", none()),
                    authorize("le", "cbe", json!({"username": "mallory"})),
                    callback("cbe", "victim", no_request()),
                    observe("victim", Value::Null),
                    authorize("lv", "cbv", none()),
                    callback("cbv", "victim", result_at("A")),
                    observe_bind("victim", at("A"), "alice"),
                    callback("cbe", "attacker", result_at("A")),
                    observe(
                        "attacker",
                        json!({"issuer": "A", "sub": {"$not": "$alice"}}),
                    ),
                ],
            ),
            scenario(
                "consumer.state.unknown",
                "a callback whose state no login of this browser has is refused without any request, and cancels nothing",
                &["TSR-CONSUMER-13"],
                switch(name, None),
                none(),
                vec![
                    start("victim", "A", "l1", none()),
                    authorize("l1", "cb1", none()),
                    callback(
                        "cb1",
                        "victim",
                        json!({"change": {"state": "random"}, "back_channel": []}),
                    ),
                    observe("victim", Value::Null),
                    callback("cb1", "victim", result_at("A")),
                    observe("victim", at("A")),
                ],
            ),
        ],
        // off: a pending login survives its callback
        "pending-once" => vec![
            scenario(
                "consumer.pending-once.replay",
                "a callback replayed after its login completed is refused without any request, in the same browser and in another",
                &["TSR-CONSUMER-6", "TSR-CONSUMER-13"],
                switch(name, None),
                none(),
                [
                    victim_logs_in_at_a(),
                    vec![
                        observe_bind("victim", at("A"), "alice"),
                        callback("cb1", "victim", no_request()),
                        observe("victim", json!({"issuer": "A", "sub": "$alice"})),
                        callback("cb1", "attacker", no_request()),
                        observe("attacker", Value::Null),
                    ],
                ]
                .concat(),
            ),
            scenario(
                "consumer.pending-once.after-refusal",
                "a pending login is used at most once: after its callback was refused (a wrong iss), the same state cannot be used again",
                &["TSR-CONSUMER-6"],
                switch(name, None),
                none(),
                vec![
                    start("victim", "A", "l1", none()),
                    authorize("l1", "cb1", none()),
                    callback(
                        "cb1",
                        "victim",
                        json!({"change": {"iss": "M"}, "back_channel": []}),
                    ),
                    observe("victim", Value::Null),
                    callback("cb1", "victim", no_request()),
                    observe("victim", Value::Null),
                ],
            ),
        ],
        // off: a cross-site page can start a login in the victim's browser
        "start-csrf" => [
            ("get", "get-only", "opening the login page (a GET, which any site can make the browser do) starts no login"),
            ("no-token", "no-csrf", "a login-start form sent without its CSRF token starts no login"),
            ("token-of-other-browser", "token-of-other-browser", "a cross-site form carrying the attacker's own CSRF token, sent with the victim's cookies, starts no login"),
            ("no-cookie", "no-cookie", "a login-start form sent without the browser's cookies (a cross-site POST under SameSite=Lax) starts no login"),
        ]
        .into_iter()
        .map(|(id, form, title)| {
            scenario(
                &format!("consumer.start-csrf.{id}"),
                title,
                &["TSR-CONSUMER-14"],
                switch(name, Some("v1-login-start-csrf")),
                none(),
                vec![json!({"do": "start", "browser": "victim", "authority": "A", "form": form, "expect": "refused"})],
            )
        })
        .collect(),
        // off: the callback's iss is not compared with the pending login's Authority
        "issuer" => vec![
            scenario(
                "consumer.issuer.missing",
                "a callback without iss is refused without any request",
                &["TSR-CONSUMER-4"],
                switch(name, None),
                none(),
                vec![
                    start("victim", "A", "l1", none()),
                    authorize("l1", "cb1", none()),
                    callback(
                        "cb1",
                        "victim",
                        json!({"change": {"iss": null}, "back_channel": []}),
                    ),
                    observe("victim", Value::Null),
                ],
            ),
            scenario(
                "consumer.issuer.mix-up",
                "mix-up: a login started at M whose callback says it comes from A is refused without any request",
                &["TSR-CONSUMER-4", "TSR-CONSUMER-5"],
                switch(name, Some("mix-up")),
                none(),
                vec![
                    start("victim", "M", "l1", none()),
                    authorize("l1", "cb1", none()),
                    callback(
                        "cb1",
                        "victim",
                        json!({"change": {"iss": "A"}, "back_channel": []}),
                    ),
                    observe("victim", Value::Null),
                ],
            ),
        ],
        // off: users keyed by sub alone
        "issuer-keyed" => vec![scenario(
            "consumer.issuer-keyed.same-sub",
            "users are keyed by (issuer, sub): M vouching for the sub the victim has at A logs the attacker in as M's user, not the victim's, and the victim stays A's user",
            &["TSR-CONSUMER-10"],
            switch(name, Some("mix-up")),
            none(),
            [
                victim_logs_in_at_a(),
                vec![
                    observe_bind("victim", at("A"), "alice"),
                    start("attacker", "M", "lm", none()),
                    authorize("lm", "cbm", json!({"sub": "$alice"})),
                    callback("cbm", "attacker", result_at("M")),
                    observe("attacker", json!({"issuer": "M", "sub": "$alice"})),
                    // and the victim is still A's alice: the attacker's login took nothing of
                    // hers (nor did it push her session out)
                    observe("victim", json!({"issuer": "A", "sub": "$alice"})),
                ],
            ]
            .concat(),
        )],
        // off: the result request goes where the callback's iss points
        "route-pending" => vec![scenario(
            "consumer.route-pending.wrong-iss",
            "a login pending at A whose callback names M is refused, and the result request (or any) never goes to M",
            &["TSR-CONSUMER-4", "TSR-CONSUMER-5"],
            switch(name, None),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", none()),
                callback(
                    "cb1",
                    "victim",
                    json!({"change": {"iss": "M"}, "back_channel": []}),
                ),
                observe("victim", Value::Null),
            ],
        )],
        _ => vec![],
    }
}

// ---- written from the requirements' text ---------------------------------------------------

fn from_requirements() -> Vec<Scenario> {
    let r = Origin::Requirement;
    let mut out = vec![
        scenario(
            "consumer.state.missing",
            "a callback without state is refused without any request",
            &["TSR-CONSUMER-13"],
            r.clone(),
            none(),
            vec![
                start("victim", "A", "l1", none()),
                authorize("l1", "cb1", none()),
                callback(
                    "cb1",
                    "victim",
                    json!({"change": {"state": null}, "back_channel": []}),
                ),
                observe("victim", Value::Null),
                callback("cb1", "victim", result_at("A")),
                observe("victim", at("A")),
            ],
        ),
        scenario(
            "consumer.session.new-id",
            "a session cookie planted before the login does not become a logged-in session",
            &["TSR-CONSUMER-8"],
            r.clone(),
            none(),
            [
                vec![
                    get_only("attacker"),
                    json!({"do": "plant-cookie", "from": "attacker", "to": "victim"}),
                ],
                victim_logs_in_at_a(),
                vec![observe("victim", at("A")), observe("attacker", Value::Null)],
            ]
            .concat(),
        ),
        scenario(
            "consumer.hawk.stale-bad-tsm",
            "M answers the handshake with a stale-timestamp reply whose tsm does not verify: the Consumer does not adopt M's time, and the login does not start",
            &["TSR-HAWK-8"],
            r.clone(),
            json!({"stale": "bad-tsm"}),
            vec![start(
                "victim",
                "M",
                "l1",
                json!({"expect": "refused", "back_channel": "any"}),
            )],
        ),
    ];
    // TSR-CONSUMER-7, TSR-HAWK-13, TSR-HAWK-17: an answer whose Server-Authorization does not
    // verify, or covers another status, is not used
    for on in ["result", "handshake"] {
        for (fault, what, reqs) in [
            (
                "missing",
                "without Server-Authorization",
                &["TSR-CONSUMER-7", "TSR-HAWK-13"][..],
            ),
            (
                "bad-mac",
                "with a Server-Authorization made with another key",
                &["TSR-CONSUMER-7", "TSR-HAWK-13"],
            ),
            (
                "bad-hash",
                "with a Server-Authorization whose hash is another body's",
                &["TSR-CONSUMER-7", "TSR-HAWK-13"],
            ),
            (
                "status-400",
                "whose Server-Authorization covers status 400",
                &["TSR-HAWK-17"],
            ),
            (
                "no-ext",
                "whose Server-Authorization covers no status",
                &["TSR-HAWK-17"],
            ),
        ] {
            let steps = if on == "result" {
                vec![
                    start("victim", "M", "l1", none()),
                    authorize("l1", "cb1", none()),
                    callback("cb1", "victim", result_at("M")),
                    observe("victim", Value::Null),
                ]
            } else {
                vec![start(
                    "victim",
                    "M",
                    "l1",
                    json!({"expect": "refused", "back_channel": ["M /v1/handshake"]}),
                )]
            };
            out.push(scenario(
                &format!("consumer.server-authorization.{on}.{fault}"),
                &format!("M answers the {on} {what}: the Consumer uses nothing from it and logs nobody in"),
                reqs,
                r.clone(),
                json!({"fault_on": on, "server_authorization": fault}),
                steps,
            ));
        }
    }
    // TSR-CONSUMER-7: the shapes of 5.5
    for (fault, what) in [
        ("empty-sub", "an empty sub"),
        ("sub-with-space", "a sub with a space"),
        ("sub-not-string", "a sub that is a number"),
        (
            "sub-too-long",
            "a sub of 256 characters, one over the bound",
        ),
        ("extra-grant", "a grant that was not asked for"),
        ("missing-scope", "no answer for an asked scope"),
        ("no-ticket", "no ticket"),
        ("ticket-other-app", "a ticket issued to another Consumer"),
        ("ticket-other-user", "a ticket for another sub"),
        ("ticket-sha1", "a ticket for sha1"),
        ("ticket-short-key", "a ticket key too short for Hawk"),
        (
            "ticket-wider-scope",
            "a ticket wider than the granted scopes",
        ),
        ("ticket-delegated", "a delegated ticket"),
    ] {
        out.push(scenario(
            &format!("consumer.result-shape.{fault}"),
            &format!("a verified result with {what} is refused: nobody is logged in"),
            &["TSR-CONSUMER-7"],
            r.clone(),
            json!({"result": fault}),
            vec![
                start("victim", "M", "l1", none()),
                authorize("l1", "cb1", none()),
                callback("cb1", "victim", result_at("M")),
                observe("victim", Value::Null),
            ],
        ));
    }
    // TSR-META-1, TSR-META-3: metadata refused at configuration
    for (fault, what, req) in [
        (
            "issuer-mismatch",
            "whose issuer is not the URL it was fetched from",
            "TSR-META-1",
        ),
        (
            "endpoint-elsewhere",
            "whose result endpoint is not under the issuer",
            "TSR-META-1",
        ),
        ("protocol-v1", "of protocol version 1", "TSR-META-3"),
    ] {
        out.push(scenario(
            &format!("consumer.metadata.{fault}"),
            &format!("an Authority with metadata {what} is refused at configuration"),
            &[req],
            r.clone(),
            json!({"metadata": fault}),
            vec![json!({"do": "reset", "authorities": ["A", "M"], "expect": "refused"})],
        ));
    }
    // The handshake's answer, checked before the browser is sent anywhere
    for (fault, what, reqs) in [
        (
            "other-iss",
            "whose iss is not M's issuer",
            &["TSR-HANDSHAKE-6"][..],
        ),
        (
            "authorize-elsewhere",
            "whose authorize_url is not under M's issuer",
            &["TSR-META-1"][..],
        ),
        (
            "sid-in-url",
            "whose authorize_url carries the sid",
            &["TSR-CONSUMER-2", "TSR-HANDSHAKE-5"][..],
        ),
    ] {
        out.push(scenario(
            &format!("consumer.handshake.{fault}"),
            &format!(
                "M answers the handshake with an answer {what}: the login does not start (the browser is not sent there)"
            ),
            reqs,
            r.clone(),
            json!({"handshake": fault}),
            vec![
                start(
                    "victim",
                    "M",
                    "l1",
                    json!({"expect": "refused", "back_channel": ["M /v1/handshake"]}),
                ),
                observe("victim", Value::Null),
            ],
        ));
    }
    out.push(scenario(
        "consumer.result-shape.sub-at-bound",
        "a verified result with a sub of exactly 255 characters, the bound, completes the login: the twin of consumer.result-shape.sub-too-long",
        &["TSR-CONSUMER-7"],
        r.clone(),
        json!({"result": "sub-at-bound"}),
        vec![
            start("victim", "M", "l1", none()),
            authorize("l1", "cb1", none()),
            callback("cb1", "victim", result_at("M")),
            observe("victim", json!({"issuer": "M", "sub": {"$len": 255}})),
        ],
    ));
    // TSR-CONSUMER-16: an issuer with user-info is not an issuer identifier
    out.push(scenario(
        "consumer.metadata.issuer-user-info",
        "an Authority configured as http://user@127.0.0.1:port (a user-info part; M's metadata consistent with that issuer, and the URL reaches M) is refused at configuration",
        &["TSR-CONSUMER-16"],
        r.clone(),
        json!({"issuer_host": "user@127.0.0.1"}),
        vec![json!({"do": "reset", "authorities": ["A", "M"], "expect": "refused"})],
    ));
    for (case, suffix, what) in [
        ("issuer-with-path", "/tenant", "a path"),
        ("issuer-with-query", "/?tenant=1", "a query"),
    ] {
        out.push(scenario(
            &format!("consumer.metadata.{case}"),
            &format!("an Authority configured as http://127.0.0.1:port{suffix} ({what}; M serves metadata consistent with that issuer at {{issuer}}/.well-known/tessera-authority) is refused at configuration"),
            &["TSR-CONSUMER-16"],
            r.clone(),
            json!({"issuer_suffix": suffix}),
            vec![json!({"do": "reset", "authorities": ["A", "M"], "expect": "refused"})],
        ));
    }
    // TSR-CONV-1: plain http only on a loopback address
    out.push(scenario(
        "consumer.metadata.http-not-loopback",
        "an Authority at http://0.0.0.0:port (plain http on a host that is not a loopback address; its metadata consistent with that issuer) is refused at configuration (the same M at http://127.0.0.1 is accepted: consumer.login.attacker-authority)",
        &["TSR-CONV-1"],
        r,
        json!({"issuer_host": "0.0.0.0"}),
        vec![json!({"do": "reset", "authorities": ["A", "M"], "expect": "refused"})],
    ));
    out
}

/// `browser` refreshes its login `concurrent` times at once (TSR-CONF-13); afterwards it is
/// logged in as `logged_in`, and the Consumer made the requests `back_channel`.
fn refresh(browser: &str, concurrent: u32, logged_in: Value, back_channel: Value) -> Value {
    let mut step = json!({"do": "refresh", "browser": browser, "concurrent": concurrent});
    step["logged_in"] = logged_in;
    step["back_channel"] = back_channel;
    step
}

/// Refresh, through the test mode's hook (spec A.6.1, TSR-CONF-13): the stored `sid` replaced
/// (TSR-CONSUMER-11: seen at `A`, where presenting the old one is answered `session_reused`),
/// concurrent refreshes sharing one request (TSR-CONSUMER-15), and `session_reused` or
/// `session_revoked` from `A` logging the Subject out (TSR-CONSUMER-11); at `M`, a transient
/// failure that neither logs out nor is remembered, and an answer whose `Server-Authorization`
/// does not verify, refused without changing the stored `sid` (TSR-CONSUMER-11, TSR-CONSUMER-7).
fn refreshes() -> Vec<Scenario> {
    let r = Origin::Requirement;
    let one_at_a = || json!(["A /v1/refresh"]);
    let logged_in = || json!({"issuer": "A", "sub": "$alice"});
    let logged_in_at_a = || {
        [
            victim_logs_in_at_a(),
            vec![observe_bind("victim", at("A"), "alice")],
        ]
        .concat()
    };
    let then = |steps: Vec<Value>| [logged_in_at_a(), steps].concat();
    let one_at_m = || json!(["M /v1/refresh"]);
    let logged_in_at_m = || json!({"issuer": "M", "sub": "$msub"});
    let at_m = |steps: Vec<Value>| [victim_logged_in_at_m(), steps].concat();
    vec![
        scenario(
            "consumer.refresh.rotated-sid",
            "two refreshes in a row: each reaches A once, the second with the sid the first got (the old one would be a reuse, TSR-REFRESH-5), and the Subject stays logged in",
            &["TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            none(),
            then(vec![
                refresh("victim", 1, logged_in(), one_at_a()),
                refresh("victim", 1, logged_in(), one_at_a()),
                observe("victim", logged_in()),
            ]),
        ),
        scenario(
            "consumer.refresh.single-flight",
            "two concurrent refreshes of one login make one request to A and share its outcome; a later refresh uses the new sid",
            &["TSR-CONSUMER-15", "TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            none(),
            then(vec![
                refresh("victim", 2, logged_in(), one_at_a()),
                refresh("victim", 4, logged_in(), one_at_a()),
                observe("victim", logged_in()),
            ]),
        ),
        scenario(
            "consumer.refresh.reused-logs-out",
            "after a second holder of the Consumer's sid has refreshed it at A, the Consumer's refresh is answered session_reused: the Subject is logged out",
            &["TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            none(),
            then(vec![
                json!({"do": "refresh-elsewhere"}),
                refresh("victim", 1, Value::Null, one_at_a()),
                observe("victim", Value::Null),
            ]),
        ),
        scenario(
            "consumer.refresh.revoked-logs-out",
            "after the family is revoked at A, the Consumer's refresh is answered session_revoked: the Subject is logged out",
            &["TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            none(),
            then(vec![
                refresh("victim", 1, logged_in(), one_at_a()),
                json!({"do": "revoke-at-authority"}),
                refresh("victim", 1, Value::Null, one_at_a()),
                observe("victim", Value::Null),
            ]),
        ),
        scenario(
            "consumer.refresh.at-attacker",
            "a login at M, answering refreshes correctly, is refreshed twice in a row at M, the second time with the sid the first got: the twin of the scenarios where M answers a refresh wrongly",
            &["TSR-CONSUMER-11", "TSR-CONSUMER-5", "TSR-CONF-13"],
            r.clone(),
            none(),
            at_m(vec![
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
            ]),
        ),
        scenario(
            "consumer.refresh.overlapped",
            "while a refresh of the login at M is in flight (M holds its answer), a refresh of another login at A completes, then a second refresh of the first login starts: it shares the one in flight (one request to M), and the next refresh uses the sid M rotated to",
            &["TSR-CONSUMER-15", "TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            json!({"refresh": "held-once"}),
            at_m(vec![
                start("attacker", "A", "l2", none()),
                authorize("l2", "cb2", json!({"username": "mallory"})),
                callback("cb2", "attacker", result_at("A")),
                observe_bind("attacker", at("A"), "mallory"),
                json!({
                    "do": "refresh-overlapped",
                    "browser": "victim",
                    "other": "attacker",
                    "logged_in": logged_in_at_m(),
                    "other_logged_in": {"issuer": "A", "sub": "$mallory"},
                    "back_channel": ["M /v1/refresh", "A /v1/refresh"],
                }),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
            ]),
        ),
        scenario(
            "consumer.refresh.unavailable-retried",
            "M answers the first refresh 503 temporarily_unavailable (correctly signed): the Subject stays logged in, and the next refresh makes a request of its own (a transient failure is not remembered) with the same sid, which M then rotates",
            &["TSR-CONSUMER-11", "TSR-CONSUMER-15", "TSR-CONF-13"],
            r.clone(),
            json!({"refresh": "unavailable-once"}),
            at_m(vec![
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
            ]),
        ),
        scenario(
            "consumer.server-authorization.refresh.bad-mac",
            "M answers the first refresh with a new sid under a Server-Authorization signed with another key: the Consumer refuses the answer and keeps the old sid (the next refresh presents it; the refused answer's sid is unknown to M, answered unknown_session) and the Subject stays logged in",
            &["TSR-CONSUMER-7", "TSR-HAWK-13", "TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            json!({"refresh": "bad-mac-once"}),
            at_m(vec![
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                observe("victim", logged_in_at_m()),
            ]),
        ),
        scenario(
            "consumer.refresh.empty-sid",
            "M answers the first refresh with an empty new sid (correctly signed): the Consumer refuses the answer and keeps the old sid (the next refresh presents it, which M rotates; presenting the empty one would be answered unknown_session) and the Subject stays logged in",
            &["TSR-CONSUMER-7", "TSR-CONSUMER-11", "TSR-CONF-13"],
            r.clone(),
            json!({"refresh": "empty-sid-once"}),
            at_m(vec![
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                refresh("victim", 1, logged_in_at_m(), one_at_m()),
                observe("victim", logged_in_at_m()),
            ]),
        ),
        scenario(
            "consumer.refresh.not-logged-in",
            "a refresh in a browser session that is not logged in makes no request",
            &["TSR-CONF-13"],
            r,
            none(),
            vec![
                get_only("victim"),
                refresh("victim", 2, Value::Null, json!([])),
            ],
        ),
    ]
}

/// The Subject data and logout, through the test mode's hooks (spec A.6.1, TSR-CONF-14,
/// TSR-CONF-15): the data read with the login's ticket (TSR-HAWK-14) and used only once it
/// checks out; a logout that revokes the login at its Authority and clears the cookie (its
/// `Set-Cookie` checked as every other, TSR-CONSUMER-2).
fn data_and_logout() -> Vec<Scenario> {
    let r = Origin::Requirement;
    let logged_in = || json!({"issuer": "A", "sub": "$alice"});
    let then = |steps: Vec<Value>| {
        [
            victim_logs_in_at_a(),
            vec![observe_bind("victim", at("A"), "alice")],
            steps,
        ]
        .concat()
    };
    let data = |browser: &str, data: Value, logged_in: Value, back_channel: Value| {
        json!({"do": "subject-data", "browser": browser, "data": data,
               "logged_in": logged_in, "back_channel": back_channel})
    };
    let alice_data = || json!({"sub": "$alice", "email": "alice@example.org"});
    let logged_in_at_m = || json!({"issuer": "M", "sub": "$msub"});
    let m_data = || json!({"sub": "$msub", "email": {"$type": "string"}});
    let at_m = |steps: Vec<Value>| [victim_logged_in_at_m(), steps].concat();
    vec![
        scenario(
            "consumer.subject-data.honest",
            "the Consumer reads the Subject data at A with the login's ticket (Hawk with the ticket's id and key and its app) and uses it: the sub of its login and the granted scope's data, twice in a row, and again after a refresh (with the new ticket)",
            &["TSR-CONF-14", "TSR-HAWK-14", "TSR-CONSUMER-11"],
            r.clone(),
            none(),
            then(vec![
                data("victim", alice_data(), logged_in(), json!(["A /v1/subject"])),
                data("victim", alice_data(), logged_in(), json!(["A /v1/subject"])),
                refresh("victim", 1, logged_in(), json!(["A /v1/refresh"])),
                data("victim", alice_data(), logged_in(), json!(["A /v1/subject"])),
            ]),
        ),
        scenario(
            "consumer.subject-data.at-attacker-after-refresh",
            "at M, whose refresh retires the login's old ticket, the Subject data is read with the ticket of the last refresh",
            &["TSR-CONF-14", "TSR-CONSUMER-11", "TSR-HAWK-14"],
            r.clone(),
            none(),
            at_m(vec![
                data("victim", m_data(), logged_in_at_m(), json!(["M /v1/subject"])),
                refresh("victim", 1, logged_in_at_m(), json!(["M /v1/refresh"])),
                data("victim", m_data(), logged_in_at_m(), json!(["M /v1/subject"])),
            ]),
        ),
        scenario(
            "consumer.subject-data.other-sub",
            "M answers the Subject data with another Subject's sub: the Consumer does not use it",
            &["TSR-CONSUMER-7", "TSR-CONF-14"],
            r.clone(),
            json!({"subject": "other-sub"}),
            at_m(vec![data(
                "victim",
                Value::Null,
                logged_in_at_m(),
                json!(["M /v1/subject"]),
            )]),
        ),
        scenario(
            "consumer.subject-data.not-logged-in",
            "a browser session that is not logged in has no Subject data, and reading it makes no request",
            &["TSR-CONF-14"],
            r.clone(),
            none(),
            vec![
                get_only("victim"),
                data("victim", Value::Null, Value::Null, json!([])),
            ],
        ),
        scenario(
            "consumer.logout.revokes",
            "a logout revokes the login's session at A, logs the browser session out and clears its cookie (HttpOnly, SameSite); afterwards there is no Subject data to read and no refresh to make, and a new login completes",
            &["TSR-CONF-15", "TSR-CONSUMER-2"],
            r,
            none(),
            then(vec![
                json!({"do": "logout", "browser": "victim", "back_channel": ["A /v1/revoke"]}),
                observe("victim", Value::Null),
                data("victim", Value::Null, Value::Null, json!([])),
                refresh("victim", 1, Value::Null, json!([])),
                start("victim", "A", "l2", none()),
                authorize("l2", "cb2", none()),
                callback("cb2", "victim", result_at("A")),
                observe("victim", logged_in()),
            ]),
        ),
    ]
}
