//! Runs vectors against an Authority in conformance mode, over HTTP only.
//!
//! Vectors run one after another (a clock advance in one vector must not expire another's
//! sessions). Each starts by reading the target's test clock; every Hawk `ts` is that clock plus
//! the step's `ts_offset`, so the suite's own clock does not matter.
//!
//! **The restart fence (TSR-HAWK-10).** An Authority that keeps nonces in memory refuses every
//! `ts` up to its start time plus the skew, and its test clock does not move by itself, so
//! retrying with the Authority's own time would be refused again. Before the first vector the
//! runner therefore advances the test clock by twice the skew published in the metadata plus
//! one second, or further if the fence the Authority declares (`GET /conformance/clock`,
//! TSR-CONF-16) needs it, which clears the fence even for a `ts` a full skew behind the clock.
//! The vectors that probe the fence (`restart-fence`) run before that. In addition, like any
//! Hawk client, it treats an unexpected `401 stale_timestamp` by verifying the reply's `tsm`
//! (TSR-HAWK-8), adopting the Authority's `ts` and retrying the step once with a fresh nonce.

// A step error carries the request and response texts of a failure report; it is built once
// per failed vector, so its size does not matter.
#![allow(clippy::result_large_err)]

use crate::errors;
use crate::hawk::{self, Artifacts, Credentials};
use crate::symbols::{random_token, Scope};
use crate::vector::{Actor, Expect, Feature, IdTamper, Outcome, Request, Step, Vector};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A fixture Consumer as published by `GET /conformance/fixtures` (spec A.3).
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureConsumer {
    pub consumer_id: String,
    pub key: String,
}

/// The target: where it is, and its fixtures.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL requests go to (normally the issuer).
    pub base: String,
    /// The issuer identifier from the fixtures; its host and port are what requests are
    /// signed for (TSR-HAWK-4).
    pub issuer: String,
    pub host: String,
    pub port: u16,
    pub skew: i64,
    pub consumers: BTreeMap<String, String>,
    client: reqwest::Client,
}

/// A response as the runner sees it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub json: Option<Value>,
    /// Every `Set-Cookie` value, in order (`headers` keeps one value per name).
    pub set_cookies: Vec<String>,
}

impl Response {
    fn error_code(&self) -> Option<&str> {
        self.json.as_ref()?.get("error")?.as_str()
    }

    fn summary(&self) -> String {
        self.summary_with(&[])
    }

    /// The status, the headers every check looks at plus `under_test` (the headers a step's
    /// `expect.headers` names, so a failure shows the value it was about, or that it was
    /// absent), and the start of the body.
    fn summary_with(&self, under_test: &[&str]) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(600).collect();
        let mut names: Vec<&str> = vec![
            "content-type",
            "cache-control",
            "www-authenticate",
            "server-authorization",
            "retry-after",
        ];
        for h in under_test {
            if !names.contains(h) {
                names.push(h);
            }
        }
        let hdrs: Vec<String> = names
            .iter()
            .filter_map(|name| match self.headers.get(*name) {
                Some(v) => Some(format!("{name}: {v}")),
                None if under_test.contains(name) => Some(format!("({name} absent)")),
                None => None,
            })
            .collect();
        format!("{} {}\n{}", self.status, hdrs.join("\n"), body)
    }
}

/// A request ready to send (and to send again, byte for byte).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// The `Cookie` header of a request from a named browser ([`Request::browser`]).
    pub cookie: Option<String>,
    pub body: Vec<u8>,
    /// For verifying `Server-Authorization` and `tsm`: the real credentials and artifacts,
    /// when the request was signed correctly.
    signed: Option<(Credentials, Artifacts)>,
}

impl Prepared {
    fn summary(&self) -> String {
        let mut s = format!("{} {}", self.method, self.target);
        if let Some(a) = &self.authorization {
            s.push_str(&format!("\nAuthorization: {a}"));
        }
        if let Some(c) = &self.content_type {
            s.push_str(&format!("\nContent-Type: {c}"));
        }
        if let Some(c) = &self.cookie {
            s.push_str(&format!("\nCookie: {c}"));
        }
        if !self.body.is_empty() {
            let body: String = String::from_utf8_lossy(&self.body)
                .chars()
                .take(600)
                .collect();
            s.push_str(&format!("\n\n{body}"));
        }
        s
    }
}

/// Why a vector failed: where and how.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub vector: String,
    pub title: String,
    /// 1-based; 0 when the failure is before the first step.
    pub step: usize,
    pub requirements: Vec<String>,
    pub message: String,
    pub request: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

/// The result of one vector.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    Failed(Failure),
    /// An optional feature the target does not offer.
    Unimplemented {
        feature: String,
    },
    /// Failed, but listed in the known-deviations file.
    Deviation {
        reason: String,
        failure: Failure,
    },
}

/// One entry of the known-deviations file: a vector id (or a prefix ending in `*`) and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    pub vector: String,
    pub reason: String,
}

/// What a failure counts as: a known deviation when one of `deviations` names its vector,
/// else a failure.
pub fn judge(deviations: &[Deviation], failure: Failure) -> Verdict {
    match deviations.iter().find(|d| d.applies_to(&failure.vector)) {
        Some(d) => Verdict::Deviation {
            reason: d.reason.clone(),
            failure,
        },
        None => Verdict::Failed(failure),
    }
}

impl Deviation {
    pub fn applies_to(&self, id: &str) -> bool {
        if self.vector.contains('*') {
            crate::glob_match(&self.vector, id)
        } else {
            self.vector == id
        }
    }
}

struct StepError {
    message: String,
    request: Option<String>,
    expected: Option<String>,
    actual: Option<String>,
    extra_requirements: Vec<String>,
    unimplemented: Option<Feature>,
}

impl StepError {
    fn msg(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            request: None,
            expected: None,
            actual: None,
            extra_requirements: vec![],
            unimplemented: None,
        }
    }
}

impl From<String> for StepError {
    fn from(s: String) -> Self {
        StepError::msg(s)
    }
}

