//! The Consumer library (spec chapter 10): everything a Consumer must check, done by default.
//!
//! - [`Consumer`]: configured with one or several Authorities ([`AuthorityConfig`], by hand or
//!   from metadata with [`Consumer::discover`]); [`Consumer::begin_login`] (Hawk-signed
//!   handshake with a PKCE challenge), [`Consumer::complete_login`] (browser binding, issuer
//!   check, result request with the verifier, `Server-Authorization` verified),
//!   [`Consumer::refresh`], [`Consumer::revoke`], [`Consumer::subject_data`].
//! - [`PendingLogin`] and [`PendingStore`]: the pending state, kept server-side per browser
//!   session; [`MemoryPendingStore`] keeps it in memory.
//! - [`Error`]: one enum, one variant per failed check.
//! - [`web`]: an axum integration (`/login`, `/callback`, session cookie, error page).
//!
//! It uses no web framework itself: a Consumer on another framework keeps a
//! [`PendingLogin`] per browser session and passes the callback's query to
//! [`CallbackParams::from_query`]; the checks are all in [`Consumer::complete_login`].

mod authority;
mod client;
mod error;
mod pending;
pub mod web;

pub use authority::{check_issuer, AuthorityConfig, Endpoints, Registration, WELL_KNOWN_PATH};
pub use client::{default_http_client, CallbackParams, Consumer, Login, LoginStart, SubjectId};
pub use error::{Error, Result};
pub use pending::{MemoryPendingStore, PendingLogin, PendingStore};
