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

/// Minimal HTML escaping for text and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}}\
         button{{font-size:1rem;padding:.4rem 1rem;margin:.2rem .4rem .2rem 0}}\
         .notice{{background:#eef;padding:.5rem}}code{{word-break:break-all}}\
         </style></head><body><h1>Tessera demo Consumer</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
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
                 <button id=\"login\" type=\"submit\">Log in with Tessera</button> \
                 <small>({0})</small></form>",
                escape(issuer)
            );
        }
        return page(
            "Tessera demo Consumer",
            &format!("{notice}<p>You are not logged in.</p>{buttons}"),
        );
    };
    // The Subject data API, with the login's ticket (Hawk, app/dlg).
    let data = match web.subject_data(&session).await {
        Ok(d) => format!(
            "<pre id=\"data\">{}</pre>",
            escape(&serde_json::to_string_pretty(&d).unwrap_or_default())
        ),
        Err(e) => format!(
            "<p id=\"data-error\">Could not read the Subject data: {}</p>",
            escape(&e.to_string())
        ),
    };
    let body = format!(
        "{notice}<p id=\"status\">You are logged in.</p>\
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
