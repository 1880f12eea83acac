//! The Consumer library (spec chapter 10): everything a Consumer must check, done by default.
//!
//! - [`Consumer`]: configured with one or several Authorities ([`AuthorityConfig`], by hand or
//!   from metadata with [`Consumer::discover`]); [`Consumer::begin_login`] (Hawk-signed
//!   handshake with a fresh `state`), [`Consumer::complete_login`] (browser and `state`
//!   binding, issuer check, result request, `Server-Authorization` verified),
//!   [`Consumer::refresh`], [`Consumer::revoke`], [`Consumer::subject_data`].
//! - [`PendingLogin`] and [`PendingStore`]: the pending logins, kept server-side per browser
//!   session and `state` (several per session); [`MemoryPendingStore`] keeps them in memory.
//! - [`Error`]: one enum, one variant per failed check.
//! - [`web`] (feature `axum`): an axum integration (`/login`, `/callback`, session cookie, error
//!   page).
//!
//! It uses no web framework itself: a Consumer on another framework keeps a
//! [`PendingLogin`] per browser session and passes the callback's query to
//! [`CallbackParams::from_query`]; the checks are all in [`Consumer::complete_login`]:
//!
//! ```no_run
//! use tessera_consumer::*;
//! # async fn f(browser_session: &str, callback_query: &str) -> Result<()> {
//! let registration = Registration {
//!     consumer_id: "shop".into(),
//!     key: std::env::var("TESSERA_KEY").unwrap_or_default(), // shown once by the operator
//!     redirect_uri: "https://shop.example/callback".into(),
//!     grants: vec!["staff".into()],
//!     scopes: vec!["email".into()],
//! };
//! let http = default_http_client();
//! let authority =
//!     Consumer::discover(&http, "https://auth.example/.well-known/tessera-authority", registration).await?;
//! let consumer = Consumer::new(vec![authority])?;
//! let pending = MemoryPendingStore::default();
//!
//! // GET /login: keep the pending login under the browser's session, 303 to authorize_url.
//! let start = consumer.begin_login(None).await?;
//! pending.put(browser_session, start.pending);
//!
//! // GET /callback?code=…&state=…&iss=…: take (remove) the one with this state, whatever
//! // happens next.
//! let params = CallbackParams::from_query(callback_query)?;
//! let taken = params.state.as_deref().and_then(|s| pending.take(browser_session, s));
//! let login = consumer.complete_login(taken, &params).await?;
//! let who = login.subject_id(); // (issuer, sub): give the browser a new session id now
//! let data = consumer.subject_data(&login).await?;
//! # let _ = (who, data); Ok(()) }
//! ```

mod authority;
mod client;
mod error;
mod pending;
#[cfg(feature = "axum")]
pub mod web;

pub use authority::{check_issuer, AuthorityConfig, Endpoints, Registration, WELL_KNOWN_PATH};
pub use client::{default_http_client, CallbackParams, Consumer, Login, LoginStart, SubjectId};
pub use error::{Error, Result};
pub use pending::{MemoryPendingStore, PendingLogin, PendingStore, MAX_PENDING_PER_SESSION};
