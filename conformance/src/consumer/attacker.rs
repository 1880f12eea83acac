//! `M`, the attacker's Authority (spec A.6): a small Authority of the suite's own, with its own
//! Hawk verification and `Server-Authorization`, that answers correctly unless the scenario's
//! [`Behaviour`] asks it to answer wrongly.
//!
//! Honest, it serves the metadata, `POST /v1/handshake` and `POST /v1/result` as chapter 5 says,
//! `POST /v1/refresh` as 6.3 does (rotating the `sid`, a new ticket that retires the old one)
//! and `GET /v1/subject` for the tickets it issued (7.6), so that every scenario in which `M` misbehaves has an honest twin
//! (`consumer.login.attacker-authority`) showing that the Consumer does accept `M` otherwise.

use super::BackChannel;
use crate::hawk::{self, Artifacts, Credentials, Kind};
use crate::symbols::random_token;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, PoisonError};

/// How `M` misbehaves in one scenario (the `attacker` member of a scenario). Every member is
/// optional; none means an honest Authority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Behaviour {
    /// The metadata document: `issuer-mismatch` (its `issuer` is another URL),
    /// `endpoint-elsewhere` (the result endpoint is not under the issuer), `protocol-v1`
    /// (`protocol_version` `"1"`), `no-sha256` (Hawk `sha1` only); `other-paths`: correct, but
    /// every endpoint under `{issuer}/alt/…`, served only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// Which answer gets [`Behaviour::server_authorization`]: `handshake` or `result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_on: Option<String>,
    /// The `Server-Authorization` of that answer: `missing`, `bad-mac` (signed with another
    /// key), `bad-hash` (the hash of another body, MAC over it), `no-ext` (no `ext`), `status-400`
    /// (`ext="status=400"` on a `200`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_authorization: Option<String>,
    /// The first handshake is answered `401 stale_timestamp` with `M`'s clock 300 s ahead:
    /// `valid-tsm` (a `tsm` that verifies: the Consumer retries with `M`'s time) or `bad-tsm`
    /// (a `tsm` made with another key, which the Consumer must not trust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
    /// The result's shape: `empty-sub`, `sub-with-space`, `sub-not-string`, `sub-too-long`
    /// (256 characters, one over the bound of TSR-CONSUMER-7), `sub-at-bound` (255: a correct
    /// result, the twin of `sub-too-long`), `extra-grant`,
    /// `missing-scope`, `no-ticket`, `ticket-other-app`, `ticket-other-user`, `ticket-sha1`,
    /// `ticket-short-key`, `ticket-wider-scope`, `ticket-delegated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The handshake's answer: `other-iss` (its `iss` is another issuer), `authorize-elsewhere`
    /// (its `authorize_url` is not under the issuer), `sid-in-url` (its `authorize_url` carries
    /// the `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<String>,
    /// The Subject data (`GET /v1/subject`, which `M` serves for the live tickets it issued:
    /// those of results and of the last refresh of each login): `other-sub` (the data of
    /// another Subject: its `sub` is not the ticket's `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `M`'s issuer as the suite gives it to the Consumer at reset, and as `M`'s metadata
    /// states it: `http://{issuer_host}:{port}` instead of `http://127.0.0.1:{port}`.
    /// `0.0.0.0`: plain `http` on a host that is not a loopback address (TSR-CONV-1: only
    /// `127.0.0.0/8`, `[::1]` and `localhost` may use `http`), which Linux and macOS connect
    /// to loopback, so a Consumer without that check reaches `M` and finds consistent metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_host: Option<String>,
    /// What follows the port in `M`'s issuer as given at reset and as its metadata states it:
    /// `/tenant` (a path) or `/?tenant=1` (a query), neither allowed in an issuer identifier
    /// (TSR-CONSUMER-16). `M` then serves its metadata wherever a Consumer that appends the
    /// well-known path to that issuer looks for it, so only the Consumer's check can refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_suffix: Option<String>,
    /// The first refresh (`POST /v1/refresh`) is answered wrongly, the later ones correctly:
    /// `unavailable-once` (`503 temporarily_unavailable`, correctly signed: a transient
    /// failure) or `bad-mac-once` (a rotation whose `Server-Authorization` is signed with another
    /// key; `M` keeps the old `sid`, so a Consumer that took the answer presents a `sid` `M`
    /// does not know, answered `400 unknown_session`) or `empty-sid-once` (a rotation to an
    /// empty `sid`, correctly signed; `M` keeps the old `sid`, so a Consumer that took the
    /// answer presents `""` next, answered `400 unknown_session`) or `held-once` (a correct
    /// answer, held until the runner releases it: [`Attacker::release_refresh`], at most
    /// [`HOLD_LIMIT`]; the `refresh-overlapped` step, TSR-CONSUMER-15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    /// Every JSON answer (metadata and its `hawk` and `ttl`, handshake, result and its
    /// `ticket`) carries a member no version of the spec defines (TSR-CONV-17: the Consumer
    /// ignores it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown_members: bool,
}

