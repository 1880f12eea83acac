//! The whole suite against the reference Authority, started in process in conformance mode and
//! reached over HTTP only. Every failure is reported, not just the first. Also: the runner
//! itself notices wrong expectations, unimplemented features and known deviations.

use serde_json::json;
use tessera_conformance::generate::dsl::*;
use tessera_conformance::reference::Reference;
use tessera_conformance::report::{failure_text, Report};
use tessera_conformance::runner::{self, Deviation, Runner, Target, Verdict};
use tessera_conformance::vector::{Expect, Feature, Origin, Vector};
use tessera_conformance::{vector, vectors_dir};

async fn runner(deviations: Vec<Deviation>) -> (Reference, Runner) {
    let r = Reference::start_fenced()
        .await
        .expect("reference Authority starts");
    let target = Target::connect(&r.url()).await.expect("connect");
    (r, Runner::new(target, deviations))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_passes_against_the_reference_authority() {
    let vectors = vector::load_dir(&vectors_dir()).expect("load vectors");
    let deviations: Vec<Deviation> = serde_json::from_str(include_str!("../known-deviations.json"))
        .expect("known-deviations.json");
    let (server, mut runner) = runner(deviations).await;
    let result = runner::run_all(&mut runner, &vectors, |_, _| {}).await;
    server.stop().await;
    let report = Report::new("reference", &result);
    eprintln!("{}", report.console());
    let failures: Vec<String> = report.failures.iter().map(failure_text).collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed against the reference Authority:\n{}",
        failures.len(),
        report.vectors,
        failures.join("\n")
    );
    assert_eq!(
        report.unimplemented, 0,
        "the reference Authority implements every feature"
    );
}

fn one(id: &str, steps: Vec<tessera_conformance::vector::Step>) -> Vector {
    vector(
        id,
        "runner self-test",
        &["TSR-RESULT-3"],
        Origin::Requirement,
        steps,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_reports_a_wrong_expectation_at_its_step() {
    let (server, mut runner) = runner(vec![]).await;
    // result of a pending session is 400 authorization_pending, not 200
    let v = one(
        "self.wrong",
        vec![
            handshake("1"),
            step(post(
                consumer(C),
                "/v1/result",
                json!({"sid": "$sid1", "code": "$random:c"}),
                Expect::ok(),
            )),
        ],
    );
    let verdict = runner.run(&v).await;
    server.stop().await;
    match verdict {
        Verdict::Failed(f) => {
            assert_eq!(f.step, 2);
            assert!(f.message.contains("authorization_pending"), "{}", f.message);
            assert!(f
                .request
                .as_deref()
                .is_some_and(|r| r.starts_with("POST /v1/result")));
            assert!(f.actual.as_deref().is_some_and(|a| a.starts_with("400")));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unimplemented_features_and_known_deviations_are_not_failures() {
    let (server, mut runner) = runner(vec![Deviation {
        vector: "self.dev*".into(),
        reason: "documented".into(),
    }])
    .await;
    let mut absent = one(
        "self.absent",
        vec![step(get(ticket("$t1"), "/v1/ticket/nothing", Expect::ok()))],
    );
    absent.steps.splice(0..0, login("1"));
    absent.features = vec![Feature::TicketInfo];
    let dev = one(
        "self.deviation",
        vec![step(get(consumer(C), "/v1/nothing", Expect::ok()))],
    );
    let result = runner::run_all(&mut runner, &[absent, dev], |_, _| {}).await;
    server.stop().await;
    let report = Report::new("reference", &result);
    assert_eq!(
        (
            report.passed,
            report.failed,
            report.unimplemented,
            report.deviations
        ),
        (0, 0, 1, 1)
    );
    assert!(report.ok());
    let json = serde_json::to_value(&report).expect("json");
    for k in ["vectors", "passed", "failed", "unimplemented"] {
        assert!(json[k].is_u64(), "{k}");
    }
    assert!(json["requirements"]["covered"].is_array());
    assert!(json["requirements"]["uncovered"][0]["id"].is_string());
    assert!(json["requirements"]["uncovered"][0]["reason"].is_string());
    let junit = report.junit();
    assert!(junit.contains("<skipped"), "{junit}");
}

/// TSR-CONF-1: outside conformance mode, `/conformance/…` does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_routes_are_absent_outside_conformance_mode() {
    let running = tessera::server::spawn(false, |a| a).await.expect("start");
    let base = running.issuer().to_string();
    let client = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/conformance/clock"),
        ("POST", "/conformance/clock"),
        ("GET", "/conformance/fixtures"),
        ("POST", "/conformance/authorize"),
    ] {
        let r = client
            .request(method.parse().expect("method"), format!("{base}{path}"))
            .header("content-type", "application/json")
            .body("{\"advance\": 10}")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 404, "{method} {path}");
        let body: serde_json::Value =
            serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
        assert_eq!(body["error"], "not_found", "{method} {path}");
    }
    let _ = running.stop().await;
}

/// TSR-HAWK-10: an Authority with a restart fence refuses every ts up to its start plus the
/// skew; the runner clears it by advancing the test clock before the first vector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_clears_a_restart_fence() {
    let server = Reference::start_fenced().await.expect("start");
    let target = Target::connect(&server.url()).await.expect("connect");
    let mut runner = Runner::new(target, vec![]);
    let vectors: Vec<Vector> = vector::load_dir(&vectors_dir())
        .expect("load")
        .into_iter()
        .filter(|v| v.id.starts_with("state.active.") || v.id.starts_with("hawk.subject."))
        .collect();
    assert!(vectors.len() > 20);
    let result = runner::run_all(&mut runner, &vectors, |_, _| {}).await;
    server.stop().await;
    let report = Report::new("fenced", &result);
    let failures: Vec<String> = report.failures.iter().map(failure_text).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A Hawk client's answer to a stale reply: the runner verifies `tsm` (TSR-HAWK-8), adopts the
/// Authority's time and retries. Here the clock moves behind the runner's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_recovers_from_a_stale_timestamp_like_a_hawk_client() {
    let (server, mut runner) = runner(vec![]).await;
    let v = one(
        "self.stale",
        vec![
            step(post(
                tessera_conformance::vector::Actor::Anonymous,
                "/conformance/clock",
                json!({"advance": 1000}),
                Expect::ok(),
            )),
            handshake("1"),
            allow("1"),
            redeem("1"),
        ],
    );
    let verdict = runner.run(&v).await;
    server.stop().await;
    assert!(matches!(verdict, Verdict::Passed), "{verdict:?}");
}