impl Target {
    /// Connects to `base`: reads the metadata and the fixtures (spec A.3).
    pub async fn connect(base: &str) -> Result<Target, String> {
        let base = base.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let get = |path: &'static str| {
            let client = client.clone();
            let url = format!("{base}{path}");
            async move {
                let r = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| format!("GET {url}: {e}"))?;
                let status = r.status().as_u16();
                let body = r.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
                if status != 200 {
                    return Err(format!(
                        "GET {url} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                serde_json::from_slice::<Value>(&body).map_err(|e| format!("GET {url}: {e}"))
            }
        };
        let fixtures = get("/conformance/fixtures").await.map_err(|e| {
            format!("{e}\n(is the target in conformance mode? see spec appendix A)")
        })?;
        let metadata = get("/.well-known/tessera-authority").await?;
        let issuer = fixtures["issuer"]
            .as_str()
            .ok_or("fixtures without issuer")?
            .trim_end_matches('/')
            .to_string();
        let url = url::Url::parse(&issuer).map_err(|e| format!("issuer {issuer}: {e}"))?;
        let host = url
            .host_str()
            .ok_or("issuer without host")?
            .to_ascii_lowercase();
        let port = url.port_or_known_default().ok_or("issuer without port")?;
        let consumers: Vec<FixtureConsumer> = serde_json::from_value(fixtures["consumers"].clone())
            .map_err(|e| format!("fixtures: consumers: {e}"))?;
        let skew = metadata["hawk"]["timestamp_skew_seconds"]
            .as_i64()
            .unwrap_or(60);
        Ok(Target {
            base,
            issuer,
            host,
            port,
            skew,
            consumers: consumers
                .into_iter()
                .map(|c| (c.consumer_id, c.key))
                .collect(),
            client,
        })
    }

    async fn send(&self, p: &Prepared) -> Result<Response, String> {
        let method = reqwest::Method::from_bytes(p.method.as_bytes())
            .map_err(|_| format!("bad method {}", p.method))?;
        let mut rb = self
            .client
            .request(method, format!("{}{}", self.base, p.target));
        if let Some(a) = &p.authorization {
            rb = rb.header("authorization", a);
        }
        if let Some(c) = &p.content_type {
            rb = rb.header("content-type", c);
        }
        if let Some(c) = &p.cookie {
            rb = rb.header("cookie", c);
        }
        if !p.body.is_empty() {
            rb = rb.body(p.body.clone());
        }
        let r = rb
            .send()
            .await
            .map_err(|e| format!("{} {}: {e}", p.method, p.target))?;
        let status = r.status().as_u16();
        let set_cookies = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = r
            .bytes()
            .await
            .map_err(|e| format!("{} {}: {e}", p.method, p.target))?
            .to_vec();
        let json = serde_json::from_slice(&body).ok();
        Ok(Response {
            status,
            headers,
            body,
            json,
            set_cookies,
        })
    }

    async fn conformance_post(&self, path: &str, body: &Value) -> Result<Response, String> {
        let p = Prepared {
            method: "POST".into(),
            target: path.into(),
            authorization: None,
            content_type: Some("application/json".into()),
            cookie: None,
            body: serde_json::to_vec(body).expect("json"),
            signed: None,
        };
        self.send(&p).await
    }

    /// Opens `n` connections to the target at once and leaves them idle in the pool (a
    /// metadata `GET` on each), so that `n` requests sent next start without a handshake.
    async fn warm_up(&self, n: usize) -> Result<(), String> {
        let mut handles = Vec::new();
        for _ in 0..n {
            let target = self.clone();
            handles.push(tokio::spawn(async move {
                let p = Prepared {
                    method: "GET".into(),
                    target: "/.well-known/tessera-authority".into(),
                    authorization: None,
                    content_type: None,
                    cookie: None,
                    body: vec![],
                    signed: None,
                };
                target.send(&p).await.map(|_| ())
            }));
        }
        for h in handles {
            h.await.map_err(|e| format!("warm-up task: {e}"))??;
        }
        Ok(())
    }

    /// The target's test clock (spec A.2).
    pub async fn clock(&self) -> Result<i64, String> {
        Ok(self.clock_and_fence().await?.0)
    }

    /// The test clock and the highest `ts` the Authority refuses because of its start
    /// (`fence`, spec A.2, TSR-CONF-16; 0 when it says nothing).
    pub async fn clock_and_fence(&self) -> Result<(i64, i64), String> {
        let p = Prepared {
            method: "GET".into(),
            target: "/conformance/clock".into(),
            authorization: None,
            content_type: None,
            cookie: None,
            body: vec![],
            signed: None,
        };
        let r = self.send(&p).await?;
        let now = r.json.as_ref().and_then(|j| j["now"].as_i64());
        let fence = match r.json.as_ref().map(|j| &j["fence"]) {
            Some(Value::Null) | None => Some(0),
            Some(f) => f.as_i64().filter(|f| *f >= 0),
        };
        match (now, fence) {
            (Some(now), Some(fence)) => Ok((now, fence)),
            _ => Err(format!("GET /conformance/clock: {}", r.summary())),
        }
    }

    /// A correctly signed request that changes nothing, at Hawk time `ts`: a revoke of a
    /// session nobody has, by the first fixture Consumer. For probing the restart fence.
    async fn probe(&self, ts: i64) -> Result<(Prepared, Response, Credentials), String> {
        let key = self
            .consumers
            .iter()
            .next()
            .map(|(id, key)| Credentials {
                id: id.clone(),
                key: key.clone(),
            })
            .ok_or("the target's fixtures have no Consumer (spec A.3)")?;
        let body = serde_json::to_vec(&json!({ "sid": random_token() })).expect("json");
        let artifacts = Artifacts {
            method: "POST".into(),
            target: "/v1/revoke".into(),
            host: self.host.clone(),
            port: self.port,
            ts,
            nonce: random_token()[..12].to_string(),
            hash: Some(hawk::payload_hash("application/json", &body)),
            ..Artifacts::default()
        };
        let p = Prepared {
            method: "POST".into(),
            target: "/v1/revoke".into(),
            authorization: Some(hawk::authorization_header(&key, &artifacts, None)),
            content_type: Some("application/json".into()),
            cookie: None,
            body,
            signed: None,
        };
        let resp = self.send(&p).await?;
        Ok((p, resp, key))
    }

    /// Advances the test clock; returns the new time.
    pub async fn advance(&self, seconds: i64) -> Result<i64, String> {
        let r = self
            .conformance_post("/conformance/clock", &json!({ "advance": seconds }))
            .await?;
        match (r.status, r.json.as_ref().and_then(|j| j["now"].as_i64())) {
            (200, Some(now)) => Ok(now),
            _ => Err(format!("POST /conformance/clock: {}", r.summary())),
        }
    }
}

/// Runs vectors; keeps the state shared between them.
#[derive(Debug)]
pub struct Runner {
    pub target: Target,
    pub deviations: Vec<Deviation>,
    fenced: bool,
    profile: Profile,
    /// Production profile: how long the Authority's restart fence refused requests.
    pub fence_waited: Option<Duration>,
    /// Production profile: how long vectors waited for the Authority's handshake rate.
    pub rate_waited: Duration,
}

/// How the target keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Conformance mode with the test clock (spec A.2): every vector.
    #[default]
    Conformance,
    /// Conformance mode on the real clock, restart fence on, as deployed (spec A.5.5): the
    /// vectors that need no test clock ([`Vector::needs_test_clock`]). The runner never
    /// advances the clock; it waits out the restart fence instead.
    Production,
}