/// `v` with a member no version of the spec defines, at its top and in `ticket`, `hawk`, `ttl`.
fn with_unknown_members(mut v: Value) -> Value {
    for key in ["", "ticket", "hawk", "ttl"] {
        let target = if key.is_empty() {
            Some(&mut v)
        } else {
            v.get_mut(key)
        };
        if let Some(Value::Object(o)) = target {
            o.insert("x_future_member".into(), json!({"added_in": "1.9"}));
        }
    }
    v
}

impl Behaviour {
    pub fn is_honest(&self) -> bool {
        self == &Behaviour::default()
    }
}

/// One login as `M` saw it.
#[derive(Debug, Clone)]
pub struct Flow {
    pub handle: String,
    pub sid: String,
    pub state: String,
    pub redirect_uri: String,
    pub grants: Vec<String>,
    pub scopes: Vec<String>,
    pub code: Option<String>,
    pub sub: Option<String>,
}

#[derive(Debug, Default)]
struct MState {
    /// Every `state` a handshake carried since `M` started, across scenarios (a repeated one is
    /// refused: TSR-CONSUMER-13 asks for a fresh one per login).
    seen_states: std::collections::BTreeSet<String>,
    behaviour: Behaviour,
    flows: Vec<Flow>,
    /// Seconds `M`'s clock is ahead of the real one (after a stale reply).
    offset: i64,
    stale_sent: bool,
    /// Whether the first refresh has been answered (wrongly, when [`Behaviour::refresh`] asks).
    refresh_faulted: bool,
    /// Every `sid` `M` issued in a refresh answer (the rotated ones, and those it then forgot).
    refreshed_sids: Vec<String>,
    /// The user tickets `M` issued that still work: a refresh retires the login's old one.
    tickets: Vec<IssuedTicket>,
}

/// A user ticket `M` issued, for the Subject data API.
#[derive(Debug, Clone)]
struct IssuedTicket {
    id: String,
    key: String,
    /// The login's flow (its `handle`).
    flow: String,
    sub: String,
}

impl IssuedTicket {
    fn of(answer: &Value, flow: &Flow) -> Option<IssuedTicket> {
        Some(IssuedTicket {
            id: answer["ticket"]["id"].as_str()?.to_string(),
            key: answer["ticket"]["key"].as_str()?.to_string(),
            flow: flow.handle.clone(),
            sub: flow.sub.clone().unwrap_or_default(),
        })
    }
}

/// The running attacker's Authority.
#[derive(Debug, Clone)]
pub struct Attacker {
    pub issuer: String,
    pub host: String,
    pub port: u16,
    pub consumer_id: String,
    /// The Consumer's key at `M` (given to the Consumer by the reset).
    pub key: String,
    state: Arc<Mutex<MState>>,
    log: BackChannel,
    /// Lets a held refresh answer go (`held-once`).
    release: Arc<tokio::sync::Notify>,
}

/// How long `M` holds a `held-once` refresh answer if the runner never releases it.
pub const HOLD_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
struct Shared {
    m: Attacker,
}

pub const SKEW: i64 = 60;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

