//! The authorize pages (spec 5.3): login, consent and error pages, server-rendered HTML that
//! works without JavaScript.
//!
//! CSRF: the browser gets a random `tessera_browser` cookie; every form carries
//! `csrf_token = HMAC(cookie key, browser ‖ request)`, checked before anything else on POST
//! (spec TSR-AUTHZ-2). The login is a `tessera_login` cookie sealed by the Authority (opaque),
//! bound to the browser cookie and to the Subject's current password hash (so a password change
//! ends it, spec TSR-REG-9), with an expiry; under https both names carry the `__Host-` prefix
//! (spec TSR-AUTHZ-6, `cookies.rs`). An authorize request is bound to the first browser that
//! opens it (spec TSR-AUTHZ-9). The consent page names the signed-in account, with "not you?"
//! (`POST /logout`, spec TSR-AUTHZ-10). Every page is sent with the headers
//! of spec TSR-AUTHZ-4; every redirect is a 303 (spec TSR-AUTHZ-5).

use super::login_limit::{
    Attempt as LoginAttempt, RetryAfter, MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES,
};
use super::{cookies, AppState};
use crate::core::{self, secret_hash, AuthorizeProblem, Decision, State as SessionState, Subject};
use crate::error::Error;
use crate::password;
use crate::rand::{token, TOKEN_BYTES};
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use std::collections::HashMap;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route(crate::html::STYLESHEET_PATH, get(stylesheet))
        .route("/authorize", get(authorize))
        .route("/authorize/login", post(login))
        .route("/authorize/consent", post(consent))
        .route("/logout", post(logout))
}

// ---------------------------------------------------------------------------------------------
// Rendering

use crate::html::escape;

/// spec TSR-AUTHZ-4 on every page and redirect ([`crate::html::PAGE_HEADERS`]).
fn page_headers(h: &mut HeaderMap) {
    for (name, value) in crate::html::PAGE_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
}

/// A page of this Authority: its name and host at the top, `title` as the heading.
fn html(
    st: &AppState,
    status: StatusCode,
    title: &str,
    body: &str,
    cookies: &[String],
) -> Response {
    let config = st.config();
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · {name}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><header class=\"site\"><span class=\"brand\" id=\"authority-name\">{name}</span>\
         <span class=\"where\">{host}</span></header>\n<main><h1>{t}</h1>\n{body}\n</main>\
         <footer>Tessera Authority at <code>{issuer}</code></footer></body></html>\n",
        t = escape(title),
        name = escape(&config.name),
        host = escape(config.issuer.host()),
        issuer = escape(config.issuer.as_str()),
        css = crate::html::STYLESHEET_PATH,
    );
    let mut resp = (status, doc).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    page_headers(h);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Why a page cannot go on: a sentence for people, and a short code for support (shown as a
/// detail, like the wire codes of the JSON API).
#[derive(Debug, Clone, Copy)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl Refusal {
    const INTERNAL: Self = Self {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal_error",
        message: "Something went wrong on our side. Please try again in a moment.",
    };
    const OTHER_BROWSER: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "other_browser",
        message: "This sign-in link was opened in another browser. Go back to the application \
                  and start again.",
    };
    const CSRF: Self = Self {
        status: StatusCode::FORBIDDEN,
        code: "form_expired",
        message: "This form has expired or did not come from this site. Go back and try again.",
    };
    const NOT_SIGNED_IN: Self = Self {
        status: StatusCode::FORBIDDEN,
        code: "not_signed_in",
        message: "You are not signed in any more. Go back and sign in again.",
    };
    const NO_CHOICE: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "no_choice",
        message: "Choose Allow or Deny.",
    };
    const BAD_CHOICE: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "choice_not_possible",
        message: "This choice is not possible for this request.",
    };

    fn problem(p: AuthorizeProblem) -> Self {
        let code = match p {
            AuthorizeProblem::Unknown => "unknown_request",
            AuthorizeProblem::Expired => "request_expired",
            AuthorizeProblem::Decided => "request_answered",
        };
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: p.message(),
        }
    }

    fn form(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }
}