struct VectorRun<'a> {
    target: &'a Target,
    scope: Scope,
    sent: BTreeMap<String, Prepared>,
    /// The named browsers' cookies ([`Request::browser`]): browser → cookie name → value.
    jars: BTreeMap<String, BTreeMap<String, String>>,
}

impl Runner {
    pub fn new(target: Target, deviations: Vec<Deviation>) -> Self {
        Runner {
            target,
            deviations,
            fenced: false,
            profile: Profile::Conformance,
            fence_waited: None,
            rate_waited: Duration::ZERO,
        }
    }

    /// A runner for `profile`.
    pub fn with_profile(target: Target, deviations: Vec<Deviation>, profile: Profile) -> Self {
        Runner {
            profile,
            ..Runner::new(target, deviations)
        }
    }

    /// Production profile: until the restart fence (TSR-HAWK-10) has passed, a correctly
    /// signed request with the Authority's own time is refused as stale. Probes with a revoke
    /// of a session nobody has (it changes nothing) once a second, verifying each reply's
    /// `tsm`, for at most twice the skew plus five seconds.
    async fn wait_out_fence(&mut self) -> Result<(), String> {
        let began = Instant::now();
        let limit = Duration::from_secs(u64::try_from(2 * self.target.skew + 5).unwrap_or(125));
        loop {
            let now = self.target.clock().await?;
            let (_, resp, key) = self.target.probe(now).await?;
            if resp.error_code() != Some("stale_timestamp") {
                self.fence_waited = Some(began.elapsed());
                return Ok(());
            }
            if let Some(h) = resp.headers.get("www-authenticate") {
                hawk::verify_stale_reply(&key, h).map_err(|e| {
                    format!("a stale-timestamp reply during the restart fence: {e} (TSR-HAWK-8)")
                })?;
            }
            if began.elapsed() > limit {
                return Err(format!(
                    "requests signed with the Authority's own time are still refused as stale after {} s (TSR-HAWK-10 allows one skew window)",
                    began.elapsed().as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Runs one vector to its verdict.
    pub async fn run(&mut self, v: &Vector) -> Verdict {
        if !self.fenced && self.profile == Profile::Production {
            if let Err(e) = self.wait_out_fence().await {
                return self.verdict(v, 0, StepError::msg(e));
            }
            self.fenced = true;
        }
        if !self.fenced && !v.probes_restart_fence() {
            // see the module doc: clear any restart fence (TSR-HAWK-10), at least the declared
            // one (TSR-CONF-16), so that even a `ts` a full skew behind the clock is past it
            let skew = self.target.skew;
            let advance = match self.target.clock_and_fence().await {
                Ok((now, fence)) => (2 * skew + 1).max(fence + 1 + skew - now),
                Err(e) => return self.verdict(v, 0, StepError::msg(e)),
            };
            if let Err(e) = self.target.advance(advance).await {
                return self.verdict(
                    v,
                    0,
                    StepError::msg(format!("cannot advance the test clock: {e}")),
                );
            }
            self.fenced = true;
        }
        let mut waited = Duration::ZERO;
        loop {
            match self.run_steps(v).await {
                Ok(()) => return Verdict::Passed,
                // the production profile runs on the real clock, so the Authority's handshake
                // rate (TSR-CONV-16, its own choice) applies to the suite's one Consumer: like
                // any client refused for its rate, wait (its Retry-After, if it gives one) and
                // run the vector again
                Err((i, e))
                    if self.profile == Profile::Production
                        && waited < HANDSHAKE_RATE_PATIENCE
                        && v.steps
                            .get(i.wrapping_sub(1))
                            .is_some_and(|s| refused_for_handshake_rate(s, &e)) =>
                {
                    let wait = retry_after(&e)
                        .unwrap_or(HANDSHAKE_RATE_RETRY)
                        .min(HANDSHAKE_RATE_PATIENCE - waited);
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    self.rate_waited += wait;
                }
                Err((i, e)) => return self.verdict(v, i, e),
            }
        }
    }

    /// Runs `v`'s steps once; a failure comes with its step's number (from 1).
    async fn run_steps(&mut self, v: &Vector) -> Result<(), (usize, StepError)> {
        let now = self
            .target
            .clock()
            .await
            .map_err(|e| (0, StepError::msg(e)))?;
        let mut run = VectorRun {
            target: &self.target,
            scope: Scope::new(&self.target.issuer, now),
            sent: BTreeMap::new(),
            jars: BTreeMap::new(),
        };
        for (i, step) in v.steps.iter().enumerate() {
            if let Err(mut e) = run.step(step).await {
                if e.unimplemented.is_none() {
                    if let Some(f) = v.features.iter().find(|f| {
                        e.actual.as_deref().is_some_and(|a| a.starts_with("404 "))
                            && step_paths(step).iter().any(|p| p.starts_with(f.endpoint()))
                    }) {
                        e.unimplemented = Some(*f);
                    }
                }
                return Err((i + 1, e));
            }
        }
        Ok(())
    }

    fn verdict(&self, v: &Vector, step: usize, e: StepError) -> Verdict {
        if let Some(f) = e.unimplemented {
            return Verdict::Unimplemented {
                feature: serde_json::to_value(f)
                    .ok()
                    .and_then(|x| x.as_str().map(String::from))
                    .unwrap_or_default(),
            };
        }
        let mut requirements = v.requirements.clone();
        for r in e.extra_requirements {
            if !requirements.contains(&r) {
                requirements.push(r);
            }
        }
        let failure = Failure {
            vector: v.id.clone(),
            title: v.title.clone(),
            step,
            requirements,
            message: e.message,
            request: e.request,
            expected: e.expected,
            actual: e.actual,
        };
        judge(&self.deviations, failure)
    }
}

/// Production profile: how long one vector may wait for the Authority's handshake rate
/// (TSR-CONV-16) to let it in again: a one-minute window, and a little more.
const HANDSHAKE_RATE_PATIENCE: Duration = Duration::from_secs(70);
/// How long to wait between the runs of a vector refused for the handshake rate, when the
/// refusal gives no `Retry-After`.
const HANDSHAKE_RATE_RETRY: Duration = Duration::from_secs(5);

/// The `Retry-After` (in seconds, at least one) of the failed response in `e`, if it has one.
fn retry_after(e: &StepError) -> Option<Duration> {
    let actual = e.actual.as_deref()?;
    let value = actual
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))?;
    Some(Duration::from_secs(
        value.trim().parse::<u64>().ok()?.max(1),
    ))
}

/// Whether `e`, the failure of `step`, is a handshake refused as over the Consumer's rate
/// (`429 too_many_requests`, TSR-CONV-16) where the step expected something else.
fn refused_for_handshake_rate(step: &Step, e: &StepError) -> bool {
    step_paths(step).contains(&"/v1/handshake")
        && e.actual
            .as_deref()
            .is_some_and(|a| a.starts_with("429 ") && a.contains("\"too_many_requests\""))
}

fn step_paths(step: &Step) -> Vec<&str> {
    match step {
        Step::Request(r) => vec![r.path.as_str()],
        Step::Concurrent { requests, .. } => requests.iter().map(|r| r.path.as_str()).collect(),
        _ => vec![],
    }
}

impl VectorRun<'_> {
    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Request(r) => self.request(r).await,
            Step::Authorize(a) => {
                let mut body = json!({
                    "authorize_url": self.scope.value(&Value::String(a.authorize_url.clone()))?,
                    "username": a.username,
                    "decision": a.decision,
                });
                if let Some(s) = &a.scopes {
                    body["scopes"] = json!(s);
                }
                let mut resp = self
                    .target
                    .conformance_post("/conformance/authorize", &body)
                    .await?;
                if let Some(Value::Object(map)) = &mut resp.json {
                    if let Some(redirect) = map.get("redirect").and_then(Value::as_str) {
                        let query: serde_json::Map<String, Value> = url::Url::parse(redirect)
                            .map(|u| {
                                u.query_pairs()
                                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                                    .collect()
                            })
                            .unwrap_or_default();
                        map.insert("query".into(), Value::Object(query));
                    }
                }
                let sent = format!("POST /conformance/authorize\n\n{body}");
                self.expect(&a.expect, &resp).map_err(|m| StepError {
                    request: Some(sent),
                    expected: Some(describe(&a.expect)),
                    actual: Some(resp.summary_with(&headers_under_test(&a.expect))),
                    ..StepError::msg(m)
                })
            }
            Step::Advance { seconds, .. } => {
                self.scope.now = self.target.advance(*seconds).await?;
                Ok(())
            }
            Step::Replay { of, expect, .. } => {
                let p = self
                    .sent
                    .get(of)
                    .cloned()
                    .ok_or_else(|| format!("no step named {of}"))?;
                let resp = self.target.send(&p).await?;
                self.check(&p, expect, &resp)
            }
            Step::Concurrent {
                requests, outcomes, ..
            } => self.concurrent(requests, outcomes).await,
            Step::RestartFence { .. } => self.restart_fence().await,
        }
    }

