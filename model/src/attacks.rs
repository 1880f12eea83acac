//! The named attacks of spec chapter 9, and the findings against v1, each as a goal (a state
//! predicate) in one variant under named capabilities, with its shortest path (BFS order).
//! `tessera-model attack --list` lists them; `attack NAME` prints one as a sequence diagram.

use crate::check::{bfs, model_for, shortest, Goal, Stop};
use crate::switches::{Capabilities, Capability, Switch, Variant};
use crate::tickets::{TicketState, Tickets, T_CONSENT, T_PAIRWISE, T_POSSESSION, T_ROTATION};
use crate::world::{
    Auth, Browser, State, Subject, Tessera, P_EXPIRY, P_INTEGRITY, P_MIXUP, P_RECOVERY,
    P_REDEEMED_TWICE, P_REPLAY, P_SECRECY,
};
use stateright::{Model, Property};

/// A goal in the ticket world.
pub type TicketGoal = fn(&Tickets, &TicketState) -> bool;

/// What an attack reaches, in which model.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Flow(Goal),
    Tickets(TicketGoal),
}

/// A named attack: in `variant` under `capabilities`, reach a state where the goal holds.
#[derive(Clone, Copy, Debug)]
pub struct Attack {
    pub name: &'static str,
    /// `seed`, `v1`, `hardened` or `hardened-minus-<switch>`.
    pub variant: &'static str,
    pub capabilities: &'static [Capability],
    /// The property the attack's end state violates.
    pub violates: &'static str,
    /// Where the spec discusses it.
    pub section: &'static str,
    pub description: &'static str,
    pub target: Target,
    /// The bound on sessions at `A` it needs (a refresh fork needs three).
    pub sessions: u8,
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
fn login_start_csrf(_: &Tessera, s: &State) -> bool {
    s.browsers[Browser::U as usize]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.vouched_by == Auth::M && !l.intended)
}
fn stale_pending(_: &Tessera, s: &State) -> bool {
    s.browsers[Browser::U as usize]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.vouched_by == Auth::M && l.spent)
}
fn double_redemption(_: &Tessera, s: &State) -> bool {
    s.sessions
        .iter()
        .any(|x| x.redemptions >= 2 && x.subject == Some(Subject::U))
}
fn replay_loot(_: &Tessera, s: &State) -> bool {
    s.ghost.processed_twice && s.know.loot
}
fn refused_replay(_: &Tessera, s: &State) -> bool {
    !s.ghost.processed_twice && s.know.loot && !s.know.key
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
    s.ghost.theft_outlived_refresh
}
fn use_after_expiry(_: &Tessera, s: &State) -> bool {
    s.ghost.expired_for_attacker
}
fn overread(_: &Tickets, s: &TicketState) -> bool {
    s.ghost.overread
}
fn foreign_sub(_: &Tickets, s: &TicketState) -> bool {
    s.ghost.foreign_sub
}
fn impersonation(_: &Tickets, s: &TicketState) -> bool {
    s.ghost.impersonated
}
fn after_rotation(_: &Tickets, s: &TicketState) -> bool {
    s.ghost.after_rotation
}

use Capability::*;

