//! The conformance vector format (spec appendix A.5; JSON Schema in
//! `conformance/vector.schema.json`).
//!
//! A vector is one JSON file: an id, a title, the requirement IDs it exercises, where it came
//! from, and a list of steps run in order against one Authority in conformance mode. Values
//! that only exist at run time (a `sid`, a code, a ticket) are written symbolically: a string
//! `"$sid1"` stands for the value bound under `sid1` by an earlier step's `expect.bind`.
//!
//! Symbols (strings in `path`, `body`, `authorize_url`, `match` values and actor references):
//!
//! * `"$name"` — the whole JSON value bound under `name` (any type: a ticket object, say);
//! * `"$name/json/pointer"` — a part of it (RFC 6901), e.g. `"$t1/id"`;
//! * `"…${name}…"`, `"…${name/pointer}…"` — the string form spliced into a longer string;
//! * built-ins, never bound by a step: `issuer` (the target's issuer identifier), `now` (the
//!   target's test clock), `verifier:X` and `challenge:X` (a fresh PKCE verifier for the label
//!   `X`, 43 characters, and its S256 challenge), `random:X` (a fresh 43-character base64url
//!   value for the label `X`, e.g. a `sid` nobody issued). Labels are per vector.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The vector format version; a runner refuses vectors of another major version.
pub const FORMAT: &str = "tessera-conformance-vector/1";

/// One conformance vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// `FORMAT`.
    pub format: String,
    /// Unique, stable, file-name safe: `[a-z0-9][a-z0-9._-]*`; the file is `{id}.json`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// The `TSR-…` requirements this vector exercises (each defined in spec/).
    pub requirements: Vec<String>,
    /// Where the vector came from.
    pub origin: Origin,
    /// Optional protocol features the vector needs; a target that answers `404 not_found` at
    /// one of their endpoints has not implemented them, and the vector counts as unimplemented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// Run in order.
    pub steps: Vec<Step>,
}

impl Vector {
    /// The group the vector belongs to: its id up to the last `.` (`hawk.subject` for
    /// `hawk.subject.replay`, `app-ticket` for `app-ticket.shape`); the id itself when it has
    /// no `.`. Reports use it as the JUnit `classname`.
    pub fn group(&self) -> &str {
        self.id
            .rsplit_once('.')
            .map_or(self.id.as_str(), |(g, _)| g)
    }

    /// Whether the vector needs the test clock (spec A.2), so that the production profile
    /// (an Authority on its real clock) leaves it out: it advances the clock, compares with
    /// `$now` exactly, or signs a `ts` within two seconds of the skew's edge (a second passing
    /// on a real clock would change the answer).
    /// Whether it probes the restart fence ([`Step::RestartFence`]): it runs before the
    /// runner clears the fence.
    pub fn probes_restart_fence(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::RestartFence { .. }))
    }

    pub fn needs_test_clock(&self, skew: i64) -> bool {
        let near_edge = |offset: i64| offset != 0 && (offset.abs() - skew).abs() <= 2;
        let mentions_now = |e: &Expect| {
            let text = serde_json::to_string(&e.matches).unwrap_or_default();
            text.contains("\"$now\"")
        };
        let request = |r: &Request| {
            near_edge(r.hawk.ts_offset)
                || mentions_now(&r.expect)
                || r.path.starts_with("/conformance/clock") && r.method != "GET"
        };
        self.steps.iter().any(|step| match step {
            Step::Advance { .. } | Step::RestartFence { .. } => true,
            Step::Request(r) => request(r),
            Step::Concurrent { requests, .. } => requests.iter().any(request),
            Step::Replay { expect, .. } => mentions_now(expect),
            Step::Authorize(a) => mentions_now(&a.expect),
        })
    }
}

