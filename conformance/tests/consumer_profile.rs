//! The Consumer profile (spec A.6), held to it twice: the reference Consumer (the demo Consumer
//! on the Rust Consumer library) and the Node.js Consumer of `conformance/consumer-node/`, written
//! from the spec alone, pass every scenario; the Node.js Consumer with one check removed
//! (`TESSERA_SKIP_CHECK`) fails, and the report names the requirement.
//!
//! The Node.js tests need node (v20) and `npm ci --prefix conformance/consumer-node` (`.ci/setup`
//! runs it): without them they skip, loudly, except under `CI=true`, where they fail.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tessera_conformance::consumer::reference::ReferenceConsumer;
use tessera_conformance::consumer::{self, run, scenario};
use tessera_conformance::report::{failure_text, Report};
use tessera_conformance::requirements;
use tessera_conformance::runner::{Deviation, RunResult, Verdict};

/// The reference Consumer's known deviations (`conformance/consumer-known-deviations.json`).
fn reference_deviations() -> Vec<Deviation> {
    serde_json::from_str(include_str!("../consumer-known-deviations.json"))
        .expect("consumer-known-deviations.json")
}

async fn run_against(url: &str, filter: Option<&str>) -> (Vec<scenario::Scenario>, RunResult) {
    run_with(url, filter, vec![]).await
}

async fn run_with(
    url: &str,
    filter: Option<&str>,
    deviations: Vec<Deviation>,
) -> (Vec<scenario::Scenario>, RunResult) {
    let scenarios: Vec<_> = scenario::embedded()
        .expect("the built-in scenarios parse")
        .into_iter()
        .filter(|s| filter.is_none_or(|f| tessera_conformance::glob_match(f, &s.id)))
        .collect();
    let suite = run::Suite::start(url, deviations)
        .await
        .expect("the suite starts A and M");
    let result = run::run_all(&suite, &scenarios, |_, _| {}).await;
    suite.stop().await;
    (scenarios, result)
}

