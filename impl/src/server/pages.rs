//! The authorize pages (spec 5.3): login, consent and error pages, server-rendered HTML that
//! works without JavaScript.
//!
//! CSRF: the browser gets a random `tessera_browser` cookie; every form carries
//! `csrf_token = HMAC(cookie key, browser ‖ request)`, checked before anything else on POST
//! (spec TSR-AUTHZ-2). The login is a `tessera_login` cookie MACed by the Authority, bound to
//! the browser cookie and to the Subject's current password hash (so a password change ends
//! it, spec TSR-REG-9), with an expiry (spec TSR-AUTHZ-6). An authorize request is bound to the
//! first browser that opens it (spec TSR-AUTHZ-9). The consent page names the signed-in account,
//! with "not you?" (`POST /logout`, spec TSR-AUTHZ-10). Every page is sent with the headers
//! of spec TSR-AUTHZ-4; every redirect is a 303 (spec TSR-AUTHZ-5).

use super::AppState;
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

const BROWSER_COOKIE: &str = "tessera_browser";
const LOGIN_COOKIE: &str = "tessera_login";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/authorize/login", post(login))
        .route("/authorize/consent", post(consent))
        .route("/logout", post(logout))
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// spec TSR-AUTHZ-4 on every page and redirect.
fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn html(status: StatusCode, title: &str, body: &str, cookies: &[String]) -> Response {
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.6rem 0}}button{{margin:.6rem .6rem 0 0;padding:.4rem 1rem}}\
         .err{{color:#a00}}</style></head>\
         <body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
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

fn error_page(status: StatusCode, message: &str) -> Response {
    // spec TSR-AUTHZ-1: an error page, never a redirect
    html(
        status,
        "Cannot continue",
        &format!("<p class=\"err\">{}</p>", escape(message)),
        &[],
    )
}

/// A 303 (spec TSR-AUTHZ-5).
fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
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

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// spec TSR-AUTHZ-6: HttpOnly, SameSite=Lax, Secure under https.
fn set_cookie(st: &AppState, name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if st.config().issuer.is_https() {
            "; Secure"
        } else {
            ""
        }
    )
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
    match cookie(headers, BROWSER_COOKIE).filter(|b| b.len() == 43) {
        Some(b) => (b, None),
        None => {
            let b = token(&*st.0.rng, TOKEN_BYTES);
            let c = set_cookie(st, BROWSER_COOKIE, &b, 86_400 * 365);
            (b, Some(c))
        }
    }
}

fn login_cookie_value(st: &AppState, subject: &Subject, exp: i64, browser: &str) -> String {
    let e = exp.to_string();
    let payload = URL_SAFE_NO_PAD.encode(format!("{}\n{e}", subject.id));
    // spec TSR-REG-9: bound to the password in force at login
    let password = secret_hash(&subject.password_hash);
    format!(
        "{payload}.{}",
        mac(st, &["login", &subject.id, &e, browser, &password])
    )
}

/// The logged-in Subject, if the login cookie is valid for this browser and the Subject's
/// current password (spec TSR-REG-9).
async fn logged_in(st: &AppState, headers: &HeaderMap, browser: &str, now: i64) -> Option<Subject> {
    let v = cookie(headers, LOGIN_COOKIE)?;
    let (payload, tag) = v.split_once('.')?;
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let (subject_id, e) = decoded.split_once('\n')?;
    let exp: i64 = e.parse().ok()?;
    if now >= exp {
        return None;
    }
    let id = subject_id.to_owned();
    let subject = st.db_read(move |s| s.subject(&id)).await.ok()??;
    let password = secret_hash(&subject.password_hash);
    let expected = mac(st, &["login", subject_id, e, browser, &password]);
    core::ct_eq(expected.as_bytes(), tag.as_bytes()).then_some(subject)
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
        .map_err(|_| error_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error."))?;
    if core::ct_eq(&owner, browser.as_bytes()) {
        Ok(())
    } else {
        Err(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link was opened in another browser. Go back to the application and start again.",
        ))
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
        .map_err(|_| error_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error."))?;
    core::check_authorize_request(st.now(), session.as_ref())
        .map_err(|p| error_page(StatusCode::BAD_REQUEST, p.message()))?;
    session.ok_or_else(|| error_page(StatusCode::BAD_REQUEST, AuthorizeProblem::Unknown.message()))
}

fn login_form(request: &str, csrf: &str, message: Option<&str>) -> String {
    format!(
        "{}<form method=\"post\" action=\"/authorize/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <label>Username <input name=\"username\" autocomplete=\"username\" required></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        message.map(|m| format!("<p class=\"err\">{}</p>", escape(m))).unwrap_or_default(),
        escape(request),
        escape(csrf)
    )
}

async fn consent_page(
    st: &AppState,
    session: &core::Session,
    subject: &Subject,
    request: &str,
    csrf: &str,
    cookies: &[String],
) -> Response {
    let cid = session.consumer_id.clone();
    let Ok(Some(consumer)) = st.db_read(move |s| s.consumer(&cid)).await else {
        return error_page(StatusCode::BAD_REQUEST, AuthorizeProblem::Unknown.message());
    };
    // spec TSR-AUTHZ-3: the Consumer's registered name and every grant and scope requested
    let grants = if session.grants.is_empty() {
        "<p>It does not ask about your roles.</p>".to_owned()
    } else {
        format!(
            "<p>It asks whether you hold these roles:</p><ul>{}</ul>",
            session
                .grants
                .iter()
                .map(|g| format!("<li>{}</li>", escape(g)))
                .collect::<String>()
        )
    };
    let scopes = if session.scopes.is_empty() {
        "<p>It asks for none of your data.</p>".to_owned()
    } else {
        format!(
            "<p>It asks to read (untick what you do not want to share):</p>{}",
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
                "<div id=\"delegation\"><p>It may pass this access on to these applications, \
                 only if you tick them (each gets no more than it is registered for):</p>{items}</div>"
            );
        }
    }
    // spec TSR-AUTHZ-10: which account is signed in, and a way out
    let account = format!(
        "<p id=\"account\">Signed in as <strong>{}</strong>.</p>\
         <form method=\"post\" action=\"/logout\" id=\"not-you\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <button type=\"submit\">Not you? Sign out</button></form>",
        escape(&subject.username),
        escape(request),
        escape(csrf)
    );
    let body = format!(
        "{account}<p><strong>{}</strong> wants you to sign in with this Authority.</p>\
         <form method=\"post\" action=\"/authorize/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">{grants}{scopes}{delegates}\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        escape(&consumer.name),
        escape(request),
        escape(csrf)
    );
    html(StatusCode::OK, "Allow access?", &body, cookies)
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
        return error_page(StatusCode::BAD_REQUEST, AuthorizeProblem::Unknown.message());
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
        html(
            StatusCode::OK,
            "Sign in",
            &login_form(request, &csrf, None),
            &cookies,
        )
    }
}