    /// The `restart-fence` step (spec A.5.2): holds the Authority to the fence it declares
    /// in `GET /conformance/clock` (TSR-CONF-16, TSR-HAWK-10). Before the runner has cleared
    /// anything, a `ts` at the declared fence (or, if it declares none, the Authority's own
    /// time) is sent; then the clock is advanced until the first `ts` past the fence is a skew
    /// behind it (twice the skew plus one second without a fence), and that `ts` is sent.
    async fn restart_fence(&mut self) -> Result<(), StepError> {
        let skew = self.target.skew;
        let (now, fence) = self.target.clock_and_fence().await?;
        // a declared fence within reach of a `ts` the Authority would otherwise accept
        let fenced_now = fence >= now - skew;
        let ts = if fenced_now {
            fence.min(now + skew)
        } else {
            now
        };
        self.fence_probe(ts, fenced_now, now, fence).await?;
        // far enough that the first `ts` past a declared fence is exactly a skew behind the
        // clock (the edge), and at least as far as the runner's clearing advance otherwise
        let advance = if fenced_now {
            fence + 1 + skew - now
        } else {
            2 * skew + 1
        };
        let now = self.target.advance(advance).await?;
        self.scope.now = now;
        let (_, fence_after) = self.target.clock_and_fence().await?;
        if fence_after >= now + skew {
            return Err(StepError {
                extra_requirements: vec!["TSR-HAWK-10".into()],
                ..StepError::msg(format!(
                    "the declared fence {fence_after} is still ahead of every ts within the skew after an advance of {advance} s"
                ))
            });
        }
        // the edge: the first `ts` past the fence, when it is within the window
        let ts = (fence_after + 1).max(now - skew);
        self.fence_probe(ts, false, now, fence_after).await
    }

    /// Sends [`Target::probe`] at `ts`; it must be refused as stale iff `refused`.
    async fn fence_probe(
        &mut self,
        ts: i64,
        refused: bool,
        now: i64,
        fence: i64,
    ) -> Result<(), StepError> {
        let (p, resp, key) = self.target.probe(ts).await?;
        let stale = resp.status == 401 && resp.error_code() == Some("stale_timestamp");
        let fail = |message: String, requirement: &str| StepError {
            request: Some(p.summary()),
            expected: Some(if refused {
                "401 stale_timestamp".into()
            } else {
                "any answer but 401 stale_timestamp".into()
            }),
            actual: Some(resp.summary()),
            extra_requirements: vec![requirement.into()],
            ..StepError::msg(message)
        };
        match (refused, stale) {
            (true, false) => Err(fail(
                format!("ts {ts} (clock {now}, declared fence {fence}) was not refused as stale: the Authority declares that it refuses every ts up to its fence"),
                "TSR-HAWK-10",
            )),
            (false, true) => Err(fail(
                format!("ts {ts} (clock {now}) was refused as stale, but the declared fence is {fence}"),
                "TSR-CONF-16",
            )),
            (true, true) => match resp.headers.get("www-authenticate") {
                Some(h) => hawk::verify_stale_reply(&key, h)
                    .map(|_| ())
                    .map_err(|e| fail(format!("the stale reply's tsm: {e}"), "TSR-HAWK-8")),
                None => Err(fail("a 401 without WWW-Authenticate".into(), "TSR-ERROR-4")),
            },
            (false, false) => Ok(()),
        }
    }

