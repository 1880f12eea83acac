//! axum integration: `/login`, the callback, an error page, a browser-session cookie and an
//! extractor for the logged-in Subject.
//!
//! ```no_run
//! # async fn f(consumer: tessera_consumer::Consumer) {
//! use tessera_consumer::web::{BrowserSession, WebConsumer, WebOptions};
//! let web = WebConsumer::new(consumer, WebOptions::default());
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|s: BrowserSession| async move {
//!         match s.login { Some(l) => format!("hello {}", l.sub), None => "<a href=/login>log in</a>".into() }
//!     }))
//!     .with_state(web.clone())
//!     .merge(web.router());
//! # }
//! ```
//!
//! What it does for you: the browser-session cookie is `HttpOnly`, `SameSite=Lax`, and `Secure`
//! when the redirect URI is `https` (spec TSR-CONSUMER-2); the pending login is kept server-side
//! under that session (TSR-CONSUMER-2) and taken (removed) when the callback arrives, whatever
//! the outcome (TSR-CONSUMER-6); a successful login gets a new session id (TSR-CONSUMER-8); the
//! callback answers with `Referrer-Policy: no-referrer`, no body resources and a 303 to a URL
//! without the code (TSR-CONSUMER-9); failures go (303) to an error page naming the refused check.

use super::client::{CallbackParams, Consumer, Login};
use super::error::Error;
use super::pending::{MemoryPendingStore, PendingStore};
use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use tessera_protocol::html::{self, escape};
use tessera_protocol::rand::{token, TOKEN_BYTES};

/// Settings of the integration.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Name of the browser-session cookie.
    pub cookie_name: String,
    /// Path of the route that starts a login: `GET` shows a page whose button `POST`s back
    /// with the browser session's CSRF token (and the optional `authority=<issuer>`); only
    /// that `POST` starts a login (spec TSR-CONSUMER-14).
    pub login_path: String,
    /// Path of the error page the callback redirects to on failure.
    pub error_path: String,
    /// Where the browser goes after a successful login.
    pub after_login: String,
    /// Most browser sessions kept in memory (the oldest are dropped beyond).
    pub max_sessions: usize,
    /// The application's name, at the top of the integration's pages (none when empty).
    pub app_name: String,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self {
            cookie_name: "tessera_consumer".into(),
            login_path: "/login".into(),
            error_path: "/login/error".into(),
            after_login: "/".into(),
            max_sessions: 100_000,
            app_name: String::new(),
        }
    }
}

#[derive(Clone)]
struct SessionData {
    login: Option<Login>,
    csrf: String,
    created: i64,
}

struct Inner {
    consumer: Consumer,
    pending: Arc<dyn PendingStore>,
    sessions: Mutex<HashMap<String, SessionData>>,
    options: WebOptions,
    secure: bool,
    callback_paths: Vec<String>,
}

/// The axum integration of a [`Consumer`]: cheap to clone; use it as (part of) your state.
#[derive(Clone)]
pub struct WebConsumer(Arc<Inner>);

impl std::fmt::Debug for WebConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConsumer")
            .field("options", &self.0.options)
            .field("callback_paths", &self.0.callback_paths)
            .finish_non_exhaustive()
    }
}

/// The browser's session as the integration sees it (an extractor that never rejects).
#[derive(Clone, Default)]
pub struct BrowserSession {
    /// The session id from the cookie, when it names a live session.
    pub id: Option<String>,
    /// The logged-in Subject, if any.
    pub login: Option<Login>,
    /// A CSRF token bound to this session, for the application's own forms
    /// (check it with [`WebConsumer::check_csrf`]).
    pub csrf: Option<String>,
}

impl std::fmt::Debug for BrowserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSession")
            .field("logged_in", &self.login.as_ref().map(Login::subject_id))
            .finish_non_exhaustive()
    }
}

impl<S> FromRequestParts<S> for BrowserSession
where
    WebConsumer: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(WebConsumer::from_ref(state).session(&parts.headers))
    }
}

impl WebConsumer {
    /// Wraps `consumer`, with an in-memory pending store.
    #[must_use]
    pub fn new(consumer: Consumer, options: WebOptions) -> Self {
        Self::with_pending_store(consumer, options, Arc::new(MemoryPendingStore::default()))
    }