/// Reads an urlencoded form (16 KiB at most).
async fn read_form(req: Request) -> Result<(HeaderMap, Vec<(String, String)>), Response> {
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
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form must be sent as a web form.",
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, super::BODY_LIMIT)
        .await
        .map_err(|_| error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."))?;
    let fields = url::form_urlencoded::parse(&bytes).into_owned().collect();
    Ok((parts.headers, fields))
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
    let forbidden = || {
        error_page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back and try again.",
        )
    };
    let browser = cookie(headers, BROWSER_COOKIE).ok_or_else(forbidden)?;
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
    let (headers, fields) = match read_form(req).await {
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
    let csrf = csrf_token(&st, &browser, &request);
    let username = field(&fields, "username").unwrap_or("").to_owned();
    let password = field(&fields, "password").unwrap_or("").to_owned();
    let now = st.now();
    // spec TSR-AUTHZ-8: per account, whether or not it exists
    if st.login_blocked(&username, now) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            "Sign in",
            &login_form(
                &request,
                &csrf,
                Some("Too many failed attempts. Wait a minute and try again."),
            ),
            &[],
        );
    }
    let u = username.clone();
    let Ok(subject) = st.db_read(move |s| s.subject_by_username(&u)).await else {
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.");
    };
    let phc = subject
        .as_ref()
        .map_or_else(|| st.0.dummy_hash.clone(), |s| s.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .unwrap_or(false);
    match subject {
        Some(subject) if ok => {
            let exp = now + st.config().ttl.login;
            let value = login_cookie_value(&st, &subject, exp, &browser);
            let c = set_cookie(&st, LOGIN_COOKIE, &value, st.config().ttl.login);
            tracing::info!("subject signed in");
            let back = format!(
                "{}?request={}",
                st.config().issuer.endpoint("/authorize"),
                core::encode_component(&request)
            );
            see_other(&back, &[c])
        }
        _ => {
            st.record_login_failure(&username, now);
            tracing::info!("failed sign-in");
            html(
                StatusCode::OK,
                "Sign in",
                &login_form(&request, &csrf, Some("Wrong username or password.")),
                &[],
            )
        }
    }
}

/// `POST /authorize/consent`.
async fn consent(State(st): State<AppState>, req: Request) -> Response {
    let (headers, fields) = match read_form(req).await {
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
        return error_page(
            StatusCode::FORBIDDEN,
            "You are not signed in. Go back and sign in again.",
        );
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
        _ => return error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    match decide(&st, &request, &subject, decision).await {
        Ok(redirect) => see_other(&redirect, &[]),
        Err(DecideFailure::Problem(p)) => error_page(StatusCode::BAD_REQUEST, p.message()),
        Err(DecideFailure::Error(Error::Internal)) => {
            error_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
        }
        Err(DecideFailure::Error(_)) => error_page(
            StatusCode::BAD_REQUEST,
            "This choice is not possible for this request.",
        ),
    }
}

/// `POST /logout` (spec TSR-AUTHZ-10): ends the login cookie; with a `request`, back to its
/// sign-in form ("not you?"), else a signed-out page.
async fn logout(State(st): State<AppState>, req: Request) -> Response {
    let (headers, fields) = match read_form(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (_, request) = match check_csrf(&st, &headers, &fields) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let clear = set_cookie(&st, LOGIN_COOKIE, "", 0);
    tracing::info!("subject signed out");
    if request.is_empty() {
        return html(
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
    see_other(&back, &[clear])
}
