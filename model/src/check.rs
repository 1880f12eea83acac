//! The checker behind `tessera-model check` and `necessity`: an exhaustive breadth-first
//! search that keeps, per property, the **first** violating (or witnessing) path in BFS order,
//! which is a shortest one.
//!
//! stateright's own BFS is used by the tests (`assert_properties`, `assert_discovery`, state
//! counts) and by `explore`, but its discoveries are not guaranteed shortest (a later violating
//! state in the same batch can overwrite the stored path), so `check` runs this search instead.
//! It works on any [`stateright::Model`] (the login flow and the ticket world). The two agree
//! on the number of unique states; a test pins that.

use crate::switches::{Capabilities, Variant};
use crate::world::{Action, Bounds, PropertyDef, State, Tessera, PROPERTIES};
use stateright::{Expectation, Model};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::{Duration, Instant};

/// FxHash: a fast non-cryptographic hasher for fingerprints.
#[derive(Default, Clone, Copy, Debug)]
pub struct Fx(u64);
impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn fingerprint<S: Hash>(s: &S) -> u64 {
    let mut h = Fx::default();
    s.hash(&mut h);
    // A final mix, so that similar states spread over the table.
    let x = h.finish();
    let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

/// When a search may stop early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Explore everything.
    Never,
    /// Stop at the end of the BFS level where some `always` property is first violated (the
    /// necessity analysis only needs one shortest counterexample).
    FirstViolation,
    /// Stop at the end of the BFS level where every property has been decided (each `always`
    /// violated, each `sometimes` witnessed): nothing further can change a verdict.
    AllDecided,
}

/// What one search found.
#[derive(Clone, Debug)]
pub struct Search<A> {
    /// Whether every reachable state was explored (false: the search stopped early, and
    /// `states` counts those explored so far).
    pub complete: bool,
    pub states: usize,
    pub transitions: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    /// Per property of the model (in `properties()` order): the shortest path to a violating
    /// (`always`) or witnessing (`sometimes`) state.
    pub found: Vec<Option<Vec<A>>>,
}

/// Progress callback: (variant, unique states, elapsed, depth).
pub type Progress<'a> = &'a (dyn Fn(&str, usize, Duration, usize) + Sync);

/// Exhaustive BFS of a model, keeping the first path to each property's discovery.
pub fn bfs<M>(
    name: &str,
    model: &M,
    stop: Stop,
    progress: Option<Progress<'_>>,
) -> Search<M::Action>
where
    M: Model,
    M::State: Hash,
    M::Action: Clone,
{
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let props = model.properties();
    let mut seen: HashMap<u64, (), BuildHasherDefault<Fx>> = HashMap::default();
    // Per node: its parent node and the action that led to it.
    let mut nodes: Vec<(u32, Option<M::Action>)> = Vec::new();
    let mut found: Vec<Option<u32>> = vec![None; props.len()];
    let mut frontier: Vec<(M::State, u32)> = Vec::new();
    for init in model.init_states() {
        if seen.insert(fingerprint(&init), ()).is_none() {
            nodes.push((u32::MAX, None));
            frontier.push((init, (nodes.len() - 1) as u32));
        }
    }
    let mut depth = 0usize;
    let mut transitions = 0usize;
    let mut complete = true;
    let mut actions = Vec::new();
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for (state, node) in frontier.drain(..) {
            for (i, p) in props.iter().enumerate() {
                if found[i].is_none() {
                    let c = (p.condition)(model, &state);
                    let hit = match p.expectation {
                        Expectation::Always => !c,
                        Expectation::Sometimes => c,
                        Expectation::Eventually => false,
                    };
                    if hit {
                        found[i] = Some(node);
                    }
                }
            }
            actions.clear();
            model.actions(&state, &mut actions);
            for a in actions.drain(..) {
                let Some(s2) = model.next_state(&state, a.clone()) else {
                    continue;
                };
                transitions += 1;
                if seen.insert(fingerprint(&s2), ()).is_none() {
                    nodes.push((node, Some(a)));
                    next.push((s2, (nodes.len() - 1) as u32));
                }
            }
            if let Some(cb) = progress {
                if nodes.len() % 4096 == 0 && last_progress.elapsed() > Duration::from_millis(500) {
                    last_progress = Instant::now();
                    cb(name, nodes.len(), start.elapsed(), depth);
                }
            }
        }
        if stop == Stop::FirstViolation
            && props
                .iter()
                .zip(&found)
                .any(|(p, f)| p.expectation == Expectation::Always && f.is_some())
        {
            complete = next.is_empty();
            break;
        }
        if stop == Stop::AllDecided && found.iter().all(Option::is_some) {
            complete = next.is_empty();
            break;
        }
        if !next.is_empty() {
            depth += 1;
        }
        frontier = next;
    }
    if let Some(cb) = progress {
        cb(name, nodes.len(), start.elapsed(), depth);
    }
    let path_to = |mut n: u32| {
        let mut v = Vec::new();
        while let (parent, Some(a)) = &nodes[n as usize] {
            v.push(a.clone());
            n = *parent;
        }
        v.reverse();
        v
    };
    Search {
        complete,
        states: nodes.len(),
        transitions,
        max_depth: depth,
        elapsed: start.elapsed(),
        found: found.into_iter().map(|f| f.map(path_to)).collect(),
    }
}

