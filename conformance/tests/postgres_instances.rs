//! The whole suite against each of two reference Authority instances sharing one PostgreSQL
//! database (a throwaway cluster, impl/tests/pg), started in process in conformance mode and
//! reached over HTTP only (issue 12: several instances behave as one Authority). On a shared
//! store the instances keep their replay record in the database (spec TSR-HAWK-15).
//! Skips without PostgreSQL, fails under CI=true.

#[path = "../../impl/tests/pg/mod.rs"]
mod pg;

use std::sync::Arc;
use tessera::store::Store;
use tessera::store_pg::PgStore;
use tessera_conformance::reference::Reference;
use tessera_conformance::report::{failure_text, Report};
use tessera_conformance::runner::{self, Deviation, Runner, Target};
use tessera_conformance::{vector, vectors_dir};

/// The synchronous PostgreSQL client may not block a runtime's thread.
fn off_rt<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_passes_against_each_of_two_instances_on_postgres() {
    let Some(cluster) = off_rt(pg::Cluster::start) else {
        return;
    };
    let url = off_rt(|| cluster.database("conformance"));
    let vectors = vector::load_dir(&vectors_dir()).expect("load vectors");
    let deviations: Vec<Deviation> = serde_json::from_str(include_str!("../known-deviations.json"))
        .expect("known-deviations.json");
    let mut stores = Vec::new();
    let mut servers = Vec::new();
    for name in ["instance-1", "instance-2"] {
        let store: Arc<dyn Store> = off_rt(|| Arc::new(PgStore::open(&url, 8).unwrap()));
        stores.push(Arc::clone(&store));
        // the second instance starts while the first runs; each runs the suite with the
        // fixtures it installed (fresh keys per start, spec TSR-CONF-5)
        let server = Reference::start_with(move |b| b.store(store))
            .await
            .expect("reference Authority starts");
        let target = Target::connect(&server.url()).await.expect("connect");
        let mut runner = Runner::new(target, deviations.clone());
        let result = runner::run_all(&mut runner, &vectors, |_, _| {}).await;
        let report = Report::new(name, &result);
        let failures: Vec<String> = report.failures.iter().map(failure_text).collect();
        assert!(
            failures.is_empty(),
            "{} of {} vectors failed against {name} on PostgreSQL:\n{}",
            failures.len(),
            report.vectors,
            failures.join("\n")
        );
        servers.push(server);
    }
    for s in servers {
        s.stop().await;
    }
    off_rt(move || drop(stores));
}
