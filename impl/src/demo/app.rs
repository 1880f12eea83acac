//! The demo Consumer web app, built only on [`crate::consumer`]: a "Log in with Tessera"
//! page, the callback (from [`WebConsumer::router`]), a page showing the Subject's pairwise id,
//! grants, scopes and data, and refresh and log-out buttons.

use crate::consumer::web::{BrowserSession, WebConsumer};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::fmt::Write as _;

/// The demo Consumer's router: `/`, `POST /refresh`, `POST /logout`, plus the integration's
/// `/login`, callback and error page.
pub fn router(web: &WebConsumer) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .with_state(web.clone())
        .merge(web.router())
}

/// Wraps the demo Consumer's router so that a request on another host name than
/// `consumer_url`'s gets a warning page instead: the browser session cookie is scoped by host
/// name, so a login started on one name would not find its session on the callback to another,
/// and on the Authority's host name (`authority_host`) the browser would mix the two sites'
/// cookies (spec TSR-AUTHZ-6).
pub fn host_guard(router: Router, consumer_url: &str, authority_host: &str) -> Router {
    let expected = url::Url::parse(consumer_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let open_url = consumer_url.to_owned();
    let authority_host = authority_host.to_ascii_lowercase();
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let expected = expected.clone();
            let open_url = open_url.clone();
            let authority_host = authority_host.clone();
            async move {
                let host = req
                    .headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|h| url::Url::parse(&format!("http://{h}")).ok())
                    .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
                match host {
                    Some(h) if h != expected => {
                        let why = if h == authority_host {
                            "is the Authority's host name: the browser would send the \
                             Authority's login cookies to this Consumer and this Consumer's \
                             session cookie to the Authority"
                        } else {
                            "is not the host name this Consumer was started on: its session \
                             cookie would not come back with the login callback"
                        };
                        let mut r = page(
                            "Wrong address",
                            &format!(
                                "<h1>Wrong address</h1>\
                                 <p class=\"error\" id=\"host-warning\">You opened the demo \
                                 Consumer at <code>{}</code>, which {why}.</p>\
                                 <p>Open <a href=\"{1}/\">{1}/</a> instead.</p>",
                                escape(&h),
                                escape(&open_url)
                            ),
                        );
                        *r.status_mut() = StatusCode::MISDIRECTED_REQUEST;
                        r
                    }
                    _ => next.run(req).await,
                }
            }
        },
    ))
}

pub use crate::html::escape;

/// The demo Consumer's name, at the top of its pages and of the integration's.
pub const APP_NAME: &str = "Tessera demo Consumer";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body>\
         <header class=\"site\"><span class=\"brand\">{APP_NAME}</span>\
         <span class=\"where\">a demo application that signs you in with Tessera</span></header>\
         <main class=\"wide\">{body}</main></body></html>",
        t = escape(title),
        css = crate::html::STYLESHEET_PATH,
    );
    let mut r = Html(html).into_response();
    for (name, value) in crate::html::PAGE_HEADERS {
        r.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    r
}

#[derive(serde::Deserialize)]
struct Notice {
    notice: Option<String>,
}

fn bool_table(id: &str, m: &std::collections::BTreeMap<String, bool>) -> String {
    if m.is_empty() {
        return format!("<p id=\"{id}\"><em>none requested</em></p>");
    }
    let mut t = format!("<table id=\"{id}\">");
    for (k, v) in m {
        let _ = write!(
            t,
            "<tr><th>{}</th><td data-name=\"{0}\">{}</td></tr>",
            escape(k),
            if *v { "yes" } else { "no" }
        );
    }
    t.push_str("</table>");
    t
}