/// The verdict on one property of the login flow.
#[derive(Clone, Debug)]
pub struct PropertyResult {
    pub def: &'static PropertyDef,
    /// `always`: no reachable state violates it; `sometimes`: a reachable state witnesses it.
    pub holds: bool,
    /// The shortest counterexample (`always`) or witness (`sometimes`), as actions from the
    /// initial state.
    pub path: Option<Vec<Action>>,
}

/// The result of checking one variant of the login flow.
#[derive(Clone, Debug)]
pub struct VariantReport {
    pub name: String,
    pub model: Tessera,
    /// Whether every reachable state was explored; the search stops once every property is
    /// decided, and `states` then counts the states explored until then.
    pub complete: bool,
    pub states: usize,
    pub transitions: usize,
    pub max_depth: usize,
    pub elapsed: Duration,
    pub properties: Vec<PropertyResult>,
}

impl VariantReport {
    /// Whether some `always` property is violated.
    pub fn violated(&self) -> bool {
        self.properties
            .iter()
            .any(|p| p.def.expectation == crate::world::Expectation::Always && !p.holds)
    }
}

/// Build the login-flow model for a variant.
pub fn model_for(variant: &Variant, caps: Capabilities, bounds: Bounds) -> Tessera {
    let mut m = Tessera::new(variant.switches);
    m.caps = caps;
    m.bounds = bounds;
    m
}

/// BFS of one variant of the login flow, until every property is decided or every reachable
/// state is explored.
pub fn check(name: &str, model: &Tessera, progress: Option<Progress<'_>>) -> VariantReport {
    let s = bfs(name, model, Stop::AllDecided, progress);
    let properties = PROPERTIES
        .iter()
        .zip(s.found)
        .map(|(def, f)| PropertyResult {
            def,
            holds: match def.expectation {
                crate::world::Expectation::Always => f.is_none(),
                crate::world::Expectation::Sometimes => f.is_some(),
            },
            path: f,
        })
        .collect();
    VariantReport {
        name: name.to_string(),
        model: model.clone(),
        complete: s.complete,
        states: s.states,
        transitions: s.transitions,
        max_depth: s.max_depth,
        elapsed: s.elapsed,
        properties,
    }
}

/// Check several variants, `threads` at a time (each variant's search is single-threaded and
/// deterministic). Reports come back in the order of `variants`.
pub fn check_all(
    variants: &[Variant],
    caps: Capabilities,
    bounds: Bounds,
    threads: usize,
    progress: Option<Progress<'_>>,
) -> Vec<VariantReport> {
    let models: Vec<(String, Tessera)> = variants
        .iter()
        .map(|v| (v.name.clone(), model_for(v, caps, bounds)))
        .collect();
    parallel(&models, threads, |(name, m)| check(name, m, progress))
}

/// Runs `f` over `items`, `threads` at a time, keeping the order.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((0..items.len()).map(|_| None).collect::<Vec<Option<R>>>());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1).min(items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("no panics while holding the lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("no poisoned lock")
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// Replay a path of actions from the initial state: the states after each step.
pub fn replay(model: &Tessera, path: &[Action]) -> Vec<State> {
    let mut states = vec![model.initial()];
    for a in path {
        let last = states.last().expect("non-empty");
        let (s, _) = model.step(last, a).expect("a recorded path replays");
        states.push(s);
    }
    states
}

/// A predicate on states (a property's condition, or an attack's goal).
pub type Goal = fn(&Tessera, &State) -> bool;

/// The shortest path (BFS order) to a state satisfying each goal; stops once all are found.
pub fn shortest(model: &Tessera, goals: &[Goal]) -> Vec<Option<Vec<Action>>> {
    let init = model.initial();
    let mut seen: HashMap<u64, (), BuildHasherDefault<Fx>> = HashMap::default();
    let mut nodes: Vec<(u32, Option<Action>)> = vec![(u32::MAX, None)];
    let mut found: Vec<Option<u32>> = vec![None; goals.len()];
    seen.insert(fingerprint(&init), ());
    let mut frontier = vec![(init, 0u32)];
    let mut actions = Vec::new();
    while !frontier.is_empty() && found.iter().any(Option::is_none) {
        let mut next = Vec::new();
        for (state, node) in frontier.drain(..) {
            for (i, g) in goals.iter().enumerate() {
                if found[i].is_none() && g(model, &state) {
                    found[i] = Some(node);
                }
            }
            actions.clear();
            model.all_actions(&state, &mut actions);
            for a in actions.iter() {
                if let Some((s2, _)) = model.step(&state, a) {
                    if seen.insert(fingerprint(&s2), ()).is_none() {
                        nodes.push((node, Some(*a)));
                        next.push((s2, (nodes.len() - 1) as u32));
                    }
                }
            }
        }
        frontier = next;
    }
    found
        .into_iter()
        .map(|f| {
            f.map(|mut n| {
                let mut v = Vec::new();
                while let (parent, Some(a)) = nodes[n as usize] {
                    v.push(a);
                    n = parent;
                }
                v.reverse();
                v
            })
        })
        .collect()
}