/// Where a vector came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Origin {
    /// Covers a (request kind, outcome) pair the model reaches.
    Coverage {
        /// The Authority-facing request kind (`handshake`, `result`, …).
        request: String,
        /// The outcome: `ok` or a wire error code.
        outcome: String,
    },
    /// A counterexample the model checker found on a weakened variant, replayed against the
    /// hardened Authority: the attack must be refused at `refused_at_step`.
    Counterexample {
        variant: String,
        property: String,
        /// 1-based index into `steps` of the step that must refuse the attack (with
        /// `refused_by: consumer`, the last Authority-facing step of the attack).
        refused_at_step: usize,
        /// `authority`: the hardened Authority refuses the attack at `refused_at_step`;
        /// `consumer`: the attack is stopped by the Consumer (chapter 10), and the vector checks
        /// that the Authority-facing part answers as the hardened model says.
        refused_by: String,
    },
    /// A cell of the session state table (spec 6.1).
    StateTable { state: String, request: String },
    /// A row of the error table (spec 8.2).
    ErrorTable { error: String },
    /// A check written from a requirement's text.
    Requirement,
    /// A shrunk failure of the differential test (model vs Authority).
    Regression { seed: String },
}

/// Optional features (spec chapter 7's Oz extras). Everything else is mandatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// `POST /v1/app-ticket`.
    AppTicket,
    /// `POST /v1/reissue` without `issue_to`.
    Reissue,
    /// `POST /v1/delegate` and `POST /v1/exchange` (spec 7.7).
    Delegation,
    /// `GET /v1/ticket`.
    TicketInfo,
}

impl Feature {
    /// The endpoint whose `404` means the feature is absent.
    pub fn endpoint(self) -> &'static str {
        match self {
            Feature::AppTicket => "/v1/app-ticket",
            Feature::Reissue => "/v1/reissue",
            Feature::Delegation => "/v1/delegate",
            Feature::TicketInfo => "/v1/ticket",
        }
    }
}