    fn prepare(&mut self, r: &Request, ts: i64) -> Result<Prepared, StepError> {
        let mut target = match self.scope.string(&r.path)? {
            Value::String(t) => t,
            other => {
                return Err(StepError::msg(format!(
                    "path {} is {other}, not a string",
                    r.path
                )))
            }
        };
        if !target.starts_with('/') {
            // an absolute URL bound from a response (an authorize_url): only on the target
            target = target
                .strip_prefix(&self.target.issuer)
                .filter(|t| t.starts_with('/'))
                .ok_or_else(|| format!("{target} is not a URL of the target's issuer"))?
                .to_string();
        }
        let body: Vec<u8> = match (&r.body, &r.raw_body) {
            (Some(b), _) => serde_json::to_vec(&self.scope.value(b)?).expect("json"),
            (None, Some(raw)) => self.scope.splice(raw)?.into_bytes(),
            (None, None) => vec![],
        };
        // `content_type: ""` sends no Content-Type at all
        let content_type = match r.content_type.as_deref() {
            Some("") => None,
            Some(c) => Some(c.to_string()),
            None => (!body.is_empty()).then(|| "application/json".to_string()),
        };
        let mut t = r.hawk.clone();
        for field in [
            &mut t.id,
            &mut t.key,
            &mut t.mac,
            &mut t.hash,
            &mut t.app,
            &mut t.dlg,
            &mut t.ext,
            &mut t.target,
            &mut t.nonce,
            &mut t.relabel,
        ] {
            if let Some(v) = field.as_mut() {
                *v = self.scope.splice(v)?;
            }
        }
        let (creds, app, dlg) = match &r.actor {
            Actor::Anonymous => {
                return Ok(Prepared {
                    method: r.method.clone(),
                    target,
                    authorization: None,
                    content_type,
                    cookie: None,
                    body,
                    signed: None,
                })
            }
            Actor::Authorization(h) => {
                return Ok(Prepared {
                    method: r.method.clone(),
                    target,
                    authorization: Some(self.scope.splice(h)?),
                    content_type,
                    cookie: None,
                    body,
                    signed: None,
                })
            }
            Actor::Consumer(id) => {
                let key = self.target.consumers.get(id).ok_or_else(|| {
                    format!("the target's fixtures have no Consumer {id} (spec A.3)")
                })?;
                (
                    Credentials {
                        id: id.clone(),
                        key: key.clone(),
                    },
                    None,
                    None,
                )
            }
            Actor::Ticket(sym) => {
                let ticket = self.scope.string(sym)?;
                let field = |name: &str| -> Result<Option<String>, String> {
                    match ticket.get(name) {
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(Value::Null) | None => Ok(None),
                        Some(other) => Err(format!("ticket {sym}: {name} is {other}")),
                    }
                };
                let id = field("id")?.ok_or_else(|| format!("{sym} is not a ticket"))?;
                let key = field("key")?.ok_or_else(|| format!("{sym} is not a ticket"))?;
                (Credentials { id, key }, field("app")?, field("dlg")?)
            }
        };
        let (app, dlg) = if t.omit_app {
            (None, None)
        } else {
            (t.app.clone().or(app), t.dlg.clone().or(dlg))
        };
        let hash = if t.omit_hash {
            None
        } else if let Some(h) = &t.hash {
            Some(h.clone())
        } else if !body.is_empty() {
            Some(hawk::payload_hash(
                content_type.as_deref().unwrap_or(""),
                &body,
            ))
        } else {
            None
        };
        let artifacts = Artifacts {
            method: t.method.clone().unwrap_or_else(|| r.method.clone()),
            target: t.target.clone().unwrap_or_else(|| target.clone()),
            host: t.host.clone().unwrap_or_else(|| self.target.host.clone()),
            port: t.port.unwrap_or(self.target.port),
            ts: ts + t.ts_offset,
            nonce: match &t.nonce {
                Some(n) => n.clone(),
                None => random_token()[..12].to_string(),
            },
            hash,
            ext: t.ext.clone(),
            app,
            dlg,
        };
        let mut signing_id = t.id.clone().unwrap_or_else(|| creds.id.clone());
        if let Some(kid) = &t.relabel {
            signing_id = relabel_id(&signing_id, kid);
        }
        if let Some(how) = t.id_tamper {
            signing_id = tamper_id(&signing_id, how);
        }
        let signing = Credentials {
            id: signing_id,
            key: t.key.clone().unwrap_or_else(|| creds.key.clone()),
        };
        let mut artifacts = artifacts;
        if let Some(n) = t.header_length {
            artifacts.ext = Some(String::new());
            let base = hawk::authorization_header(&signing, &artifacts, t.mac.as_deref()).len();
            artifacts.ext = Some("x".repeat(n.saturating_sub(base)));
        }
        let authorization =
            hawk::authorization_header_omitting(&signing, &artifacts, t.mac.as_deref(), &t.omit);
        let honest = t.id.is_none()
            && t.key.is_none()
            && t.mac.is_none()
            && t.method.is_none()
            && t.target.is_none()
            && t.omit.is_empty()
            && t.id_tamper.is_none()
            && t.relabel.is_none();
        Ok(Prepared {
            method: r.method.clone(),
            target,
            authorization: Some(authorization),
            content_type,
            cookie: None,
            body,
            signed: honest.then_some((creds, artifacts)),
        })
    }

    /// A request prepared with the `Cookie` header of its browser, if it names one.
    fn prepare_in_browser(&mut self, r: &Request, ts: i64) -> Result<Prepared, StepError> {
        let mut p = self.prepare(r, ts)?;
        if let Some(jar) = r.browser.as_ref().and_then(|b| self.jars.get(b)) {
            let pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            p.cookie = (!pairs.is_empty()).then(|| pairs.join("; "));
        }
        Ok(p)
    }

