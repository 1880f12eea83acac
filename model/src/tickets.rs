//! Tickets: scopes, consent, reissue, delegation, app tickets and Consumer keys (spec chapter
//! 7, registration 3.1, v1.1's delegation as token exchange). A model of its own: none of
//! these interleave with the login flow's attacks except through "the attacker holds a
//! ticket", which the login-flow model's secrecy already covers.
//!
//! **World.** The honest Subject `u`; the honest Consumer `C`, registered for the scopes
//! `profile` and `email`; a second Consumer `X`, registered for `profile` only, to which `C`
//! may delegate (under `malicious-consumer`, `X` is the attacker's). `u` consents once to `C`
//! (both scopes, or `profile` only; with `delegation-scope` on, the consent page also asks
//! whether `C` may share with `X`). Tickets carry their `app`, scope, the pairwise `sub` they
//! reveal, who knows their key, and the key generation of their `app` when minted.
//!
//! **Who reads what.** An honest Consumer reads only what it believes it may: `C` the scopes
//! `u` consented to, `X` the scopes it is registered for. `C` may also use any ticket whose key
//! it holds (a delegator holding its delegate's key, as in v1). The attacker (`X` under
//! `malicious-consumer`, or anyone with `C`'s leaked key under `key-leak`) tries everything.
//!
//! **Properties** (each `always` paired with a `sometimes`): no Consumer reads `u`'s data
//! beyond its registration and what `u` consented to for it; a Consumer learns only its own
//! pairwise `sub`; a ticket is used only by the Consumer it was issued to; after a key
//! rotation, the leaked key gives the attacker nothing.

use crate::switches::{Capabilities, Capability, Switch, Switches};
use serde::Serialize;
use stateright::{Model, Property};
use std::fmt;

/// A Consumer registered at the honest Authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Consumer {
    C,
    X,
}

/// Who makes a call: an honest Consumer, or the attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum Party {
    C,
    X,
    Attacker,
}

impl Party {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Scope bits.
pub const PROFILE: u8 = 1;
pub const EMAIL: u8 = 2;
const SCOPES: [u8; 2] = [PROFILE, EMAIL];

/// What each Consumer is registered for (spec 3.1).
pub fn registered(c: Consumer) -> u8 {
    match c {
        Consumer::C => PROFILE | EMAIL,
        Consumer::X => PROFILE,
    }
}

fn scope_text(s: u8) -> &'static str {
    match s {
        0 => "{}",
        PROFILE => "{profile}",
        EMAIL => "{email}",
        _ => "{profile,email}",
    }
}

/// A ticket the Authority issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ticket {
    /// The Consumer it was issued to (Oz `app`).
    pub app: Consumer,
    /// A user ticket (`u`'s) or an app ticket.
    pub user: bool,
    pub scope: u8,
    /// Whose pairwise `sub` it reveals.
    pub sub_for: Consumer,
    /// Who knows its key (bits of [`Party`]).
    pub key_holders: u8,
    /// The key generation of `app` it was minted under.
    pub generation: u8,
    pub delegated: bool,
    pub exp: u8,
}

/// Ghosts the properties read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Default)]
pub struct TicketGhost {
    pub overread: bool,
    pub foreign_sub: bool,
    pub impersonated: bool,
    pub after_rotation: bool,
    pub c_read: bool,
    pub delegated_read: bool,
    pub app_after_rotation: bool,
}

/// The ticket world's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TicketState {
    pub now: u8,
    /// `u`'s consent to `C`: the scopes, and whether `C` may delegate to `X`.
    pub consent: Option<(u8, bool)>,
    pub tickets: Vec<Ticket>,
    /// The current key generation of `C` and `X`.
    pub generation: [u8; 2],
    /// The generation of `C`'s key the attacker holds (key leak).
    pub leaked: Option<u8>,
    pub calls: u8,
    pub ghost: TicketGhost,
}