impl Attacker {
    /// Starts `M` on an ephemeral loopback port; returns it and its server task.
    pub async fn start(
        consumer_id: &str,
        log: BackChannel,
    ) -> Result<(Attacker, tokio::task::JoinHandle<()>), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind the attacker's Authority: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let m = Attacker {
            issuer: format!("http://127.0.0.1:{port}"),
            host: "127.0.0.1".into(),
            port,
            consumer_id: consumer_id.into(),
            key: random_token(),
            state: Arc::default(),
            log,
            release: Arc::default(),
        };
        let app = Router::new()
            .fallback(handle)
            .with_state(Shared { m: m.clone() });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((m, task))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets the refresh answer `M` holds (`held-once`) go. Only one already held: a release
    /// is not kept for a later refresh (nor for a later scenario), so the runner releases
    /// after it has seen the refresh arrive; one it misses is answered after [`HOLD_LIMIT`].
    pub fn release_refresh(&self) {
        self.release.notify_waiters();
    }

    /// Forgets every flow and takes `behaviour` for the next scenario.
    pub fn reset(&self, behaviour: Behaviour) {
        let mut st = self.lock();
        let seen_states = std::mem::take(&mut st.seen_states);
        *st = MState {
            seen_states,
            behaviour,
            ..MState::default()
        };
    }

    /// The Subject's decision at `M` for the login whose authorize URL is `authorize_url`: the
    /// callback URL `M` sends the browser to (with `iss`, `state` and a fresh code, or
    /// `error=access_denied`), and the code.
    pub fn authorize(
        &self,
        authorize_url: &str,
        allow: bool,
        sub: Option<String>,
    ) -> Result<(String, Option<String>), String> {
        let handle = url::Url::parse(authorize_url)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "request")
                    .map(|(_, v)| v.into_owned())
            })
            .ok_or_else(|| format!("{authorize_url} is not an authorize URL of M"))?;
        let mut st = self.lock();
        let flow = st
            .flows
            .iter_mut()
            .find(|f| f.handle == handle)
            .ok_or("M has no login with this authorize URL")?;
        let mut u = url::Url::parse(&flow.redirect_uri)
            .map_err(|e| format!("the handshake's redirect_uri: {e}"))?;
        let code = allow.then(random_token);
        {
            let mut q = u.query_pairs_mut();
            match &code {
                Some(c) => q.append_pair("code", c),
                None => q.append_pair("error", "access_denied"),
            };
            q.append_pair("state", &flow.state);
            q.append_pair("iss", &self.issuer);
        }
        flow.code.clone_from(&code);
        flow.sub = Some(sub.unwrap_or_else(|| format!("m-{}", &random_token()[..16])));
        Ok((u.to_string(), code))
    }

    /// Every `sid` `M` issued (the runner checks none reaches a browser, TSR-CONSUMER-2).
    pub fn sids(&self) -> Vec<String> {
        let st = self.lock();
        st.flows
            .iter()
            .map(|f| f.sid.clone())
            .chain(st.refreshed_sids.iter().cloned())
            .collect()
    }

    /// `M`'s issuer as given to the Consumer at reset ([`Behaviour::issuer_host`],
    /// [`Behaviour::issuer_suffix`]).
    pub fn configured_issuer(&self) -> String {
        let b = &self.lock().behaviour;
        match (&b.issuer_host, &b.issuer_suffix) {
            (None, None) => self.issuer.clone(),
            (h, suffix) => format!(
                "http://{}:{}{}",
                h.as_deref().unwrap_or(&self.host),
                self.port,
                suffix.as_deref().unwrap_or_default()
            ),
        }
    }

    fn metadata(&self, fault: Option<&str>) -> Value {
        let i = &self.configured_issuer();
        let mut m = json!({
            "issuer": i,
            "handshake_endpoint": format!("{i}/v1/handshake"),
            "authorize_endpoint": format!("{i}/authorize"),
            "result_endpoint": format!("{i}/v1/result"),
            "refresh_endpoint": format!("{i}/v1/refresh"),
            "revoke_endpoint": format!("{i}/v1/revoke"),
            "app_ticket_endpoint": format!("{i}/v1/app-ticket"),
            "reissue_endpoint": format!("{i}/v1/reissue"),
            "delegate_endpoint": format!("{i}/v1/delegate"),
            "exchange_endpoint": format!("{i}/v1/exchange"),
            "subject_endpoint": format!("{i}/v1/subject"),
            "ticket_endpoint": format!("{i}/v1/ticket"),
            "hawk": { "version": "1.1", "algorithms": ["sha256"], "timestamp_skew_seconds": SKEW },
            "grants_supported": ["staff"],
            "scopes_supported": ["email"],
            "ttl": { "authorize": 600, "code": 60, "session": 86400, "family": 2592000, "ticket": 3600 },
            "conformance_mode": false,
            "protocol_version": "1.1"
        });
        match fault {
            Some("issuer-mismatch") => {
                m["issuer"] = json!(format!("http://localhost:{}", self.port));
            }
            Some("endpoint-elsewhere") => {
                m["result_endpoint"] = json!(format!("{i}.evil.example/v1/result"));
            }
            Some("protocol-v1") => m["protocol_version"] = json!("1"),
            Some("no-sha256") => m["hawk"]["algorithms"] = json!(["sha1"]),
            Some("other-paths") => {
                for (name, v) in m.as_object_mut().into_iter().flatten() {
                    if name.ends_with("_endpoint") {
                        let path = v
                            .as_str()
                            .unwrap_or_default()
                            .trim_start_matches(i.as_str());
                        *v = json!(format!("{i}/alt{path}"));
                    }
                }
            }
            _ => {}
        }
        m
    }
}