    /// Keeps an answer's cookies in the jar of the request's browser, if it names one.
    fn keep_cookies(&mut self, r: &Request, resp: &Response) {
        if let Some(b) = &r.browser {
            keep_cookies(self.jars.entry(b.clone()).or_default(), &resp.set_cookies);
        }
    }

    async fn request(&mut self, r: &Request) -> Result<(), StepError> {
        let mut p = self.prepare_in_browser(r, self.scope.now)?;
        let mut resp = self.target.send(&p).await?;
        self.keep_cookies(r, &resp);
        let expects_stale = r.expect.error.as_deref() == Some("stale_timestamp");
        if resp.error_code() == Some("stale_timestamp") && !expects_stale && r.hawk.ts_offset == 0 {
            // a Hawk client's answer to a stale reply: trust the Authority's time only after
            // verifying tsm (TSR-HAWK-8), then retry once
            if let (Some((creds, _)), Some(h)) = (&p.signed, resp.headers.get("www-authenticate")) {
                let ts = hawk::verify_stale_reply(creds, h).map_err(|e| StepError {
                    request: Some(p.summary()),
                    actual: Some(resp.summary()),
                    extra_requirements: vec!["TSR-HAWK-8".into()],
                    ..StepError::msg(format!("stale-timestamp reply does not verify: {e}"))
                })?;
                self.scope.now = ts;
                p = self.prepare_in_browser(r, ts)?;
                resp = self.target.send(&p).await?;
                self.keep_cookies(r, &resp);
            }
        }
        if let Some(n) = &r.name {
            self.sent.insert(n.clone(), p.clone());
        }
        self.check(&p, &r.expect, &resp)
    }