    /// Wraps `consumer`, keeping pending logins in `pending`.
    #[must_use]
    pub fn with_pending_store(
        consumer: Consumer,
        options: WebOptions,
        pending: Arc<dyn PendingStore>,
    ) -> Self {
        let mut callback_paths = Vec::new();
        let mut secure = false;
        for issuer in consumer.issuers() {
            if let Some(a) = consumer.authority(issuer) {
                if let Ok(u) = url::Url::parse(&a.registration.redirect_uri) {
                    secure |= u.scheme() == "https";
                    if !callback_paths.contains(&u.path().to_owned()) {
                        callback_paths.push(u.path().to_owned());
                    }
                }
            }
        }
        Self(Arc::new(Inner {
            consumer,
            pending,
            sessions: Mutex::new(HashMap::new()),
            options,
            secure,
            callback_paths,
        }))
    }

    /// The wrapped [`Consumer`].
    #[must_use]
    pub fn consumer(&self) -> &Consumer {
        &self.0.consumer
    }

    /// The routes: `GET {login_path}`, `GET {error_path}`, the callback path of each
    /// Authority's redirect URI, and the pages' stylesheet at
    /// [`STYLESHEET_PATH`](tessera_protocol::html::STYLESHEET_PATH) (use it for your own pages
    /// too). Merge them into your app.
    pub fn router(&self) -> Router {
        let o = &self.0.options;
        let mut r = Router::new()
            .route(&o.login_path, get(login_page).post(login))
            .route(&o.error_path, get(error_page))
            .route(html::STYLESHEET_PATH, get(stylesheet));
        for p in &self.0.callback_paths {
            r = r.route(p, get(callback));
        }
        r.with_state(self.clone())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionData>> {
        self.0
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn cookie_id(&self, headers: &HeaderMap) -> Option<String> {
        let values = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        html::cookie(values, &self.0.options.cookie_name).map(str::to_owned)
    }

    /// The browser's session from its cookie.
    #[must_use]
    pub fn session(&self, headers: &HeaderMap) -> BrowserSession {
        let Some(id) = self.cookie_id(headers) else {
            return BrowserSession::default();
        };
        match self.sessions().get(&id) {
            Some(d) => BrowserSession {
                id: Some(id),
                login: d.login.clone(),
                csrf: Some(d.csrf.clone()),
            },
            None => BrowserSession::default(),
        }
    }

    /// Whether `token` is the CSRF token of `session` (constant time).
    #[must_use]
    pub fn check_csrf(&self, session: &BrowserSession, token: &str) -> bool {
        session.csrf.as_deref().is_some_and(|c| {
            tessera_protocol::hawk::constant_time_eq(c.as_bytes(), token.as_bytes())
        })
    }

    fn new_session(&self, login: Option<Login>) -> String {
        let rng = self.0.consumer.random();
        let id = token(rng, TOKEN_BYTES);
        let data = SessionData {
            login,
            csrf: token(rng, TOKEN_BYTES),
            created: self.0.consumer.now(),
        };
        let mut s = self.sessions();
        if s.len() >= self.0.options.max_sessions {
            if let Some(oldest) = s
                .iter()
                .min_by_key(|(_, d)| d.created)
                .map(|(k, _)| k.clone())
            {
                s.remove(&oldest);
            }
        }
        s.insert(id.clone(), data);
        id
    }

    /// The `Set-Cookie` value for session `id`: `HttpOnly; SameSite=Lax`, `Secure` over https
    /// (spec TSR-CONSUMER-2).
    #[must_use]
    pub fn set_cookie(&self, id: &str) -> String {
        format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax{}",
            self.0.options.cookie_name,
            if self.0.secure { "; Secure" } else { "" }
        )
    }

    fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            self.0.options.cookie_name,
            if self.0.secure { "; Secure" } else { "" }
        )
    }

    /// Refreshes the session's login and stores the new one in its place before returning it
    /// (spec TSR-CONSUMER-11). On an error that means logout ([`Error::is_logout`]) the session
    /// is logged out.
    pub async fn refresh(&self, session: &BrowserSession) -> Result<Login, Error> {
        let (Some(id), Some(login)) = (&session.id, &session.login) else {
            return Err(Error::NotLoggedIn);
        };
        match self.0.consumer.refresh(login).await {
            Ok(new) => {
                if let Some(d) = self.sessions().get_mut(id) {
                    d.login = Some(new.clone());
                }
                Ok(new)
            }
            Err(e) => {
                if e.is_logout() {
                    self.sessions().remove(id);
                }
                Err(e)
            }
        }
    }

    /// The Subject data for the session's login ([`Consumer::subject_data`]); when the ticket
    /// has expired ([`Error::needs_refresh`]) the login is refreshed (and stored) first and the
    /// call made again; on an error that means logout ([`Error::is_logout`]) the session is
    /// logged out.
    pub async fn subject_data(
        &self,
        session: &BrowserSession,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let (Some(id), Some(login)) = (&session.id, &session.login) else {
            return Err(Error::NotLoggedIn);
        };
        let outcome = match self.0.consumer.subject_data(login).await {
            Err(e) if e.needs_refresh() => match self.refresh(session).await {
                Ok(new) => self.0.consumer.subject_data(&new).await,
                Err(e) => Err(e),
            },
            other => other,
        };
        if let Err(e) = &outcome {
            if e.is_logout() {
                self.sessions().remove(id);
            }
        }
        outcome
    }

    /// Logs the session out: revokes its login at the Authority (best effort) and forgets the
    /// session. Returns the `Set-Cookie` value that clears the cookie, and the revocation's
    /// outcome.
    pub async fn logout(&self, session: &BrowserSession) -> (String, Result<(), Error>) {
        let removed = session
            .id
            .as_ref()
            .and_then(|id| self.sessions().remove(id));
        let outcome = match removed.and_then(|d| d.login) {
            Some(l) => self.0.consumer.revoke(&l).await,
            None => Ok(()),
        };
        (self.clear_cookie(), outcome)
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    authority: Option<String>,
}

