//! The model's acceptance tests: `hardened` (spec v1.1) holds under every capability, `v1`
//! shows the findings of the hostile review as readable counterexamples, every named attack is
//! a real discovery and pinned, the necessity table and the attack matrix are in sync with the
//! spec, and the state counts are pinned.

use stateright::{Checker, Model};
use std::sync::OnceLock;
use tessera_model::attacks::{self, ATTACKS};
use tessera_model::check::{check, check_all, model_for, VariantReport};
use tessera_model::switches::{Capabilities, Capability, Switch, Variant, World};
use tessera_model::tickets::{Tickets, TICKET_PROPERTIES};
use tessera_model::world::*;

fn model(name: &str, caps: Capabilities) -> Tessera {
    model_for(
        &Variant::by_name(name).expect("variant"),
        caps,
        Bounds::default(),
    )
}

/// The whole matrix under the default capabilities, checked once per test binary.
pub fn matrix() -> &'static Vec<VariantReport> {
    static M: OnceLock<Vec<VariantReport>> = OnceLock::new();
    M.get_or_init(|| {
        check_all(
            &Variant::all(),
            Capabilities::default(),
            Bounds::default(),
            2,
            None,
        )
    })
}

fn report(name: &str) -> &'static VariantReport {
    matrix()
        .iter()
        .find(|r| r.name == name)
        .expect("variant in matrix")
}

#[test]
fn hardened_holds_every_property_with_stateright() {
    let checker = model("hardened", Capabilities::default())
        .checker()
        .threads(2)
        .spawn_bfs()
        .join();
    checker.assert_properties();
    assert_eq!(checker.unique_state_count(), 152_942);
}

#[test]
fn own_bfs_agrees_with_stateright_on_state_counts() {
    for (name, caps) in [
        ("hardened", Capabilities::default()),
        ("hardened", Capabilities::none().with(Capability::Leaks)),
        ("hardened", Capabilities::none().with(Capability::Theft)),
    ] {
        let m = model(name, caps);
        let sr = m.clone().checker().spawn_bfs().join();
        sr.assert_properties();
        assert_eq!(
            sr.unique_state_count(),
            check(name, &m, None).states,
            "{name} under {}",
            caps.names()
        );
    }
}

#[test]
fn pinned_state_counts() {
    let counts: Vec<(&str, usize)> = matrix()
        .iter()
        .map(|r| (r.name.as_str(), r.states))
        .collect();
    for (name, n) in [("v1", 353_460), ("hardened", 152_942)] {
        let got = counts.iter().find(|(v, _)| *v == name).map(|c| c.1);
        assert_eq!(got, Some(n), "{name}");
    }
}

/// The protocol's claim: spec v1.1 holds every property under every capability of the login
/// flow at once (and so under every subset: capabilities only add behaviour).
#[test]
fn hardened_holds_under_every_capability() {
    let m = model("hardened", Capabilities::all_of(World::Flow));
    let r = check("hardened", &m, None);
    for p in &r.properties {
        assert!(
            p.holds,
            "hardened under all capabilities: {} does not hold",
            p.def.name
        );
    }
    let t = Tickets::new(
        Variant::hardened().switches,
        Capabilities::all_of(World::Tickets),
    );
    let s = tessera_model::check::bfs("tickets", &t, tessera_model::check::Stop::Never, None);
    for (p, f) in TICKET_PROPERTIES.iter().zip(&s.found) {
        match p.expectation {
            Expectation::Always => assert!(f.is_none(), "tickets: {} is violated: {f:?}", p.name),
            Expectation::Sometimes => assert!(f.is_some(), "tickets: witness {} not found", p.name),
        }
    }
}

#[test]
fn witnesses_are_found_in_every_variant() {
    for r in matrix() {
        for p in r
            .properties
            .iter()
            .filter(|p| p.def.expectation == Expectation::Sometimes)
        {
            assert!(p.holds, "{}: witness {} not found", r.name, p.def.name);
        }
    }
}

