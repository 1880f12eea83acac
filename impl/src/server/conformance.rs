//! Conformance mode endpoints (spec appendix A). Mounted only in conformance mode; outside it
//! every `/conformance/…` path is `404 not_found` (spec TSR-CONF-1).

use super::api::json_response;
use super::auth::read_body;
use super::pages::{decide, DecideFailure};
use super::AppState;
use crate::core::Decision;
use crate::error::Error;
use crate::wire::{self, ClockAdvance, ClockNow, ConformanceAuthorize, Redirect};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/conformance/clock", get(clock).post(advance))
        .route("/conformance/fixtures", get(fixtures))
        .route("/conformance/authorize", post(authorize))
        .route(
            "/conformance/sealing-keys",
            get(sealing_keys).post(change_sealing_keys),
        )
}

async fn json_body<T: wire::Request>(req: Request) -> Result<T, Error> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(&parts, body).await?;
    wire::parse(&bytes)
}

/// `GET /conformance/clock` (spec A.2).
async fn clock(State(st): State<AppState>) -> Response {
    json_response(&ClockNow {
        now: st.now(),
        fence: fence(&st),
    })
}

/// spec TSR-CONF-16: the highest `ts` this start refuses (TSR-HAWK-10), read from the nonce
/// store itself, not from the request path's checks, so that the suite can hold one to the
/// other.
fn fence(st: &AppState) -> u64 {
    use crate::hawk::NonceCheck as _;
    st.0.nonces.min_timestamp().saturating_sub(1)
}

/// `POST /conformance/clock` (spec A.2, TSR-CONF-3, TSR-CONF-4).
async fn advance(State(st): State<AppState>, req: Request) -> Response {
    let out = async {
        let req: ClockAdvance = json_body(req).await?;
        let clock = st.0.test_clock.as_ref().ok_or(Error::NotFound)?;
        let now = clock.advance(req.advance).ok_or(Error::invalid_request(
            "advance must be an integer from 0 to 31536000",
        ))?;
        tracing::info!(advance = req.advance, now, "test clock advanced");
        Ok::<_, Error>(ClockNow {
            now,
            fence: fence(&st),
        })
    }
    .await;
    match out {
        Ok(v) => json_response(&v),
        Err(e) => e.into_response(),
    }
}

/// `GET /conformance/fixtures` (spec A.3, TSR-CONF-5).
async fn fixtures(State(st): State<AppState>) -> Response {
    match st.fixtures() {
        Some(f) => json_response(f),
        None => Error::NotFound.into_response(),
    }
}

/// `POST /conformance/sealing-keys` request (spec A.4a): `{"action": "rotate"}` or
/// `{"action": "withdraw", "kid": "…"}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealingKeyChange {
    action: String,
    #[serde(default)]
    kid: Option<String>,
}

impl wire::Request for SealingKeyChange {}