#[derive(serde::Deserialize)]
struct LoginForm {
    csrf: String,
    authority: Option<String>,
}

/// The hidden fields and button of a form that starts a login at `web`'s login path, bound to
/// `session`'s CSRF token (spec TSR-CONSUMER-14). Embed it in your own pages.
#[must_use]
pub fn login_form_html(web: &WebConsumer, csrf: &str, authority: Option<&str>) -> String {
    let esc = escape;
    format!(
        "<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
         <button id=\"start-login\" type=\"submit\" class=\"primary\" autofocus>Continue to \
         sign in</button></form>",
        esc(&web.0.options.login_path),
        esc(csrf),
        authority
            .map(|a| format!(
                "<input type=\"hidden\" name=\"authority\" value=\"{}\">",
                esc(a)
            ))
            .unwrap_or_default()
    )
}

/// `GET /login[?authority=<issuer>]`: a page whose button starts the login with a `POST`
/// carrying this browser session's CSRF token (a new session when it has none). A `GET`
/// never starts a login: a cross-site page could make the victim's browser do it (spec
/// TSR-CONSUMER-14).
async fn login_page(
    State(web): State<WebConsumer>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let current = web.session(&headers);
    let (csrf, cookie) = match current.csrf {
        Some(c) => (c, None),
        None => {
            let id = web.new_session(None);
            let c = web.set_cookie(&id);
            let csrf = web
                .sessions()
                .get(&id)
                .map(|d| d.csrf.clone())
                .unwrap_or_default();
            (csrf, Some(c))
        }
    };
    let issuer = q
        .authority
        .as_deref()
        .or_else(|| web.0.consumer.issuers().first().copied())
        .unwrap_or_default();
    let body = page(
        &web,
        "Sign in",
        &format!(
            "<p id=\"where\">To sign in, you will be sent to the Authority at \
             <strong>{}</strong>, then brought back here.</p>{}",
            escape(issuer),
            login_form_html(&web, &csrf, q.authority.as_deref())
        ),
    );
    // The page headers have no `form-action 'self'`: browsers apply form-action to the redirect
    // that answers the POST, and that redirect goes to the Authority on another origin.
    let mut r = page_response(StatusCode::OK, body);
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    no_store(r)
}

fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // spec TSR-CONSUMER-9
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn see_other(location: &str, cookie: Option<&str>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    no_store(r)
}

