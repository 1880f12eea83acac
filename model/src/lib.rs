//! # Tessera as an executable stateright model (second edition)
//!
//! The source of truth for the protocol's security claims: two plain stateright [`Model`]s,
//! the login flow ([`world::Tessera`]) and tickets ([`tickets::Tickets`]), with every
//! mitigation as a switch ([`switches::Switch`]) and every attacker power beyond the web
//! attacker as a capability ([`switches::Capability`]); a checker that finds the **shortest**
//! counterexample of each property ([`check`]); the named attacks of spec chapter 9
//! ([`attacks`]); the necessity analysis ([`necessity`]); and renderers for message sequence
//! diagrams, the attack matrix and the necessity table ([`render`]). It does not depend on
//! `impl/`.
//!
//! [`Model`]: stateright::Model
//!
//! ## The login flow ([`world`])
//!
//! * `A`, the honest Authority, as one instance or (capability `instances`) two instances over
//!   one session store, each with its own replay store unless `shared-replay` is on; `M`, an
//!   Authority run by the attacker. The honest Consumer `C` is registered at both.
//! * `U`, the honest Subject's browser (account `u` at `A`); `E`, the attacker's browser
//!   (account `e`).
//! * **The back channel is asynchronous**: the Consumer's result and refresh requests go in
//!   flight ([`world::Flight`]); `A` answers them later, in any order, interleaved with
//!   everything else (`AuthorityDelivers`), or refuses them for a reason outside the protocol
//!   (`AuthorityRefuses`, capability `refusal`). Handshakes, revocations and data calls are
//!   answered in the step that sends them: nothing the attacker does in between would matter.
//! * Abstract values: a session at `A` is its index (`s0`); its code (`k0`) and authorize
//!   request handle (`r0`) carry the same number; login `Ln`'s `state` and PKCE verifier carry
//!   `n`; request nonces are numbered (`#3`). Crypto is perfect.
//! * Bounds ([`world::Bounds`], range-checked, never capped silently): 2 logins, 2 sessions at
//!   `A`, clock 0–2, 6 Consumer requests, 3 captured requests, 2 attacker requests.
//!
//! ### The attacker and the capabilities
//!
//! Always: a web attacker (Fett, Küsters, Schmitz, CCS 2016) that runs `M` and `E`, makes `U`
//! open any URL it can build (CSRF), lets time pass, and sends `A` requests signed with the
//! Consumer's key once it holds it. Beyond that, each capability stands for a real situation
//! ([`switches::Capability::situation`]): `capture` (copies of the Consumer's requests from
//! logs or a TLS-terminating proxy, taken when answered or refused), `leaks` (authorize-page
//! URLs the honest browser opened leak), `refusal`, `instances`, `restart` (the replay store
//! forgets everything once), `sid-leak` (the Consumer's logs leak its sids), `theft` (one live
//! session of `u` and the Consumer's key are stolen; what must hold then is that the theft
//! ends); for tickets, `malicious-consumer` and `key-leak`.
//!
//! Callback URLs are assumed not to leak (TSR-CONSUMER-9 is a precondition of any
//! browser-carried code: a leaked callback of the attacker's own flow, opened by `u`, is
//! indistinguishable from the attacker's honest login).
//!
//! ### Properties ([`world::PROPERTIES`])
//!
//! Each `always` is stated so that a violation harms an honest party, and is paired with a
//! `sometimes` witness: session integrity with the browser's intent (`U` is logged in only as
//! `u` on `A`'s word, or at `M` only after choosing `M` itself; `E` never as `u`); mix-up as the
//! Consumer's rule (an identity recorded under an issuer was vouched for by it); secrecy over
//! every usable secret of `u` (data and tickets answered to the attacker, or the Consumer's key
//! with a live sid); replay (no nonce processed twice); no session of `u` redeemed twice;
//! expiry and recovery, both about a stolen session (nothing accepted past its expiry; it dies
//! at the honest Consumer's next refresh).
//!
//! ## Tickets ([`tickets`])
//!
//! Scopes, consent (which narrows or, with `delegation-scope`, allows sharing), reissue,
//! delegation to a second Consumer `X`, app tickets and a Consumer key rotated after a leak.
//! Properties: no Consumer reads `u`'s data beyond its registration and `u`'s consent to it; a
//! Consumer learns only its own pairwise `sub`; a ticket is used only by the Consumer it was
//! issued to; after a key rotation the leaked key gives the attacker nothing.
//!
//! ## Variants
//!
//! `seed` is the proposal read literally (every switch off); `v1` is spec v1; `hardened` is
//! spec v1.1 (every switch but the withdrawn `pkce` and `burn`); `hardened-minus-<switch>`
//! turns one off, and `check --off a,b` any set. `v1` shows the hostile review's findings as
//! counterexamples ([`attacks`]): the session fixation that survives the burn
//! (`capture,refusal`, and `capture,restart` through the restart fence), replay across
//! instances (`capture,instances`), delegation beyond consent and registration, and, found by
//! the model, the replay of a refused-but-logged request as a first use and a login-start CSRF.
//!
//! ## Checking
//!
//! [`check::bfs`] is an exhaustive single-threaded BFS over any stateright model that records
//! per property the first violating (or witnessing) state in BFS order, so counterexamples are
//! shortest (stateright's own discoveries are not guaranteed shortest). States are
//! deduplicated by a 64-bit fingerprint, as stateright does, after [`world::Tessera::step`]
//! forgets what can no longer matter (nonces nobody can present again, captured copies every
//! instance refuses for good): a symmetry reduction that keeps counts exact. Tests use
//! stateright's checker on the same models (`assert_properties`, `unique_state_count`), and
//! `explore` serves stateright's web explorer.

pub mod attacks;
pub mod check;
pub mod necessity;
pub mod render;
pub mod switches;
pub mod tickets;
pub mod world;

pub use switches::{Capabilities, Capability, Switch, Switches, Variant};
pub use world::{Action, Tessera};