    async fn concurrent(
        &mut self,
        requests: &[Request],
        outcomes: &[Outcome],
    ) -> Result<(), StepError> {
        let mut prepared = Vec::new();
        for r in requests {
            prepared.push(self.prepare_in_browser(r, self.scope.now)?);
        }
        // One open connection per request first (the pool keeps them), then every request
        // released at the same instant: all are in flight before the Authority decides any,
        // so a missing compare-and-set shows on every run.
        self.target.warm_up(prepared.len()).await?;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(prepared.len()));
        let mut handles = Vec::new();
        for p in &prepared {
            let target = self.target.clone();
            let p = p.clone();
            let start = start.clone();
            handles.push(tokio::spawn(async move {
                start.wait().await;
                target.send(&p).await
            }));
        }
        let mut responses = Vec::new();
        for h in handles {
            responses.push(
                h.await
                    .map_err(|e| format!("concurrent request task: {e}"))??,
            );
        }
        for ((r, p), resp) in requests.iter().zip(&prepared).zip(&responses) {
            if let Some(n) = &r.name {
                self.sent.insert(n.clone(), p.clone());
            }
            self.keep_cookies(r, resp);
        }
        // generic checks on each, then the multiset of (status, error)
        for (p, resp) in prepared.iter().zip(&responses) {
            self.generic(p, resp)?;
        }
        let mut remaining: Vec<(usize, &Response)> = responses.iter().enumerate().collect();
        let expected_text = outcomes
            .iter()
            .map(|o| {
                format!(
                    "{} x {} {}{}",
                    o.count,
                    o.status,
                    o.error.as_deref().unwrap_or(""),
                    o.or_error
                        .iter()
                        .map(|e| format!(" or {e}"))
                        .collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let actual_text = responses
            .iter()
            .map(|r| format!("{} {}", r.status, r.error_code().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ");
        for o in outcomes {
            let mut taken = Vec::new();
            remaining.retain(|(_, resp)| {
                let hit = taken.len() < o.count
                    && resp.status == o.status
                    && (resp.error_code() == o.error.as_deref()
                        || resp
                            .error_code()
                            .is_some_and(|c| o.or_error.iter().any(|e| e == c)));
                if hit {
                    taken.push(*resp);
                }
                !hit
            });
            if taken.len() != o.count {
                return Err(StepError {
                    expected: Some(expected_text),
                    actual: Some(actual_text),
                    request: Some(prepared[0].summary()),
                    ..StepError::msg("the concurrent answers are not the expected ones")
                });
            }
            if o.count == 1 {
                for (name, ptr) in &o.bind {
                    let v = taken[0]
                        .json
                        .as_ref()
                        .and_then(|j| j.pointer(ptr))
                        .cloned()
                        .ok_or_else(|| format!("nothing at {ptr} to bind as {name}"))?;
                    self.scope.bound.insert(name.clone(), v);
                }
            }
        }
        Ok(())
    }

    /// The checks every response to the JSON API gets, whatever the vector expects.
    fn generic(&self, p: &Prepared, resp: &Response) -> Result<(), StepError> {
        let fail = |req: &str, m: String| StepError {
            request: Some(p.summary()),
            actual: Some(resp.summary()),
            extra_requirements: vec![req.to_string()],
            ..StepError::msg(m)
        };
        let json_api = p.target.starts_with("/v1/") || p.target.starts_with("/.well-known/");
        if !json_api {
            return Ok(());
        }
        let ct = resp
            .headers
            .get("content-type")
            .map(|c| hawk::media_type(c));
        if ct.as_deref() != Some("application/json") {
            return Err(fail(
                "TSR-CONV-2",
                "a JSON API response without Content-Type: application/json".into(),
            ));
        }
        if !resp.headers.get("cache-control").is_some_and(|c| {
            c.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        }) {
            return Err(fail(
                "TSR-CONV-2",
                "a JSON API response without Cache-Control: no-store".into(),
            ));
        }
        if resp.status >= 400 {
            let Some(code) = resp.error_code() else {
                return Err(fail(
                    "TSR-ERROR-1",
                    "an error response without a string `error` member".into(),
                ));
            };
            match errors::status_of(code) {
                None => {
                    return Err(fail(
                        "TSR-ERROR-1",
                        format!("error code {code:?} is not in the spec's table"),
                    ))
                }
                Some(s) if s != resp.status => {
                    return Err(fail("TSR-ERROR-1", format!("{code} must have status {s}")))
                }
                _ => {}
            }
            if !(400..500).contains(&resp.status)
                && !matches!(code, "internal_error" | "temporarily_unavailable")
            {
                return Err(fail(
                    "TSR-ERROR-3",
                    format!("status {} for {code}", resp.status),
                ));
            }
        }
        if resp.status == 401 {
            let Some(w) = resp.headers.get("www-authenticate") else {
                return Err(fail("TSR-ERROR-4", "a 401 without WWW-Authenticate".into()));
            };
            if !w.trim_start().to_ascii_lowercase().starts_with("hawk") {
                return Err(fail(
                    "TSR-ERROR-4",
                    format!("WWW-Authenticate {w:?} is not Hawk"),
                ));
            }
            if resp.error_code() == Some("stale_timestamp") {
                if let Some((creds, _)) = &p.signed {
                    hawk::verify_stale_reply(creds, w)
                        .map_err(|e| fail("TSR-HAWK-8", format!("stale-timestamp reply: {e}")))?;
                }
            }
        }
        if let Some((creds, artifacts)) = &p.signed {
            let code = resp.error_code().unwrap_or("");
            let due = resp.status < 300
                || !(errors::BEFORE_AUTHENTICATION.contains(&code)
                    || matches!(code, "ticket_expired" | "ticket_revoked"));
            let header = resp.headers.get("server-authorization");
            match header {
                None if due => {
                    return Err(fail(
                        "TSR-HAWK-12",
                        "no Server-Authorization on a response to an authenticated request".into(),
                    ))
                }
                None => {}
                Some(h) => {
                    hawk::verify_server_authorization(
                        creds,
                        artifacts,
                        h,
                        resp.headers.get("content-type").map_or("", String::as_str),
                        &resp.body,
                    )
                    .map_err(|e| fail("TSR-HAWK-12", e))?;
                }
            }
        }
        Ok(())
    }

    fn check(&mut self, p: &Prepared, expect: &Expect, resp: &Response) -> Result<(), StepError> {
        self.expect(expect, resp).map_err(|m| StepError {
            request: Some(p.summary()),
            expected: Some(describe(expect)),
            actual: Some(resp.summary_with(&headers_under_test(expect))),
            ..StepError::msg(m)
        })?;
        self.generic(p, resp)
    }

    fn expect(&mut self, expect: &Expect, resp: &Response) -> Result<(), String> {
        if resp.status != expect.status || resp.error_code() != expect.error.as_deref() {
            let got = resp
                .error_code()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            let want = expect
                .error
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            return Err(format!(
                "expected {}{want}, got {}{got}",
                expect.status, resp.status
            ));
        }
        let empty = Value::Null;
        let body = resp.json.as_ref().unwrap_or(&empty);
        for (ptr, want) in &expect.matches {
            let got = body
                .pointer(ptr)
                .ok_or_else(|| format!("the response has nothing at {ptr}"))?;
            self.scope
                .matches(want, got)
                .map_err(|e| format!("at {ptr}: {e}"))?;
        }
        for ptr in &expect.absent {
            if body.pointer(ptr).is_some() {
                return Err(format!("the response must have nothing at {ptr}"));
            }
        }
        for (name, want) in &expect.headers {
            match (resp.headers.get(name), want) {
                (None, Value::Null) => {}
                (None, _) => return Err(format!("the response has no {name} header")),
                (Some(v), Value::Null) => {
                    return Err(format!("the response must not have {name} (it has {v:?})"))
                }
                (Some(v), want) => self
                    .scope
                    .matches(want, &Value::String(v.clone()))
                    .map_err(|e| format!("header {name}: {e}"))?,
            }
        }
        for (name, ptr) in &expect.bind {
            let v = body
                .pointer(ptr)
                .cloned()
                .ok_or_else(|| format!("nothing at {ptr} to bind as {name}"))?;
            self.scope.bound.insert(name.clone(), v);
        }
        Ok(())
    }
}

/// `{prefix}.{kid}.{payload}` with the key id replaced; an id of another shape gets `.{kid}`
/// appended, which alters it all the same.
/// A browser's handling of `Set-Cookie` (RFC 6265 5.2, reduced to one origin): the first
/// `name=value` pair is kept, replacing a cookie of that name; `Max-Age` of zero or less, or an
/// empty value, removes it. Other attributes (`Path`, `Secure`, `SameSite`, …) change nothing
/// for a runner that only talks to the target's own origin.
pub fn keep_cookies(jar: &mut BTreeMap<String, String>, set_cookies: &[String]) {
    for sc in set_cookies {
        let mut parts = sc.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            continue;
        }
        let expired = parts.any(|a| {
            a.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age")
                    && v.trim().parse::<i64>().is_ok_and(|s| s <= 0)
            })
        });
        if expired || value.is_empty() {
            jar.remove(name);
        } else {
            jar.insert(name.to_string(), value.to_string());
        }
    }
}

pub fn relabel_id(id: &str, kid: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        [prefix, _, payload] => format!("{prefix}.{kid}.{payload}"),
        _ => format!("{id}.{kid}"),
    }
}

/// The sealed id altered in one region (see [`IdTamper`] for the layout assumed).
pub fn tamper_id(id: &str, how: IdTamper) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    const NONCE: usize = 12;
    const TAG: usize = 16;
    let parts: Vec<&str> = id.split('.').collect();
    if let [prefix, kid, payload] = parts.as_slice() {
        if let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(payload) {
            if bytes.len() > NONCE + TAG && !kid.is_empty() {
                let n = bytes.len();
                let rebuild = |b: &[u8]| format!("{prefix}.{kid}.{}", URL_SAFE_NO_PAD.encode(b));
                return match how {
                    IdTamper::KeyId => {
                        let mut k: Vec<char> = kid.chars().collect();
                        let last = k.len() - 1;
                        k[last] = if k[last] == 'a' { 'b' } else { 'a' };
                        format!("{prefix}.{}.{payload}", k.into_iter().collect::<String>())
                    }
                    IdTamper::Nonce => {
                        bytes[0] ^= 1;
                        rebuild(&bytes)
                    }
                    IdTamper::Ciphertext => {
                        bytes[NONCE + (n - NONCE - TAG) / 2] ^= 1;
                        rebuild(&bytes)
                    }
                    IdTamper::Tag => {
                        bytes[n - 1] ^= 1;
                        rebuild(&bytes)
                    }
                    IdTamper::Shorter => rebuild(&bytes[..n - 1]),
                    IdTamper::Longer => {
                        bytes.push(0);
                        rebuild(&bytes)
                    }
                    IdTamper::TooShort => rebuild(&bytes[..NONCE + TAG - 1]),
                    IdTamper::Empty => format!("{prefix}.{kid}."),
                };
            }
        }
    }
    // another layout: alter the characters at a position proportional to the region
    let mut chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    if n == 0 {
        return "x".into();
    }
    let flip = |chars: &mut Vec<char>, i: usize| {
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    };
    match how {
        IdTamper::KeyId => flip(&mut chars, n / 10),
        IdTamper::Nonce => flip(&mut chars, n / 5),
        IdTamper::Ciphertext => flip(&mut chars, n / 2),
        IdTamper::Tag => flip(&mut chars, n - 1),
        IdTamper::Shorter if n > 1 => {
            chars.pop();
        }
        IdTamper::Shorter | IdTamper::Longer => chars.push('A'),
        IdTamper::TooShort => chars.truncate(n / 2),
        IdTamper::Empty => chars.truncate(1),
    }
    let altered: String = chars.into_iter().collect();
    if altered.is_empty() || altered == id {
        // too short to cut: change its first character instead
        let first = if id.starts_with('A') { "B" } else { "A" };
        return format!("{first}{}", id.get(1..).unwrap_or(""));
    }
    altered
}

