//! The necessity analysis (`tessera-model necessity`): for every mitigation, the weakest set of
//! capabilities under which turning it off (everything else as in `hardened`) breaks an
//! `always` property, with the shortest counterexample; mitigations necessary only together
//! are reported as minimal groups; mitigations no capability justifies are `unjustified`.
//!
//! **Method.** Capabilities only ever add behaviour (more actions, more knowledge), so a
//! property that holds under a set of capabilities holds under each of its subsets. For each
//! switch on in `hardened`: one search under every capability of its model decides whether any
//! set can break something; if one can, capabilities are dropped one at a time while the
//! violation remains, which leaves a set none of whose capabilities can be dropped; then the
//! empty set and each single capability are tried in case a smaller set works on its own.
//! Every search stops at the first BFS level with a violation. The withdrawn
//! switches (off in `hardened`) are unjustified exactly when `hardened` holds under every
//! capability, which the analysis checks too. Bounds are the models' defaults; a login-flow switch
//! that breaks nothing there is tried once more with one more session at `A` (a refresh fork
//! needs three), and the table says so.

use crate::check::{bfs, parallel, Stop};
use crate::switches::{Capabilities, Capability, Switch, Switches, Variant, World, WITHDRAWN};
use crate::tickets::Tickets;
use crate::world::{Bounds, Tessera};
use serde::Serialize;
use stateright::{Expectation, Model};
use std::time::Instant;

/// What the analysis says about one mitigation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Turning it off alone breaks a property under some capabilities.
    Necessary,
    /// Turning it off breaks nothing alone, but together with the others of `group` it does.
    Group,
    /// No capability of the model makes it matter.
    Unjustified,
}

/// What a search found: the capabilities, the property broken, the trace.
type Found = (Capabilities, &'static str, Vec<String>);

/// One row of the analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Mitigation {
    pub name: &'static str,
    pub requirements: Vec<&'static str>,
    pub verdict: Verdict,
    /// The weakest capabilities under which it is needed (empty: needed against the plain web
    /// attacker, or unjustified).
    pub capabilities: Vec<&'static str>,
    /// The property its absence breaks.
    pub property: Option<&'static str>,
    /// The length of the shortest counterexample.
    pub steps: Option<usize>,
    /// The counterexample, one action per line.
    pub trace: Vec<String>,
    /// For `group`: every switch of the group (itself included).
    pub group: Vec<&'static str>,
    /// Off in `hardened`: withdrawn in v1.1.
    pub withdrawn: bool,
    /// The bound on sessions at `A` the counterexample needed (the other bounds are the
    /// defaults).
    pub sessions: u8,
}

/// The whole analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub mitigations: Vec<Mitigation>,
    /// Whether `hardened` holds every property under every capability of each model.
    pub hardened_holds: bool,
    /// Unique states explored, over every search.
    pub states: usize,
    pub seconds: f64,
}

