//! The production profile: the reference Authority as deployed (conformance mode on the real
//! clock, restart fence on). The runner leaves out the vectors that need the test clock, waits
//! out the fence instead of advancing a clock, and every other vector passes.

use tessera_conformance::reference::Reference;
use tessera_conformance::report::{failure_text, Report};
use tessera_conformance::runner::{self, Profile, Runner, Target};
use tessera_conformance::vector::{self, Vector};
use tessera_conformance::vectors_dir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vectors_that_need_no_test_clock_pass_against_the_authority_as_deployed() {
    let server = Reference::start_production().await.expect("start");
    let target = Target::connect(&server.url()).await.expect("connect");
    let client = reqwest::Client::new();
    // no test clock to move: POST /conformance/clock does not exist
    let advance = client
        .post(format!("{}/conformance/clock", server.url()))
        .header("content-type", "application/json")
        .body("{\"advance\": 10}")
        .send()
        .await
        .expect("send");
    assert_eq!(advance.status().as_u16(), 404);

    let (clocked, free): (Vec<Vector>, Vec<Vector>) = vector::load_dir(&vectors_dir())
        .expect("load")
        .into_iter()
        .partition(|v| v.needs_test_clock(target.skew));
    assert!(clocked.iter().any(|v| v.id == "hawk.subject.skew-edge"));
    assert!(clocked.iter().any(|v| v.id.starts_with("state.expired")));
    assert!(free.iter().any(|v| v.id == "hawk.subject.replay"));
    assert!(free.iter().any(|v| v.id.starts_with("race.")));
    assert!(free.len() > 2 * clocked.len());

    let mut runner = Runner::with_profile(target, vec![], Profile::Production);
    let result = runner::run_all(&mut runner, &free, |_, _| {}).await;
    server.stop().await;
    let report = Report::filtered("production", &result, None, &clocked);
    let failures: Vec<String> = report.failures.iter().map(failure_text).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the runner probed for a restart fence (TSR-HAWK-10) and waited it out; an Authority that
    // persists its nonces (the reference since its replay store) needs none, so it may be ~0
    let waited = runner.fence_waited.expect("fence probed");
    assert!(waited.as_secs() <= 125, "the fence lasted {waited:?}");
    assert!(!report.requirements.filtered_out.is_empty());
}