/// The attacks, in the order of spec chapter 9, then the findings against v1.
pub const ATTACKS: &[Attack] = &[
    Attack {
        name: "session-fixation",
        variant: "seed",
        capabilities: &[Capture],
        violates: P_INTEGRITY,
        section: "9.2",
        description: "the attacker's browser is logged in as the honest Subject",
        sessions: 2,
        target: Target::Flow(fixation),
    },
    Attack {
        name: "login-csrf",
        variant: "seed",
        capabilities: &[Capture],
        violates: P_INTEGRITY,
        section: "9.3",
        description: "the honest browser is logged in to the attacker's account",
        sessions: 2,
        target: Target::Flow(login_csrf),
    },
    Attack {
        name: "double-redemption",
        variant: "seed",
        capabilities: &[Capture],
        violates: P_REDEEMED_TWICE,
        section: "9.4",
        description: "one of the honest Subject's A_SIDs redeemed by two result requests",
        sessions: 2,
        target: Target::Flow(double_redemption),
    },
    Attack {
        name: "replay",
        variant: "seed",
        capabilities: &[Capture],
        violates: P_REPLAY,
        section: "9.4",
        description: "a replayed captured request gives the attacker the Subject's ticket or data",
        sessions: 2,
        target: Target::Flow(replay_loot),
    },
    Attack {
        name: "secret-harvest",
        variant: "seed",
        capabilities: &[],
        violates: P_SECRECY,
        section: "9.5",
        description: "M harvests C_SECRET and the attacker uses it at A to get the Subject's ticket or data",
        sessions: 2,
        target: Target::Flow(harvest),
    },
    Attack {
        name: "mix-up",
        variant: "seed",
        capabilities: &[Capture],
        violates: P_MIXUP,
        section: "9.6",
        description: "the Consumer logs the attacker in as an A account on M's word",
        sessions: 2,
        target: Target::Flow(mix_up),
    },
    Attack {
        name: "refresh-fork",
        variant: "hardened-minus-rotation",
        capabilities: &[Theft],
        violates: P_RECOVERY,
        section: "9.7",
        description: "a stolen session keeps working after the honest Consumer refreshed it",
        sessions: 3,
        target: Target::Flow(refresh_fork),
    },
    Attack {
        name: "refresh-reuse",
        variant: "hardened-minus-reuse-detection",
        capabilities: &[Theft],
        violates: P_RECOVERY,
        section: "9.7",
        description: "the attacker refreshes a stolen session first; the honest refresh fails but the attacker's fork lives on",
        sessions: 2,
        target: Target::Flow(refresh_fork),
    },
    Attack {
        name: "use-after-expiry",
        variant: "hardened-minus-expiry",
        capabilities: &[Theft],
        violates: P_EXPIRY,
        section: "9.8",
        description: "a stolen session's ticket is accepted after its expiry",
        sessions: 2,
        target: Target::Flow(use_after_expiry),
    },
    Attack {
        name: "leaked-authorize-url",
        variant: "hardened-minus-authz-binding",
        capabilities: &[Leaks],
        violates: P_INTEGRITY,
        section: "9.13",
        description: "the honest browser's leaked authorize URL is allowed by the attacker, whose code then logs the honest browser in as the attacker",
        sessions: 2,
        target: Target::Flow(login_csrf),
    },
    Attack {
        name: "sid-in-authorize-url",
        variant: "hardened-minus-sid-hidden",
        capabilities: &[SidLeak],
        violates: P_INTEGRITY,
        section: "9.13",
        description: "with the sid in the authorize URL, a sid leaked from the Consumer's logs is an authorize URL: the attacker opens it before the honest browser does, allows as itself, and its code logs the honest browser in as the attacker",
        sessions: 2,
        target: Target::Flow(login_csrf),
    },
    Attack {
        name: "stale-pending-login",
        variant: "hardened-minus-pending-once",
        capabilities: &[],
        violates: P_INTEGRITY,
        section: "9.3",
        description: "a pending login kept after its callback: the attacker's Authority M, used once by the honest browser, sends it a second callback for that spent login whenever it likes (say after the Subject has since logged in at A) and logs it in again to an account of M's choosing",
        sessions: 2,
        target: Target::Flow(stale_pending),
    },
    Attack {
        name: "v1-login-start-csrf",
        variant: "v1",
        capabilities: &[],
        violates: P_INTEGRITY,
        section: "9.3",
        description: "v1: a cross-site page starts a login with M in the honest browser, which ends logged in to the attacker's account at M",
        sessions: 2,
        target: Target::Flow(login_start_csrf),
    },
    Attack {
        name: "v1-fixation-despite-burn",
        variant: "v1",
        capabilities: &[Capture, Refusal],
        violates: P_INTEGRITY,
        section: "9.2",
        description: "v1: the attacker's code lands in the honest browser; the Consumer sends it with the honest sid, A refuses that request outside the protocol before the burn, and its logged copy gives the attacker the code to redeem in its own browser",
        sessions: 2,
        target: Target::Flow(fixation),
    },
    Attack {
        name: "v1-fixation-fence",
        variant: "v1",
        capabilities: &[Capture, Restart],
        violates: P_INTEGRITY,
        section: "9.2",
        description: "v1: the same fixation, where the restart fence refuses the misdirected result request (nothing burned)",
        sessions: 2,
        target: Target::Flow(fixation),
    },
    Attack {
        name: "v1-replay-across-instances",
        variant: "v1",
        capabilities: &[Capture, Instances],
        violates: P_REPLAY,
        section: "9.4",
        description: "v1: a captured data call, accepted once by one instance, is replayed to the other, which accepts it too and answers the attacker with the Subject's data",
        sessions: 2,
        target: Target::Flow(replay_loot),
    },
    Attack {
        name: "v1-refused-request-replayed",
        variant: "v1",
        capabilities: &[Capture, Refusal],
        violates: P_SECRECY,
        section: "9.4",
        description: "v1: a result request refused outside the protocol before its nonce was recorded is replayed from the logs as a first use, and the attacker receives the Subject's ticket",
        sessions: 2,
        target: Target::Flow(refused_replay),
    },
    Attack {
        name: "v1-delegation-beyond-consent",
        variant: "v1",
        capabilities: &[MaliciousConsumer],
        violates: T_CONSENT,
        section: "9.14a",
        description: "v1: the delegate reads scopes it is not registered for and the Subject never consented to for it",
        sessions: 2,
        target: Target::Tickets(overread),
    },
    Attack {
        name: "v1-delegate-learns-delegator-sub",
        variant: "v1",
        capabilities: &[],
        violates: T_PAIRWISE,
        section: "9.14a",
        description: "v1: the delegated ticket carries the delegator's pairwise sub",
        sessions: 2,
        target: Target::Tickets(foreign_sub),
    },
    Attack {
        name: "v1-delegator-holds-delegate-key",
        variant: "v1",
        capabilities: &[],
        violates: T_POSSESSION,
        section: "9.14a",
        description: "v1: the delegator receives the delegated ticket's key and can act as the delegate",
        sessions: 2,
        target: Target::Tickets(impersonation),
    },
    Attack {
        name: "v1-app-ticket-survives-rotation",
        variant: "v1",
        capabilities: &[KeyLeak],
        violates: T_ROTATION,
        section: "9.14b",
        description: "v1: an app ticket minted with a leaked Consumer key keeps working after the key is rotated",
        sessions: 2,
        target: Target::Tickets(after_rotation),
    },
];

