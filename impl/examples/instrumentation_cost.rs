//! What per-request instrumentation (metrics, security-event derivation, audit) costs: the
//! same ticket-authenticated `GET /v1/subject` through two in-process Authorities, one
//! instrumented (audit to a sink that discards) and one not, in alternating rounds on one
//! thread, so both see the same machine noise.
//!
//! ```text
//! cargo run --release -p tessera --example instrumentation_cost -- [ROUNDS] [REQUESTS_PER_ROUND]
//! ```
//!
//! Defaults: 10 rounds of 2000. Each round runs the batch on one target, then the other; the
//! figure is the median of the per-round ratios.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use std::time::Instant;
use tessera::audit::Audit;
use tessera::config::{Config, Issuer};
use tessera::hawk::{self, Artifacts, Credentials};
use tessera::rand::{token, SystemRandom};
use tessera::server::{app, AppState, Authority};
use tower::ServiceExt as _;

const ISSUER: &str = "http://127.0.0.1:7700";

struct Target {
    state: AppState,
    router: axum::Router,
    rng: SystemRandom,
}

impl Target {
    fn new(instrument: bool) -> Self {
        let mut config = Config::new(Issuer::parse(ISSUER).unwrap());
        config.conformance = true;
        let state = Authority::builder(config)
            .instrumentation(instrument)
            .audit(Audit::to_writer(Box::new(std::io::sink())))
            .build()
            .unwrap();
        Self {
            router: app(state.clone()),
            state,
            rng: SystemRandom::new(),
        }
    }

    /// An unauthenticated `GET /healthz`: no store call, no thread hop, so its time is the
    /// router's and the middleware's alone.
    async fn health(&self) {
        let req = Request::builder()
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let _ = resp.into_body().collect().await.unwrap();
    }

    async fn call(
        &self,
        id: &str,
        key: &str,
        app: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let ts = u64::try_from(self.state.now()).unwrap();
        let nonce = token(&self.rng, 12);
        let mut a = Artifacts::new(method, path, "127.0.0.1", 7700, ts, &nonce);
        if let Some(b) = &bytes {
            a = a.with_payload(Some("application/json"), b);
        }
        if let Some(app) = app {
            a = a.with_app(app.to_owned(), None);
        }
        let c = Credentials::new(id.to_owned(), key.as_bytes(), "sha256").unwrap();
        let mut req = Request::builder().method(method).uri(path).header(
            "authorization",
            hawk::client_authorization_header(&c, &a).unwrap(),
        );
        if bytes.is_some() {
            req = req.header("content-type", "application/json");
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(bytes.unwrap_or_default())).unwrap())
            .await
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    }

    /// A ticket for alice, via handshake, the conformance authorize and result.
    async fn ticket(&self) -> (String, String, String) {
        let f = self.state.fixtures().unwrap();
        let c = &f.consumers[0];
        let v = tessera::pkce::generate_verifier(&self.rng);
        let hs = self
            .call(
                &c.consumer_id,
                &c.key,
                None,
                "POST",
                "/v1/handshake",
                Some(json!({"redirect_uri": c.redirect_uris[0], "grants": [], "scopes": ["email"],
                    "code_challenge": tessera::pkce::challenge(&v), "code_challenge_method": "S256"})),
            )
            .await;
        let req = Request::builder()
            .method("POST")
            .uri("/conformance/authorize")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::to_vec(&json!({"authorize_url": hs["authorize_url"],
                    "username": "alice", "decision": "allow"}))
                .unwrap(),
            ))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let redirect: Value = serde_json::from_slice(&body).unwrap();
        let url = url::Url::parse(redirect["redirect"].as_str().unwrap()).unwrap();
        let code = url
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let r = self
            .call(
                &c.consumer_id,
                &c.key,
                None,
                "POST",
                "/v1/result",
                Some(json!({"sid": hs["sid"], "code": code, "code_verifier": v})),
            )
            .await;
        let t = &r["ticket"];
        (
            t["id"].as_str().unwrap().to_owned(),
            t["key"].as_str().unwrap().to_owned(),
            t["app"].as_str().unwrap().to_owned(),
        )
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let per_round: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let targets = [Target::new(false), Target::new(true)];
        let mut tickets = Vec::new();
        for t in &targets {
            tickets.push(t.ticket().await);
        }
        // alternate short batches so both targets see the same noise; compare pairwise
        let mut per_request = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let mut pair = [0.0; 2];
            for (i, t) in targets.iter().enumerate() {
                let (id, key, app) = &tickets[i];
                let start = Instant::now();
                for _ in 0..per_round {
                    let d = t.call(id, key, Some(app), "GET", "/v1/subject", None).await;
                    assert!(d["sub"].is_string(), "{d}");
                }
                pair[i] = start.elapsed().as_secs_f64() * 1e6 / per_round as f64;
            }
            if round > 0 {
                // round 0 warms up
                per_request[0].push(pair[0]);
                per_request[1].push(pair[1]);
                ratios.push(pair[1] / pair[0]);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let bare = median(&mut per_request[0]);
        let inst = median(&mut per_request[1]);
        let ratio = median(&mut ratios);
        // the middleware's own cost, on a request without store calls (low noise)
        let mut health = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, t) in targets.iter().enumerate() {
                let start = Instant::now();
                for _ in 0..per_round {
                    t.health().await;
                }
                health[i].push(start.elapsed().as_secs_f64() * 1e6 / per_round as f64);
            }
        }
        let h_bare = median(&mut health[0]);
        let h_inst = median(&mut health[1]);
        println!(
            "GET /v1/subject, {rounds} rounds x {per_round} requests per target, median per \
             request: uninstrumented {bare:.1} us, instrumented {inst:.1} us; median of the \
             per-round ratios {ratio:.3} ({:+.1} %)",
            (ratio - 1.0) * 100.0
        );
        println!(
            "GET /healthz (no store call): uninstrumented {h_bare:.2} us, instrumented \
             {h_inst:.2} us: the instrumentation costs {:.2} us per request, {:.1} % of an \
             uninstrumented GET /v1/subject",
            h_inst - h_bare,
            (h_inst - h_bare) / bare * 100.0
        );
    });
}