/// Every request to `M`.
async fn handle(
    State(s): State<Shared>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let m = &s.m;
    let path = uri.path().to_string();
    // with an issuer suffix, `{issuer}/.well-known/tessera-authority` is elsewhere
    let at_suffix = m.lock().behaviour.issuer_suffix.is_some()
        && uri
            .path_and_query()
            .is_some_and(|p| p.as_str().ends_with("/.well-known/tessera-authority"));
    if method == axum::http::Method::GET && (path == "/.well-known/tessera-authority" || at_suffix)
    {
        let b = m.lock().behaviour.clone();
        let mut doc = m.metadata(b.metadata.as_deref());
        if b.unknown_members {
            doc = with_unknown_members(doc);
        }
        return json_response(StatusCode::OK, &doc, None);
    }
    if path.starts_with("/v1/") || path.starts_with("/alt/v1/") {
        m.log.record(format!("M {path}"));
    }
    // `other-paths`: the endpoints are where the metadata says, under /alt/, and only there
    let alt = m.lock().behaviour.metadata.as_deref() == Some("other-paths");
    let endpoint = match (alt, path.strip_prefix("/alt")) {
        (true, Some(p)) => p.to_string(),
        (true, None) => String::new(),
        (false, _) => path.clone(),
    };
    // Hawk, checked as an Authority does (chapter 4); M is the attacker's, but refusing a badly
    // signed request shows the Consumer signed with its key for M (TSR-CONSUMER-5).
    let target = uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_string());
    let (request, ticket) = match verify(m, method.as_str(), &target, &headers, &body) {
        Ok(a) => a,
        Err(Refusal::Stale) => {
            let mut st = m.lock();
            st.stale_sent = true;
            let ts = now() + st.offset;
            let forged = st.behaviour.stale.as_deref() == Some("bad-tsm");
            return stale_reply(m, ts, forged);
        }
        Err(Refusal::Invalid(why)) => {
            return json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_credentials", "message": why}),
                None,
            );
        }
    };
    let behaviour = m.lock().behaviour.clone();
    if endpoint == "/v1/subject" && method == axum::http::Method::GET {
        return subject(m, &request, ticket.as_ref(), &behaviour);
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return signed(
                m,
                &request,
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_request"}),
                None,
            )
        }
    };
    match endpoint.as_str() {
        "/v1/handshake" => {
            if let Some(kind) = behaviour.stale.as_deref() {
                let mut st = m.lock();
                if !st.stale_sent {
                    st.stale_sent = true;
                    st.offset = 300;
                    let ts = now() + st.offset;
                    return stale_reply(m, ts, kind == "bad-tsm");
                }
            }
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            // TSR-HANDSHAKE-7, TSR-CONSUMER-13: 22 to 128 characters of base64url (at least 128
            // bits), fresh for each login
            let state = body["state"].as_str().unwrap_or_default().to_string();
            let well_formed = (22..=128).contains(&state.len())
                && state
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed || !m.lock().seen_states.insert(state.clone()) {
                return signed(
                    m,
                    &request,
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request", "message": "state missing, malformed or not fresh"}),
                    None,
                );
            }
            let flow = Flow {
                handle: random_token(),
                sid: random_token(),
                state,
                redirect_uri: body["redirect_uri"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                grants: strings(&body["grants"]),
                scopes: strings(&body["scopes"]),
                code: None,
                sub: None,
            };
            let offset = m.lock().offset;
            let mut answer = json!({
                "sid": flow.sid,
                "authorize_url": format!("{}/authorize?request={}", m.issuer, flow.handle),
                "exp": now() + offset + 600,
                "iss": m.issuer,
            });
            match behaviour.handshake.as_deref() {
                Some("other-iss") => answer["iss"] = json!(format!("http://localhost:{}", m.port)),
                Some("authorize-elsewhere") => {
                    answer["authorize_url"] = json!(format!(
                        "{}.evil.example/authorize?request={}",
                        m.issuer, flow.handle
                    ));
                }
                Some("sid-in-url") => {
                    answer["authorize_url"] = json!(format!(
                        "{}/authorize?request={}&sid={}",
                        m.issuer, flow.handle, flow.sid
                    ));
                }
                _ => {}
            }
            m.lock().flows.push(flow);
            let fault = (behaviour.fault_on.as_deref() == Some("handshake"))
                .then_some(behaviour.server_authorization.as_deref())
                .flatten();
            signed(m, &request, StatusCode::OK, &answer, fault)
        }
        "/v1/result" => {
            let sid = body["sid"].as_str().unwrap_or_default();
            let code = body["code"].as_str().unwrap_or_default();
            let flow = m
                .lock()
                .flows
                .iter()
                .find(|f| f.sid == sid && f.code.as_deref() == Some(code))
                .cloned();
            let Some(flow) = flow else {
                return signed(
                    m,
                    &request,
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_code"}),
                    None,
                );
            };
            let answer = result(m, &flow, behaviour.result.as_deref());
            if let Some(t) = IssuedTicket::of(&answer, &flow) {
                m.lock().tickets.push(t);
            }
            let fault = (behaviour.fault_on.as_deref() == Some("result"))
                .then_some(behaviour.server_authorization.as_deref())
                .flatten();
            signed(m, &request, StatusCode::OK, &answer, fault)
        }
        "/v1/refresh" => refresh(m, &request, &behaviour, &body).await,
        _ => signed(
            m,
            &request,
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found"}),
            None,
        ),
    }
}