/// `POST /login` (`csrf`, optional `authority=<issuer>`): only with this browser session's CSRF
/// token (spec TSR-CONSUMER-14); handshake, pending login stored under the session, 303 to the
/// Authority.
async fn login(
    State(web): State<WebConsumer>,
    headers: HeaderMap,
    form: Result<axum::extract::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let current = web.session(&headers);
    let (Some(id), Ok(axum::extract::Form(f))) = (current.id.clone(), form) else {
        return see_other(
            &format!("{}?reason=login_csrf", web.0.options.error_path),
            None,
        );
    };
    if !web.check_csrf(&current, &f.csrf) {
        tracing::warn!("login start without this session's CSRF token refused");
        return see_other(
            &format!("{}?reason=login_csrf", web.0.options.error_path),
            None,
        );
    }
    let cookie: Option<String> = None;
    match web.0.consumer.begin_login(f.authority.as_deref()).await {
        Ok(start) => {
            // spec TSR-CONSUMER-2: server-side, bound to this browser session.
            web.0.pending.put(&id, start.pending);
            see_other(&start.authorize_url, cookie.as_deref())
        }
        Err(e) => {
            tracing::warn!(error = %e, "login could not start");
            see_other(&error_location(&web, &e), cookie.as_deref())
        }
    }
}

/// The error page's URL for `e`: its kind, and for a refusal by the Authority its wire code
/// (already checked to be a short `[a-z_]` code).
fn error_location(web: &WebConsumer, e: &Error) -> String {
    match e {
        Error::Authority { code, .. } => format!(
            "{}?reason={}&code={code}",
            web.0.options.error_path,
            e.kind()
        ),
        _ => format!("{}?reason={}", web.0.options.error_path, e.kind()),
    }
}

/// A page of the integration: the application's name at the top, the shared stylesheet.
fn page(web: &WebConsumer, title: &str, body: &str) -> String {
    let app = &web.0.options.app_name;
    let header = if app.is_empty() {
        String::new()
    } else {
        format!(
            "<header class=\"site\"><span class=\"brand\">{}</span></header>",
            escape(app)
        )
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body>{header}\
         <main><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title),
        css = html::STYLESHEET_PATH,
    )
}

/// An HTML page with the headers of every Tessera page ([`html::PAGE_HEADERS`]).
fn page_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, axum::response::Html(body)).into_response();
    for (name, value) in html::PAGE_HEADERS {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    r
}