/// `GET`/`POST /conformance/sealing-keys` response (spec A.4a).
#[derive(Debug, serde::Serialize)]
struct SealingKeys {
    current: String,
    keys: Vec<String>,
    /// After a rotation: the key that was current, now retired.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

fn sealing_keys_now(st: &AppState, previous: Option<String>) -> SealingKeys {
    SealingKeys {
        current: st.0.sealer.current_kid(),
        keys: st.0.sealer.kids(),
        previous,
    }
}

/// `GET /conformance/sealing-keys` (spec A.4a).
async fn sealing_keys(State(st): State<AppState>) -> Response {
    json_response(&sealing_keys_now(&st, None))
}

/// `POST /conformance/sealing-keys` (spec A.4a, TSR-CONF-12): rotate to a fresh ticket sealing
/// key, or withdraw a retired one, as an operator would (TSR-TICKET-2).
async fn change_sealing_keys(State(st): State<AppState>, req: Request) -> Response {
    use crate::seal::SealError;
    let out = async {
        let change: SealingKeyChange = json_body(req).await?;
        let sealer = &st.0.sealer;
        match (change.action.as_str(), change.kid) {
            ("rotate", None) => {
                let kids = sealer.kids();
                let next = crate::seal::next_kid('c', kids.iter().map(String::as_str));
                let key = crate::seal::generate_key(&*st.0.rng);
                let previous = sealer.rotate_to(&next, &key).map_err(|_| Error::Internal)?;
                tracing::info!(kid = %sealer.current_kid(), "conformance: sealing key rotated");
                Ok::<_, Error>(sealing_keys_now(&st, Some(previous)))
            }
            ("withdraw", Some(kid)) => {
                sealer.withdraw(&kid).map_err(|e| match e {
                    SealError::CannotRemoveCurrent => {
                        Error::invalid_request("the current sealing key cannot be withdrawn")
                    }
                    _ => Error::invalid_request("no sealing key has this kid"),
                })?;
                tracing::info!(%kid, "conformance: sealing key withdrawn");
                Ok(sealing_keys_now(&st, None))
            }
            _ => Err(Error::invalid_request(
                "action must be \"rotate\" (no kid) or \"withdraw\" with a kid",
            )),
        }
    }
    .await;
    match out {
        Ok(v) => json_response(&v),
        Err(e) => e.into_response(),
    }
}

/// `POST /conformance/authorize` (spec A.4, TSR-CONF-6).
async fn authorize(State(st): State<AppState>, req: Request) -> Response {
    let out = async {
        let req: ConformanceAuthorize = json_body(req).await?;
        let url = url::Url::parse(&req.authorize_url)
            .map_err(|_| Error::invalid_request("authorize_url is not a URL"))?;
        let request = url
            .query_pairs()
            .find(|(k, _)| k == "request")
            .map(|(_, v)| v.into_owned())
            .ok_or(Error::invalid_request(
                "authorize_url has no request parameter",
            ))?;
        let username = req.username.clone();
        let subject = st
            .db_read(move |s| s.subject_by_username(&username))
            .await?
            .ok_or(Error::invalid_request("no such subject"))?;
        let redirect = match req.decision.as_str() {
            "allow" => decide_allow(&st, &request, &subject, req.scopes, req.delegates).await,
            "deny" => decide(&st, &request, &subject, Decision::Deny).await,
            _ => return Err(Error::invalid_request("decision must be allow or deny")),
        };
        match redirect {
            Ok(redirect) => Ok(Redirect { redirect }),
            // spec TSR-CONF-6: where the page would show an error, 400 invalid_request
            Err(DecideFailure::Problem(p)) => Err(Error::InvalidRequest(p.message().into())),
            Err(DecideFailure::Error(e)) => Err(e),
        }
    }
    .await;
    match out {
        Ok(v) => json_response(&v),
        Err(e) => e.into_response(),
    }
}

/// Allow with the given scopes and delegates ticked; by default (spec A.4) every requested
/// scope and every registered delegate.
async fn decide_allow(
    st: &AppState,
    request: &str,
    subject: &crate::core::Subject,
    scopes: Option<Vec<String>>,
    delegates: Option<Vec<String>>,
) -> Result<String, DecideFailure> {
    let h = crate::core::secret_hash(request);
    let session = st
        .db_read(move |s| s.session_by_request(&h))
        .await
        .map_err(DecideFailure::Error)?;
    let consumer = match session.as_ref().map(|s| s.consumer_id.clone()) {
        Some(id) => st
            .db_read(move |s| s.consumer(&id))
            .await
            .map_err(DecideFailure::Error)?,
        None => None,
    };
    let scopes = scopes.unwrap_or_else(|| session.map(|s| s.scopes).unwrap_or_default());
    let delegates = delegates.unwrap_or_else(|| consumer.map(|c| c.delegates).unwrap_or_default());
    decide(st, request, subject, Decision::Allow { scopes, delegates }).await
}
