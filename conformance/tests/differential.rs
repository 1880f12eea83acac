//! Differential testing: proptest drives long random walks through the model (the hardened
//! variant) and runs the same walk, concretized, against the reference Authority as it ships; every Authority-facing answer must be
//! the model's. A shrunk failure is printed as a `{seed, choices}` entry to add to
//! `conformance/regressions.json`, from which the generator makes a regression vector.

use proptest::prelude::*;
use tessera_conformance::generate::model::{differential_model, walk};
use tessera_conformance::reference::Reference;
use tessera_conformance::report::failure_text;
use tessera_conformance::runner::{Runner, Target, Verdict};
use tessera_conformance::vector::{Origin, Vector, FORMAT};

struct Fixture {
    rt: tokio::runtime::Runtime,
    runner: tokio::sync::Mutex<Runner>,
    _server: Reference,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (server, runner) = rt.block_on(async {
            let s = Reference::start().await.expect("reference Authority");
            let t = Target::connect(&s.url()).await.expect("connect");
            (s, Runner::new(t, vec![]))
        });
        Fixture {
            rt,
            runner: tokio::sync::Mutex::new(runner),
            _server: server,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        max_global_rejects: 4096,
        // deterministic in CI; TESSERA_DIFFERENTIAL_SEED=<n> explores other walks
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("TESSERA_DIFFERENTIAL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(6),
        ),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_authority_answers_as_the_model(choices in proptest::collection::vec(any::<u16>(), 1..40)) {
        let model = differential_model();
        let steps = walk(&model, &choices);
        prop_assume!(steps.as_ref().is_some_and(|s| !s.is_empty()));
        let v = Vector {
            format: FORMAT.into(),
            id: "differential".into(),
            title: "random walk".into(),
            requirements: vec!["TSR-SESSION-1".into()],
            origin: Origin::Regression { seed: "differential".into() },
            features: vec![],
            steps: steps.unwrap_or_default(),
        };
        let f = fixture();
        let verdict = f.rt.block_on(async {
            let mut r = f.runner.lock().await;
            r.run(&v).await
        });
        if let Verdict::Failed(failure) = verdict {
            prop_assert!(
                false,
                "the Authority departs from the model; add to conformance/regressions.json: \
                 {{\"seed\": \"name\", \"choices\": {:?}}}\n{}",
                choices,
                failure_text(&failure)
            );
        }
    }
}