fn failures(result: &RunResult) -> Vec<String> {
    result
        .runs
        .iter()
        .filter_map(|r| match &r.verdict {
            Verdict::Failed(f) => Some(failure_text(f)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_reference_consumer() {
    let c = ReferenceConsumer::start()
        .await
        .expect("reference Consumer");
    let deviations = reference_deviations();
    let (scenarios, result) = run_with(&c.url(), None, deviations.clone()).await;
    c.stop().await;
    // a listed deviation that no longer happens is stale: remove it
    for d in &deviations {
        let still = result
            .runs
            .iter()
            .any(|r| d.applies_to(&r.vector.id) && matches!(r.verdict, Verdict::Deviation { .. }));
        assert!(
            still,
            "consumer-known-deviations.json lists {}, which now passes: remove it",
            d.vector
        );
    }
    let failed = failures(&result);
    assert!(
        failed.is_empty(),
        "{} of {} scenarios failed against the reference Consumer:\n{}",
        failed.len(),
        scenarios.len(),
        failed.join("\n")
    );
    assert!(scenarios.len() >= 40, "only {} scenarios", scenarios.len());
}

/// Every TSR-CONSUMER requirement is cited by a scenario or explained in
/// `consumer-uncovered.json`; the reasons are not stale; every cited requirement exists; and
/// every Consumer-side switch of the model has a negative scenario (its counterexample).
#[test]
fn the_scenarios_account_for_every_consumer_requirement_and_switch() {
    let scenarios = scenario::embedded().expect("the built-in scenarios parse");
    let on_disk = scenario::load_dir(&scenario::dir()).expect("consumer-vectors/ parses");
    assert!(
        scenarios == on_disk,
        "rebuild: consumer-vectors/ changed since this binary was built"
    );
    let index = requirements::index();
    let mut ids = BTreeSet::new();
    for s in &scenarios {
        assert!(ids.insert(s.id.clone()), "{} appears twice", s.id);
        assert!(!s.requirements.is_empty(), "{} cites no requirement", s.id);
        for r in &s.requirements {
            assert!(index.get(r).is_some(), "{} cites {r}, not in spec/", s.id);
        }
    }
    let planned = consumer::planned(&scenarios);
    let unexplained: Vec<_> = planned
        .uncovered
        .iter()
        .filter(|u| !consumer::uncovered_reasons().contains_key(&u.id))
        .map(|u| u.id.clone())
        .collect();
    assert!(
        unexplained.is_empty(),
        "Consumer requirements neither covered by a scenario nor explained in conformance/consumer-uncovered.json: {unexplained:?}"
    );
    for id in consumer::uncovered_reasons().keys() {
        assert!(
            index.get(id).is_some(),
            "consumer-uncovered.json names {id}, not in spec/"
        );
        assert!(
            !planned.covered.contains(id),
            "consumer-uncovered.json gives a reason for {id}, but a scenario covers it"
        );
    }
    for r in index
        .ids()
        .into_iter()
        .filter(|i| i.starts_with("TSR-CONSUMER-"))
    {
        assert!(
            planned.covered.iter().any(|c| c == r) || consumer::uncovered_reasons().contains_key(r),
            "{r} is not accounted for"
        );
    }
    // the model's Consumer-side switches (those standing for a TSR-CONSUMER requirement still in
    // force) each have a scenario replaying their counterexample against the Consumer
    use tessera_model::switches::Switch;
    let consumer_side = tessera_conformance::generate::consumer::consumer_side_switches();
    assert!(consumer_side.len() >= 7, "{consumer_side:?}");
    for w in &consumer_side {
        let negative = scenarios.iter().filter(|s| {
            matches!(&s.origin, scenario::Origin::ModelSwitch { switch, .. } if switch == w.name())
        });
        let n = negative.count();
        assert!(
            n > 0,
            "the model's Consumer-side switch {} has no scenario (origin model-switch)",
            w.name()
        );
    }
    for s in &scenarios {
        if let scenario::Origin::ModelSwitch { switch, attack } = &s.origin {
            if let Some(a) = attack {
                assert!(
                    tessera_model::attacks::by_name(a).is_some(),
                    "{}: the model has no attack {a}",
                    s.id
                );
            }
            let w = Switch::by_name(switch)
                .unwrap_or_else(|| panic!("{}: no model switch {switch}", s.id));
            assert!(
                consumer_side.contains(&w),
                "{}: {switch} is not a Consumer-side switch",
                s.id
            );
            assert!(
                s.requirements
                    .iter()
                    .any(|r| w.requirements().contains(&r.as_str())),
                "{}: cites none of switch {switch}'s requirements {:?}",
                s.id,
                w.requirements()
            );
        }
    }
}

/// The checked-in scenarios are what `tessera-conformance generate` writes
/// (`conformance/src/generate/consumer.rs`); `TESSERA_REGENERATE=1` rewrites them.
#[test]
fn checked_in_scenarios_are_fresh() {
    let dir = scenario::dir();
    if std::env::var_os("TESSERA_REGENERATE").is_some() {
        tessera_conformance::generate::consumer::write(&dir).expect("write scenarios");
    }
    let generated = tessera_conformance::generate::consumer::scenarios()
        .expect("every Consumer-side switch has a scenario");
    let mut stale = Vec::new();
    let mut names = BTreeSet::new();
    for s in &generated {
        let name = format!("{}.json", s.id);
        let text = tessera_conformance::generate::consumer::to_file_text(s);
        match std::fs::read_to_string(dir.join(&name)) {
            Ok(t) if t == text => {}
            Ok(_) => stale.push(format!("differs: {name}")),
            Err(_) => stale.push(format!("missing: {name}")),
        }
        names.insert(name);
    }
    for entry in std::fs::read_dir(&dir).expect("consumer-vectors/ exists") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") && !names.contains(&name) {
            stale.push(format!("not generated any more: {name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "conformance/consumer-vectors/ is stale; run `cargo run -p tessera-conformance -- generate`:\n{}",
        stale.join("\n")
    );
}

/// `consumer-scenario.schema.json` names every member the scenarios use, and every value of
/// the enumerations the attacker's Authority understands.
#[test]
fn the_schema_names_every_member_the_scenarios_use() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("consumer-scenario.schema.json"),
        )
        .expect("conformance/consumer-scenario.schema.json"),
    )
    .expect("the schema is JSON");
    let text = schema.to_string();
    let mut missing = BTreeSet::new();
    for s in scenario::embedded().expect("scenarios") {
        let j = serde_json::to_value(&s).expect("json");
        let mut keys = BTreeSet::new();
        structural_keys(&j, &mut keys);
        for k in keys {
            if !text.contains(&format!("\"{k}\"")) {
                missing.insert(k);
            }
        }
        for v in j["attacker"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|v| v.is_string())
        {
            if !text.contains(&v.to_string()) {
                missing.insert(v.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "used by scenarios but absent from the schema: {missing:?}"
    );
}

/// Keys of the format itself, not of the free JSON inside `logged_in`, `other_logged_in`,
/// `change`, `bind`, `data`.
fn structural_keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if !matches!(
                    k.as_str(),
                    "logged_in" | "other_logged_in" | "change" | "bind" | "data"
                ) {
                    structural_keys(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| structural_keys(x, out)),
        _ => {}
    }
}

/// `run --profile consumer` with `--filter`, `--report-json` and `--junit`, against the
/// reference Consumer: the reports of A.5.5, the profile named, the filtered-out requirements
/// reported as such.
#[test]
fn the_cli_writes_the_reports_of_the_authority_profile() {
    let dir = std::env::temp_dir().join(format!("tessera-cprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, junit) = (dir.join("report.json"), dir.join("junit.xml"));
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-conformance"))
        .args([
            "run",
            "--profile",
            "consumer",
            "--quiet",
            "--filter",
            "consumer.login.*",
        ])
        .arg("--report-json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["profile"], "consumer");
    assert_eq!(report["failed"], 0);
    let n = report["vectors"].as_u64().unwrap();
    assert!(n >= 5, "{report}");
    assert_eq!(report["results"].as_array().unwrap().len() as u64, n);
    assert!(report["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "passed" && r["group"] == "consumer.login"));
    let filtered: Vec<&str> = report["requirements"]["filtered_out"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(filtered.contains(&"TSR-CONSUMER-4"), "{filtered:?}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("classname=\"consumer.login\" name=\"consumer.login.honest\""));
    assert!(junit.contains("<property name=\"requirement\" value=\"TSR-CONSUMER-10\"/>"));
    assert!(junit.contains("<property name=\"profile\" value=\"consumer\"/>"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tessera-conformance reference-consumer` serves the reference Consumer in test mode and
/// prints its URL; `run --profile consumer --target URL` passes against it.
#[test]
fn the_cli_serves_the_reference_consumer_for_a_run_against_it() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_tessera-conformance"))
        .arg("reference-consumer")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start reference-consumer");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("it prints its URL");
    let url = line.trim().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-conformance"))
        .args(["run", "--profile", "consumer", "--quiet", "--target", &url])
        .args(["--filter", "consumer.refresh.*"])
        .output()
        .expect("run the CLI");
    let _ = server.kill();
    let _ = server.wait();
    assert!(url.starts_with("http://127.0.0.1:"), "printed {line:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("9 passed, 0 failed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- the Node.js Consumer ------------------------------------------------------------------

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("consumer-node")
}

/// Whether node and the pinned npm packages are there: skips (loudly) without them, except under
/// `CI=true`.
fn node_available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = node_dir().join("node_modules/hawk/package.json").exists();
    if node && installed {
        return true;
    }
    let msg = if node {
        "the npm packages are not installed: run `npm ci --prefix conformance/consumer-node` (.ci/setup does it)"
    } else {
        "node is missing (install node v20, then `npm ci --prefix conformance/consumer-node`)"
    };
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "the Node.js Consumer test cannot run under CI: {msg}"
    );
    eprintln!("\n!!! SKIPPING the Node.js Consumer test: {msg}\n");
    false
}

/// A running Node.js Consumer in test mode; killed when dropped.
struct NodeConsumer {
    child: Child,
    url: String,
}

impl NodeConsumer {
    fn start(skip_check: Option<&str>) -> NodeConsumer {
        Self::start_in(true, skip_check)
    }

    fn start_in(test_mode: bool, skip_check: Option<&str>) -> NodeConsumer {
        let mut cmd = Command::new("node");
        cmd.arg("consumer.js")
            .current_dir(node_dir())
            .env("TESSERA_TEST_MODE", if test_mode { "1" } else { "0" })
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(c) = skip_check {
            cmd.env("TESSERA_SKIP_CHECK", c);
        }
        let mut child = cmd.spawn().expect("start node consumer.js");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("node prints its URL");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "node printed {line:?}"
        );
        NodeConsumer { child, url }
    }
}

impl Drop for NodeConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_node_consumer() {
    if !node_available() {
        return;
    }
    let node = NodeConsumer::start(None);
    let (scenarios, result) = run_against(&node.url, None).await;
    let failed = failures(&result);
    assert!(
        failed.is_empty(),
        "{} of {} scenarios failed against the Node.js Consumer:\n{}",
        failed.len(),
        scenarios.len(),
        failed.join("\n")
    );
}

/// spec TSR-CONF-7: outside test mode the Node.js Consumer has no `/tessera-test/` endpoint
/// (a reset there would let anyone reconfigure its Authorities).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_consumer_has_no_test_mode_unless_started_in_it() {
    if !node_available() {
        return;
    }
    let node = NodeConsumer::start_in(false, None);
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/tessera-test/consumer"),
        ("POST", "/tessera-test/reset"),
        ("GET", "/tessera-test/session"),
        ("POST", "/tessera-test/refresh"),
    ] {
        let r = http
            .request(method.parse().unwrap(), format!("{}{path}", node.url))
            .body("{\"authorities\": []}")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 404, "{method} {path}");
    }
    let r = http
        .get(format!("{}/login", node.url))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200, "the Consumer itself still serves");
}

/// Each check removed from the Node.js Consumer makes the profile fail, and the report names
/// the requirement the check stands for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_consumer_without_one_check_fails_naming_the_requirement() {
    if !node_available() {
        return;
    }
    let cases = [
        ("issuer", "TSR-CONSUMER-4"),
        ("state", "TSR-CONSUMER-13"),
        ("binding", "TSR-CONSUMER-3"),
        ("pending-once", "TSR-CONSUMER-6"),
        ("issuer-keyed", "TSR-CONSUMER-10"),
        ("start-csrf", "TSR-CONSUMER-14"),
        ("server-authorization", "TSR-HAWK-13"),
        ("result-shape", "TSR-CONSUMER-7"),
        ("metadata", "TSR-META-1"),
        ("tsm", "TSR-HAWK-8"),
        ("refresh-single-flight", "TSR-CONSUMER-15"),
        ("refresh-replace-sid", "TSR-CONSUMER-11"),
        ("refresh-logout", "TSR-CONSUMER-11"),
    ];
    for (check, requirement) in cases {
        let node = NodeConsumer::start(Some(check));
        let (scenarios, result) = run_against(&node.url, None).await;
        drop(node);
        let report = Report::new("node", &result);
        assert!(
            report.failed > 0,
            "the Node.js Consumer without its {check} check passed every scenario"
        );
        let named: BTreeSet<&str> = report
            .failures
            .iter()
            .flat_map(|f| f.requirements.iter().map(String::as_str))
            .collect();
        assert!(
            named.contains(requirement),
            "without its {check} check the failures name {named:?}, not {requirement}"
        );
        assert!(
            report.console().contains(requirement),
            "the console report does not name {requirement}"
        );
        // only scenarios about that check fail: the rest still pass
        assert!(
            report.passed >= scenarios.len() / 2,
            "without {check}: {} of {} passed",
            report.passed,
            scenarios.len()
        );
    }
}
