//! The JSON API (spec chapters 5, 6, 7): each handler parses, loads, calls the core,
//! persists and renders.

use super::auth::{ConsumerCall, SubjectCall, TicketCall};
use super::AppState;
use crate::core::{self, secret_hash, RefreshOutcome, ResultOutcome};
use crate::error::{json_headers, Error};
use crate::wire::{
    self, AppTicketRequest, HandshakeRequest, ReissueRequest, ResultRequest, SidRequest,
};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// How often a handler re-decides after losing a compare-and-set to a concurrent request.
const CAS_ATTEMPTS: usize = 8;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/tessera-authority", get(metadata))
        .route("/v1/handshake", post(handshake))
        .route("/v1/result", post(result))
        .route("/v1/refresh", post(refresh))
        .route("/v1/revoke", post(revoke))
        .route("/v1/app-ticket", post(app_ticket))
        .route("/v1/reissue", post(reissue))
        .route("/v1/delegate", post(delegate))
        .route("/v1/exchange", post(exchange))
        .route("/v1/subject", get(subject))
        .route("/v1/ticket", get(ticket))
}

/// Renders a JSON value with the headers of spec TSR-CONV-2 (unauthenticated endpoints).
pub(crate) fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = body.into_response();
            json_headers(&mut resp);
            resp
        }
        Err(_) => Error::Internal.into_response(),
    }
}

