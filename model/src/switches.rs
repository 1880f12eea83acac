//! Mitigation switches, attacker capabilities and the named variants.

use serde::Serialize;

/// One mitigation of design section 1 / spec chapter 9. Each is a switch of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Switch {
    /// Consumer → Authority requests carry a Hawk MAC bound to the receiving Authority's host,
    /// never the key (TSR-HAWK-4, TSR-REG-4). Off: the proposal's `C_SECRET` in every request.
    Hawk,
    /// Timestamp + nonce: a signed request is accepted at most once (TSR-HAWK-7, TSR-HAWK-9).
    Nonce,
    /// The callback carries a fresh single-use code, not the `sid`; the result request redeems it
    /// once and a second redemption revokes the family (TSR-CALLBACK-1, TSR-CALLBACK-3,
    /// TSR-RESULT-7, TSR-RESULT-9). Off: the callback carries `A_SID`, which is reusable.
    Code,
    /// The authorize URL carries an opaque request handle, not the `sid` (TSR-HANDSHAKE-5).
    SidHidden,
    /// PKCE S256 (TSR-HANDSHAKE-3, TSR-RESULT-6, TSR-CONSUMER-1).
    Pkce,
    /// The Consumer keeps the pending login in the browser session that started it, accepts a
    /// callback only there, and uses it once (TSR-CONSUMER-2, TSR-CONSUMER-3, TSR-CONSUMER-6).
    /// Off: the pending login is found from a reference in the callback URL (the proposal's
    /// "`C_URL` contains `A_SID` or any other value the Consumer can relate to it").
    Binding,
    /// `iss` in the callback, checked against the chosen Authority, and users identified by
    /// (issuer, `sub`) (TSR-CALLBACK-2, TSR-CONSUMER-4, TSR-CONSUMER-10).
    Issuer,
    /// Refresh rotates the `sid`; reuse of a refreshed-away `sid` revokes the family
    /// (TSR-REFRESH-3, TSR-REFRESH-4, TSR-REFRESH-5).
    Rotation,
    /// A code presented in a result request for another session is burned: the session it was
    /// issued for is revoked. **Not in the spec** (TSR-RESULT-4 says such a request "changes
    /// nothing"); the model needs it once requests can be captured, see the crate docs.
    Burn,
    /// Expiry enforced by the Authority on every request (TSR-CONV-12, TSR-SESSION-6,
    /// TSR-TICKET-5). Off: the proposal's text, where only the refresh fails after `A_EXP`.
    Expiry,
}

impl Switch {
    /// Every switch, in the order of the attack matrix.
    pub const ALL: [Switch; 10] = [
        Switch::Hawk,
        Switch::Nonce,
        Switch::Code,
        Switch::SidHidden,
        Switch::Pkce,
        Switch::Binding,
        Switch::Issuer,
        Switch::Rotation,
        Switch::Burn,
        Switch::Expiry,
    ];

    /// The switch's name as used in variant names (`hardened-minus-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Switch::Hawk => "hawk",
            Switch::Nonce => "nonce",
            Switch::Code => "code",
            Switch::SidHidden => "sid-hidden",
            Switch::Pkce => "pkce",
            Switch::Binding => "binding",
            Switch::Issuer => "issuer",
            Switch::Rotation => "rotation",
            Switch::Burn => "burn",
            Switch::Expiry => "expiry",
        }
    }

    /// One line for `--help` and the docs.
    pub fn describe(self) -> &'static str {
        match self {
            Switch::Hawk => "Hawk MAC on the wire, host-bound; the key is never sent",
            Switch::Nonce => "timestamp + nonce: a signed request is accepted once",
            Switch::Code => "single-use code in the callback instead of the sid",
            Switch::SidHidden => "the authorize URL carries a request handle, not the sid",
            Switch::Pkce => "PKCE S256 challenge/verifier",
            Switch::Binding => "pending login bound to the browser session, used once",
            Switch::Issuer => "iss in the callback, checked; users keyed by (iss, sub)",
            Switch::Rotation => "refresh rotates the sid; reuse revokes the family",
            Switch::Burn => "a code presented for the wrong session is burned (not in the spec)",
            Switch::Expiry => "expiry enforced on every request",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of switches that are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Switches(u16);

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
}

/// What the attacker can do beyond the web attacker's basics (which are always on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Capabilities {
    /// URLs the honest browser visits leak to the attacker (Referer, history, logs). Off in the
    /// attack matrix: TSR-AUTHZ-4 and TSR-CONSUMER-9 are the requirements that stop Referer
    /// leaks. `check --leaks` turns it on.
    pub leaks: bool,
    /// The attacker obtains copies of the Consumer's requests to the honest Authority after they
    /// were answered (access logs, a TLS-terminating proxy, a debugging tool), never the keys
    /// used to sign them. On in the attack matrix: it is what "a captured request" in spec 9.4
    /// means, and the only way a web attacker sees a request meant for `A`.
    pub capture: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            leaks: false,
            capture: true,
        }
    }
}

/// A named configuration of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// `seed`, `hardened` or `hardened-minus-<switch>`.
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
    /// Every mitigation on.
    pub fn hardened() -> Self {
        Variant {
            name: "hardened".into(),
            switches: Switches::all(),
        }
    }
    /// `hardened` with one switch off.
    pub fn hardened_minus(w: Switch) -> Self {
        Variant {
            name: format!("hardened-minus-{}", w.name()),
            switches: Switches::all().without(w),
        }
    }
    /// The attack matrix's rows: seed, hardened, then one hardened-minus per switch.
    pub fn all() -> Vec<Variant> {
        let mut v = vec![Variant::seed(), Variant::hardened()];
        v.extend(Switch::ALL.iter().map(|w| Variant::hardened_minus(*w)));
        v
    }
    /// Look a variant up by name.
    pub fn by_name(name: &str) -> Option<Variant> {
        Variant::all().into_iter().find(|v| v.name == name)
    }
}
