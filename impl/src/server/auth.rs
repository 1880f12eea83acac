//! Hawk authentication of JSON API requests (spec chapter 4), as axum extractors, and the
//! signing of their responses with `Server-Authorization` (spec TSR-HAWK-12).
//!
//! Order of checks (spec 4.8): body size and media type (413, 415); the `Authorization`
//! header (TSR-HAWK-2, TSR-HAWK-3); credentials lookup and MAC (TSR-HAWK-6, TSR-HAWK-4);
//! payload hash (TSR-HAWK-5); Oz attributes (TSR-HAWK-14); timestamp (TSR-HAWK-7); nonce
//! (TSR-HAWK-9); ticket revocation and expiry (TSR-TICKET-6, TSR-TICKET-5). The body is
//! parsed by the handler afterwards (TSR-CONV-6).

use super::{AppState, BODY_LIMIT};
use crate::core::{self, Consumer, Subject, TicketContents};
use crate::error::{json_headers, Error};
use crate::hawk::{self, Artifacts, Credentials, NonceCheck, NonceError, Payload, VerifyError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

/// Reads the body under the 16 KiB limit and checks its media type (spec TSR-CONV-4,
/// TSR-CONV-5).
pub(crate) async fn read_body(parts: &Parts, body: axum::body::Body) -> Result<Bytes, Error> {
    // spec TSR-CONV-5: refuse on the announced length without reading
    if let Some(len) = parts.headers.get(header::CONTENT_LENGTH) {
        let len: Option<usize> = len.to_str().ok().and_then(|s| s.parse().ok());
        match len {
            Some(n) if n > BODY_LIMIT => return Err(Error::PayloadTooLarge),
            Some(_) => {}
            None => return Err(Error::invalid_request("bad Content-Length")),
        }
    }
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|e| super::listener::body_read_error(&e))?;
    // spec TSR-CONV-4
    let ct = parts.headers.get(header::CONTENT_TYPE);
    let is_json = ct
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| hawk::normalize_content_type(Some(v)) == "application/json");
    let needs_check = !bytes.is_empty() || (parts.method == Method::POST && ct.is_some());
    if needs_check && !is_json {
        return Err(Error::UnsupportedMediaType);
    }
    Ok(bytes)
}

/// Which kind of credentials an endpoint takes (spec 4.1, TSR-HAWK-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Consumer,
    Ticket,
}

/// A ticket as the opened-ticket cache keeps it: its contents and its Hawk credentials.
#[derive(Debug, Clone)]
pub(crate) struct OpenedTicket {
    contents: Arc<TicketContents>,
    credentials: Credentials,
}

/// Who a verified request came from.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Consumer(Consumer),
    Ticket(Arc<TicketContents>),
}

/// A verified request: whose it is, its body, and what signing the response needs.
#[derive(Debug)]
pub(crate) struct Signer {
    credentials: Credentials,
    artifacts: Artifacts,
}

impl Signer {
    /// Renders `result` as the JSON response, with `Server-Authorization` (spec TSR-HAWK-12)
    /// and the headers of spec TSR-CONV-2.
    pub(crate) fn respond<T: Serialize>(&self, result: Result<T, Error>) -> Response {
        let (status, body, error) =
            match result.and_then(|v| serde_json::to_vec(&v).map_err(|_| Error::Internal)) {
                Ok(body) => (StatusCode::OK, body, None),
                Err(e) => (e.status(), e.body(), Some(e)),
            };
        // spec TSR-HAWK-17: the MAC covers the status too, through `ext`
        let ext = hawk::status_ext(status.as_u16());
        let sa = hawk::server_authorization_header(
            &self.credentials,
            &self.artifacts,
            Some(Payload {
                content_type: Some("application/json"),
                body: &body,
            }),
            Some(&ext),
        );
        let mut resp = (status, body).into_response();
        json_headers(&mut resp);
        if let Some(e) = &error {
            e.add_headers(resp.headers_mut());
        }
        if let Some(v) = sa.ok().and_then(|v| HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().insert("server-authorization", v);
        }
        resp
    }
}

/// A request authenticated with Consumer credentials.
#[derive(Debug)]
pub(crate) struct ConsumerCall {
    pub consumer: Consumer,
    pub body: Bytes,
    pub signer: Signer,
}

/// A request authenticated with ticket credentials, unexpired and unrevoked.
#[derive(Debug)]
pub(crate) struct TicketCall {
    pub ticket: Arc<TicketContents>,
    pub body: Bytes,
    pub signer: Signer,
}

/// A [`TicketCall`] with the ticket's Subject (`None`: an app ticket, or the account is gone),
/// read together with the ticket's revocation checks (one store read).
#[derive(Debug)]
pub(crate) struct SubjectCall {
    pub call: TicketCall,
    pub subject: Option<Arc<Subject>>,
}