/// `GET /.well-known/tessera-authority` (spec 5.1, TSR-META-1, TSR-META-2).
async fn metadata(State(st): State<AppState>) -> Response {
    let consumers = match st.db_read(|s| s.consumers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut grants: Vec<String> = consumers.iter().flat_map(|c| c.grants.clone()).collect();
    let mut scopes: Vec<String> = consumers.iter().flat_map(|c| c.scopes.clone()).collect();
    grants.sort();
    grants.dedup();
    scopes.sort();
    scopes.dedup();
    let cfg = st.config();
    let e = |p: &str| cfg.issuer.endpoint(p);
    json_response(&wire::Metadata {
        issuer: cfg.issuer.as_str().to_owned(),
        handshake_endpoint: e("/v1/handshake"),
        authorize_endpoint: e("/authorize"),
        result_endpoint: e("/v1/result"),
        refresh_endpoint: e("/v1/refresh"),
        revoke_endpoint: e("/v1/revoke"),
        app_ticket_endpoint: e("/v1/app-ticket"),
        reissue_endpoint: e("/v1/reissue"),
        delegate_endpoint: e("/v1/delegate"),
        exchange_endpoint: e("/v1/exchange"),
        subject_endpoint: e("/v1/subject"),
        ticket_endpoint: e("/v1/ticket"),
        hawk: wire::HawkMetadata {
            version: "1.1".into(),
            algorithms: vec!["sha256".into()],
            timestamp_skew_seconds: cfg.skew,
        },
        grants_supported: grants,
        scopes_supported: scopes,
        ttl: cfg.ttl.metadata(),
        conformance_mode: cfg.conformance,
        // spec TSR-META-3
        protocol_version: crate::PROTOCOL_VERSION.into(),
    })
}

/// `POST /v1/handshake` (spec 5.2).
async fn handshake(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        // spec TSR-CONV-6: parsed only now, after authentication
        let req: HandshakeRequest = wire::parse(&call.body)?;
        // spec TSR-CONV-16: each handshake stores a session; bounded per Consumer
        st.allow_handshake(&call.consumer.id, st.now())
            .map_err(|retry_after| Error::TooManyRequests { retry_after })?;
        let new = core::handshake(&st.env(st.now()), &call.consumer, req)?;
        let session = new.session.clone();
        st.db(move |s| s.create_session(&session)).await?;
        tracing::info!(consumer = %call.consumer.id, "handshake: session pending");
        Ok(new.response)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/result` (spec 5.5).
async fn result(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        let req: ResultRequest = wire::parse(&call.body)?;
        let sid_hash = secret_hash(&req.sid);
        for _ in 0..CAS_ATTEMPTS {
            let h = sid_hash.clone();
            let session = st.db_read(move |s| s.session(&h)).await?;
            match core::result(
                &st.env(st.now()),
                &call.consumer,
                session,
                &req,
            ) {
                ResultOutcome::Refuse(e) => return Err(e),
                ResultOutcome::RefuseAndRevoke(e, family) => {
                    // spec TSR-RESULT-9
                    tracing::warn!(consumer = %call.consumer.id, error = e.code(), "code reused: family revoked");
                    st.db(move |s| s.revoke_family(&family)).await?;
                    return Err(e);
                }
                ResultOutcome::Redeem {
                    session,
                    family_end,
                    response,
                } => {
                    // spec TSR-RESULT-7, TSR-SESSION-2: exactly once, durable before answering
                    if st.db(move |s| s.redeem(&session, family_end)).await? {
                        tracing::info!(consumer = %call.consumer.id, "result: code redeemed, session active");
                        return Ok(response);
                    }
                }
            }
        }
        Err(Error::TemporarilyUnavailable)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/refresh` (spec 6.3).
async fn refresh(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        let req: SidRequest = wire::parse(&call.body)?;
        let sid_hash = secret_hash(&req.sid);
        for _ in 0..CAS_ATTEMPTS {
            let h = sid_hash.clone();
            let (session, family) = st.db_read(move |s| s.session_with_family(&h)).await?;
            match core::refresh(&st.env(st.now()), &call.consumer, session, family.as_ref(), &req.sid) {
                RefreshOutcome::Refuse(e) => return Err(e),
                RefreshOutcome::RefuseAndRevoke(e, family) => {
                    // spec TSR-REFRESH-5
                    tracing::warn!(consumer = %call.consumer.id, error = e.code(), "session reuse: family revoked");
                    st.db(move |s| s.revoke_family(&family)).await?;
                    return Err(e);
                }
                RefreshOutcome::Rotate {
                    old_sid_hash,
                    rotated,
                    new,
                    response,
                } => {
                    // spec TSR-REFRESH-3, TSR-REFRESH-4, TSR-SESSION-2
                    if st.db(move |s| s.rotate(&old_sid_hash, &rotated, &new)).await? {
                        tracing::info!(consumer = %call.consumer.id, "refresh: session rotated");
                        return Ok(response);
                    }
                }
            }
        }
        Err(Error::TemporarilyUnavailable)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/revoke` (spec 6.4).
async fn revoke(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        let req: SidRequest = wire::parse(&call.body)?;
        let h = secret_hash(&req.sid);
        let (session, family) = st.db_read(move |s| s.session_with_family(&h)).await?;
        // spec TSR-REVOKE-1, TSR-REVOKE-2, TSR-REVOKE-3 (durable before the answer)
        if let Some(family) = core::revoke(&call.consumer, session.as_ref(), family.as_ref()) {
            st.db(move |s| s.revoke_family(&family)).await?;
            tracing::info!(consumer = %call.consumer.id, "family revoked");
        }
        Ok(serde_json::json!({}))
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/app-ticket` (spec 7.4).
async fn app_ticket(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        if !call.body.is_empty() {
            let _: AppTicketRequest = wire::parse(&call.body)?;
        }
        core::app_ticket(&st.env(st.now()), &call.consumer)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/reissue` (spec 7.5).
async fn reissue(State(st): State<AppState>, call: TicketCall) -> Response {
    let out = async {
        let req: ReissueRequest = if call.body.is_empty() {
            ReissueRequest::default()
        } else {
            wire::parse(&call.body)?
        };
        core::reissue(&st.env(st.now()), &call.ticket, &req)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/delegate` (spec 7.7), signed with the delegator's ticket.
async fn delegate(State(st): State<AppState>, call: TicketCall) -> Response {
    let out = async {
        let req: wire::DelegateRequest = wire::parse(&call.body)?;
        let (app, to) = (call.ticket.app.clone(), req.delegate.clone());
        let (delegator, target) = st
            .db_read(move |s| Ok((s.consumer(&app)?, s.consumer(&to)?)))
            .await?;
        let (response, record) = core::delegate(
            &st.env(st.now()),
            &call.ticket,
            delegator.as_ref(),
            target.as_ref(),
            &req,
        )?;
        let name = core::delegation_name(&response.grant);
        let value = serde_json::to_vec(&record).map_err(|_| Error::Internal)?;
        // spec TSR-DELEGATE-4: kept (by hash) until exchanged once
        st.db(move |s| s.set_secret(&name, Some(&value))).await?;
        tracing::info!(delegator = %call.ticket.app, delegate = %response.delegate, "delegation grant issued");
        Ok(response)
    }
    .await;
    call.signer.respond(out)
}

/// `POST /v1/exchange` (spec 7.7), signed with the delegate's own Consumer key.
async fn exchange(State(st): State<AppState>, call: ConsumerCall) -> Response {
    let out = async {
        let req: wire::ExchangeRequest = wire::parse(&call.body)?;
        let name = core::delegation_name(&req.grant);
        // spec TSR-DELEGATE-4: single use, atomically
        let taken = st.db(move |s| s.take_secret(&name)).await?;
        let taken: Option<core::Delegation> = taken.and_then(|v| serde_json::from_slice(&v).ok());
        let family_revoked = match taken.as_ref().and_then(|d| d.ticket.grant.clone()) {
            Some(g) => st
                .db_read(move |s| s.family(&g))
                .await?
                .is_none_or(|f| f.revoked),
            None => true,
        };
        let t = core::exchange(&st.env(st.now()), &call.consumer, taken, family_revoked)?;
        tracing::info!(delegate = %call.consumer.id, "delegation grant exchanged");
        Ok(t)
    }
    .await;
    call.signer.respond(out)
}

/// `GET /v1/subject` (spec 7.6).
async fn subject(SubjectCall { call, subject }: SubjectCall) -> Response {
    call.signer
        .respond(core::subject_data(&call.ticket, subject.as_deref()))
}

/// `GET /v1/ticket` (spec 7.6, TSR-DATA-3).
async fn ticket(call: TicketCall) -> Response {
    call.signer.respond(Ok(call.ticket.info()))
}
