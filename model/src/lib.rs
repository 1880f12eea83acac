//! # Tessera as an executable stateright model
//!
//! The source of truth for the protocol's security claims: a plain stateright [`Model`]
//! ([`world::Tessera`]) of the honest parties and a web attacker, with every mitigation Tessera
//! adds to the original proposal as a switch ([`switches::Switch`]), a checker that finds the
//! **shortest** counterexample of each property ([`check`]), and renderers for message
//! sequence diagrams and the attack matrix ([`render`]). It does not depend on `impl/`.
//!
//! [`Model`]: stateright::Model
//!
//! ## The world
//!
//! * `A`, the honest Authority; `M`, an Authority run by the attacker. The honest Consumer `C`
//!   is registered at both.
//! * `U`, the honest Subject's browser (account `u` at `A`); `E`, the attacker's browser
//!   (account `e` at `A`).
//! * An integer clock (0 to [`world::Bounds::max_time`]) with TTLs of a few ticks
//!   ([`world::PENDING_TTL`], [`world::CODE_TTL`], [`world::SESSION_TTL`]).
//! * Abstract values: a session at `A` is its index (`s0`, `s1`); its code (`k0`) and its
//!   authorize request handle (`r0`) carry the same number, since values only need to be
//!   distinct per kind; the PKCE verifier of the Consumer's login `Ln` is `vn`; `M`'s sids are
//!   `m0`, `m1`. Crypto is perfect: a value is known only to those who were sent it.
//! * Bounds, by construction (actions past a bound are not enabled): logins the Consumer starts
//!   (2), sessions at `A` (2: handshakes plus refreshes), the clock (2), captured requests (3),
//!   requests the attacker sends `A` itself (2). The default bounds are enough for every attack
//!   the issue lists; `check --sessions 3 ...` raises them.
//!
//! ## The attacker
//!
//! A web attacker (Fett, Küsters, Schmitz, CCS 2016), restricted to what one can really do:
//!
//! * it runs `M` and `E`: it knows every URL `E` is sent, and `M` learns everything the Consumer
//!   sends it (the proposal's `C_SECRET`, redirect URIs, codes and verifiers of logins via `M`)
//!   and answers whatever it likes (any authorize URL it knows, any `sub`);
//! * CSRF: it makes `U` open any URL it knows or can build from values it knows (an authorize
//!   page, a callback with any known code/sid/login reference and any `iss`);
//! * it lets time pass;
//! * **capture** (capability, on in the matrix): it obtains copies of the Consumer's requests to
//!   `A` after they were answered (access logs, a TLS-terminating proxy), never the keys they
//!   were signed with. This is what "a captured request" means in spec 9.4, and the only way a
//!   web attacker sees a request meant for `A`; without it the nonce mitigation has nothing to
//!   stop (an extension of the design's attacker, needed to show `nonce` necessary);
//! * it replays any captured request to `A` (with nonces on, every replay is refused
//!   `replayed_request` and changes nothing, so replay actions are generated only with them
//!   off), and, once it holds the Consumer's key, sends `A` requests of its own (result,
//!   refresh, data API) with any values it knows;
//! * **leaks** (capability, off in the matrix, `--leaks`): URLs `U` opens (authorize page,
//!   callback) leak to it (Referer, history). Off because TSR-AUTHZ-4 and TSR-CONSUMER-9 are the
//!   requirements that stop Referer leaks; with it on, even `hardened` breaks (see Findings).
//!
//! It cannot break TLS between honest parties, read another origin's cookies, guess values, or
//! forge MACs. The honest Subject allows whatever authorize page its browser shows (the model's
//! consent is nondeterministic; denial is not modelled, as it only makes the attacker weaker).
//!
//! Not modelled: denial, the reference Authority's login/consent CSRF tokens and clickjacking
//! (TSR-AUTHZ-2/4, browser-level), the family's absolute end (TSR-SESSION-5), app tickets,
//! reissue and delegation, grants and scopes, redirect-URI registration (the redirect target is
//! fixed at the handshake, TSR-CALLBACK-1), the Consumer's key differing per Authority
//! (TSR-REG-4: with Hawk on, `M` never sees a key; with it off, the proposal has one secret).
//!
//! ## Actions
//!
//! Each [`world::Action`] is one HTTP exchange or one browser step; a browser step that makes
//! the Consumer send a back-channel request synchronously (the login click → handshake, the
//! callback → result request) includes that request, since nobody can interleave with it.
//! Rejected requests are actions too and carry their outcome: `Login` (click + handshake),
//! `Authorize` (authorize page: the browser's Subject logs in and allows), `Callback` (the
//! Consumer's own checks: binding, issuer; then the result request), `Refresh`, `Revoke`,
//! `Api` (the Consumer's use of the session it holds for a browser), `Tick`, `Forge` and
//! `Replay` (the attacker's own requests to `A`).
//!
//! ### For the conformance suite
//!
//! [`world::Tessera::step`] returns the next state and an [`world::Effect`], whose `exchange`
//! ([`world::Exchange`]) is the Authority-facing behaviour of the step: the request kind
//! ([`world::RequestKind`]: handshake, authorize, result, refresh, revoke, api), the Authority
//! it went to, who sent it ([`world::Sender`]), the abstract values sent (`sid`, `code`,
//! `verifier`, `challenge`, whether the secret went in clear) and the outcome the Authority gave
//! ([`world::Outcome`], named after the wire error codes of spec chapter 8: `code_reused`,
//! `session_reused`, `invalid_verifier`, `session_expired`, `ticket_revoked`, ... or `ok`;
//! `error_page` for the authorize page's HTML error; `attacker_chosen` for `M`).
//! [`world::Action::exchange`] is the same as a pure function of (model, state, action).
//! `Effect::consumer` says what the Consumer decided on its own (`no_pending_login`,
//! `issuer_mismatch`, ...), when no request reached an Authority.
//!
//! ## Properties
//!
//! Every `always` is paired with a `sometimes` witness so none is vacuous
//! ([`world::PROPERTIES`] holds the list with requirement IDs; `tessera-model --help` prints it):
//!
//! | property | kind | requirements | witness |
//! |---|---|---|---|
//! | no code or session is redeemed twice | always | TSR-RESULT-7, TSR-RESULT-9, TSR-CALLBACK-1, TSR-SESSION-2 | an honest login completes |
//! | no signed request is accepted twice | always | TSR-HAWK-7, TSR-HAWK-9, TSR-HAWK-10 | an api call succeeds |
//! | nothing is accepted after its expiry | always | TSR-CONV-12, TSR-SESSION-6, TSR-RESULT-2, TSR-RESULT-5, TSR-TICKET-5, TSR-AUTHZ-1 | a refresh completes |
//! | a browser is logged in only as its own subject, through a flow it started | always | TSR-CONSUMER-2, -3, -6, TSR-CALLBACK-3, TSR-HANDSHAKE-5, TSR-RESULT-6 | the attacker's own honest login completes |
//! | the consumer logs in only identities vouched for by the authority it chose | always | TSR-CALLBACK-2, TSR-CONSUMER-4, -5, -10 | an honest login completes |
//! | the attacker never holds the consumer's key nor a ticket, session or data of the honest subject | always | TSR-HAWK-4, TSR-REG-4, TSR-CONV-11, TSR-HAWK-9, TSR-TICKET-3 | an api call succeeds |
//! | a refreshed-away session is dead | always | TSR-REFRESH-3, -4, -5 | a refresh completes |
//!
//! Session integrity covers session fixation (the attacker's browser logged in as `u`) and
//! login CSRF / session swapping (`U`'s browser logged in as `e`). Mix-up: an identity recorded
//! without an issuer is the proposal's global `A_UID`, i.e. an account at `A`, so `M` claiming
//! it is a mix-up. Rotation checks both that a refreshed-away session is never left `active`
//! (TSR-REFRESH-4: one active session per family) and that no request naming it is accepted.
//!
//! ## Switches and variants
//!
//! One switch per mitigation ([`switches::Switch`]): `hawk`, `nonce`, `code`, `sid-hidden`,
//! `pkce`, `binding`, `issuer`, `rotation`, `burn`, `expiry`. `seed` has all off, `hardened` all
//! on, `hardened-minus-<switch>` one off.
//!
//! `seed` is the proposal read literally; where it is silent, the reading most favourable to it:
//! the Consumer sends the result request to the Authority it started with (step 8 says "the
//! Authority Server"); it finds the pending login from the `A_SID` in `C_URL` (step 4's
//! "temporary storage (web session for example?)" is a suggestion with a question mark, not a
//! check: nothing says the callback must arrive in the browser session that started the flow,
//! `C_URL` carries `A_SID` "or any other value that Consumer can relate to A_SID", and issue 3
//! defines `seed` without binding); `A_SID` can be redeemed by the Result
//! Request as often as it is sent (nothing says otherwise); the data call carries `C_ID`,
//! `C_SECRET` and `A_SID`; the refresh returns a new `A_SID` and nothing says the old one dies;
//! the Authority enforces `A_EXP` only where the proposal says it errors out, at the refresh
//! (the reading spec 9.8 takes; the more favourable one, enforcement everywhere, is exactly
//! the `expiry` switch). `A_UID` is global (the proposal says so), so `M` can name `u`'s.
//!
//! ## Findings
//!
//! * **`burn` is not in the spec.** With every spec mitigation on and request capture, the
//!   checker finds a session fixation in 5 steps: `U` has a pending login of its own; the
//!   attacker starts a login in `E` and makes `U` open its authorize URL; `u` allows; the
//!   callback (`code=k1`) arrives in `U`'s browser session, whose pending login is `s0`, so the
//!   Consumer sends `result {sid=s0, code=k1}`; `A` refuses (`authorization_pending`) and, per
//!   TSR-RESULT-4, "changes nothing": `k1` stays valid; the captured request gives the attacker
//!   `k1`, which `E` redeems in its own session. Fix in the model (`burn`): a code presented
//!   for another session burns that session. Alternatively the Consumer could refuse such a
//!   callback itself if the callback carried a flow reference (as OAuth's `state`).
//! * **Not shown necessary** (`hardened-minus-code`, `-sid-hidden`, `-pkce` hold everything):
//!   the result request names the `sid`, which never leaves the Consumer, and codes are bound
//!   to their session, so a stolen code is useless in another session with or without PKCE; a
//!   `sid` in a URL is useless without the Consumer's key; with binding on, a callback carrying
//!   the `sid` is checked against the browser's pending login. Each is defence in depth behind
//!   `hawk` + `binding` within this attacker model (they matter once the Consumer's key leaks).
//! * **`hardened-minus-rotation`** violates rotation only as the state invariant (the honest
//!   refresh leaves the old `sid` active); no attacker in the model can use the old `sid`
//!   without the Consumer's key (in `seed` it can).
//! * **With `--leaks`, `hardened` breaks session integrity** in 3 steps: `U`'s authorize URL
//!   leaks; `E`'s Subject allows `U`'s pending request; the attacker makes `U` open the
//!   callback, and `U` is logged in as `e`. Spec 9.13's "nothing in a browser URL is useful
//!   alone" is therefore too strong: the authorize request handle and an unredeemed code are
//!   useful; only not leaking them (TSR-AUTHZ-4, TSR-CONSUMER-9) stops it.
//!
//! ## Checking
//!
//! `tessera-model check` uses [`check::check`], an exhaustive single-threaded BFS that records
//! per property the first violating (or witnessing) state in BFS order, so the reported
//! counterexample is a shortest one (stateright's own discoveries are not guaranteed shortest).
//! States are deduplicated by a 64-bit fingerprint, as stateright does. `--threads` checks
//! variants in parallel. Tests use stateright's checker (`assert_properties`,
//! `assert_discovery`, `unique_state_count`) on the same [`stateright::Model`] impl, and
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