/// `POST /v1/refresh` (spec 6.3): the `sid` of an authorized login rotated, a new ticket; the
/// first one answered wrongly (or late) when [`Behaviour::refresh`] asks.
async fn refresh(
    m: &Attacker,
    request: &Artifacts,
    behaviour: &Behaviour,
    body: &Value,
) -> Response {
    let sid = body["sid"].as_str().unwrap_or_default();
    let fault = {
        let mut st = m.lock();
        let first = !st.refresh_faulted;
        st.refresh_faulted = true;
        behaviour.refresh.as_deref().filter(|_| first)
    };
    if fault == Some("held-once") {
        let _ = tokio::time::timeout(HOLD_LIMIT, m.release.notified()).await;
    }
    let fault = fault.filter(|f| *f != "held-once");
    let Some(flow) = m
        .lock()
        .flows
        .iter()
        .find(|f| f.sid == sid && f.sub.is_some())
        .cloned()
    else {
        return signed(
            m,
            request,
            StatusCode::BAD_REQUEST,
            &json!({"error": "unknown_session"}),
            None,
        );
    };
    if fault == Some("unavailable-once") {
        return signed(
            m,
            request,
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "temporarily_unavailable"}),
            None,
        );
    }
    let new_sid = match fault {
        Some("empty-sid-once") => String::new(),
        _ => random_token(),
    };
    let answer = json!({
        "previous_sid": sid,
        "sid": new_sid,
        "exp": now() + 86_400,
        "ticket": result(m, &flow, None)["ticket"],
    });
    {
        let mut st = m.lock();
        if !new_sid.is_empty() {
            // (an empty one is in every page: nothing to look for)
            st.refreshed_sids.push(new_sid.clone());
        }
        if fault.is_none() {
            if let Some(f) = st.flows.iter_mut().find(|f| f.sid == sid) {
                f.sid = new_sid;
            }
            // the login's old ticket stops working: the Consumer must use the new one
            st.tickets.retain(|t| t.flow != flow.handle);
            if let Some(t) = IssuedTicket::of(&answer, &flow) {
                st.tickets.push(t);
            }
        }
    }
    let sa_fault = (fault == Some("bad-mac-once")).then_some("bad-mac");
    signed(m, request, StatusCode::OK, &answer, sa_fault)
}

