//! A scripted "browser" over plain HTTP for tests: one cookie jar (cookies are per host, not per
//! port, as in a real browser), no automatic redirects, and helpers that fill in the
//! Authority's login and consent forms.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A response as the test sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub url: String,
}

impl Resp {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

/// One browser: its cookie jar.
#[derive(Debug)]
pub struct Agent {
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

impl Agent {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&self, r: &Resp) {
        let mut jar = self.cookies.lock().unwrap();
        for c in r.set_cookies() {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                if c.contains("Max-Age=0") || v.is_empty() {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().to_owned(), v.to_owned());
                }
            }
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder, url: &str) -> Resp {
        let cookie = self.cookie_header();
        let rb = if cookie.is_empty() {
            rb
        } else {
            rb.header("cookie", cookie)
        };
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        let resp = Resp {
            status,
            headers,
            body,
            url: url.to_owned(),
        };
        self.remember(&resp);
        resp
    }

    pub async fn get(&self, url: &str) -> Resp {
        self.send(self.http.get(url), url).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Resp {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
            url,
        )
        .await
    }

    /// GETs `url` and follows 303s (at most 10); returns the last response.
    pub async fn follow(&self, url: &str) -> Resp {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let r = self.get(&url).await;
            match (r.status, r.location()) {
                (301..=308, Some(l)) => url = absolute(&url, &l),
                _ => return r,
            }
        }
        panic!("too many redirects");
    }

    /// At the Authority: from `authorize_url`, signs in as `username` and decides
    /// (`allow`/`deny`) on the consent page. Returns the callback URL the Authority redirects
    /// to (not followed).
    pub async fn authorize(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
        decision: &str,
    ) -> String {
        let origin = origin(authorize_url);
        let mut page = self.follow(authorize_url).await;
        for _ in 0..3 {
            assert_eq!(page.status, 200, "authorize page: {}", page.body);
            let request = form_value(&page.body, "request").expect("request field");
            let csrf = form_value(&page.body, "csrf_token").expect("csrf_token field");
            let r = if page.body.contains("name=\"password\"") {
                self.post_form(
                    &format!("{origin}/authorize/login"),
                    &[
                        ("request", &request),
                        ("csrf_token", &csrf),
                        ("username", username),
                        ("password", password),
                    ],
                )
                .await
            } else {
                let mut fields = vec![
                    ("request", request.as_str()),
                    ("csrf_token", csrf.as_str()),
                    ("decision", decision),
                ];
                let scopes = checkbox_values(&page.body, "scope");
                for s in &scopes {
                    fields.push(("scope", s));
                }
                let r = self
                    .post_form(&format!("{origin}/authorize/consent"), &fields)
                    .await;
                assert_eq!(r.status, 303, "consent answer: {}", r.body);
                return absolute(&r.url, &r.location().unwrap());
            };
            match (r.status, r.location()) {
                (303, Some(l)) => page = self.follow(&absolute(&r.url, &l)).await,
                _ => page = r,
            }
        }
        panic!("no consent page reached");
    }
}

/// `scheme://host:port` of `url`.
pub fn origin(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}

/// `l` resolved against `base`.
pub fn absolute(base: &str, l: &str) -> String {
    url::Url::parse(base).unwrap().join(l).unwrap().to_string()
}

/// The `value` of the input named `name` (hidden fields of the Authority's forms).
/// Starts a login at a Consumer built on the web integration: `GET {consumer}/login` (the page
/// with the button), then the `POST` with its CSRF token (spec TSR-CONSUMER-14). Returns the
/// `POST`'s response (a 303 to the Authority).
pub async fn start_login(browser: &Agent, consumer: &str) -> Resp {
    let page = browser.get(&format!("{consumer}/login")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = form_value(&page.body, "csrf").expect("csrf field on the login page");
    browser
        .post_form(&format!("{consumer}/login"), &[("csrf", &csrf)])
        .await
}

pub fn form_value(html: &str, name: &str) -> Option<String> {
    let i = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[i..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let v = tag.find("value=\"")? + 7;
    let vend = tag[v..].find('"')?;
    Some(tag[v..v + vend].to_owned())
}

/// The values of every input named `name` (the consent page's scope checkboxes).
pub fn checkbox_values(html: &str, name: &str) -> Vec<String> {
    let pat = format!("name=\"{name}\" value=\"");
    html.match_indices(&pat)
        .filter_map(|(i, _)| {
            let s = &html[i + pat.len()..];
            s.find('"').map(|e| s[..e].to_owned())
        })
        .collect()
}

/// The query parameter `name` of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