fn describe(e: &Expect) -> String {
    serde_json::to_string(e).unwrap_or_default()
}

fn headers_under_test(e: &Expect) -> Vec<&str> {
    e.headers.keys().map(String::as_str).collect()
}

/// One vector's run: its verdict and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Ran {
    pub vector: Vector,
    pub verdict: Verdict,
    pub duration: Duration,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Every vector run, in order.
    pub runs: Vec<Ran>,
    pub elapsed: Duration,
}

impl RunResult {
    /// (vector, verdict) pairs, in order.
    pub fn verdicts(&self) -> impl Iterator<Item = (&Vector, &Verdict)> {
        self.runs.iter().map(|r| (&r.vector, &r.verdict))
    }
}

/// Runs `vectors` in order, calling `progress` after each.
pub async fn run_all(
    runner: &mut Runner,
    vectors: &[Vector],
    mut progress: impl FnMut(&Vector, &Verdict),
) -> RunResult {
    let start = Instant::now();
    let mut runs = Vec::new();
    // a vector that probes the restart fence runs first, before the runner clears the fence
    let (first, rest): (Vec<&Vector>, Vec<&Vector>) =
        vectors.iter().partition(|v| v.probes_restart_fence());
    for v in first.into_iter().chain(rest) {
        let began = Instant::now();
        let verdict = runner.run(v).await;
        let duration = began.elapsed();
        progress(v, &verdict);
        runs.push(Ran {
            vector: v.clone(),
            verdict,
            duration,
        });
    }
    RunResult {
        runs,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    /// `t1.c1.` and 12 + 5 + 16 bytes 0, 1, 2, …
    fn sealed() -> (String, Vec<u8>) {
        let bytes: Vec<u8> = (0..33).collect();
        (format!("t1.c1.{}", URL_SAFE_NO_PAD.encode(&bytes)), bytes)
    }

    fn payload(id: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(id.rsplit('.').next().expect("payload"))
            .expect("base64url")
    }

    fn changed_bytes(a: &[u8], b: &[u8]) -> Vec<usize> {
        (0..a.len().min(b.len()))
            .filter(|&i| a[i] != b[i])
            .collect()
    }

    #[test]
    fn each_region_is_altered_and_only_it() {
        let (id, bytes) = sealed();
        let nonce = payload(&tamper_id(&id, IdTamper::Nonce));
        assert_eq!(changed_bytes(&bytes, &nonce), vec![0]);
        let ciphertext = payload(&tamper_id(&id, IdTamper::Ciphertext));
        assert_eq!(changed_bytes(&bytes, &ciphertext), vec![14]);
        let tag = payload(&tamper_id(&id, IdTamper::Tag));
        assert_eq!(changed_bytes(&bytes, &tag), vec![32]);
        assert_eq!(payload(&tamper_id(&id, IdTamper::Shorter)), bytes[..32]);
        assert_eq!(payload(&tamper_id(&id, IdTamper::Longer)).len(), 34);
        assert_eq!(payload(&tamper_id(&id, IdTamper::TooShort)).len(), 27);
        assert_eq!(tamper_id(&id, IdTamper::Empty), "t1.c1.");
        let kid = tamper_id(&id, IdTamper::KeyId);
        assert!(kid.starts_with("t1.ca."), "{kid}");
        assert_eq!(payload(&kid), bytes);
        assert_eq!(relabel_id(&id, "zz"), id.replacen("t1.c1.", "t1.zz.", 1));
    }

    #[test]
    fn ids_of_another_shape_are_altered_too() {
        for how in [
            IdTamper::KeyId,
            IdTamper::Nonce,
            IdTamper::Ciphertext,
            IdTamper::Tag,
            IdTamper::Shorter,
            IdTamper::Longer,
            IdTamper::TooShort,
            IdTamper::Empty,
        ] {
            for id in ["opaque-ticket-id-0123456789", "x", "a.b"] {
                let t = tamper_id(id, how);
                assert_ne!(t, id, "{how:?} of {id}");
                assert!(!t.is_empty());
            }
        }
        assert_ne!(relabel_id("opaque", "zz"), "opaque");
    }

    #[test]
    fn a_browser_keeps_sets_replaces_and_drops_cookies() {
        let mut jar = BTreeMap::new();
        keep_cookies(
            &mut jar,
            &[
                "b=one; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000".into(),
                "login=x; Max-Age=60".into(),
                "no-pair".into(),
            ],
        );
        assert_eq!(jar.get("b").map(String::as_str), Some("one"));
        assert_eq!(jar.get("login").map(String::as_str), Some("x"));
        assert_eq!(jar.len(), 2);
        keep_cookies(
            &mut jar,
            &["b=two; Path=/".into(), "login=; Max-Age=0".into()],
        );
        assert_eq!(jar.get("b").map(String::as_str), Some("two"));
        assert!(!jar.contains_key("login"));
        keep_cookies(&mut jar, &["b=three; max-age=-1".into()]);
        assert!(jar.is_empty());
    }
}
