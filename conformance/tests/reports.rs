//! The reports a CI dashboard reads: the JSON report lists every vector with its status and
//! duration, JUnit has one test case per vector (`classname` its group, `name` its id, its
//! requirements as properties, `time`), `--filter` reports coverage of the filtered set
//! honestly, the console summary is printed once, a failure shows the header under test, and
//! the built-in vectors are the checked-in ones.

use serde_json::json;
use tessera_conformance::coverage;
use tessera_conformance::generate::dsl::*;
use tessera_conformance::reference::Reference;
use tessera_conformance::report::Report;
use tessera_conformance::runner::{self, RunResult, Runner, Target, Verdict};
use tessera_conformance::vector::{self, Actor, Expect, Feature, Origin, Vector};
use tessera_conformance::vectors_dir;

fn one(id: &str, requirements: &[&str], steps: Vec<tessera_conformance::vector::Step>) -> Vector {
    vector(
        id,
        "report self-test",
        requirements,
        Origin::Requirement,
        steps,
    )
}

/// A pass, a failure on a header, an unimplemented feature.
fn three() -> Vec<Vector> {
    let pass = one(
        "self.metadata.ok",
        &["TSR-META-1"],
        vec![step(get(
            Actor::Anonymous,
            "/.well-known/tessera-authority",
            Expect::ok(),
        ))],
    );
    let fail = one(
        "self.metadata.header",
        &["TSR-META-2"],
        vec![step(get(
            Actor::Anonymous,
            "/v1/no-such-endpoint",
            Expect::error("not_found").header("x-tessera-under-test", json!("yes")),
        ))],
    );
    let mut absent = one(
        "self.ticket-info",
        &["TSR-DATA-3"],
        vec![step(get(ticket("$t1"), "/v1/ticket/nothing", Expect::ok()))],
    );
    absent.steps.splice(0..0, login("1"));
    absent.features = vec![Feature::TicketInfo];
    vec![pass, fail, absent]
}

async fn run(vectors: &[Vector]) -> RunResult {
    let server = Reference::start()
        .await
        .expect("reference Authority starts");
    let target = Target::connect(&server.url()).await.expect("connect");
    let mut runner = Runner::new(target, vec![]);
    let result = runner::run_all(&mut runner, vectors, |_, _| {}).await;
    server.stop().await;
    result
}

/// Durations vary from run to run: replaced before the snapshot.
fn without_times(junit: &str) -> String {
    let mut out = String::new();
    let mut rest = junit;
    while let Some(i) = rest.find(" time=\"") {
        out.push_str(&rest[..i]);
        out.push_str(" time=\"[t]\"");
        let after = &rest[i + 7..];
        rest = &after[after.find('"').expect("closing quote") + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_junit_list_every_vector_with_status_and_time() {
    let vectors = three();
    let result = run(&vectors).await;
    assert!(result.runs.iter().all(|r| r.duration.as_nanos() > 0));
    let report = Report::new("reference", &result);
    assert_eq!(
        (
            report.passed,
            report.failed,
            report.unimplemented,
            report.deviations
        ),
        (1, 1, 1, 0)
    );

    // the failure shows the header it was about, here absent
    let failure = &report.failures[0];
    let actual = failure.actual.as_deref().expect("actual response");
    assert!(actual.contains("(x-tessera-under-test absent)"), "{actual}");
    assert!(actual.starts_with("404 "), "{actual}");

    insta::assert_json_snapshot!("report_results", report.results, {
        "[].seconds" => "[seconds]",
    });
    insta::assert_snapshot!("report_junit", without_times(&report.junit()));

    // the times are real numbers, not left out
    let junit = report.junit();
    assert_eq!(junit.matches("<testcase ").count(), 3);
    assert!(!junit.contains("time=\"0.000\"") || result.elapsed.as_millis() == 0);
    let json = serde_json::to_value(&report).expect("json");
    assert!(json["results"][0]["seconds"]
        .as_f64()
        .is_some_and(|s| s > 0.0));

    // the summary, once
    let console = report.console();
    assert_eq!(console.matches(" vectors against ").count(), 1, "{console}");
    assert_eq!(
        console
            .lines()
            .filter(|l| l.starts_with("requirements: "))
            .count(),
        1,
        "{console}"
    );
    assert!(console.contains("FAILED self.metadata.header"), "{console}");
}

#[test]
fn a_filtered_run_reports_the_requirements_of_the_other_vectors_as_filtered_out() {
    let all = vector::load_dir(&vectors_dir()).expect("load");
    let (selected, left_out): (Vec<Vector>, Vec<Vector>) = all
        .into_iter()
        .partition(|v| tessera_conformance::glob_match("hawk.subject.*", &v.id));
    assert!(!selected.is_empty());
    // as if every selected vector had passed
    let verdicts: Vec<(Vector, Verdict)> =
        selected.into_iter().map(|v| (v, Verdict::Passed)).collect();
    let filtered = coverage::compute(verdicts.iter().map(|(v, r)| (v, r)), &left_out);
    let unfiltered = coverage::compute(verdicts.iter().map(|(v, r)| (v, r)), &[]);

    // without the left-out set, what only the other vectors cite shows as uncovered with no
    // reason; with it, each of those is filtered out instead
    let only_elsewhere: Vec<&str> = unfiltered
        .uncovered
        .iter()
        .filter(|u| u.reason.starts_with("no vector"))
        .map(|u| u.id.as_str())
        .collect();
    assert!(only_elsewhere.len() > 5, "{only_elsewhere:?}");
    assert_eq!(filtered.filtered_out, only_elsewhere);
    assert!(unfiltered.filtered_out.is_empty());
    let unexplained: Vec<&str> = filtered
        .uncovered
        .iter()
        .filter(|u| u.reason.starts_with("no vector"))
        .map(|u| u.id.as_str())
        .collect();
    assert!(unexplained.is_empty(), "{unexplained:?}");
    // and what the filtered vectors cover is still covered
    assert!(filtered.covered.iter().any(|r| r == "TSR-HAWK-9"));
}

#[test]
fn the_built_in_vectors_are_the_checked_in_ones() {
    let on_disk = vector::load_dir(&vectors_dir()).expect("load");
    let built_in = vector::embedded().expect("built-in vectors parse");
    assert_eq!(built_in.len(), on_disk.len());
    assert!(
        built_in == on_disk,
        "rebuild: the built-in vectors are stale"
    );
}

#[test]
fn the_binary_runs_its_built_in_vectors_away_from_the_checkout() {
    let dir = std::env::temp_dir().join(format!("tessera-conf-away-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-conformance"))
        .args(["list", "--filter", "hawk.subject.*"])
        .current_dir(&dir)
        .output()
        .expect("run the binary");
    let _ = std::fs::remove_dir(&dir);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("hawk.subject.replay\t"), "{text}");
}