/// One step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TicketAction {
    /// `u` logs in at `C` and consents; `C` gets its user ticket.
    SubjectConsents { scope: u8, delegation: bool },
    /// `C` delegates ticket `ticket` to `X` for `scope` (v1: reissue with `issue_to`; v1.1:
    /// a grant `X` exchanges with its own key).
    ConsumerDelegates { ticket: u8, scope: u8 },
    /// A holder of the ticket's key reissues it for `scope`.
    PartyReissues { ticket: u8, scope: u8, by: Party },
    /// A holder of the ticket's key reads one scope of `u`'s data with it.
    PartyReads { ticket: u8, scope: u8, by: Party },
    /// Someone with a Consumer's key gets an app ticket for it.
    PartyGetsAppTicket { consumer: Consumer, by: Party },
    /// A holder of an app ticket's key uses it.
    PartyUsesAppTicket { ticket: u8, by: Party },
    /// `C`'s key leaks to the attacker (key-leak).
    KeyLeaks,
    /// The operator rotates `C`'s key (after the leak).
    OperatorRotatesKey,
    /// Time passes.
    ClockTicks,
}

/// Bounds of the ticket world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TicketBounds {
    pub tickets: u8,
    pub max_time: u8,
    pub calls: u8,
}

impl Default for TicketBounds {
    fn default() -> Self {
        TicketBounds {
            tickets: 4,
            max_time: 2,
            calls: 4,
        }
    }
}

/// Ticket TTL in ticks.
pub const TICKET_TTL: u8 = 2;

/// The ticket model.
#[derive(Clone, Debug)]
pub struct Tickets {
    pub switches: Switches,
    pub caps: Capabilities,
    pub bounds: TicketBounds,
}

impl Model for Tickets {
    type State = TicketState;
    type Action = TicketAction;

    fn init_states(&self) -> Vec<TicketState> {
        vec![self.initial()]
    }
    fn actions(&self, st: &TicketState, out: &mut Vec<TicketAction>) {
        self.all_actions(st, out);
    }
    fn next_state(&self, st: &TicketState, a: TicketAction) -> Option<TicketState> {
        self.step(st, &a)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        TICKET_PROPERTIES
            .iter()
            .map(|p| match p.expectation {
                crate::world::Expectation::Always => Property::always(p.name, p.condition),
                crate::world::Expectation::Sometimes => Property::sometimes(p.name, p.condition),
            })
            .collect()
    }
    fn format_action(&self, a: &TicketAction) -> String {
        a.to_string()
    }
}

impl Tickets {
    /// The ticket model of the given switches and capabilities.
    pub fn new(switches: Switches, caps: Capabilities) -> Self {
        Tickets {
            switches,
            caps,
            bounds: TicketBounds::default(),
        }
    }

    fn on(&self, w: Switch) -> bool {
        self.switches.on(w)
    }

    /// The initial state.
    pub fn initial(&self) -> TicketState {
        TicketState {
            now: 0,
            consent: None,
            tickets: Vec::new(),
            generation: [0, 0],
            leaked: None,
            calls: 0,
            ghost: TicketGhost::default(),
        }
    }

    /// The parties the attacker speaks for: itself, and `X` when `X` is the attacker's.
    fn attacker_is(&self, p: Party) -> bool {
        p == Party::Attacker || (p == Party::X && self.caps.has(Capability::MaliciousConsumer))
    }

    /// The Consumer a party acts as.
    fn acts_as(p: Party) -> Consumer {
        match p {
            Party::C => Consumer::C,
            Party::X | Party::Attacker => Consumer::X,
        }
    }

    /// What `u` allowed Consumer `k`: its consent ∩ `k`'s registration.
    fn allowed(st: &TicketState, k: Consumer) -> u8 {
        let consented = match (st.consent, k) {
            (Some((s, _)), Consumer::C) => s,
            (Some((s, true)), Consumer::X) => s,
            _ => 0,
        };
        consented & registered(k)
    }

    fn knows_key(&self, t: &Ticket, by: Party) -> bool {
        t.key_holders & by.bit() != 0
            || (by == Party::Attacker
                && self.caps.has(Capability::MaliciousConsumer)
                && t.key_holders & Party::X.bit() != 0)
    }

    /// Whether the Authority accepts a call on ticket `t` now (spec TSR-TICKET-5, TSR-REG-8).
    fn live(&self, st: &TicketState, t: &Ticket) -> bool {
        st.now < t.exp
            && (!self.on(Switch::KeyRevocation) || t.generation == st.generation[t.app as usize])
    }

    fn mint(&self, st: &mut TicketState, t: Ticket) -> Option<()> {
        if st.tickets.len() >= self.bounds.tickets as usize {
            return None;
        }
        st.tickets.push(t);
        Some(())
    }