/// `GET /tessera.css`.
async fn stylesheet() -> Response {
    let mut r = html::STYLESHEET.into_response();
    for (name, value) in html::STYLESHEET_HEADERS {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    r
}

/// The callback: every check of [`Consumer::complete_login`], then a new session id and a 303
/// to a clean URL.
async fn callback(
    State(web): State<WebConsumer>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let outcome = match CallbackParams::from_query(uri.query().unwrap_or("")) {
        Ok(params) => {
            let old = web.cookie_id(&headers);
            // spec TSR-CONSUMER-6, TSR-CONSUMER-13: the pending login with this callback's
            // state is taken (removed) before anything else, whatever the outcome; a callback
            // with a foreign state takes none.
            let pending = old
                .as_deref()
                .zip(params.state.as_deref())
                .and_then(|(id, state)| web.0.pending.take(id, state));
            web.0
                .consumer
                .complete_login(pending, &params)
                .await
                .map(|l| (old, l))
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok((old, login)) => {
            tracing::info!(issuer = %login.issuer, sub = %login.sub, "login");
            // spec TSR-CONSUMER-8: a new session id; the old one dies. Its other pending logins
            // (other tabs, TSR-CONSUMER-13) move to the new id.
            let id = web.new_session(Some(login));
            if let Some(old) = old {
                web.sessions().remove(&old);
                for p in web.0.pending.take_all(&old) {
                    web.0.pending.put(&id, p);
                }
            }
            let c = web.set_cookie(&id);
            // spec TSR-CONSUMER-9: 303 to a URL without the code, no-referrer.
            see_other(&web.0.options.after_login, Some(&c))
        }
        Err(e) => {
            tracing::warn!(error = %e, "callback refused");
            see_other(&error_location(&web, &e), None)
        }
    }
}

#[derive(serde::Deserialize)]
struct ErrorQuery {
    reason: Option<String>,
    code: Option<String>,
}

/// A short `[a-z_]` code from the query, or `None`.
fn well_formed(code: Option<String>) -> Option<String> {
    code.filter(|r| {
        !r.is_empty() && r.len() <= 40 && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

/// The error page: a sentence for people per refused check (and per Authority error code),
/// the code as a detail; no third-party resources.
async fn error_page(State(web): State<WebConsumer>, Query(q): Query<ErrorQuery>) -> Response {
    let reason = well_formed(q.reason).unwrap_or_else(|| "unknown".into());
    let code = well_formed(q.code).filter(|_| reason == "authority");
    let text = code
        .as_deref()
        .and_then(Error::describe_authority_code)
        .unwrap_or_else(|| Error::describe_kind(&reason));
    let detail = match &code {
        Some(c) => format!(
            "Error code: <code id=\"reason\">{reason}</code>, from the Authority: \
             <code id=\"authority-code\">{c}</code>"
        ),
        None => format!("Error code: <code id=\"reason\">{reason}</code>"),
    };
    let body = page(
        &web,
        "Sign-in failed",
        &format!(
            "<p class=\"error\" id=\"message\" role=\"alert\">{text}</p>\
             <p><a class=\"button\" href=\"{}\">Back to the start</a></p>\
             <p class=\"detail\">{detail}</p>",
            escape(&web.0.options.after_login)
        ),
    );
    page_response(StatusCode::BAD_REQUEST, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthorityConfig, Registration};

    fn web(redirect: &str) -> WebConsumer {
        let reg = Registration {
            consumer_id: "shop".into(),
            key: "k".repeat(43),
            redirect_uri: redirect.into(),
            grants: vec![],
            scopes: vec![],
        };
        let a = AuthorityConfig::new("https://a.example", reg).unwrap();
        WebConsumer::new(Consumer::new(vec![a]).unwrap(), WebOptions::default())
    }

    /// spec TSR-CONSUMER-2: HttpOnly, SameSite=Lax, and Secure over https.
    #[test]
    fn cookie_attributes() {
        let c = web("https://shop.example/cb").set_cookie("id");
        assert_eq!(
            c,
            "tessera_consumer=id; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let c = web("http://127.0.0.1:9/cb").set_cookie("id");
        assert_eq!(c, "tessera_consumer=id; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(
            web("https://shop.example/cb").0.callback_paths,
            vec!["/cb".to_owned()]
        );
    }

    async fn get(web: &WebConsumer, uri: &str) -> (StatusCode, String) {
        use tower::ServiceExt as _;
        let req = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = web.router().oneshot(req).await.unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The error page says what happened in words, with the codes as details; only
    /// well-formed codes are shown.
    #[tokio::test]
    async fn the_error_page_explains_and_shows_the_codes() {
        let web = web("https://shop.example/cb");
        let (status, body) = get(&web, "/login/error?reason=authority&code=code_expired").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("took too long"), "{body}");
        assert!(body.contains("<code id=\"authority-code\">code_expired</code>"));
        assert!(body.contains(html::STYLESHEET_PATH));
        let (_, body) = get(&web, "/login/error?reason=%3Cscript%3E&code=x").await;
        assert!(
            body.contains("<code id=\"reason\">unknown</code>"),
            "{body}"
        );
        assert!(!body.contains("<script") && !body.contains("authority-code"));
        let (status, css) = get(&web, html::STYLESHEET_PATH).await;
        assert_eq!((status, css.as_str()), (StatusCode::OK, html::STYLESHEET));
    }

    /// The stylesheet is served as CSS with `nosniff`: the pages' CSP (`style-src 'self'`)
    /// makes a browser refuse it otherwise.
    #[tokio::test]
    async fn the_stylesheet_is_css() {
        use tower::ServiceExt as _;
        let req = axum::http::Request::get(html::STYLESHEET_PATH)
            .body(axum::body::Body::empty())
            .unwrap();
        let r = web("https://shop.example/cb")
            .router()
            .oneshot(req)
            .await
            .unwrap();
        let h = r.headers();
        assert_eq!(h["content-type"], "text/css; charset=utf-8");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("cache-control"));
    }
}