impl FromRequest<AppState> for ConsumerCall {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (caller, body, signer, _) = authenticate(req, state, Kind::Consumer, false).await?;
        match caller {
            Caller::Consumer(consumer) => Ok(Self {
                consumer,
                body,
                signer,
            }),
            Caller::Ticket(_) => Err(signer.respond::<()>(Err(Error::InvalidCredentials))),
        }
    }
}

impl FromRequest<AppState> for TicketCall {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        Ok(ticket_call(req, state, false).await?.call)
    }
}

impl FromRequest<AppState> for SubjectCall {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        ticket_call(req, state, true).await
    }
}

async fn ticket_call(
    req: Request,
    state: &AppState,
    with_subject: bool,
) -> Result<SubjectCall, Response> {
    let (caller, body, signer, subject) =
        authenticate(req, state, Kind::Ticket, with_subject).await?;
    match caller {
        Caller::Ticket(ticket) => Ok(SubjectCall {
            call: TicketCall {
                ticket,
                body,
                signer,
            },
            subject,
        }),
        Caller::Consumer(_) => Err(signer.respond::<()>(Err(Error::InvalidCredentials))),
    }
}

/// A nonce check that remembers nothing: used to finish the MAC and hash checks of a request
/// that already failed the Oz attribute check, so it reports in the order of spec 4.8
/// without touching the nonce cache.
struct NoNonce;

impl NonceCheck for NoNonce {
    fn min_timestamp(&self) -> u64 {
        0
    }
    fn check_and_remember(&self, _: &str, _: u64, _: &str, _: u64) -> Result<(), NonceError> {
        Ok(())
    }
}

/// The server's nonce check, charging each entry to the Consumer the credentials belong to
/// (its key or its tickets), so one Consumer's quota never lets it lock out another.
struct ChargedTo<'a> {
    nonces: &'a dyn NonceCheck,
    owner: &'a str,
}

impl NonceCheck for ChargedTo<'_> {
    fn min_timestamp(&self) -> u64 {
        self.nonces.min_timestamp()
    }
    fn check_and_remember(
        &self,
        id: &str,
        ts: u64,
        nonce: &str,
        now: u64,
    ) -> Result<(), NonceError> {
        self.nonces
            .check_and_remember_for(self.owner, id, ts, nonce, now)
    }
}

fn looks_like_ticket(id: &str) -> bool {
    id.starts_with("t1.")
}