/// One step of a vector.
#[allow(clippy::large_enum_variant)] // a few hundred steps per run: size is irrelevant
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// An HTTP request to the Authority.
    Request(Request),
    /// The Subject's side of the login (spec A.4, `POST /conformance/authorize`). The
    /// response is extended with `query`: the callback URL's query parameters, so `expect`
    /// can bind `/query/code`.
    Authorize(Authorize),
    /// `POST /conformance/clock {"advance": seconds}` (spec A.2).
    Advance {
        seconds: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Sends the request of step `of` again, byte for byte (same Hawk header, same body).
    Replay {
        of: String,
        expect: Expect,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Sends every request at once; the multiset of answers must equal `outcomes`.
    Concurrent {
        requests: Vec<Request>,
        outcomes: Vec<Outcome>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Probes the restart fence the Authority declares (spec A.2, TSR-CONF-16): a `ts` at the
    /// fence is refused as stale, the first past it is not (after an advance of twice the skew
    /// plus one second). A vector with this step runs first, before the runner clears the
    /// fence.
    RestartFence {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Names the step for `replay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whose credentials sign it.
    #[serde(rename = "as")]
    pub actor: Actor,
    pub method: String,
    /// Path and query, symbols allowed.
    pub path: String,
    /// A JSON body (symbols substituted), sent compact with `Content-Type: application/json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A body sent exactly as written (for malformed bodies); excludes `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
    /// Overrides the content type (default `application/json` when there is a body; `""`:
    /// no `Content-Type` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Deliberate departures from a correct Hawk header.
    #[serde(default, skip_serializing_if = "HawkTweaks::is_default")]
    pub hawk: HawkTweaks,
    /// Sent from this named, cookie-keeping browser (`"victim"`, `"attacker"`): the request
    /// carries the cookies the browser holds, and the answer's `Set-Cookie`s are kept for its
    /// next request. One cookie jar per name and vector, empty at the vector's start; without
    /// `browser` a request carries no cookie and keeps none. For the authorize pages' browser
    /// binding (TSR-AUTHZ-9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    pub expect: Expect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Who signs a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Actor {
    /// No `Authorization` header.
    Anonymous,
    /// Consumer credentials of the fixture Consumer with this `consumer_id` (spec A.3).
    Consumer(String),
    /// Ticket credentials: a symbol bound to a ticket object (`"$t1"`); `app` and `dlg` are
    /// taken from it.
    Ticket(String),
    /// This exact `Authorization` header value (symbols allowed).
    Authorization(String),
}

/// Departures from a correct Hawk request, each for a negative test. String values may use
/// `${…}` symbols.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HawkTweaks {
    /// Added to the target's current time for `ts`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ts_offset: i64,
    /// Signs with this `id` instead of the credentials' own (the key stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Signs with this key instead of the credentials' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Sends this `mac` instead of the computed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Leaves `hash` out although there is a body.
    #[serde(default, skip_serializing_if = "is_false")]
    pub omit_hash: bool,
    /// Signs and sends this `hash` instead of the body's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Signs for this method instead of the one sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Signs for this request-target (path and query) instead of the one sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Signs for this host instead of the target's issuer host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Signs for this port instead of the target's issuer port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Sends this `app` (with Consumer credentials: adds one; with a ticket: replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Sends this `dlg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlg: Option<String>,
    /// Leaves out the ticket's `app` and `dlg`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub omit_app: bool,
    /// Sends this `ext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    /// Pads `ext` so that the whole `Authorization` header is exactly this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_length: Option<usize>,
    /// Uses this nonce instead of a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Leaves these attributes (`id`, `ts`, `nonce`, `hash`, `ext`, `mac`, `app`, `dlg`) out
    /// of the header and keeps every other one; the MAC is still computed over everything
    /// (unlike `omit_hash` and `omit_app`, which leave the value out of the MAC too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omit: Vec<String>,
    /// Sends the ticket's sealed `id` altered in one region (ticket credentials only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_tamper: Option<IdTamper>,
    /// Sends the ticket's sealed `id` with its key id replaced by this one, the rest unchanged
    /// (ticket credentials only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relabel: Option<String>,
}

/// A region of a sealed ticket id to alter. The regions are those of the layout of spec 7.1's
/// example, `{prefix}.{key id}.{payload}` with `payload` the unpadded base64url of
/// `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`. An id of another shape is altered at a
/// position proportional to the region instead: any alteration of a sealed id must be refused
/// (TSR-TICKET-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdTamper {
    /// One character of the key id changed (to another key-id character).
    KeyId,
    /// One bit of the first nonce byte flipped.
    Nonce,
    /// One bit of the middle ciphertext byte flipped.
    Ciphertext,
    /// One bit of the last tag byte flipped.
    Tag,
    /// The payload one byte shorter (the tag cut).
    Shorter,
    /// The payload one byte longer (a zero byte appended).
    Longer,
    /// The payload shorter than nonce and tag together (27 bytes).
    TooShort,
    /// The payload empty.
    Empty,
}

impl HawkTweaks {
    pub fn is_default(&self) -> bool {
        self == &HawkTweaks::default()
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The Subject's decision at `POST /conformance/authorize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorize {
    /// A symbol bound to a handshake's `authorize_url`.
    pub authorize_url: String,
    pub username: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// The scopes left ticked (default: all requested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    pub expect: Expect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a step's response must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// The wire error code (spec 8.2) of an error response; absent for a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// JSON pointer into the response body → expected value (symbols allowed).
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matches: BTreeMap<String, Value>,
    /// JSON pointers that must not exist in the response body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// Response header (lower-case name) → expected value or matcher; `null`: must be absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Value>,
    /// Name → JSON pointer into the response body: values bound for later steps.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bind: BTreeMap<String, String>,
}

impl Expect {
    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn status(status: u16) -> Self {
        Expect {
            status,
            error: None,
            matches: BTreeMap::new(),
            absent: Vec::new(),
            headers: BTreeMap::new(),
            bind: BTreeMap::new(),
        }
    }

    /// An error of the spec's table with its status.
    pub fn error(code: &str) -> Self {
        Expect {
            error: Some(code.to_string()),
            ..Self::status(crate::errors::status_of(code).unwrap_or(400))
        }
    }

    pub fn bind(mut self, name: &str, pointer: &str) -> Self {
        self.bind.insert(name.to_string(), pointer.to_string());
        self
    }

    pub fn with(mut self, pointer: &str, value: Value) -> Self {
        self.matches.insert(pointer.to_string(), value);
        self
    }

    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.headers.insert(name.to_string(), value);
        self
    }

    pub fn without(mut self, pointer: &str) -> Self {
        self.absent.push(pointer.to_string());
        self
    }
}

/// One expected answer of a concurrent group, `count` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Other error codes that also count as this outcome (a concurrent loser may see the
    /// family already revoked by another loser).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub or_error: Vec<String>,
    pub count: usize,
    /// Bound from the (single) response with this outcome; only when `count` is 1.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bind: BTreeMap<String, String>,
}

/// Whether `id` is a valid vector id.
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Problems with one vector that do not need a target: id form, requirement IDs defined in
/// the spec, step names unique and replays referring to earlier named steps, the counterexample
/// step in range.
pub fn check(v: &Vector, known_requirements: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if v.format != FORMAT {
        problems.push(format!(
            "{}: format {:?}, expected {FORMAT:?}",
            v.id, v.format
        ));
    }
    if !valid_id(&v.id) {
        problems.push(format!("{}: id is not [a-z0-9][a-z0-9._-]*", v.id));
    }
    if v.requirements.is_empty() {
        problems.push(format!("{}: cites no requirement", v.id));
    }
    for r in &v.requirements {
        if !known_requirements.contains(&r.as_str()) {
            problems.push(format!("{}: cites {r}, which spec/ does not define", v.id));
        }
    }
    if v.steps.is_empty() {
        problems.push(format!("{}: has no step", v.id));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, step) in v.steps.iter().enumerate() {
        let requests: Vec<&Request> = match step {
            Step::Request(r) => vec![r],
            Step::Concurrent {
                requests, outcomes, ..
            } => {
                let total: usize = outcomes.iter().map(|o| o.count).sum();
                if total != requests.len() {
                    problems.push(format!(
                        "{}: step {}: {} requests but outcomes count {total}",
                        v.id,
                        i + 1,
                        requests.len()
                    ));
                }
                requests.iter().collect()
            }
            Step::Replay { of, .. } => {
                if !names.contains(&of.as_str()) {
                    problems.push(format!(
                        "{}: step {} replays {of:?}, which no earlier step names",
                        v.id,
                        i + 1
                    ));
                }
                vec![]
            }
            _ => vec![],
        };
        for r in requests {
            if r.body.is_some() && r.raw_body.is_some() {
                problems.push(format!("{}: step {} has body and raw_body", v.id, i + 1));
            }
            if let Some(n) = &r.name {
                if names.contains(&n.as_str()) {
                    problems.push(format!("{}: step name {n:?} used twice", v.id));
                }
                names.push(n);
            }
        }
    }
    if let Origin::Counterexample {
        refused_at_step, ..
    } = v.origin
    {
        if refused_at_step == 0 || refused_at_step > v.steps.len() {
            problems.push(format!("{}: refused_at_step out of range", v.id));
        }
    }
    problems
}

/// Reads every `*.json` vector of `dir`, sorted by file name.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<Vector>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str::<Vector>(&text).map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/vector_files.rs"));
}

/// The vectors built into this binary (every `conformance/vectors/*.json` at build time),
/// sorted by file name, as [`load_dir`] reads them.
pub fn embedded() -> Result<Vec<Vector>, String> {
    embedded::VECTOR_FILES
        .iter()
        .map(|(name, text)| {
            serde_json::from_str::<Vector>(text).map_err(|e| format!("built-in {name}: {e}"))
        })
        .collect()
}

/// The canonical file text of a vector: pretty JSON, two-space indent, final newline.
pub fn to_file_text(v: &Vector) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("vectors serialize");
    s.push('\n');
    s
}
