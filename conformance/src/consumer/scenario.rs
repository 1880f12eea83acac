//! The Consumer profile's scenario format (spec A.6.4): one JSON file per scenario in
//! `conformance/consumer-vectors/`.

use super::attacker::Behaviour;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The scenario format version; a runner refuses another.
pub const FORMAT: &str = "tessera-consumer-scenario/1";

/// One Consumer-profile scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub format: String,
    /// `consumer.…`, file-name safe; the file is `{id}.json`.
    pub id: String,
    pub title: String,
    /// The requirements the scenario checks (each defined in spec/).
    pub requirements: Vec<String>,
    pub origin: Origin,
    /// How the attacker's Authority `M` misbehaves in this scenario.
    #[serde(default, skip_serializing_if = "Behaviour::is_honest")]
    pub attacker: Behaviour,
    pub steps: Vec<Step>,
}

/// Where a scenario comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Origin {
    /// Written from a requirement's text.
    Requirement,
    /// The negative scenario of a Consumer-side switch of the model (`model/src/switches.rs`):
    /// the switch's counterexample, which the Consumer must refuse; `attack`, the model's named
    /// attack (`model/src/attacks.rs`) it replays, when there is one.
    ModelSwitch {
        switch: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attack: Option<String>,
    },
}

/// One of the two Authorities the suite plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// The honest Authority (the reference Authority in conformance mode).
    A,
    /// The attacker's Authority.
    M,
}

impl Who {
    pub fn name(self) -> &'static str {
        match self {
            Who::A => "A",
            Who::M => "M",
        }
    }
}

/// One of the two browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BrowserName {
    Victim,
    Attacker,
}

impl std::fmt::Display for BrowserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BrowserName::Victim => "victim's",
            BrowserName::Attacker => "attacker's",
        })
    }
}

impl BrowserName {
    pub fn other(self) -> Self {
        match self {
            BrowserName::Victim => BrowserName::Attacker,
            BrowserName::Attacker => BrowserName::Victim,
        }
    }
}

/// What `POST /tessera-test/reset` must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetExpect {
    #[default]
    Ok,
    Refused,
}

/// How the browser submits the login-start form (spec A.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// As a browser does: every field, the browser's cookies, same origin.
    #[default]
    AsServed,
    /// Only the `GET` of the login page, no submission.
    GetOnly,
    /// Every field emptied but the one naming the Authority.
    NoCsrf,
    /// The fields of the page served to the other browser (its CSRF token), with this
    /// browser's cookies: a cross-site form of the attacker's.
    TokenOfOtherBrowser,
    /// The fields as served, but no cookie (a cross-site POST under `SameSite=Lax`).
    NoCookie,
}

/// Whether the login must start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartExpect {
    #[default]
    Started,
    Refused,
}

/// One step (spec A.6.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    Reset {
        #[serde(default = "both")]
        authorities: Vec<Who>,
        #[serde(default)]
        expect: ResetExpect,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    Start {
        browser: BrowserName,
        authority: Who,
        #[serde(default)]
        form: Form,
        #[serde(default)]
        expect: StartExpect,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    Authorize {
        login: String,
        #[serde(default = "alice")]
        username: String,
        #[serde(default = "allow")]
        decision: String,
        /// At `M`: the `sub` it vouches for (a value or a bound `$name`); default a fresh one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sub: Option<Value>,
        name: String,
    },
    Callback {
        browser: BrowserName,
        of: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        change: BTreeMap<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    PlantCookie {
        from: BrowserName,
        to: BrowserName,
    },
    Observe {
        browser: BrowserName,
        logged_in: Value,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        bind: BTreeMap<String, String>,
    },
    /// `POST /tessera-test/refresh` (TSR-CONF-13): the Consumer refreshes the browser session's
    /// login `concurrent` times at once; `logged_in` is what its answer must say.
    Refresh {
        browser: BrowserName,
        #[serde(default = "one")]
        concurrent: u32,
        logged_in: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    /// `POST /tessera-test/subject` (TSR-CONF-14): the Consumer reads the Subject data of the
    /// browser session's login; `data` is what its answer's `data` must be, `logged_in` what
    /// its answer must say.
    SubjectData {
        browser: BrowserName,
        data: Value,
        logged_in: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    /// `POST /tessera-test/logout` (TSR-CONF-15): the Consumer logs the browser session out;
    /// `logged_in` (default `null`) is what its answer must say.
    Logout {
        browser: BrowserName,
        #[serde(default)]
        logged_in: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    /// A refresh of another login while one is in flight (TSR-CONSUMER-15), with `M` holding
    /// its next refresh answer (`held-once`): `browser` refreshes (its login at `M`, held),
    /// then `other` refreshes and is answered, then `browser` refreshes again while its first
    /// is still held; `M` then lets the answer go. Both of `browser`'s answers must say
    /// `logged_in`, `other`'s `other_logged_in`; `back_channel` counts the whole step.
    RefreshOverlapped {
        browser: BrowserName,
        other: BrowserName,
        logged_in: Value,
        other_logged_in: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        back_channel: Option<Value>,
    },
    /// The suite refreshes, at `A`, the `sid` `A` issued last (the Consumer's), as a second
    /// holder of it would: the Consumer's next refresh is a reuse (TSR-REFRESH-5).
    RefreshElsewhere,
    /// The suite revokes, at `A`, the family of the `sid` `A` issued last (TSR-REVOKE-1).
    RevokeAtAuthority,
}

fn one() -> u32 {
    1
}

fn both() -> Vec<Who> {
    vec![Who::A, Who::M]
}

fn alice() -> String {
    "alice".into()
}

fn allow() -> String {
    "allow".into()
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/consumer_vector_files.rs"));
}

fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let s: Scenario = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
    if s.format != FORMAT {
        return Err(format!("{name}: format {:?} is not {FORMAT}", s.format));
    }
    if format!("{}.json", s.id) != name {
        return Err(format!("{name}: id {} does not match the file name", s.id));
    }
    Ok(s)
}

/// The scenarios built into this binary (`conformance/consumer-vectors/` when it was built),
/// sorted by id.
pub fn embedded() -> Result<Vec<Scenario>, String> {
    let mut out = embedded::CONSUMER_VECTOR_FILES
        .iter()
        .map(|(name, text)| parse(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The scenarios of `dir`, sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, String> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            out.push(parse(&name, &text)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The directory of the checked-in scenarios.
pub fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("consumer-vectors")
}
