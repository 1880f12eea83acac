//! Requirement coverage: which `TSR-…` identifiers the vectors (and the model's properties)
//! exercise, and why each of the others is not exercised.
//!
//! `conformance/uncovered.json` maps each requirement no black-box test of an Authority can
//! observe to the reason; the model's properties (crate `tessera-model`) cite the requirements
//! they check. The Consumer's obligations (chapter 10, the test mode of A.6.1:
//! [`crate::consumer::is_consumer_side`]) are the Consumer profile's to account for: an
//! Authority-profile report gives, for each, the Consumer profile's scenarios or its reason
//! (`conformance/consumer-uncovered.json`), never the model's property, which checks the
//! design and not a Consumer.

use crate::consumer::scenario::Scenario;
use crate::requirements;
use crate::runner::Verdict;
use crate::vector::Vector;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Checks the runner makes on every response, whatever the vector (see `runner`).
pub const RUNNER_CHECKS: &[&str] = &[
    "TSR-CONV-2",
    "TSR-ERROR-1",
    "TSR-ERROR-3",
    "TSR-ERROR-4",
    "TSR-HAWK-12",
];

const UNCOVERED: &str = include_str!("../uncovered.json");

/// The requirements no vector can observe, with the reason.
pub fn uncovered_reasons() -> BTreeMap<String, String> {
    serde_json::from_str(UNCOVERED).expect("conformance/uncovered.json is a JSON object of strings")
}

/// The requirements the model's properties check (the login flow's
/// `tessera_model::world::PROPERTIES` and the ticket model's `TICKET_PROPERTIES`):
/// requirement → property names.
pub fn model_properties() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let flow = tessera_model::world::PROPERTIES
        .iter()
        .map(|p| (p.name, p.requirements));
    let tickets = tessera_model::tickets::TICKET_PROPERTIES
        .iter()
        .map(|p| (p.name, p.requirements));
    for (name, reqs) in flow.chain(tickets) {
        for r in reqs {
            out.entry((*r).to_string())
                .or_default()
                .push(name.to_string());
        }
    }
    out
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Uncovered {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Coverage {
    pub covered: Vec<String>,
    pub uncovered: Vec<Uncovered>,
    /// Requirements that only vectors left out of the run (`--filter`, the production
    /// profile) cite: not tested by this run, and not uncovered either.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filtered_out: Vec<String>,
}

/// Coverage after a run: a requirement is covered when a vector citing it passed, a model
/// property checks it, or it is one of the runner's own checks and some vector passed.
/// `left_out` are the vectors a filter excluded: what only they cite is `filtered_out`.
pub fn compute<'a>(
    verdicts: impl IntoIterator<Item = (&'a Vector, &'a Verdict)>,
    left_out: &[Vector],
) -> Coverage {
    let mut passed: BTreeSet<String> = BTreeSet::new();
    let mut not_passed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut any_passed = false;
    for (v, verdict) in verdicts {
        any_passed |= matches!(verdict, Verdict::Passed);
        for r in &v.requirements {
            if matches!(verdict, Verdict::Passed) {
                passed.insert(r.clone());
            } else {
                not_passed.entry(r.clone()).or_default().push(v.id.clone());
            }
        }
    }
    if any_passed {
        passed.extend(RUNNER_CHECKS.iter().map(|s| s.to_string()));
    }
    let mut c = classify(&passed, &not_passed);
    let only_left_out: BTreeSet<&String> = left_out
        .iter()
        .flat_map(|v| v.requirements.iter())
        .filter(|r| !passed.contains(*r) && !not_passed.contains_key(*r))
        .collect();
    c.uncovered.retain(|u| {
        let out = only_left_out.contains(&u.id) && u.reason.starts_with("no vector");
        if out {
            c.filtered_out.push(u.id.clone());
        }
        !out
    });
    c
}

/// Coverage of a vector set before any run: what it would cover if every vector passed.
pub fn planned(vectors: &[Vector]) -> Coverage {
    let mut cited: BTreeSet<String> = vectors
        .iter()
        .flat_map(|v| v.requirements.iter().cloned())
        .collect();
    cited.extend(RUNNER_CHECKS.iter().map(|s| s.to_string()));
    classify(&cited, &BTreeMap::new())
}

/// Why the Authority profile does not cover the Consumer's obligation `id`: the Consumer
/// profile's scenarios that cite it, or the Consumer profile's own reason; `None` when the
/// Consumer profile (its built-in `scenarios`) accounts for it neither way.
pub fn consumer_profile_reason(id: &str, scenarios: &[Scenario]) -> Option<String> {
    let citing: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.requirements.iter().any(|r| r == id))
        .map(|s| s.id.as_str())
        .collect();
    if !citing.is_empty() {
        return Some(format!(
            "An obligation of the Consumer, which the Authority profile cannot see; the Consumer profile (run --profile consumer, spec A.6) tests it: {}.",
            citing.join(", ")
        ));
    }
    if crate::consumer::RUNNER_CHECKS.contains(&id) {
        return Some(
            "An obligation of the Consumer, which the Authority profile cannot see; the Consumer profile (run --profile consumer, spec A.6) checks it in every scenario (A.6.3, A.6.1).".into(),
        );
    }
    crate::consumer::uncovered_reasons().get(id).map(|r| {
        format!(
            "An obligation of the Consumer, which the Consumer profile cannot observe either: {r}"
        )
    })
}

fn classify(passed: &BTreeSet<String>, not_passed: &BTreeMap<String, Vec<String>>) -> Coverage {
    let index = requirements::index();
    let reasons = uncovered_reasons();
    let model = model_properties();
    let scenarios = crate::consumer::scenario::embedded().unwrap_or_default();
    let mut c = Coverage::default();
    for id in index.ids() {
        let consumer_side = crate::consumer::is_consumer_side(id);
        if passed.contains(id) || (model.contains_key(id) && !consumer_side) {
            c.covered.push(id.to_string());
        } else if consumer_side && not_passed.get(id).is_none() {
            c.uncovered.push(Uncovered {
                id: id.to_string(),
                reason: consumer_profile_reason(id, &scenarios).unwrap_or_else(|| {
                    "no vector, and neither a scenario of the Consumer profile nor a reason in consumer-uncovered.json".into()
                }),
            });
        } else if let Some(reason) = reasons.get(id) {
            c.uncovered.push(Uncovered {
                id: id.to_string(),
                reason: reason.clone(),
            });
        } else if let Some(vs) = not_passed.get(id) {
            c.uncovered.push(Uncovered {
                id: id.to_string(),
                reason: format!("its vectors did not pass: {}", vs.join(", ")),
            });
        } else {
            c.uncovered.push(Uncovered {
                id: id.to_string(),
                reason: "no vector, no model property and no reason given".to_string(),
            });
        }
    }
    c
}