/// `GET /v1/subject` (spec 7.6) with a live ticket of `M`'s: `sub` and the data of the ticket's
/// scope (`other-sub`: another Subject's). Signed with the ticket's key (spec 4.6).
fn subject(
    m: &Attacker,
    request: &Artifacts,
    ticket: Option<&IssuedTicket>,
    behaviour: &Behaviour,
) -> Response {
    let Some(t) = ticket else {
        return signed(
            m,
            request,
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_credentials", "message": "not a ticket"}),
            None,
        );
    };
    let sub = match behaviour.subject.as_deref() {
        Some("other-sub") => format!("m-{}", &random_token()[..16]),
        _ => t.sub.clone(),
    };
    let data = json!({"sub": sub, "email": format!("{}@m.example", &t.sub)});
    signed_with(&t.key, m, request, StatusCode::OK, &data, None)
}

/// The result `M` answers for `flow` (spec 5.5), with the shape fault `fault`.
fn result(m: &Attacker, flow: &Flow, fault: Option<&str>) -> Value {
    let sub = flow.sub.clone().unwrap_or_default();
    let grants: serde_json::Map<String, Value> = flow
        .grants
        .iter()
        .map(|g| (g.clone(), json!(false)))
        .collect();
    let scopes: serde_json::Map<String, Value> = flow
        .scopes
        .iter()
        .map(|s| (s.clone(), json!(true)))
        .collect();
    let mut r = json!({
        "sub": sub,
        "grants": grants,
        "scopes": scopes,
        "exp": now() + 86_400,
        "ticket": {
            "id": format!("m1.{}", random_token()),
            "key": random_token(),
            "algorithm": "sha256",
            "exp": now() + 3_600,
            "app": m.consumer_id,
            "user": sub,
            "scope": flow.scopes,
            "grant": format!("fam-{}", &random_token()[..16]),
            "dlg": null,
            "delegate": false,
        }
    });
    match fault {
        Some("empty-sub") => {
            r["sub"] = json!("");
            r["ticket"]["user"] = json!("");
        }
        Some("sub-with-space") => {
            r["sub"] = json!("a b");
            r["ticket"]["user"] = json!("a b");
        }
        Some("sub-not-string") => r["sub"] = json!(42),
        Some(f @ ("sub-too-long" | "sub-at-bound")) => {
            let sub = "s".repeat(if f == "sub-too-long" { 256 } else { 255 });
            r["sub"] = json!(sub);
            r["ticket"]["user"] = json!(sub);
        }
        Some("extra-grant") => r["grants"]["admin"] = json!(true),
        Some("missing-scope") => {
            r["scopes"] = json!({});
            r["ticket"]["scope"] = json!([]);
        }
        Some("no-ticket") => {
            if let Some(o) = r.as_object_mut() {
                o.remove("ticket");
            }
        }
        Some("ticket-other-app") => r["ticket"]["app"] = json!("another-consumer"),
        Some("ticket-other-user") => r["ticket"]["user"] = json!("someone-else"),
        Some("ticket-sha1") => r["ticket"]["algorithm"] = json!("sha1"),
        Some("ticket-short-key") => r["ticket"]["key"] = json!("short"),
        Some("ticket-wider-scope") => r["ticket"]["scope"] = json!(["email", "profile"]),
        Some("ticket-delegated") => r["ticket"]["dlg"] = json!("another-consumer"),
        _ => {}
    }
    r
}

enum Refusal {
    Stale,
    Invalid(String),
}

