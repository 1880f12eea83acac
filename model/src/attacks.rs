//! The attacks issue 3 asks the checker to find, each as a goal whose shortest path (BFS order)
//! is computed by [`crate::check::shortest`], and the property each one violates.

use crate::check::{model_for, shortest, Goal};
use crate::switches::{Capabilities, Variant};
use crate::world::{
    Action, Auth, Browser, State, Subject, Tessera, P_EXPIRY, P_INTEGRITY, P_MIXUP,
    P_REDEEMED_TWICE, P_REPLAY, P_ROTATION, P_SECRECY,
};

/// A named attack: in `variant`, reach a state where `goal` holds.
#[derive(Clone, Copy, Debug)]
pub struct Attack {
    pub name: &'static str,
    pub variant: &'static str,
    /// Whether the attacker's request capture is on (off where the attack must not use it).
    pub capture: bool,
    /// The property the attack's end state violates.
    pub violates: &'static str,
    pub description: &'static str,
    pub goal: Goal,
}

fn logged_in(s: &State, b: Browser, subject: Subject, by: Auth) -> bool {
    s.browsers[b as usize]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.subject == subject && l.vouched_by == by)
}

fn fixation(_: &Tessera, s: &State) -> bool {
    logged_in(s, Browser::E, Subject::U, Auth::A)
}
fn login_csrf(_: &Tessera, s: &State) -> bool {
    logged_in(s, Browser::U, Subject::E, Auth::A)
}
fn double_redemption(_: &Tessera, s: &State) -> bool {
    s.sessions.iter().any(|x| x.redemptions >= 2)
}
fn replay(_: &Tessera, s: &State) -> bool {
    s.ghost.replay_loot
}
fn harvest(_: &Tessera, s: &State) -> bool {
    s.know.key && s.know.loot
}
fn mix_up(_: &Tessera, s: &State) -> bool {
    s.browsers[Browser::E as usize]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.subject == Subject::U && l.vouched_by == Auth::M && l.issuer.is_none())
}
fn refresh_fork(_: &Tessera, s: &State) -> bool {
    // u's refreshed-away sid is still active, and the attacker holds it and the means to use it.
    s.know.key
        && s.sessions.iter().enumerate().any(|(i, x)| {
            x.refreshed
                && x.subject == Some(Subject::U)
                && x.status == crate::world::Status::Active
                && s.know.sids & (1 << i) != 0
        })
}
fn use_after_expiry(_: &Tessera, s: &State) -> bool {
    s.ghost.expired_api
}

/// The attacks, in the order of spec chapter 9.
pub const ATTACKS: &[Attack] = &[
    Attack {
        name: "session-fixation",
        variant: "seed",
        capture: true,
        violates: P_INTEGRITY,
        description: "the attacker's browser is logged in as the honest Subject",
        goal: fixation,
    },
    Attack {
        name: "login-csrf",
        variant: "seed",
        capture: true,
        violates: P_INTEGRITY,
        description: "the honest browser is logged in to the attacker's account",
        goal: login_csrf,
    },
    Attack {
        name: "double-redemption",
        variant: "seed",
        capture: true,
        violates: P_REDEEMED_TWICE,
        description: "one A_SID redeemed by two result requests",
        goal: double_redemption,
    },
    Attack {
        name: "replay",
        variant: "seed",
        capture: true,
        violates: P_REPLAY,
        description: "a replayed captured request gives the attacker the Subject's ticket or data",
        goal: replay,
    },
    Attack {
        name: "secret-harvest",
        variant: "seed",
        capture: false,
        violates: P_SECRECY,
        description: "M harvests C_SECRET and the attacker uses it at A to get the Subject's ticket or data",
        goal: harvest,
    },
    Attack {
        name: "mix-up",
        variant: "seed",
        capture: true,
        violates: P_MIXUP,
        description: "the Consumer logs the attacker in as an A account on M's word",
        goal: mix_up,
    },
    Attack {
        name: "mix-up",
        variant: "hardened-minus-issuer",
        capture: true,
        violates: P_INTEGRITY,
        description: "the code from A reaches M, which redeems it in the attacker's browser",
        goal: fixation,
    },
    Attack {
        name: "refresh-fork",
        variant: "seed",
        capture: true,
        violates: P_ROTATION,
        description: "after the refresh, the honest Subject's old A_SID is still live and in the attacker's hands",
        goal: refresh_fork,
    },
    Attack {
        name: "use-after-expiry",
        variant: "seed",
        capture: true,
        violates: P_EXPIRY,
        description: "a data call is accepted after A_EXP",
        goal: use_after_expiry,
    },
];

/// The model an attack runs in.
pub fn model_of(a: &Attack) -> Tessera {
    let v = Variant::by_name(a.variant).expect("attack names a variant");
    let caps = Capabilities {
        capture: a.capture,
        ..Capabilities::default()
    };
    model_for(&v, caps, Default::default())
}

/// The shortest path of each attack (`None`: not found within the bounds).
pub fn find_all() -> Vec<(Attack, Option<Vec<Action>>)> {
    ATTACKS
        .iter()
        .map(|a| (*a, shortest(&model_of(a), &[a.goal]).pop().flatten()))
        .collect()
}