    /// Notes an accepted call on `t` by `by`.
    fn accepted(&self, st: &mut TicketState, t: &Ticket, by: Party) {
        // The attacker using an app ticket it minted with C's leaked key acts as C: that is the
        // leak's consequence, which the rotation property bounds.
        let leaked_own = by == Party::Attacker
            && t.app == Consumer::C
            && t.key_holders & Party::Attacker.bit() != 0;
        if Self::acts_as(by) != t.app && !leaked_own {
            st.ghost.impersonated = true;
        }
        if self.attacker_is(by)
            && t.generation < st.generation[t.app as usize]
            && t.app == Consumer::C
        {
            st.ghost.after_rotation = true;
        }
    }

    /// Apply an action. `None`: not enabled.
    pub fn step(&self, st: &TicketState, a: &TicketAction) -> Option<TicketState> {
        let mut st = st.clone();
        match *a {
            TicketAction::SubjectConsents { scope, delegation } => {
                if st.consent.is_some() || (delegation && !self.on(Switch::DelegationScope)) {
                    return None;
                }
                st.consent = Some((scope, delegation));
                let t = Ticket {
                    app: Consumer::C,
                    user: true,
                    scope,
                    sub_for: Consumer::C,
                    key_holders: Party::C.bit(),
                    generation: st.generation[0],
                    delegated: false,
                    exp: st.now + TICKET_TTL,
                };
                self.mint(&mut st, t)?;
            }
            TicketAction::ConsumerDelegates { ticket, scope } => {
                let p = *st.tickets.get(ticket as usize)?;
                if !(p.user && !p.delegated && p.app == Consumer::C && self.live(&st, &p)) {
                    return None;
                }
                // spec TSR-DELEGATE-1 (and v1): within the parent's scope
                let mut granted = scope & p.scope;
                if self.on(Switch::DelegationScope) {
                    // spec TSR-DELEGATE-1, TSR-DELEGATE-5
                    granted &= registered(Consumer::X);
                    if !st.consent.is_some_and(|(_, d)| d) {
                        granted = 0;
                    }
                }
                if granted == 0 {
                    return None;
                }
                let t = Ticket {
                    app: Consumer::X,
                    user: true,
                    scope: granted,
                    // spec TSR-DELEGATE-2
                    sub_for: if self.on(Switch::DelegatePairwise) {
                        Consumer::X
                    } else {
                        Consumer::C
                    },
                    // spec TSR-DELEGATE-3: the key reaches only the delegate
                    key_holders: if self.on(Switch::DelegateKey) {
                        Party::X.bit()
                    } else {
                        Party::C.bit() | Party::X.bit()
                    },
                    generation: st.generation[1],
                    delegated: true,
                    exp: p.exp,
                };
                self.mint(&mut st, t)?;
            }
            TicketAction::PartyReissues { ticket, scope, by } => {
                let p = *st.tickets.get(ticket as usize)?;
                if !self.knows_key(&p, by) || !self.live(&st, &p) || st.calls >= self.bounds.calls {
                    return None;
                }
                // Honest Consumers ask only for what they already have.
                if !self.attacker_is(by) && scope & !p.scope != 0 {
                    return None;
                }
                // spec TSR-REISSUE-1
                if self.on(Switch::ReissueNarrow) && scope & !p.scope != 0 {
                    return None;
                }
                st.calls += 1;
                self.accepted(&mut st, &p, by);
                let t = Ticket {
                    scope,
                    key_holders: by.bit(),
                    ..p
                };
                self.mint(&mut st, t)?;
            }
            TicketAction::PartyReads { ticket, scope, by } => {
                let t = *st.tickets.get(ticket as usize)?;
                if !t.user || !self.knows_key(&t, by) || st.calls >= self.bounds.calls {
                    return None;
                }
                let me = Self::acts_as(by);
                // Honest readers read what they believe they may.
                if !self.attacker_is(by) {
                    let believes = match me {
                        Consumer::C => st.consent.map_or(0, |(s, _)| s),
                        Consumer::X => registered(Consumer::X),
                    };
                    if scope & !believes != 0 {
                        return None;
                    }
                }
                // The Authority: live ticket, scope within the ticket (spec TSR-DATA-1).
                if !self.live(&st, &t) || scope & !t.scope != 0 {
                    return None;
                }
                st.calls += 1;
                self.accepted(&mut st, &t, by);
                if scope & !Self::allowed(&st, me) != 0 {
                    st.ghost.overread = true;
                }
                if t.sub_for != me {
                    st.ghost.foreign_sub = true;
                }
                if me == Consumer::C && t.app == Consumer::C {
                    st.ghost.c_read = true;
                }
                if t.delegated && me == Consumer::X {
                    st.ghost.delegated_read = true;
                }
            }
            TicketAction::PartyGetsAppTicket { consumer, by } => {
                let g = st.generation[consumer as usize];
                let has_key = match (consumer, by) {
                    (Consumer::C, Party::C) | (Consumer::X, Party::X) => true,
                    (Consumer::C, Party::Attacker) => st.leaked == Some(g),
                    _ => false,
                };
                if !has_key {
                    return None;
                }
                let t = Ticket {
                    app: consumer,
                    user: false,
                    scope: 0,
                    sub_for: consumer,
                    key_holders: by.bit(),
                    generation: g,
                    delegated: false,
                    exp: st.now + TICKET_TTL,
                };
                self.mint(&mut st, t)?;
            }
            TicketAction::PartyUsesAppTicket { ticket, by } => {
                let t = *st.tickets.get(ticket as usize)?;
                if t.user
                    || !self.knows_key(&t, by)
                    || !self.live(&st, &t)
                    || st.calls >= self.bounds.calls
                {
                    return None;
                }
                st.calls += 1;
                self.accepted(&mut st, &t, by);
                if by == Party::C && st.generation[0] > 0 {
                    st.ghost.app_after_rotation = true;
                }
            }
            TicketAction::KeyLeaks => {
                if !self.caps.has(Capability::KeyLeak)
                    || st.leaked.is_some()
                    || st.generation[0] > 0
                {
                    return None;
                }
                st.leaked = Some(st.generation[0]);
            }
            TicketAction::OperatorRotatesKey => {
                if st.generation[0] > 0
                    || (self.caps.has(Capability::KeyLeak) && st.leaked.is_none())
                {
                    return None;
                }
                st.generation[0] += 1;
            }
            TicketAction::ClockTicks => {
                if st.now >= self.bounds.max_time {
                    return None;
                }
                st.now += 1;
            }
        }
        Some(st)
    }

