//! Mitigation switches, attacker capabilities and the named variants.
//!
//! A **switch** is one requirement of the protocol that can fail on its own (an Authority or a
//! Consumer that skips that one check). A **capability** is a power of the attacker, or a fault
//! of the world, beyond the web attacker's basics; each stands for a real-world situation,
//! described in [`Capability::situation`]. Variants are sets of switches; the checker runs a
//! variant under a set of capabilities.

use serde::Serialize;

/// Which of the two models a switch or capability belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum World {
    /// The login flow ([`crate::world`]): handshake, authorize, callback, result, refresh.
    Flow,
    /// Tickets ([`crate::tickets`]): scopes, consent, reissue, delegation, app tickets, keys.
    Tickets,
}

macro_rules! switches {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $world:ident, [$($req:literal),*], $describe:literal; )*) => {
        /// One mitigation: a requirement of the protocol that can fail on its own.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
        pub enum Switch { $( $(#[$doc])* $variant, )* }

        impl Switch {
            /// Every switch, in the order of the attack matrix and the necessity table.
            pub const ALL: &'static [Switch] = &[$(Switch::$variant,)*];
            /// The switch's name (`hardened-minus-<name>`, `--off <name>`).
            pub fn name(self) -> &'static str { match self { $(Switch::$variant => $name,)* } }
            /// The model it belongs to.
            pub fn world(self) -> World { match self { $(Switch::$variant => World::$world,)* } }
            /// The spec requirements it stands for.
            pub fn requirements(self) -> &'static [&'static str] { match self { $(Switch::$variant => &[$($req),*],)* } }
            /// One line for `--help` and the docs.
            pub fn describe(self) -> &'static str { match self { $(Switch::$variant => $describe,)* } }
        }
    };
}

switches! {
    /// Consumer → Authority requests carry a Hawk MAC, never the key (TSR-HAWK-4, TSR-REG-4).
    /// Off: the proposal's `C_SECRET` in every request.
    Hawk = "hawk", Flow, ["TSR-HAWK-4", "TSR-REG-4"], "Hawk MAC on the wire; the key is never sent";
    /// Timestamp + nonce: each instance accepts a signed request once (TSR-HAWK-7, TSR-HAWK-9).
    Nonce = "nonce", Flow, ["TSR-HAWK-7", "TSR-HAWK-9"], "timestamp + nonce: a signed request is accepted once";
    /// One replay store for every instance of the Authority (TSR-HAWK-15). Off: a cache per
    /// process, as the v1 reference server had.
    SharedReplay = "shared-replay", Flow, ["TSR-HAWK-15"], "one replay store shared by every instance";
    /// The replay guarantee survives the loss of the replay store's memory: requests from before
    /// a restart are refused (TSR-HAWK-10).
    Fence = "fence", Flow, ["TSR-HAWK-10"], "restart fence: requests from before a restart are refused";
    /// v1.1: a request the Authority refuses for a reason outside the protocol (overload, a
    /// deploy) is refused only after its nonce is recorded, so its logged copy cannot be
    /// replayed as a first use (TSR-HAWK-16). Off: v1, an overload refusal came before the
    /// nonce check.
    RefuseAfterNonce = "refuse-after-nonce", Flow, ["TSR-HAWK-16"], "a request refused outside the protocol has its nonce recorded first";
    /// The callback carries a fresh single-use code, not the `sid`; a second redemption revokes
    /// the family (TSR-CALLBACK-1, TSR-CALLBACK-3, TSR-RESULT-7, TSR-RESULT-9).
    Code = "code", Flow, ["TSR-CALLBACK-1", "TSR-CALLBACK-3", "TSR-RESULT-7", "TSR-RESULT-9"], "single-use code in the callback instead of the sid";
    /// The authorize URL carries an opaque request handle, not the `sid` (TSR-HANDSHAKE-5).
    SidHidden = "sid-hidden", Flow, ["TSR-HANDSHAKE-5"], "the authorize URL carries a request handle, not the sid";
    /// PKCE S256 (TSR-HANDSHAKE-3, TSR-RESULT-6, TSR-CONSUMER-1). Withdrawn in v1.1.
    Pkce = "pkce", Flow, ["TSR-HANDSHAKE-3", "TSR-RESULT-6", "TSR-CONSUMER-1"], "PKCE S256 challenge/verifier (withdrawn in v1.1)";
    /// The Consumer keeps pending logins in the browser session that started them and looks a
    /// callback up only there (TSR-CONSUMER-2, TSR-CONSUMER-3). Off: the callback URL carries a
    /// reference the Consumer looks up in a global table (the proposal's "`C_URL` contains
    /// `A_SID` or any other value the Consumer can relate to it").
    Binding = "binding", Flow, ["TSR-CONSUMER-2", "TSR-CONSUMER-3"], "pending logins kept in the browser session that started them";
    /// v1.1: the Consumer's per-flow `state`, sent in the handshake and echoed in the callback,
    /// picks the pending login; a callback matching none is refused before anything is sent
    /// (TSR-HANDSHAKE-7, TSR-CALLBACK-5, TSR-CONSUMER-13). Off: v1, one pending login per
    /// browser session, and the callback says nothing about which flow it ends.
    State = "state", Flow, ["TSR-HANDSHAKE-7", "TSR-CALLBACK-5", "TSR-CONSUMER-13"], "per-flow state echoed in the callback and matched before sending";
    /// A pending login is removed when its callback is processed (TSR-CONSUMER-6).
    PendingOnce = "pending-once", Flow, ["TSR-CONSUMER-6"], "a pending login is used at most once";
    /// v1.1: a login starts only from a same-origin POST with a CSRF token (TSR-CONSUMER-14).
    /// Off: a cross-site page can start a login in the victim's browser.
    StartCsrf = "start-csrf", Flow, ["TSR-CONSUMER-14"], "a login starts only from a same-origin POST";
    /// v1.1: an authorize request is bound to the first browser that opens it (TSR-AUTHZ-9).
    AuthzBinding = "authz-binding", Flow, ["TSR-AUTHZ-9"], "an authorize request is bound to the first browser that opens it";
    /// `iss` in the callback, compared with the pending login's Authority (TSR-CALLBACK-2,
    /// TSR-CONSUMER-4).
    Issuer = "issuer", Flow, ["TSR-CALLBACK-2", "TSR-CONSUMER-4"], "iss in the callback, compared with the chosen Authority";
    /// Users are keyed by (issuer, `sub`), never `sub` alone (TSR-CONSUMER-10).
    IssuerKeyed = "issuer-keyed", Flow, ["TSR-CONSUMER-10"], "users keyed by (issuer, sub)";
    /// The result request goes to the Authority the pending login chose, whatever the callback
    /// says (TSR-CONSUMER-5). Off: to the Authority the callback's `iss` names.
    RoutePending = "route-pending", Flow, ["TSR-CONSUMER-5"], "the result request goes to the pending login's Authority";
    /// Refresh rotates the `sid`: the old one dies (TSR-REFRESH-3, TSR-REFRESH-4).
    Rotation = "rotation", Flow, ["TSR-REFRESH-3", "TSR-REFRESH-4"], "refresh rotates the sid; the old one dies";
    /// Reuse of a refreshed-away `sid` revokes the family (TSR-REFRESH-5).
    ReuseDetection = "reuse-detection", Flow, ["TSR-REFRESH-5"], "reuse of a rotated sid revokes the family";
    /// A code presented with another session's sid burns its session (TSR-RESULT-11).
    /// Withdrawn in v1.1.
    Burn = "burn", Flow, ["TSR-RESULT-11"], "a code presented for the wrong session is burned (withdrawn in v1.1)";
    /// Expiry enforced by the Authority on every request (TSR-CONV-12, TSR-SESSION-6,
    /// TSR-TICKET-5). Off: the proposal's text, where only the refresh fails after `A_EXP`.
    Expiry = "expiry", Flow, ["TSR-CONV-12", "TSR-SESSION-6", "TSR-TICKET-5"], "expiry enforced on every request";

    /// Reissue only narrows scope and life (TSR-REISSUE-1, TSR-REISSUE-2).
    ReissueNarrow = "reissue-narrow", Tickets, ["TSR-REISSUE-1", "TSR-REISSUE-2"], "reissue only narrows scope";
    /// v1.1: a delegated ticket's scope is at most the delegator's ∩ the delegate's
    /// registration ∩ the Subject's delegation consent (TSR-DELEGATE-1, TSR-DELEGATE-5). Off:
    /// v1, at most the delegator's scope.
    DelegationScope = "delegation-scope", Tickets, ["TSR-DELEGATE-1", "TSR-DELEGATE-5"], "delegated scope within registration and delegation consent";
    /// v1.1: the delegate gets its own pairwise `sub` (TSR-DELEGATE-2). Off: the delegator's.
    DelegatePairwise = "delegate-pairwise", Tickets, ["TSR-DELEGATE-2"], "the delegate gets its own pairwise sub";
    /// v1.1: the delegated ticket's key reaches only the delegate, through an exchange signed
    /// with the delegate's own key (TSR-DELEGATE-3). Off: v1, the delegator receives it.
    DelegateKey = "delegate-key", Tickets, ["TSR-DELEGATE-3", "TSR-DELEGATE-4"], "the delegated ticket's key reaches only the delegate";
    /// v1.1: rotating a Consumer's key ends everything minted under the old key, app tickets
    /// included (TSR-REG-8). Off: v1, tickets live to their `exp`.
    KeyRevocation = "key-revocation", Tickets, ["TSR-REG-8"], "rotating a Consumer's key ends what was minted under it";
}

impl Switch {
    /// Looks a switch up by name.
    pub fn by_name(name: &str) -> Option<Switch> {
        Switch::ALL.iter().copied().find(|w| w.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of switches that are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Switches(u32);

impl Switches {
    /// Every mitigation on.
    pub fn all() -> Self {
        Switch::ALL.iter().fold(Switches(0), |s, w| s.with(*w))
    }
    /// Every mitigation off.
    pub fn none() -> Self {
        Switches(0)
    }
    /// This set with `w` on.
    pub fn with(self, w: Switch) -> Self {
        Switches(self.0 | w.bit())
    }
    /// This set with `w` off.
    pub fn without(self, w: Switch) -> Self {
        Switches(self.0 & !w.bit())
    }
    /// Whether `w` is on.
    pub fn on(self, w: Switch) -> bool {
        self.0 & w.bit() != 0
    }
    /// The switches that are on, in [`Switch::ALL`] order.
    pub fn list(self) -> Vec<Switch> {
        Switch::ALL
            .iter()
            .copied()
            .filter(|w| self.on(*w))
            .collect()
    }
}

macro_rules! capabilities {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $world:ident, $situation:literal; )*) => {
        /// A power of the attacker or a fault of the world, beyond the web attacker's basics.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
        pub enum Capability { $( $(#[$doc])* $variant, )* }

        impl Capability {
            /// Every capability.
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)*];
            /// Its name on the command line (`--capabilities a,b`).
            pub fn name(self) -> &'static str { match self { $(Capability::$variant => $name,)* } }
            /// The model it belongs to.
            pub fn world(self) -> World { match self { $(Capability::$variant => World::$world,)* } }
            /// The real-world situation it stands for.
            pub fn situation(self) -> &'static str { match self { $(Capability::$variant => $situation,)* } }
        }
    };
}

capabilities! {
    /// Copies of the Consumer's requests to `A`, taken when they are answered or refused.
    Capture = "capture", Flow, "copies of the Consumer's requests to the Authority, from access logs, a TLS-terminating proxy or a debugging tool, taken when each is answered or refused; never the keys that signed them";
    /// URLs of `A`'s authorize pages that the honest browser opened leak.
    Leaks = "leaks", Flow, "the authorize page URLs the honest browser opened leak (Referer, browser history, a shared screen); callback URLs do not (TSR-CONSUMER-9 is a precondition of any browser-carried code)";
    /// `A` refuses an in-flight request for a reason outside the protocol.
    Refusal = "refusal", Flow, "the Authority refuses or loses a request for a reason outside the protocol (overload, a lost connection, a deploy) and changes nothing; the request is delivered late or never";
    /// `A` runs as two instances over one store.
    Instances = "instances", Flow, "the Authority runs as two instances over one database behind one issuer; the attacker picks which instance a request reaches";
    /// The replay store forgets everything once.
    Restart = "restart", Flow, "the process holding the replay store restarts (a deploy, a crash) and forgets what it held in memory";
    /// The Consumer's logs leak the sids it holds.
    SidLeak = "sid-leak", Flow, "the Consumer's own logs or error reports leak the sids it holds, pending and active";
    /// The attacker steals one of the honest Subject's live sessions with the Consumer's key.
    Theft = "theft", Flow, "the attacker steals one live session of the honest Subject together with the Consumer's key (a leaked database and configuration): what must hold is that the theft ends";
    /// A Consumer the honest one delegates to is the attacker's.
    MaliciousConsumer = "malicious-consumer", Tickets, "a Consumer registered at the honest Authority with its own key and redirect URIs is run by the attacker, and the honest Consumer delegates to it";
    /// The Consumer's key leaks; the operator then rotates it.
    KeyLeak = "key-leak", Tickets, "the Consumer's key leaks to the attacker, and the operator rotates it once the leak is known";
}

impl Capability {
    /// Looks a capability up by name.
    pub fn by_name(name: &str) -> Option<Capability> {
        Capability::ALL.iter().copied().find(|c| c.name() == name)
    }
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The capabilities in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capabilities(u16);

impl Default for Capabilities {
    /// The attack matrix's capabilities: request capture and session theft (without theft,
    /// nothing could break the properties that bound a stolen session).
    fn default() -> Self {
        Capabilities::none()
            .with(Capability::Capture)
            .with(Capability::Theft)
    }
}

impl Capabilities {
    /// No capability beyond the web attacker's basics.
    pub fn none() -> Self {
        Capabilities(0)
    }
    /// Every capability.
    pub fn all() -> Self {
        Capability::ALL
            .iter()
            .fold(Capabilities(0), |s, c| s.with(*c))
    }
    /// Every capability of one model.
    pub fn all_of(world: World) -> Self {
        Capability::ALL
            .iter()
            .filter(|c| c.world() == world)
            .fold(Capabilities(0), |s, c| s.with(*c))
    }
    /// This set with `c`.
    pub fn with(self, c: Capability) -> Self {
        Capabilities(self.0 | c.bit())
    }
    /// This set without `c`.
    pub fn without(self, c: Capability) -> Self {
        Capabilities(self.0 & !c.bit())
    }
    /// Whether `c` is in force.
    pub fn has(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }
    /// The capabilities in force, in [`Capability::ALL`] order.
    pub fn list(self) -> Vec<Capability> {
        Capability::ALL
            .iter()
            .copied()
            .filter(|c| self.has(*c))
            .collect()
    }
    /// The names, comma-separated (`none` for the empty set).
    pub fn names(self) -> String {
        let l = self.list();
        if l.is_empty() {
            "none".into()
        } else {
            l.iter().map(|c| c.name()).collect::<Vec<_>>().join(",")
        }
    }
    /// Parses `a,b,c`, `all` or `none`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" => return Ok(Capabilities::all()),
            "none" | "" => return Ok(Capabilities::none()),
            _ => {}
        }
        s.split(',')
            .map(str::trim)
            .try_fold(Capabilities::none(), |acc, name| {
                Capability::by_name(name)
                    .map(|c| acc.with(c))
                    .ok_or_else(|| {
                        format!(
                            "unknown capability {name:?}; known: {}",
                            Capability::ALL
                                .iter()
                                .map(|c| c.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
            })
    }
}

/// The switches v1.1 withdrew: on in `v1`, off in `hardened`, because the necessity analysis
/// finds no capability under which they matter once `state` is in (spec chapter 11).
pub const WITHDRAWN: &[Switch] = &[Switch::Pkce, Switch::Burn];

/// The switches v1.1 added: off in `v1`.
pub const ADDED_IN_V1_1: &[Switch] = &[
    Switch::SharedReplay,
    Switch::RefuseAfterNonce,
    Switch::State,
    Switch::StartCsrf,
    Switch::AuthzBinding,
    Switch::DelegationScope,
    Switch::DelegatePairwise,
    Switch::DelegateKey,
    Switch::KeyRevocation,
];

/// A named configuration of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// `seed`, `v1`, `hardened`, `hardened-minus-<switch>`, or `custom` (`check --off`).
    pub name: String,
    /// Which mitigations are on.
    pub switches: Switches,
}

impl Variant {
    /// The original proposal, read literally (every switch off).
    pub fn seed() -> Self {
        Variant {
            name: "seed".into(),
            switches: Switches::none(),
        }
    }
    /// The protocol as spec v1 had it.
    pub fn v1() -> Self {
        let s = ADDED_IN_V1_1
            .iter()
            .fold(Switches::all(), |s, w| s.without(*w));
        Variant {
            name: "v1".into(),
            switches: s,
        }
    }
    /// The protocol as spec v1.1 has it: every mitigation but the withdrawn ones.
    pub fn hardened() -> Self {
        let s = WITHDRAWN.iter().fold(Switches::all(), |s, w| s.without(*w));
        Variant {
            name: "hardened".into(),
            switches: s,
        }
    }
    /// `hardened` with one switch off.
    pub fn hardened_minus(w: Switch) -> Self {
        Variant {
            name: format!("hardened-minus-{}", w.name()),
            switches: Variant::hardened().switches.without(w),
        }
    }
    /// `hardened` with the given switches off (`check --off a,b`).
    pub fn hardened_without(off: &[Switch]) -> Self {
        let mut v = Variant::hardened();
        for w in off {
            v.switches = v.switches.without(*w);
        }
        v.name = if off.is_empty() {
            "hardened".into()
        } else {
            format!(
                "hardened-minus-{}",
                off.iter().map(|w| w.name()).collect::<Vec<_>>().join("+")
            )
        };
        v
    }
    /// The attack matrix's rows: v1, hardened, then one hardened-minus per switch that is on in
    /// hardened. `seed` is not a row: with every switch off its state space is too large to
    /// explore within the default bounds (tens of millions of states by depth 9); its attacks
    /// are the named attacks ([`crate::attacks`]), each a shortest path.
    pub fn all() -> Vec<Variant> {
        let mut v = vec![Variant::v1(), Variant::hardened()];
        v.extend(
            Switch::ALL
                .iter()
                .filter(|w| Variant::hardened().switches.on(**w))
                .map(|w| Variant::hardened_minus(*w)),
        );
        v
    }
    /// Look a variant up by name (`seed` included).
    pub fn by_name(name: &str) -> Option<Variant> {
        std::iter::once(Variant::seed())
            .chain(Variant::all())
            .find(|v| v.name == name)
    }
}
