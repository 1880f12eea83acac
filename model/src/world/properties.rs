//! The login flow's properties. Each `always` is stated so that a violation harms an honest
//! party (the honest Subject `u`, its browser `U`, or the honest Consumer), never merely the
//! attacker's own session, and is paired with a `sometimes` witness so it is not vacuous.

use super::*;

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

pub const P_INTEGRITY: &str =
    "a browser is logged in only as its own subject, or at an authority it meant to use";
pub const P_MIXUP: &str =
    "the consumer records an identity under an issuer only on that issuer's word";
pub const P_SECRECY: &str =
    "the attacker never holds the honest subject's data nor a usable session of it";
pub const P_REPLAY: &str = "no signed request is processed twice";
pub const P_REDEEMED_TWICE: &str = "no session of the honest subject is redeemed twice";
pub const P_EXPIRY: &str =
    "the attacker gets nothing accepted on the honest subject's session past its expiry";
pub const P_RECOVERY: &str = "a stolen session dies once the honest consumer refreshes it";
pub const W_LOGIN: &str = "an honest login completes";
pub const W_REFRESH: &str = "a refresh completes";
pub const W_API: &str = "an api call succeeds";
pub const W_ATTACKER_LOGIN: &str = "the attacker's own honest login completes";

/// Session integrity, with the browser's intent: `U` is logged in only as `u` on `A`'s word,
/// or on `M`'s word after `U` itself chose `M` (a login-start CSRF into the attacker's account
/// at `M` breaks it) in a login that had not completed before: an intent to log in is spent
/// once its login completes, and a second completion is `M` logging `U` in again at a moment
/// of its choosing, e.g. after `U` has since logged in at `A` (TSR-CONSUMER-6). `E` is never
/// logged in as `u` on `A`'s word (session fixation).
fn integrity(_: &Tessera, s: &State) -> bool {
    let u_ok = match &s.browsers[Browser::U.ix()].logged_in {
        Some(l) if l.vouched_by == Auth::A => l.subject == Subject::U,
        Some(l) => l.chose == Auth::M && l.intended && l.flow_by == Browser::U && !l.spent,
        None => true,
    };
    let e_ok = match &s.browsers[Browser::E.ix()].logged_in {
        Some(l) if l.vouched_by == Auth::A => l.subject == Subject::E,
        _ => true,
    };
    u_ok && e_ok
}

/// The Consumer's rule (TSR-CONSUMER-10): an identity recorded under an issuer (or, without
/// one, as the proposal's global `A_UID`, i.e. an account at `A`) was vouched for by it.
fn mixup(_: &Tessera, s: &State) -> bool {
    s.browsers.iter().all(|b| match &b.logged_in {
        Some(l) => l.issuer.unwrap_or(Auth::A) == l.vouched_by,
        None => true,
    })
}

/// Every secret of the honest Subject the attacker could use: data and tickets it was
/// answered with, or the Consumer's key together with the sid of a live session of `u`.
/// What a theft gives (the stolen family, and whatever the stolen key forges) is excepted:
/// theft is the capability, recovery the property that bounds it.
fn secrecy(_: &Tessera, s: &State) -> bool {
    if s.know.loot {
        return false;
    }
    !(s.know.key
        && !s.ghost.key_stolen
        && s.sessions.iter().enumerate().any(|(i, x)| {
            x.subject == Some(Subject::U)
                && x.status == Status::Active
                && has(s.know.sids, i as u8)
                && !has(s.ghost.stolen, x.family)
        }))
}

fn no_replay(_: &Tessera, s: &State) -> bool {
    !s.ghost.processed_twice
}
fn redeemed_once(_: &Tessera, s: &State) -> bool {
    s.sessions
        .iter()
        .filter(|x| x.subject == Some(Subject::U))
        .all(|x| x.redemptions <= 1)
}
fn no_expired(_: &Tessera, s: &State) -> bool {
    !s.ghost.expired_for_attacker
}
fn recovery(_: &Tessera, s: &State) -> bool {
    !s.ghost.theft_outlived_refresh
}
fn w_login(_: &Tessera, s: &State) -> bool {
    s.browsers[Browser::U.ix()]
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
    s.browsers[Browser::E.ix()]
        .logged_in
        .as_ref()
        .is_some_and(|l| {
            l.vouched_by == Auth::A && l.subject == Subject::E && l.flow_by == Browser::E
        })
}

/// Every property, `always` first, each citing the spec's requirement IDs.
pub const PROPERTIES: &[PropertyDef] = &[
    PropertyDef {
        name: P_INTEGRITY,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-CONSUMER-2",
            "TSR-CONSUMER-3",
            "TSR-CONSUMER-6",
            "TSR-CONSUMER-13",
            "TSR-CONSUMER-14",
            "TSR-CALLBACK-3",
            "TSR-CALLBACK-5",
            "TSR-HANDSHAKE-5",
            "TSR-HANDSHAKE-7",
            "TSR-AUTHZ-9",
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
        requirements: &["TSR-HAWK-4", "TSR-REG-4", "TSR-CONV-11", "TSR-TICKET-3"],
        witness: Some(W_API),
        condition: secrecy,
    },
    PropertyDef {
        name: P_REPLAY,
        expectation: Expectation::Always,
        requirements: &["TSR-HAWK-7", "TSR-HAWK-9", "TSR-HAWK-10", "TSR-HAWK-15"],
        witness: Some(W_API),
        condition: no_replay,
    },
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
        name: P_EXPIRY,
        expectation: Expectation::Always,
        requirements: &[
            "TSR-CONV-12",
            "TSR-SESSION-6",
            "TSR-RESULT-2",
            "TSR-RESULT-5",
            "TSR-TICKET-5",
        ],
        witness: Some(W_REFRESH),
        condition: no_expired,
    },
    PropertyDef {
        name: P_RECOVERY,
        expectation: Expectation::Always,
        requirements: &["TSR-REFRESH-3", "TSR-REFRESH-4", "TSR-REFRESH-5"],
        witness: Some(W_REFRESH),
        condition: recovery,
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

/// Look a property up by its name or its short column name.
pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES
        .iter()
        .find(|p| p.name == name || short_name(p.name) == name)
}

/// The short column name of a property in the attack matrix.
pub fn short_name(name: &str) -> &'static str {
    match name {
        P_INTEGRITY => "session integrity",
        P_MIXUP => "mix-up",
        P_SECRECY => "secrecy",
        P_REPLAY => "replay",
        P_REDEEMED_TWICE => "redeemed twice",
        P_EXPIRY => "expiry",
        P_RECOVERY => "recovery",
        W_LOGIN => "honest login",
        W_REFRESH => "refresh",
        W_API => "api call",
        W_ATTACKER_LOGIN => "attacker login",
        _ => "?",
    }
}