    /// Every action, in a fixed order.
    pub fn all_actions(&self, st: &TicketState, out: &mut Vec<TicketAction>) {
        if st.consent.is_none() {
            for scope in [PROFILE | EMAIL, PROFILE] {
                out.push(TicketAction::SubjectConsents {
                    scope,
                    delegation: false,
                });
                if self.on(Switch::DelegationScope) {
                    out.push(TicketAction::SubjectConsents {
                        scope,
                        delegation: true,
                    });
                }
            }
        }
        let parties = [Party::Attacker, Party::X, Party::C];
        for (i, _) in st.tickets.iter().enumerate() {
            let i = i as u8;
            for scope in [PROFILE, PROFILE | EMAIL] {
                out.push(TicketAction::ConsumerDelegates { ticket: i, scope });
            }
            for &by in &parties {
                for scope in [PROFILE, PROFILE | EMAIL] {
                    out.push(TicketAction::PartyReissues {
                        ticket: i,
                        scope,
                        by,
                    });
                }
                for scope in SCOPES {
                    out.push(TicketAction::PartyReads {
                        ticket: i,
                        scope,
                        by,
                    });
                }
                out.push(TicketAction::PartyUsesAppTicket { ticket: i, by });
            }
        }
        for (consumer, by) in [(Consumer::C, Party::C), (Consumer::C, Party::Attacker)] {
            out.push(TicketAction::PartyGetsAppTicket { consumer, by });
        }
        out.push(TicketAction::KeyLeaks);
        out.push(TicketAction::OperatorRotatesKey);
        out.push(TicketAction::ClockTicks);
    }
}