/// The first violation of a model's `always` properties: (property, actions as text, states).
fn first_violation<M>(model: &M) -> (Option<(&'static str, Vec<String>)>, usize)
where
    M: Model,
    M::State: std::hash::Hash,
    M::Action: Clone + std::fmt::Debug,
{
    let props = model.properties();
    let s = bfs("necessity", model, Stop::FirstViolation, None);
    let hit = props
        .iter()
        .zip(&s.found)
        .filter(|(p, f)| p.expectation == Expectation::Always && f.is_some())
        .map(|(p, f)| {
            let path = f.as_ref().expect("filtered");
            (
                p.name,
                path.iter()
                    .map(|a| model.format_action(a))
                    .collect::<Vec<_>>(),
            )
        })
        .min_by_key(|(_, t)| t.len());
    (hit, s.states)
}

/// The bounds the analysis tries, in order: the defaults, then one more session at `A` (a
/// refresh fork needs three: the login's, the attacker's fork and the honest refresh's).
pub fn bounds_tried() -> [Bounds; 2] {
    let d = Bounds::default();
    [
        d,
        Bounds {
            sessions: d.sessions + 1,
            ..d
        },
    ]
}

/// A configuration of one model.
fn violation(
    world: World,
    switches: Switches,
    caps: Capabilities,
    bounds: Bounds,
) -> (Option<(&'static str, Vec<String>)>, usize) {
    match world {
        World::Flow => {
            let m = Tessera {
                switches,
                caps,
                bounds,
            };
            first_violation(&m)
        }
        World::Tickets => first_violation(&Tickets::new(switches, caps)),
    }
}

/// The weakest capabilities under which `switches` break something, if any: a set from which
/// no capability can be dropped (found by dropping capabilities one at a time from all of them,
/// strongest first), or a single capability or none if one suffices; among equals, the one
/// with the shortest counterexample.
fn weakest(world: World, switches: Switches, bounds: Bounds, states: &mut usize) -> Option<Found> {
    let caps: Vec<Capability> = Capability::ALL
        .iter()
        .copied()
        .filter(|c| c.world() == world)
        .collect();
    let mut run = |s: Capabilities| {
        let (v, n) = violation(world, switches, s, bounds);
        *states += n;
        v
    };
    let mut set = Capabilities::all_of(world);
    let mut best = run(set)?;
    // Drop what the attack does not need.
    for &c in caps.iter().rev() {
        let smaller = set.without(c);
        if let Some(v) = run(smaller) {
            set = smaller;
            best = v;
        }
    }
    // A smaller set may exist elsewhere: try none, then each capability alone.
    if set.list().len() > 1 {
        let mut candidates = vec![Capabilities::none()];
        candidates.extend(caps.iter().map(|c| Capabilities::none().with(*c)));
        for s in candidates {
            if s.list().len() >= set.list().len() {
                continue;
            }
            if let Some(v) = run(s) {
                if s.list().len() < set.list().len() || v.1.len() < best.1.len() {
                    set = s;
                    best = v;
                }
            }
        }
    }
    Some((set, best.0, best.1))
}

fn row(w: Switch, verdict: Verdict, found: Option<Found>, group: Vec<&'static str>) -> Mitigation {
    let (capabilities, property, steps, trace) = match found {
        Some((c, p, t)) => (
            c.list().iter().map(|c| c.name()).collect(),
            Some(p),
            Some(t.len()),
            t,
        ),
        None => (Vec::new(), None, None, Vec::new()),
    };
    Mitigation {
        name: w.name(),
        requirements: w.requirements().to_vec(),
        verdict,
        capabilities,
        property,
        steps,
        trace,
        group,
        withdrawn: WITHDRAWN.contains(&w),
        sessions: Bounds::default().sessions,
    }
}

/// Runs the analysis, `threads` searches at a time; `progress` is told each finished switch.
pub fn analyse(threads: usize, progress: Option<&(dyn Fn(&str) + Sync)>) -> Analysis {
    let start = Instant::now();
    let hardened = Variant::hardened().switches;
    let mut states = 0usize;
    // hardened under everything: the withdrawn switches' verdict, and the protocol's claim
    let mut hardened_holds = true;
    for world in [World::Flow, World::Tickets] {
        let (v, n) = violation(
            world,
            hardened,
            Capabilities::all_of(world),
            Bounds::default(),
        );
        states += n;
        hardened_holds &= v.is_none();
    }
    let active: Vec<Switch> = Switch::ALL
        .iter()
        .copied()
        .filter(|w| hardened.on(*w))
        .collect();
    // Each switch at the default bounds; those that break nothing there once more with one
    // more session (the flow model only: the ticket model's bounds are not the issue).
    let singles = parallel(&active, threads, |w| {
        let mut n = 0;
        let [small, larger] = bounds_tried();
        let mut r = weakest(w.world(), hardened.without(*w), small, &mut n).map(|f| (f, small));
        if r.is_none() && w.world() == World::Flow {
            r = weakest(w.world(), hardened.without(*w), larger, &mut n).map(|f| (f, larger));
        }
        if let Some(cb) = progress {
            cb(w.name());
        }
        (*w, r, n)
    });
    let mut rows = Vec::new();
    let mut alone_unjustified = Vec::new();
    for (w, r, n) in singles {
        states += n;
        match r {
            Some((found, b)) => {
                let mut m = row(w, Verdict::Necessary, Some(found), Vec::new());
                m.sessions = b.sessions;
                rows.push(m);
            }
            None => alone_unjustified.push(w),
        }
    }
    // Pairs of switches that matter only together.
    let pairs: Vec<(Switch, Switch)> = alone_unjustified
        .iter()
        .enumerate()
        .flat_map(|(i, a)| alone_unjustified[i + 1..].iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a.world() == b.world())
        .collect();
    let grouped = parallel(&pairs, threads, |(a, b)| {
        let mut n = 0;
        let r = weakest(
            a.world(),
            hardened.without(*a).without(*b),
            Bounds::default(),
            &mut n,
        );
        (*a, *b, r, n)
    });
    let mut in_group: Vec<(Switch, Vec<&'static str>, Option<Found>)> = Vec::new();
    for (a, b, r, n) in grouped {
        states += n;
        if let Some(found) = r {
            for w in [a, b] {
                match in_group.iter_mut().find(|g| g.0 == w) {
                    Some(g) => {
                        let other = if w == a { b } else { a };
                        g.1.push(other.name());
                    }
                    None => {
                        let mut g = vec![a.name(), b.name()];
                        g.sort_unstable();
                        in_group.push((w, g, Some(found.clone())));
                    }
                }
            }
        }
    }
    for w in alone_unjustified {
        match in_group.iter().find(|g| g.0 == w) {
            Some((_, g, found)) => {
                let mut g = g.clone();
                g.sort_unstable();
                g.dedup();
                rows.push(row(w, Verdict::Group, found.clone(), g));
            }
            None => rows.push(row(w, Verdict::Unjustified, None, Vec::new())),
        }
    }
    for &w in WITHDRAWN {
        rows.push(row(
            w,
            if hardened_holds {
                Verdict::Unjustified
            } else {
                Verdict::Necessary
            },
            None,
            Vec::new(),
        ));
    }
    rows.sort_by_key(|r| Switch::ALL.iter().position(|w| w.name() == r.name));
    Analysis {
        mitigations: rows,
        hardened_holds,
        states,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// The markdown table for spec 9.16.
pub fn markdown(a: &Analysis) -> String {
    let mut s = String::from(
        "| mitigation | requirements | verdict | weakest capabilities | property its absence breaks | steps |\n|---|---|---|---|---|---:|\n",
    );
    for m in &a.mitigations {
        let verdict = match m.verdict {
            Verdict::Necessary => "necessary".to_string(),
            Verdict::Group => format!(
                "necessary together with {}",
                m.group
                    .iter()
                    .filter(|g| **g != m.name)
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Verdict::Unjustified if m.withdrawn => "unjustified: withdrawn in v1.1".to_string(),
            Verdict::Unjustified => "**unjustified**".to_string(),
        };
        let caps = if m.verdict == Verdict::Unjustified {
            "—".to_string()
        } else if m.capabilities.is_empty() {
            "none (the web attacker)".to_string()
        } else {
            m.capabilities.join(", ")
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            m.name,
            m.requirements.join(", "),
            verdict,
            caps,
            m.property.unwrap_or("—"),
            match m.steps {
                Some(n) if m.sessions != Bounds::default().sessions =>
                    format!("{n} (with {} sessions)", m.sessions),
                Some(n) => n.to_string(),
                None => "—".to_string(),
            },
        ));
    }
    s
}

/// Plain text: one block per mitigation with its counterexample.
pub fn text(a: &Analysis) -> String {
    let mut s = String::new();
    for m in &a.mitigations {
        let v = match m.verdict {
            Verdict::Necessary => "necessary",
            Verdict::Group => "necessary only in a group",
            Verdict::Unjustified => "unjustified",
        };
        s.push_str(&format!("{} ({}): {v}", m.name, m.requirements.join(", ")));
        if m.withdrawn {
            s.push_str(" (withdrawn in v1.1)");
        }
        s.push('\n');
        if !m.group.is_empty() {
            s.push_str(&format!("  group: {}\n", m.group.join(", ")));
        }
        if let Some(p) = m.property {
            let caps = if m.capabilities.is_empty() {
                "none".to_string()
            } else {
                m.capabilities.join(", ")
            };
            s.push_str(&format!(
                "  capabilities: {caps}\n  breaks: {p}, in {} steps:\n",
                m.trace.len()
            ));
            for (i, t) in m.trace.iter().enumerate() {
                s.push_str(&format!("    {}. {t}\n", i + 1));
            }
        }
    }
    s.push_str(&format!(
        "\nhardened holds every property under every capability: {}\n{} states in {:.1} s\n",
        if a.hardened_holds { "yes" } else { "NO" },
        a.states,
        a.seconds
    ));
    s
}