/// Looks an attack up by name.
pub fn by_name(name: &str) -> Option<&'static Attack> {
    ATTACKS.iter().find(|a| a.name == name)
}

/// The capabilities an attack runs under.
pub fn capabilities(a: &Attack) -> Capabilities {
    a.capabilities
        .iter()
        .fold(Capabilities::none(), |s, c| s.with(*c))
}

/// The variant an attack runs in.
pub fn variant(a: &Attack) -> Variant {
    Variant::by_name(a.variant).expect("an attack names a known variant")
}

/// The login-flow model an attack runs in.
pub fn model_of(a: &Attack) -> Tessera {
    let bounds = crate::world::Bounds {
        sessions: a.sessions,
        ..Default::default()
    };
    model_for(&variant(a), capabilities(a), bounds)
}

/// The shortest path of a login-flow attack.
pub fn flow_path(a: &Attack) -> Option<Vec<crate::world::Action>> {
    match a.target {
        Target::Flow(goal) => shortest(&model_of(a), &[goal]).pop().flatten(),
        Target::Tickets(_) => None,
    }
}

/// The shortest path of an attack, as action labels (`None`: not found within the bounds).
pub fn find(a: &Attack) -> Option<Vec<String>> {
    match a.target {
        Target::Flow(_) => {
            let m = model_of(a);
            let path = flow_path(a)?;
            Some(path.iter().map(|x| m.format_action(x)).collect())
        }
        Target::Tickets(goal) => {
            let m = GoalTickets(Tickets::new(variant(a).switches, capabilities(a)), goal);
            let s = bfs(a.name, &m, Stop::FirstViolation, None);
            let path = s.found.into_iter().next().flatten()?;
            Some(path.iter().map(|x| m.0.format_action(x)).collect())
        }
    }
}

/// The ticket model with one `always` property: "the goal is never reached".
struct GoalTickets(Tickets, TicketGoal);

impl Model for GoalTickets {
    type State = TicketState;
    type Action = crate::tickets::TicketAction;
    fn init_states(&self) -> Vec<TicketState> {
        self.0.init_states()
    }
    fn actions(&self, s: &TicketState, out: &mut Vec<Self::Action>) {
        self.0.actions(s, out);
    }
    fn next_state(&self, s: &TicketState, a: Self::Action) -> Option<TicketState> {
        self.0.next_state(s, a)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(
            "goal not reached",
            |m: &GoalTickets, s| !(m.1)(&m.0, s),
        )]
    }
}

/// The switches an attack's variant has off relative to `hardened` (for the footer).
pub fn weakened(a: &Attack) -> Vec<Switch> {
    let h = Variant::hardened().switches;
    let v = variant(a).switches;
    Switch::ALL
        .iter()
        .copied()
        .filter(|w| h.on(*w) && !v.on(*w))
        .collect()
}

/// Every attack with its shortest path.
pub fn find_all() -> Vec<(&'static Attack, Option<Vec<String>>)> {
    ATTACKS.iter().map(|a| (a, find(a))).collect()
}