impl fmt::Display for TicketAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TicketAction::SubjectConsents { scope, delegation } => write!(
                f,
                "u consents to C for {}{}",
                scope_text(scope),
                if delegation {
                    ", and to sharing with X"
                } else {
                    ""
                }
            ),
            TicketAction::ConsumerDelegates { ticket, scope } => {
                write!(f, "C delegates t{ticket} to X for {}", scope_text(scope))
            }
            TicketAction::PartyReissues { ticket, scope, by } => {
                write!(f, "{by:?} reissues t{ticket} for {}", scope_text(scope))
            }
            TicketAction::PartyReads { ticket, scope, by } => {
                write!(f, "{by:?} reads {} with t{ticket}", scope_text(scope))
            }
            TicketAction::PartyGetsAppTicket { consumer, by } => {
                write!(f, "{by:?} gets an app ticket of {consumer:?}")
            }
            TicketAction::PartyUsesAppTicket { ticket, by } => {
                write!(f, "{by:?} uses app ticket t{ticket}")
            }
            TicketAction::KeyLeaks => write!(f, "C's key leaks to the attacker"),
            TicketAction::OperatorRotatesKey => write!(f, "the operator rotates C's key"),
            TicketAction::ClockTicks => write!(f, "time passes"),
        }
    }
}

/// A property of the ticket world.
#[derive(Clone, Copy, Debug)]
pub struct TicketProperty {
    pub name: &'static str,
    pub expectation: crate::world::Expectation,
    pub requirements: &'static [&'static str],
    pub witness: Option<&'static str>,
    pub condition: fn(&Tickets, &TicketState) -> bool,
}

pub const T_CONSENT: &str =
    "no consumer reads the subject's data beyond its registration and the subject's consent to it";
pub const T_PAIRWISE: &str = "a consumer learns only its own pairwise identifier of the subject";
pub const T_POSSESSION: &str = "a ticket is used only by the consumer it was issued to";
pub const T_ROTATION: &str = "after a key rotation the leaked key gives the attacker nothing";
pub const TW_READ: &str = "the consumer reads the subject's data";
pub const TW_DELEGATED: &str = "a delegated read succeeds";
pub const TW_APP: &str = "the consumer uses an app ticket after its key was rotated";

/// The ticket world's properties.
pub const TICKET_PROPERTIES: &[TicketProperty] = &[
    TicketProperty {
        name: T_CONSENT,
        expectation: crate::world::Expectation::Always,
        requirements: &[
            "TSR-DELEGATE-1",
            "TSR-DELEGATE-5",
            "TSR-REISSUE-1",
            "TSR-DATA-1",
        ],
        witness: Some(TW_DELEGATED),
        condition: |_, s| !s.ghost.overread,
    },
    TicketProperty {
        name: T_PAIRWISE,
        expectation: crate::world::Expectation::Always,
        requirements: &["TSR-DELEGATE-2", "TSR-DATA-2"],
        witness: Some(TW_DELEGATED),
        condition: |_, s| !s.ghost.foreign_sub,
    },
    TicketProperty {
        name: T_POSSESSION,
        expectation: crate::world::Expectation::Always,
        requirements: &["TSR-DELEGATE-3", "TSR-DELEGATE-4", "TSR-HAWK-14"],
        witness: Some(TW_READ),
        condition: |_, s| !s.ghost.impersonated,
    },
    TicketProperty {
        name: T_ROTATION,
        expectation: crate::world::Expectation::Always,
        requirements: &["TSR-REG-8", "TSR-APP-1"],
        witness: Some(TW_APP),
        condition: |_, s| !s.ghost.after_rotation,
    },
    TicketProperty {
        name: TW_READ,
        expectation: crate::world::Expectation::Sometimes,
        requirements: &["TSR-DATA-1"],
        witness: None,
        condition: |_, s| s.ghost.c_read,
    },
    TicketProperty {
        name: TW_DELEGATED,
        expectation: crate::world::Expectation::Sometimes,
        requirements: &["TSR-DELEGATE-1"],
        witness: None,
        condition: |_, s| s.ghost.delegated_read,
    },
    TicketProperty {
        name: TW_APP,
        expectation: crate::world::Expectation::Sometimes,
        requirements: &["TSR-APP-1", "TSR-REG-8"],
        witness: None,
        condition: |_, s| s.ghost.app_after_rotation,
    },
];

/// The short column name of a ticket property.
pub fn short_name(name: &str) -> &'static str {
    match name {
        T_CONSENT => "consent",
        T_PAIRWISE => "pairwise",
        T_POSSESSION => "possession",
        T_ROTATION => "key rotation",
        TW_READ => "read",
        TW_DELEGATED => "delegated read",
        TW_APP => "app after rotation",
        _ => "?",
    }
}
