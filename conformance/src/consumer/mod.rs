//! The Consumer profile (spec A.6): the suite tests a Consumer, in any language, through its own
//! login-start and callback endpoints and the small observation contract of its test mode,
//! playing the honest Authority ([`honest`]), the attacker's Authority ([`attacker`]) and two
//! browsers ([`browser`]).
//!
//! * [`scenario`] — the scenario format (`conformance/consumer-vectors/`);
//! * [`run`] — runs scenarios against a Consumer in test mode;
//! * [`reference`] — the reference Consumer (the demo Consumer on the Rust Consumer library)
//!   in test mode, started in process when no `--target` is given.

pub mod attacker;
pub mod browser;
#[cfg(feature = "reference-server")]
pub mod honest;
#[cfg(feature = "reference-server")]
pub mod reference;
#[cfg(feature = "reference-server")]
pub mod run;
pub mod scenario;

use crate::coverage::{Coverage, Uncovered};
use crate::requirements;
use crate::runner::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

/// The back-channel requests the Consumer made, in order, as `"A /v1/result"`: both Authorities
/// write to one log.
#[derive(Debug, Clone, Default)]
pub struct BackChannel(Arc<Mutex<Vec<String>>>);

impl BackChannel {
    pub fn record(&self, entry: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries from `from` on.
    pub fn since(&self, from: usize) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)[from..].to_vec()
    }
}

/// The checks the runner makes on every Consumer response (spec A.6.3), and the test-mode
/// obligations every run exercises (A.6.1, A.6.2).
pub const RUNNER_CHECKS: &[&str] = &[
    "TSR-CONSUMER-2",
    "TSR-CONSUMER-9",
    "TSR-CONF-8",
    "TSR-CONF-9",
    "TSR-CONF-10",
    "TSR-CONF-11",
];

/// The test mode's own requirements (spec A.6.1): obligations of a Consumer under test.
pub const TEST_MODE: &[&str] = &[
    "TSR-CONF-7",
    "TSR-CONF-8",
    "TSR-CONF-9",
    "TSR-CONF-10",
    "TSR-CONF-11",
    "TSR-CONF-13",
    "TSR-CONF-14",
    "TSR-CONF-15",
];

/// Whether `id` is an obligation of the Consumer (chapter 10, the test mode of A.6.1), which
/// the Consumer profile accounts for and the Authority profile cannot test.
pub fn is_consumer_side(id: &str) -> bool {
    id.starts_with("TSR-CONSUMER-") || TEST_MODE.contains(&id)
}

const UNCOVERED: &str = include_str!("../../consumer-uncovered.json");

/// The Consumer requirements no scenario can observe, with the reason.
pub fn uncovered_reasons() -> BTreeMap<String, String> {
    serde_json::from_str(UNCOVERED)
        .expect("conformance/consumer-uncovered.json is a JSON object of strings")
}

/// The requirements the Consumer profile accounts for: every `TSR-CONSUMER-*`, the test mode's,
/// the runner's checks, and whatever a scenario cites.
pub fn in_scope<'a>(cited: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let cited: BTreeSet<&String> = cited.into_iter().collect();
    requirements::index()
        .ids()
        .into_iter()
        .filter(|id| {
            is_consumer_side(id)
                || RUNNER_CHECKS.contains(id)
                || cited.iter().any(|c| c.as_str() == *id)
        })
        .map(String::from)
        .collect()
}

/// Coverage of a Consumer-profile run: a requirement is covered when a scenario citing it
/// passed, or it is a runner check and some scenario passed; `left_out` are the scenarios
/// `--filter` excluded.
pub fn coverage<'a>(
    verdicts: impl IntoIterator<Item = (&'a scenario::Scenario, &'a Verdict)>,
    left_out: &[scenario::Scenario],
) -> Coverage {
    let mut passed: BTreeSet<String> = BTreeSet::new();
    let mut not_passed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cited: Vec<String> = Vec::new();
    let mut any_passed = false;
    for (s, verdict) in verdicts {
        let ok = matches!(verdict, Verdict::Passed);
        any_passed |= ok;
        for r in &s.requirements {
            cited.push(r.clone());
            if ok {
                passed.insert(r.clone());
            } else {
                not_passed.entry(r.clone()).or_default().push(s.id.clone());
            }
        }
    }
    if any_passed {
        passed.extend(RUNNER_CHECKS.iter().map(|s| s.to_string()));
    }
    let left: BTreeSet<&String> = left_out
        .iter()
        .flat_map(|s| s.requirements.iter())
        .collect();
    cited.extend(left.iter().map(|s| (*s).clone()));
    let reasons = uncovered_reasons();
    let mut c = Coverage::default();
    for id in in_scope(cited.iter()) {
        if passed.contains(&id) {
            c.covered.push(id);
        } else if let Some(reason) = reasons.get(&id) {
            c.uncovered.push(Uncovered {
                id,
                reason: reason.clone(),
            });
        } else if let Some(vs) = not_passed.get(&id) {
            let reason = format!("its scenarios did not pass: {}", vs.join(", "));
            c.uncovered.push(Uncovered { id, reason });
        } else if left.contains(&id) {
            c.filtered_out.push(id);
        } else {
            c.uncovered.push(Uncovered {
                id,
                reason: "no scenario and no reason given".into(),
            });
        }
    }
    c
}

/// Coverage of a scenario set before any run: what it covers if every scenario passes.
pub fn planned(scenarios: &[scenario::Scenario]) -> Coverage {
    let verdicts: Vec<Verdict> = scenarios.iter().map(|_| Verdict::Passed).collect();
    coverage(scenarios.iter().zip(verdicts.iter()), &[])
}