async fn home(
    State(web): State<WebConsumer>,
    session: BrowserSession,
    Query(n): Query<Notice>,
) -> Response {
    let notice = n
        .notice
        .filter(|s| s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(|s| format!("<p class=\"notice\" id=\"notice\">{}</p>", notice_text(&s)))
        .unwrap_or_default();
    let (Some(login), Some(csrf)) = (&session.login, &session.csrf) else {
        let mut buttons = String::new();
        for issuer in web.consumer().issuers() {
            let _ = write!(
                buttons,
                // GET /login shows the button that POSTs with the CSRF token (TSR-CONSUMER-14)
                "<form method=\"get\" action=\"/login\">\
                 <input type=\"hidden\" name=\"authority\" value=\"{0}\">\
                 <button id=\"login\" type=\"submit\" class=\"primary\">Log in with Tessera</button> \
                 <span class=\"muted\">at {0}</span></form>",
                escape(issuer)
            );
        }
        return page(
            APP_NAME,
            &format!(
                "<h1>Welcome</h1>{notice}<p id=\"status\">You are not logged in.</p>\
                 <p>Log in to see what the Authority tells this application about you: a \
                 pairwise id, yes-or-no answers about your roles, and the data you agree to \
                 share.</p>{buttons}"
            ),
        );
    };
    // The Subject data API, with the login's ticket (Hawk, app/dlg).
    let data = match web.subject_data(&session).await {
        Ok(d) => format!(
            "<pre id=\"data\">{}</pre>",
            escape(&serde_json::to_string_pretty(&d).unwrap_or_default())
        ),
        Err(e) => format!(
            "<p class=\"error\" id=\"data-error\">Could not read your data from the Authority. \
             <span class=\"detail\">Error code: <code>{}</code></span></p>",
            escape(e.kind())
        ),
    };
    let body = format!(
        "<h1>You are logged in</h1>{notice}<p id=\"status\">You are logged in.</p>\
         <table><tr><th>Authority (issuer)</th><td id=\"issuer\">{iss}</td></tr>\
         <tr><th>Pairwise subject id (sub)</th><td><code id=\"sub\">{sub}</code></td></tr>\
         <tr><th>Session expires</th><td id=\"exp\">{exp}</td></tr>\
         <tr><th>Ticket expires</th><td id=\"ticket-exp\">{texp}</td></tr></table>\
         <h2>Grants</h2>{grants}<h2>Scopes</h2>{scopes}<h2>Subject data</h2>{data}\
         <form method=\"post\" action=\"/refresh\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"refresh\" type=\"submit\">Refresh session</button></form>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"logout\" type=\"submit\">Log out</button></form>",
        iss = escape(&login.issuer),
        sub = escape(&login.sub),
        exp = until(login.exp, web.consumer().now()),
        texp = until(login.ticket.exp, web.consumer().now()),
        grants = bool_table("grants", &login.grants),
        scopes = bool_table("scopes", &login.scopes),
        csrf = escape(csrf),
    );
    page("Logged in — Tessera demo Consumer", &body)
}

/// `exp` for people: "in 59 min (1795438073)".
fn until(exp: i64, now: i64) -> String {
    let left = exp - now;
    let human = if left <= 0 {
        "expired".to_owned()
    } else if left < 3_600 {
        format!("in {} min", left.div_euclid(60).max(1))
    } else {
        format!("in {} h {} min", left / 3_600, (left % 3_600) / 60)
    };
    format!("{human} ({exp})")
}

fn notice_text(kind: &str) -> &'static str {
    match kind {
        "refreshed" => "Session refreshed: new sid and ticket.",
        "logged_out" => "You are logged out; the session was revoked at the Authority.",
        "bad_csrf" => "That form was not sent from this page; nothing was done.",
        "session_reused" | "authority" => "The Authority ended this session; you are logged out.",
        _ => "Something went wrong.",
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

fn see_other(location: &str, cookie: Option<&str>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

async fn refresh(
    State(web): State<WebConsumer>,
    session: BrowserSession,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !web.check_csrf(&session, &f.csrf) {
        return see_other("/?notice=bad_csrf", None);
    }
    match web.refresh(&session).await {
        Ok(_) => see_other("/?notice=refreshed", None),
        Err(e) => {
            tracing::warn!(error = %e, "refresh failed");
            see_other(&format!("/?notice={}", e.kind()), None)
        }
    }
}

async fn logout(
    State(web): State<WebConsumer>,
    session: BrowserSession,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !web.check_csrf(&session, &f.csrf) {
        return see_other("/?notice=bad_csrf", None);
    }
    let (cookie, outcome) = web.logout(&session).await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "revocation failed");
    }
    see_other("/?notice=logged_out", Some(&cookie))
}