/// Authenticates `req` as `kind`; with `with_subject`, also reads a user ticket's Subject.
async fn authenticate(
    req: Request,
    state: &AppState,
    kind: Kind,
    with_subject: bool,
) -> Result<(Caller, Bytes, Signer, Option<Arc<Subject>>), Response> {
    let (parts, body) = req.into_parts();
    let body = read_body(&parts, body)
        .await
        .map_err(IntoResponse::into_response)?;

    // spec TSR-HAWK-2, TSR-HAWK-3
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(raw) = values.next() else {
        return Err(Error::Unauthenticated.into_response());
    };
    let raw_bytes = raw.as_bytes();
    let scheme_end = raw_bytes
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(raw_bytes.len());
    if !raw_bytes[..scheme_end].eq_ignore_ascii_case(b"hawk") {
        return Err(Error::Unauthenticated.into_response());
    }
    if values.next().is_some() {
        return Err(Error::InvalidHeader.into_response());
    }
    let header_str = raw
        .to_str()
        .map_err(|_| Error::InvalidHeader.into_response())?;
    let parsed = hawk::parse_authorization_header(header_str)
        .map_err(|_| Error::InvalidHeader.into_response())?;

    // spec TSR-HAWK-1, TSR-HAWK-6, TSR-TICKET-8: look the id up as the endpoint's kind only
    let now = state.now();
    let (caller, credentials) = match kind {
        Kind::Consumer => {
            if looks_like_ticket(&parsed.id) {
                return Err(Error::InvalidCredentials.into_response());
            }
            let id = parsed.id.clone();
            let consumer = state
                .db_read(move |s| s.consumer(&id))
                .await
                .map_err(IntoResponse::into_response)?
                .ok_or_else(|| Error::InvalidCredentials.into_response())?;
            let credentials =
                Credentials::new(parsed.id.clone(), consumer.key.as_bytes(), "sha256")
                    .map_err(|_| Error::InvalidCredentials.into_response())?;
            (Caller::Consumer(consumer), credentials)
        }
        Kind::Ticket => {
            // the ticket's Hawk credentials (its HMAC key set up) are kept with it
            let opened = state
                .0
                .opened_tickets
                .open(&state.0.sealer, &parsed.id, |plain| {
                    let contents = core::parse_ticket(plain)?;
                    let credentials =
                        Credentials::new(parsed.id.clone(), contents.key.as_bytes(), "sha256")
                            .ok()?;
                    Some(OpenedTicket {
                        contents: Arc::new(contents),
                        credentials,
                    })
                })
                .ok_or_else(|| Error::InvalidCredentials.into_response())?;
            (Caller::Ticket(opened.contents), opened.credentials)
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = Payload {
        content_type,
        body: &body,
    };
    // what the request MAC covers (the server's own origin, never the Host header), built
    // once: the response MAC covers it too
    let artifacts = Artifacts {
        method: parts.method.as_str().to_owned(),
        resource: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        host: state.config().issuer.host().to_owned(),
        port: state.config().issuer.port(),
        ts: parsed.ts,
        nonce: parsed.nonce.clone(),
        hash: parsed.hash.clone(),
        ext: parsed.ext.clone(),
        app: parsed.app.clone(),
        dlg: parsed.dlg.clone(),
    };
    let signer = Signer {
        credentials,
        artifacts,
    };
    let now_u = u64::try_from(now).unwrap_or(0);
    let skew = u64::try_from(state.config().skew).unwrap_or(60);

    // spec TSR-HAWK-14: app/dlg must match the ticket, and are refused with Consumer credentials
    let oz_ok = match &caller {
        Caller::Consumer(_) => parsed.app.is_none() && parsed.dlg.is_none(),
        Caller::Ticket(t) => parsed.app.as_deref() == Some(t.app.as_str()) && parsed.dlg == t.dlg,
    };
    let verdict = if oz_ok {
        let owner = match &caller {
            Caller::Consumer(c) => c.id.as_str(),
            Caller::Ticket(t) => t.app.as_str(),
        };
        hawk::verify_request(
            &parsed,
            &signer.credentials,
            &signer.artifacts,
            payload,
            now_u,
            skew,
            &ChargedTo {
                nonces: &state.0.nonces,
                owner,
            },
        )
    } else {
        // MAC and hash first (spec 4.8), then the Oz failure; no nonce is remembered
        match hawk::verify_request(
            &parsed,
            &signer.credentials,
            &signer.artifacts,
            payload,
            now_u,
            u64::MAX,
            &NoNonce,
        ) {
            Err(
                e @ (VerifyError::BadMac
                | VerifyError::MissingPayloadHash
                | VerifyError::BadPayloadHash),
            ) => Err(e),
            _ => Err(VerifyError::CredentialsMismatch),
        }
    };
    match verdict {
        Ok(()) => {}
        // spec TSR-HAWK-4
        Err(VerifyError::BadMac) => return Err(Error::InvalidCredentials.into_response()),
        // spec TSR-HAWK-14 (MAC verified): signed
        Err(VerifyError::CredentialsMismatch) => {
            return Err(signer.respond::<()>(Err(Error::InvalidCredentials)))
        }
        // spec TSR-HAWK-5
        Err(VerifyError::MissingPayloadHash | VerifyError::BadPayloadHash) => {
            return Err(signer.respond::<()>(Err(Error::InvalidPayloadHash)))
        }
        // spec TSR-HAWK-7, TSR-HAWK-8, TSR-HAWK-10: not signed
        Err(VerifyError::Stale(s)) => {
            return Err(Error::StaleTimestamp {
                now: i64::try_from(s.now).unwrap_or(i64::MAX),
                tsm: hawk::timestamp_mac(&signer.credentials, s.now),
            }
            .into_response())
        }
        // spec TSR-HAWK-9
        Err(VerifyError::Replayed) => return Err(signer.respond::<()>(Err(Error::ReplayedRequest))),
        // spec TSR-HAWK-11
        Err(VerifyError::NonceCacheFull) => {
            tracing::warn!("nonce cache full of live nonces; refusing requests");
            return Err(signer.respond::<()>(Err(Error::TemporarilyUnavailable)));
        }
    }

    let mut subject = None;
    if let Caller::Ticket(t) = &caller {
        // spec TSR-TICKET-6, TSR-TICKET-5 (revocation first, as TSR-SESSION-1); a read only,
        // spec TSR-TICKET-7
        // spec TSR-REVOKE-3: seen on the next request (the SQLite store answers from its record
        // cache, checked against the records generation on every call), on this thread when
        // the store's reads never wait
        let ticket = Arc::clone(t);
        let standing = match state
            .db_read(move |s| {
                let subject = ticket.subject_id.as_deref().filter(|_| with_subject);
                s.ticket_standing(ticket.grant.as_deref(), &ticket.app, subject)
            })
            .await
        {
            Ok(standing) => standing,
            Err(e) => return Err(signer.respond::<()>(Err(e))),
        };
        let revoked = !standing.family_live;
        // spec TSR-REG-8: a ticket of a replaced Consumer key is revoked (app tickets too)
        let key_revoked = core::check_ticket_key(t, standing.consumer.as_deref()).is_err();
        if let Err(e) = core::check_ticket(now, t, revoked || key_revoked) {
            return Err(signer.respond::<()>(Err(e)));
        }
        subject = standing.subject;
    }
    tracing::debug!(id_kind = ?kind, "request authenticated");
    Ok((caller, body, signer, subject))
}