/// Checks the request's Hawk header with the Consumer's key at `M`, or with a live ticket `M`
/// issued, which must then carry `app` (spec 4.2–4.5, TSR-HAWK-14); returns that ticket.
fn verify(
    m: &Attacker,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Artifacts, Option<IssuedTicket>), Refusal> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal::Invalid("no Authorization".into()))?;
    let attrs = hawk::parse_attributes(header).map_err(Refusal::Invalid)?;
    let get = |k: &str| attrs.get(k).cloned();
    let id = get("id").unwrap_or_default();
    let ticket = m.lock().tickets.iter().find(|t| t.id == id).cloned();
    let key = match &ticket {
        _ if id == m.consumer_id && get("app").is_none() => m.key.clone(),
        Some(t) if get("app").as_deref() == Some(m.consumer_id.as_str()) => t.key.clone(),
        _ => {
            return Err(Refusal::Invalid(
                "unknown id, or app missing or wrong".into(),
            ))
        }
    };
    let ts: i64 = get("ts")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Refusal::Invalid("bad ts".into()))?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let a = Artifacts {
        method: method.to_string(),
        target: target.to_string(),
        host: m.host.clone(),
        port: m.port,
        ts,
        nonce: get("nonce").ok_or_else(|| Refusal::Invalid("no nonce".into()))?,
        hash: get("hash"),
        ext: get("ext"),
        app: get("app"),
        dlg: get("dlg"),
    };
    let want = hawk::mac(&Credentials { id, key }, Kind::Header, &a);
    if get("mac").as_deref() != Some(want.as_str()) {
        return Err(Refusal::Invalid("bad mac".into()));
    }
    if !body.is_empty() && a.hash.as_deref() != Some(&hawk::payload_hash(content_type, body)) {
        return Err(Refusal::Invalid("bad payload hash".into()));
    }
    let offset = m.lock().offset;
    if (ts - (now() + offset)).abs() > SKEW {
        return Err(Refusal::Stale);
    }
    Ok((a, ticket))
}

/// `401 stale_timestamp` with `M`'s time `ts` and its `tsm` (spec TSR-HAWK-8); `forged`: the
/// `tsm` made with another key.
fn stale_reply(m: &Attacker, ts: i64, forged: bool) -> Response {
    let key = if forged {
        random_token()
    } else {
        m.key.clone()
    };
    let tsm = hawk::hmac_b64(&key, &format!("hawk.1.ts\n{ts}\n"));
    let www = format!("Hawk ts=\"{ts}\", tsm=\"{tsm}\", error=\"Stale timestamp\"");
    let mut r = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "stale_timestamp"}),
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&www) {
        r.headers_mut().insert("www-authenticate", v);
    }
    r
}

/// A JSON answer with its `Server-Authorization` (spec 4.6, TSR-HAWK-17), or with `fault`.
fn signed(
    m: &Attacker,
    request: &Artifacts,
    status: StatusCode,
    body: &Value,
    fault: Option<&str>,
) -> Response {
    signed_with(&m.key, m, request, status, body, fault)
}

/// [`signed`] with the credentials' key `key` (a ticket's, for the Subject data API).
fn signed_with(
    key: &str,
    m: &Attacker,
    request: &Artifacts,
    status: StatusCode,
    body: &Value,
    fault: Option<&str>,
) -> Response {
    let body = &if m.lock().behaviour.unknown_members {
        with_unknown_members(body.clone())
    } else {
        body.clone()
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut hash = hawk::payload_hash("application/json", &bytes);
    let mut ext = Some(format!("status={}", status.as_u16()));
    let mut key = key.to_string();
    match fault {
        Some("bad-mac") => key = random_token(),
        Some("bad-hash") => hash = hawk::payload_hash("application/json", b"{}"),
        Some("no-ext") => ext = None,
        Some("status-400") => ext = Some("status=400".into()),
        _ => {}
    }
    let response = Artifacts {
        hash: Some(hash.clone()),
        ext: ext.clone(),
        ..request.clone()
    };
    let mac = hawk::mac(
        &Credentials {
            id: m.consumer_id.clone(),
            key,
        },
        Kind::Response,
        &response,
    );
    let mut header = format!("Hawk mac=\"{mac}\", hash=\"{hash}\"");
    if let Some(e) = ext {
        header.push_str(&format!(", ext=\"{e}\""));
    }
    let sa = (fault != Some("missing")).then_some(header);
    json_response(status, body, sa)
}

fn json_response(
    status: StatusCode,
    body: &Value,
    server_authorization: Option<String>,
) -> Response {
    let mut r = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    if let Some(v) = server_authorization.and_then(|s| HeaderValue::from_str(&s).ok()) {
        h.insert("server-authorization", v);
    }
    r
}