fn error_page(st: &AppState, r: Refusal) -> Response {
    // spec TSR-AUTHZ-1: an error page, never a redirect
    html(
        st,
        r.status,
        "This sign-in cannot continue",
        &format!(
            "<p class=\"error\" id=\"message\" role=\"alert\">{}</p>\
             <p>Nothing was shared with the application. Go back to it to start again.</p>\
             <p class=\"detail\">Error code: <code id=\"error-code\">{}</code></p>",
            escape(r.message),
            r.code
        ),
        &[],
    )
}

/// `GET /`: what this server is, for someone who opens it directly.
async fn home(State(st): State<AppState>) -> Response {
    let issuer = escape(st.config().issuer.as_str());
    html(
        &st,
        StatusCode::OK,
        "A Tessera Authority",
        &format!(
            "<p>This server signs people in for the applications registered with it. There is \
             nothing to do here directly: an application sends you here when you choose to sign \
             in with it.</p>\
             <p class=\"detail\">Issuer: <code id=\"issuer\">{issuer}</code>. Metadata: \
             <a href=\"/.well-known/tessera-authority\">/.well-known/tessera-authority</a>.</p>"
        ),
        &[],
    )
}

/// `GET /tessera.css`: the pages' one stylesheet.
async fn stylesheet() -> Response {
    let mut resp = crate::html::STYLESHEET.into_response();
    for (name, value) in crate::html::STYLESHEET_HEADERS {
        resp.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// A 303 (spec TSR-AUTHZ-5).
fn see_other(st: &AppState, location: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => return error_page(st, Refusal::INTERNAL),
    }
    page_headers(h);
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Cookies and CSRF

/// spec TSR-AUTHZ-6: the cookie names of this issuer (`__Host-` under https).
fn cookie_names(st: &AppState) -> cookies::Names {
    cookies::names(st.config().issuer.is_https())
}

/// spec TSR-AUTHZ-6: HttpOnly, SameSite=Lax, Secure under https.
fn set_cookie(st: &AppState, name: &str, value: &str, max_age: i64) -> String {
    cookies::set(name, value, max_age, st.config().issuer.is_https())
}

fn mac(st: &AppState, parts: &[&str]) -> String {
    let mut ctx = hmac::Context::with_key(&st.0.cookie_key);
    for p in parts {
        ctx.update(p.as_bytes());
        ctx.update(&[0]);
    }
    URL_SAFE_NO_PAD.encode(ctx.sign())
}

fn csrf_token(st: &AppState, browser: &str, request: &str) -> String {
    mac(st, &["csrf", browser, request])
}

/// The browser cookie, or a fresh one plus its `Set-Cookie`.
fn browser_id(st: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let name = cookie_names(st).browser;
    match cookies::get(headers, name).filter(|b| b.len() == 43) {
        Some(b) => (b, None),
        None => {
            let b = token(&*st.0.rng, TOKEN_BYTES);
            let c = set_cookie(st, name, &b, 86_400 * 365);
            (b, Some(c))
        }
    }
}

/// The login cookie: sealed, so the Subject's internal id is never in clear (spec TSR-AUTHZ-6),
/// and bound to the password in force at login (spec TSR-REG-9).
fn login_cookie_value(st: &AppState, subject: &Subject, exp: i64, browser: &str) -> String {
    let bound = format!("{}\n{}", subject.id, secret_hash(&subject.password_hash));
    st.0.login_sealer.seal(&bound, exp, browser, &*st.0.rng)
}

/// The logged-in Subject, if the login cookie is valid for this browser and the Subject's
/// current password (spec TSR-REG-9).
async fn logged_in(st: &AppState, headers: &HeaderMap, browser: &str, now: i64) -> Option<Subject> {
    let v = cookies::get(headers, cookie_names(st).login)?;
    let (bound, exp) = st.0.login_sealer.open(&v, browser)?;
    if now >= exp {
        return None;
    }
    let (subject_id, password) = bound.split_once('\n')?;
    let id = subject_id.to_owned();
    let subject = st.db_read(move |s| s.subject(&id)).await.ok()??;
    let current = secret_hash(&subject.password_hash);
    core::ct_eq(current.as_bytes(), password.as_bytes()).then_some(subject)
}

/// spec TSR-AUTHZ-9: the first browser to open an authorize request owns it. Atomic: of two
/// browsers racing, one is recorded and the other refused.
async fn bound_to_this_browser(
    st: &AppState,
    request: &str,
    browser: &str,
) -> Result<(), Response> {
    let name = format!("authorize-browser:{}", secret_hash(request));
    let b = browser.as_bytes().to_vec();
    let owner = st
        .db(move |s| s.secret(&name, &|| b.clone()))
        .await
        .map_err(|_| error_page(st, Refusal::INTERNAL))?;
    if core::ct_eq(&owner, browser.as_bytes()) {
        Ok(())
    } else {
        Err(error_page(st, Refusal::OTHER_BROWSER))
    }
}

// ---------------------------------------------------------------------------------------------
// The decision, shared with conformance mode

/// Why a decision was not recorded.
#[derive(Debug)]
pub(crate) enum DecideFailure {
    /// spec TSR-AUTHZ-1
    Problem(AuthorizeProblem),
    /// A bad decision (e.g. a ticked scope not requested) or a fault.
    Error(Error),
}

/// Decides the authorize request `request` for `subject`, once (spec TSR-AUTHZ-7), and
/// returns the callback URL.
pub(crate) async fn decide(
    st: &AppState,
    request: &str,
    subject: &Subject,
    decision: Decision,
) -> Result<String, DecideFailure> {
    let rh = secret_hash(request);
    for _ in 0..4 {
        let h = rh.clone();
        let session = st
            .db_read(move |s| s.session_by_request(&h))
            .await
            .map_err(DecideFailure::Error)?;
        let now = st.now();
        core::check_authorize_request(now, session.as_ref()).map_err(DecideFailure::Problem)?;
        let Some(session) = session else {
            return Err(DecideFailure::Problem(AuthorizeProblem::Unknown));
        };
        let SessionState::Pending(waiting) = session.state.clone() else {
            return Err(DecideFailure::Problem(AuthorizeProblem::Decided));
        };
        let cid = session.consumer_id.clone();
        let registered = st
            .db_read(move |s| s.consumer(&cid))
            .await
            .map_err(DecideFailure::Error)?
            .filter(|c| c.may_delegate)
            .map(|c| c.delegates)
            .unwrap_or_default();
        let decided = waiting
            .decide(
                &st.env(now),
                &session,
                subject,
                &registered,
                decision.clone(),
            )
            .map_err(DecideFailure::Error)?;
        let sid_hash = session.sid_hash.clone();
        let state = decided.state;
        let name = state.name();
        if st
            .db(move |s| s.decide(&sid_hash, &state))
            .await
            .map_err(DecideFailure::Error)?
        {
            tracing::info!(consumer = %session.consumer_id, decision = name, "authorize request decided");
            return Ok(decided.redirect);
        }
    }
    Err(DecideFailure::Problem(AuthorizeProblem::Decided))
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn load_pending(st: &AppState, request: &str) -> Result<core::Session, Response> {
    let h = secret_hash(request);
    let session = st
        .db_read(move |s| s.session_by_request(&h))
        .await
        .map_err(|_| error_page(st, Refusal::INTERNAL))?;
    core::check_authorize_request(st.now(), session.as_ref())
        .map_err(|p| error_page(st, Refusal::problem(p)))?;
    session.ok_or_else(|| error_page(st, Refusal::problem(AuthorizeProblem::Unknown)))
}

/// The registered name of the Consumer that started `session` (for the sign-in and consent
/// pages), or `None` when it is gone.
async fn consumer_of(st: &AppState, session: &core::Session) -> Option<core::Consumer> {
    let cid = session.consumer_id.clone();
    st.db_read(move |s| s.consumer(&cid)).await.ok().flatten()
}

/// `host[:port]` of the redirect URI: where the browser goes after the decision.
fn redirect_host(session: &core::Session) -> String {
    url::Url::parse(&session.redirect_uri)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

/// What the sign-in page needs beyond the request: the name typed before (kept after a wrong
/// password), and the problem to show.
#[derive(Debug, Default)]
struct SignIn<'a> {
    username: &'a str,
    error: Option<&'a str>,
}

/// The sign-in page: which application asks, at which Authority; labelled fields; the
/// username kept and the password focused after a wrong password.
async fn login_page(
    st: &AppState,
    status: StatusCode,
    session: &core::Session,
    request: &str,
    csrf: &str,
    form: SignIn<'_>,
    cookies: &[String],
) -> Response {
    let Some(consumer) = consumer_of(st, session).await else {
        return error_page(st, Refusal::problem(AuthorizeProblem::Unknown));
    };
    let error = form
        .error
        .map(|m| {
            format!(
                "<p class=\"error\" id=\"login-error\" role=\"alert\">{}</p>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let described = if form.error.is_some() {
        " aria-describedby=\"login-error\""
    } else {
        ""
    };
    // the field to type into next gets the focus
    let (user_focus, pass_focus) = if form.username.is_empty() {
        (" autofocus", "")
    } else {
        ("", " autofocus")
    };
    let body = format!(
        "<p id=\"signin-for\"><strong id=\"consumer-name\">{app}</strong> asks you to sign in \
         with your <strong>{authority}</strong> account.</p>{error}\
         <form method=\"post\" action=\"/authorize/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{user}\" \
         autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required{user_focus}{described}>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required{pass_focus}{described}>\
         <button type=\"submit\" class=\"primary\">Sign in</button></form>\
         <p class=\"detail\">After you sign in you will see what {app} asks for, and choose.</p>",
        app = escape(&consumer.name),
        authority = escape(&st.config().name),
        request = escape(request),
        csrf = escape(csrf),
        user = escape(form.username),
    );
    html(st, status, "Sign in", &body, cookies)
}

async fn consent_page(
    st: &AppState,
    session: &core::Session,
    subject: &Subject,
    request: &str,
    csrf: &str,
    cookies: &[String],
) -> Response {
    let Some(consumer) = consumer_of(st, session).await else {
        return error_page(st, Refusal::problem(AuthorizeProblem::Unknown));
    };
    // spec TSR-AUTHZ-3: the Consumer's registered name and every grant and scope requested
    let grants = if session.grants.is_empty() {
        "<p id=\"grants\">It does not ask about your roles.</p>".to_owned()
    } else {
        format!(
            "<p>It asks whether you hold these roles (it learns yes or no for each):</p>\
             <ul id=\"grants\">{}</ul>",
            session
                .grants
                .iter()
                .map(|g| format!("<li><code>{}</code></li>", escape(g)))
                .collect::<String>()
        )
    };
    let scopes = if session.scopes.is_empty() {
        "<p id=\"scopes\">It asks for none of your data.</p>".to_owned()
    } else {
        format!(
            "<fieldset id=\"scopes\"><legend>It asks to read (untick what you do not want to \
             share)</legend>{}</fieldset>",
            session
                .scopes
                .iter()
                .map(|s| format!(
                    "<label><input type=\"checkbox\" name=\"scope\" value=\"{0}\" checked> {0}</label>",
                    escape(s)
                ))
                .collect::<String>()
        )
    };
    // spec TSR-DELEGATE-5: to whom it may delegate, each the Subject's own choice (unticked
    // by default: delegation is opt-in)
    let mut delegates = String::new();
    if consumer.may_delegate && !consumer.delegates.is_empty() {
        let mut items = String::new();
        for d in &consumer.delegates {
            let id = d.clone();
            let name = match st.db_read(move |s| s.consumer(&id)).await {
                Ok(Some(c)) => c.name,
                _ => continue,
            };
            items.push_str(&format!(
                "<label><input type=\"checkbox\" name=\"delegate\" value=\"{}\"> {}</label>",
                escape(d),
                escape(&name)
            ));
        }
        if !items.is_empty() {
            delegates = format!(
                "<fieldset id=\"delegation\"><legend>It may pass this access on to these \
                 applications, only if you tick them (each gets no more than it is registered \
                 for)</legend>{items}</fieldset>"
            );
        }
    }
    // spec TSR-AUTHZ-10: which account is signed in, and a way out
    let account = format!(
        "<p id=\"account\">Signed in as <strong>{user}</strong> at {authority}.</p>\
         <form method=\"post\" action=\"/logout\" id=\"not-you\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\" class=\"link\">Not you? Sign out</button></form>",
        authority = escape(&st.config().name),
        user = escape(&subject.username),
        request = escape(request),
        csrf = escape(csrf)
    );
    let body = format!(
        "{account}<p id=\"asks\"><strong id=\"consumer-name\">{app}</strong> wants to know who \
         you are.</p>\
         <form method=\"post\" action=\"/authorize/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{grants}{scopes}{delegates}\
         <p id=\"redirect-host\">Whichever you choose, you will then be sent back to \
         <strong>{host}</strong>.</p>\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"primary\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        app = escape(&consumer.name),
        request = escape(request),
        csrf = escape(csrf),
        host = escape(&redirect_host(session)),
    );
    html(st, StatusCode::OK, "Allow access?", &body, cookies)
}

/// `GET /authorize?request=R`.
async fn authorize(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    // parsed by hand: never a framework rejection without the page headers
    let q: HashMap<String, String> = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let Some(request) = q.get("request") else {
        return error_page(&st, Refusal::problem(AuthorizeProblem::Unknown));
    };
    let session = match load_pending(&st, request).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (browser, set) = browser_id(&st, &headers);
    let cookies: Vec<String> = set.into_iter().collect();
    if let Err(r) = bound_to_this_browser(&st, request, &browser).await {
        return r;
    }
    let csrf = csrf_token(&st, &browser, request);
    if let Some(subject) = logged_in(&st, &headers, &browser, st.now()).await {
        consent_page(&st, &session, &subject, request, &csrf, &cookies).await
    } else {
        let form = SignIn::default();
        login_page(
            &st,
            StatusCode::OK,
            &session,
            request,
            &csrf,
            form,
            &cookies,
        )
        .await
    }
}

/// Reads an urlencoded form (16 KiB at most).
async fn read_form(
    st: &AppState,
    req: Request,
) -> Result<(HeaderMap, Vec<(String, String)>), Response> {
    let (parts, body) = req.into_parts();
    let ct_ok = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            crate::hawk::normalize_content_type(Some(v)) == "application/x-www-form-urlencoded"
        });
    if !ct_ok {
        return Err(error_page(
            st,
            Refusal::form(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not_a_form",
                "This form must be sent as a web form.",
            ),
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, super::BODY_LIMIT)
        .await
        .map_err(|e| match super::listener::body_read_error(&e) {
            Error::PayloadTooLarge => error_page(
                st,
                Refusal::form(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "form_too_large",
                    "The form is too large.",
                ),
            ),
            Error::RequestTimeout => error_page(
                st,
                Refusal::form(
                    StatusCode::REQUEST_TIMEOUT,
                    "form_timeout",
                    "The form took too long to arrive.",
                ),
            ),
            _ => error_page(
                st,
                Refusal::form(
                    StatusCode::BAD_REQUEST,
                    "form_incomplete",
                    "The form arrived incomplete.",
                ),
            ),
        })?;
    let fields = url::form_urlencoded::parse(&bytes).into_owned().collect();
    Ok((parts.headers, fields))
}

/// The username to show again in the sign-in form (none when too long to be one).
fn kept(username: &str) -> &str {
    if username.len() <= MAX_USERNAME_BYTES {
        username
    } else {
        ""
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// spec TSR-AUTHZ-2: the CSRF token must match this browser's cookie and this request.
#[allow(clippy::result_large_err)] // the error is the page to send
fn check_csrf(
    st: &AppState,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Result<(String, String), Response> {
    let forbidden = || error_page(st, Refusal::CSRF);
    let browser = cookies::get(headers, cookie_names(st).browser).ok_or_else(forbidden)?;
    let request = field(fields, "request").unwrap_or("");
    let token = field(fields, "csrf_token").ok_or_else(forbidden)?;
    let expected = csrf_token(st, &browser, request);
    if !core::ct_eq(expected.as_bytes(), token.as_bytes()) {
        return Err(forbidden());
    }
    Ok((browser, request.to_owned()))
}

/// `POST /authorize/login`.
async fn login(State(st): State<AppState>, req: Request) -> Response {
    let addr = req.extensions().get::<super::ClientAddr>().copied();
    let (headers, fields) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (browser, request) = match check_csrf(&st, &headers, &fields) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let session = match load_pending(&st, &request).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = bound_to_this_browser(&st, &request, &browser).await {
        return r;
    }
    let csrf = csrf_token(&st, &browser, &request);
    let username = field(&fields, "username").unwrap_or("").to_owned();
    let password = field(&fields, "password").unwrap_or("").to_owned();
    let limiter = st.login_limiter();
    let attempt = LoginAttempt {
        username: &username,
        browser: &browser,
        addr,
    };
    let now = st.now();
    // spec TSR-AUTHZ-8: per (account, client) and per client, whether or not the account exists
    if let Err(RetryAfter(secs)) = limiter.check(&attempt, now) {
        let error =
            format!("Too many failed attempts from this browser. Try again in {secs} seconds.");
        let form = SignIn {
            username: kept(&username),
            error: Some(&error),
        };
        let status = StatusCode::TOO_MANY_REQUESTS;
        let mut resp = login_page(&st, status, &session, &request, &csrf, form, &[]).await;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    if limiter.slow_down(now) {
        // a global slow-down under attack: later, never refused
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let subject = if username.len() > MAX_USERNAME_BYTES || password.len() > MAX_PASSWORD_BYTES {
        None
    } else {
        let u = username.clone();
        let Ok(subject) = st.db_read(move |s| s.subject_by_username(&u)).await else {
            return error_page(&st, Refusal::INTERNAL);
        };
        subject
    };
    // spec TSR-AUTHZ-8: an unknown name costs the same hash as a wrong password
    let stored = subject.as_ref().map(|s| s.password_hash.clone());
    let ok = match limiter.verifications.acquire().await {
        Ok(_permit) if password.len() <= MAX_PASSWORD_BYTES => {
            let st2 = st.clone();
            tokio::task::spawn_blocking(move || {
                password::verify_or_dummy(&password, stored.as_deref(), &st2.0.dummy_hash).0
            })
            .await
            .unwrap_or(false)
        }
        _ => false,
    };
    match subject {
        Some(subject) if ok => {
            limiter.record_success(&attempt, now);
            let exp = now + st.config().ttl.login;
            let value = login_cookie_value(&st, &subject, exp, &browser);
            let c = set_cookie(&st, cookie_names(&st).login, &value, st.config().ttl.login);
            tracing::info!("subject signed in");
            let back = format!(
                "{}?request={}",
                st.config().issuer.endpoint("/authorize"),
                core::encode_component(&request)
            );
            see_other(&st, &back, &[c])
        }
        _ => {
            limiter.record_failure(&attempt, now);
            tracing::info!("failed sign-in");
            let form = SignIn {
                username: kept(&username),
                error: Some("Wrong username or password. Check both and try again."),
            };
            login_page(&st, StatusCode::OK, &session, &request, &csrf, form, &[]).await
        }
    }
}

/// `POST /authorize/consent`.
async fn consent(State(st): State<AppState>, req: Request) -> Response {
    let (headers, fields) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (browser, request) = match check_csrf(&st, &headers, &fields) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = load_pending(&st, &request).await {
        return r;
    }
    if let Err(r) = bound_to_this_browser(&st, &request, &browser).await {
        return r;
    }
    let Some(subject) = logged_in(&st, &headers, &browser, st.now()).await else {
        return error_page(&st, Refusal::NOT_SIGNED_IN);
    };
    // spec TSR-AUTHZ-3: only an explicit Allow issues a code
    let decision = match field(&fields, "decision") {
        Some("allow") => Decision::Allow {
            scopes: fields
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect(),
            delegates: fields
                .iter()
                .filter(|(k, _)| k == "delegate")
                .map(|(_, v)| v.clone())
                .collect(),
        },
        Some("deny") => Decision::Deny,
        _ => return error_page(&st, Refusal::NO_CHOICE),
    };
    match decide(&st, &request, &subject, decision).await {
        Ok(redirect) => see_other(&st, &redirect, &[]),
        Err(DecideFailure::Problem(p)) => error_page(&st, Refusal::problem(p)),
        Err(DecideFailure::Error(Error::Internal)) => error_page(&st, Refusal::INTERNAL),
        Err(DecideFailure::Error(_)) => error_page(&st, Refusal::BAD_CHOICE),
    }
}

/// `POST /logout` (spec TSR-AUTHZ-10): ends the login cookie; with a `request`, back to its
/// sign-in form ("not you?"), else a signed-out page.
async fn logout(State(st): State<AppState>, req: Request) -> Response {
    let (headers, fields) = match read_form(&st, req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (_, request) = match check_csrf(&st, &headers, &fields) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let clear = set_cookie(&st, cookie_names(&st).login, "", 0);
    tracing::info!("subject signed out");
    if request.is_empty() {
        return html(
            &st,
            StatusCode::OK,
            "Signed out",
            "<p id=\"signed-out\">You are signed out of this Authority.</p>",
            &[clear],
        );
    }
    let back = format!(
        "{}?request={}",
        st.config().issuer.endpoint("/authorize"),
        core::encode_component(&request)
    );
    see_other(&st, &back, &[clear])
}