#[test]
fn every_always_property_has_a_witness_and_cites_existing_requirements() {
    let defined: Vec<String> = tessera_requirements();
    for p in PROPERTIES
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
    {
        let w = p.witness.expect("an always has a witness");
        assert!(
            property(w).is_some_and(|d| d.expectation == Expectation::Sometimes),
            "{w}"
        );
    }
    for p in TICKET_PROPERTIES
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
    {
        let w = p.witness.expect("an always has a witness");
        assert!(
            TICKET_PROPERTIES
                .iter()
                .any(|d| d.name == w && d.expectation == Expectation::Sometimes),
            "{w}"
        );
    }
    let cited = PROPERTIES
        .iter()
        .flat_map(|p| p.requirements.iter())
        .chain(TICKET_PROPERTIES.iter().flat_map(|p| p.requirements.iter()))
        .chain(Switch::ALL.iter().flat_map(|w| w.requirements().iter()));
    for id in cited {
        assert!(
            defined.iter().any(|d| d == id),
            "{id} is cited by the model but not defined in spec/"
        );
    }
}

/// The requirement IDs spec/*.md defines (`**[TSR-…]**`), read without depending on the
/// conformance crate.
fn tessera_requirements() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("spec/") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "md") {
            let text = std::fs::read_to_string(&path).expect("readable");
            for part in text.split("**[").skip(1) {
                if let Some(id) = part.split("]**").next() {
                    out.push(id.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn bounds_are_range_checked() {
    assert!(Bounds::default().validate().is_ok());
    for b in [
        Bounds {
            logins: 9,
            ..Bounds::default()
        },
        Bounds {
            sessions: 17,
            ..Bounds::default()
        },
        Bounds {
            requests: 33,
            ..Bounds::default()
        },
        Bounds {
            logins: 0,
            ..Bounds::default()
        },
    ] {
        assert!(b.validate().is_err(), "{b:?}");
    }
}

// ----- the findings against v1, and every named attack ----------------------------------------

/// The three findings of the hostile review, each a counterexample in `v1` under the named
/// capabilities, and refused by `hardened` under the same capabilities.
#[test]
fn v1_shows_the_three_findings_and_hardened_refuses_them() {
    for name in [
        "v1-fixation-despite-burn",
        "v1-replay-across-instances",
        "v1-delegation-beyond-consent",
    ] {
        let a = attacks::by_name(name).expect("named attack");
        assert_eq!(a.variant, "v1");
        assert!(attacks::find(a).is_some(), "{name} is not found in v1");
        let mut hardened = *a;
        hardened.variant = "hardened";
        assert!(
            attacks::find(&hardened).is_none(),
            "{name} is still possible in hardened"
        );
    }
    // The fixation needs both capabilities: without refusal the burn is timely.
    let mut no_refusal = *attacks::by_name("v1-fixation-despite-burn").expect("attack");
    no_refusal.capabilities = &[Capability::Capture];
    assert!(attacks::find(&no_refusal).is_none());
    // The replay needs a second instance with its own replay cache.
    let mut one = *attacks::by_name("v1-replay-across-instances").expect("attack");
    one.capabilities = &[Capability::Capture];
    assert!(attacks::find(&one).is_none());
}

#[test]
fn named_attacks_are_found_and_pinned() {
    for a in ATTACKS {
        let text = tessera_model::render::attack(a, false, false)
            .unwrap_or_else(|e| panic!("{}: {e}", a.name));
        assert!(
            text.contains("==> here"),
            "{}: the breaking step is not marked",
            a.name
        );
        insta::assert_snapshot!(format!("attack-{}", a.name), text);
    }
}

#[test]
fn named_attacks_violate_the_property_they_name() {
    for a in ATTACKS {
        if let attacks::Target::Flow(_) = a.target {
            let m = attacks::model_of(a);
            let path = attacks::flow_path(a).unwrap_or_else(|| panic!("{} not found", a.name));
            let end = tessera_model::check::replay(&m, &path)
                .pop()
                .expect("a state");
            let def =
                property(a.violates).unwrap_or_else(|| panic!("{}: unknown property", a.name));
            assert!(
                !(def.condition)(&m, &end),
                "{}: its end state satisfies {}",
                a.name,
                a.violates
            );
        }
    }
}

#[test]
fn every_hardened_minus_variant_under_default_capabilities() {
    // Under the default capabilities (capture, theft), these break something; the others need
    // a capability of their own, a partner switch off, or (rotation) a third session: the
    // necessity analysis says which.
    let breaks_with_capture = [
        Switch::Hawk,
        Switch::Nonce,
        Switch::Code,
        Switch::Binding,
        Switch::State,
        Switch::PendingOnce,
        Switch::StartCsrf,
        Switch::IssuerKeyed,
        Switch::ReuseDetection,
        Switch::Expiry,
    ];
    for w in Switch::ALL
        .iter()
        .filter(|w| Variant::hardened().switches.on(**w) && w.world() == World::Flow)
    {
        let r = report(&Variant::hardened_minus(*w).name);
        assert_eq!(r.violated(), breaks_with_capture.contains(w), "{}", r.name);
    }
}

#[test]
fn exchanges_name_kind_authority_values_and_outcome() {
    let m = model("hardened", Capabilities::default());
    let path = attacks_path(&m, w_login_goal);
    let st = tessera_model::check::replay(&m, &path);
    let kinds: Vec<RequestKind> = path
        .iter()
        .zip(&st)
        .filter_map(|(a, s)| a.exchange(&m, s))
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            RequestKind::Handshake,
            RequestKind::Authorize,
            RequestKind::Result
        ]
    );
    let hs = path[0].exchange(&m, &st[0]).expect("handshake");
    assert_eq!(hs.state, Some(0), "v1.1 sends the state");
    assert_eq!(hs.challenge, None, "v1.1 has no PKCE");
}

fn w_login_goal(_: &Tessera, s: &State) -> bool {
    s.browsers[0]
        .logged_in
        .as_ref()
        .is_some_and(|l| l.vouched_by == Auth::A && l.subject == Subject::U)
}

fn attacks_path(m: &Tessera, goal: tessera_model::check::Goal) -> Vec<Action> {
    tessera_model::check::shortest(m, &[goal])
        .pop()
        .flatten()
        .expect("reachable")
}

// ----- tables in README.md and spec/09 --------------------------------------------------------

fn sync_region(region: &str, begin: &str, end: &str, files: &[&str], how: &str) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let update = std::env::var_os("TESSERA_UPDATE_MATRIX").is_some();
    for file in files {
        let path = format!("{root}/{file}");
        let text = std::fs::read_to_string(&path).expect("readable");
        let b = text
            .find(begin)
            .unwrap_or_else(|| panic!("{file} has no {begin} ... {end} region"))
            + begin.len();
        let e = text[b..].find(end).expect("region end") + b;
        let want = format!("{}\n{}{}", &text[..b], region, &text[e..]);
        if want != text {
            if update {
                std::fs::write(&path, want).expect("writable");
            } else {
                panic!("the table in {file} is out of date; regenerate it with `TESSERA_UPDATE_MATRIX=1 {how}`");
            }
        }
    }
}

#[test]
fn attack_matrix_in_sync() {
    let md = tessera_model::render::markdown(matrix());
    insta::assert_snapshot!("attack-matrix", md);
    sync_region(
        &md,
        "<!-- attack-matrix:begin -->",
        "<!-- attack-matrix:end -->",
        &["README.md", "spec/09-security-considerations.md"],
        "cargo test -p tessera-model --test model attack_matrix_in_sync",
    );
}

#[test]
fn necessity_table_in_sync() {
    let a = tessera_model::necessity::analyse(2, None);
    assert!(a.hardened_holds, "hardened breaks under some capability");
    let md = tessera_model::necessity::markdown(&a);
    insta::assert_snapshot!("necessity", md);
    sync_region(
        &md,
        "<!-- necessity:begin -->",
        "<!-- necessity:end -->",
        &["spec/09-security-considerations.md"],
        "cargo test -p tessera-model --test model necessity_table_in_sync",
    );
    // Every mitigation still in the protocol is justified by some capability (spec 9.16);
    // one that is not is a regression of the model or a mitigation to withdraw.
    let open: Vec<&str> = a
        .mitigations
        .iter()
        .filter(|m| m.verdict == tessera_model::necessity::Verdict::Unjustified && !m.withdrawn)
        .map(|m| m.name)
        .collect();
    assert_eq!(
        open,
        Vec::<&str>::new(),
        "unjustified and still in the protocol"
    );
    for m in a.mitigations.iter().filter(|m| m.withdrawn) {
        assert_eq!(
            m.verdict,
            tessera_model::necessity::Verdict::Unjustified,
            "{}",
            m.name
        );
    }
}
