//! The suite's browsers (spec A.6): HTTP clients that keep the Consumer's cookies, each its own
//! jar, follow no redirect by themselves, and read the login-start form as a browser would.

use std::collections::BTreeMap;

/// A response as a browser received it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    /// Lower-case names; a repeated header keeps every value.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.as_str())
    }

    /// The status, the headers and the start of the body, for reports.
    pub fn summary(&self) -> String {
        let hdrs: Vec<String> = self
            .headers
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "location" | "set-cookie" | "content-type" | "referrer-policy"
                )
            })
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let body: String = self.body.chars().take(600).collect();
        format!("{} {}\n{}", self.status, hdrs.join("\n"), body)
    }
}

enum Body<'a> {
    Form(&'a [(String, String)]),
    Json(String),
}

/// The words a failure starts with when the Consumer did not answer a browser's request in
/// time (the HTTP client's timeout): after two scenarios in a row end so, the runner stops
/// ([`super::run::run_all`]).
pub const NO_ANSWER: &str = "the Consumer did not answer in time";

/// A failed request's message; [`NO_ANSWER`] first when it timed out.
pub(crate) fn request_error(method: &reqwest::Method, url: &str, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{NO_ANSWER}: {method} {url}: {e}")
    } else {
        format!("{method} {url}: {e}")
    }
}

/// One browser: its cookies for the Consumer.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
    client: reqwest::Client,
}

impl Browser {
    pub fn new(client: reqwest::Client) -> Self {
        Browser {
            cookies: BTreeMap::new(),
            client,
        }
    }

    /// `GET url` with this browser's cookies.
    pub async fn get(&mut self, url: &str) -> Result<Page, String> {
        self.send(reqwest::Method::GET, url, None, None, true).await
    }

    /// `POST url` with a JSON body and this browser's cookies (the test mode's refresh hook).
    pub async fn post_json(&mut self, url: &str, json: &serde_json::Value) -> Result<Page, String> {
        self.send(
            reqwest::Method::POST,
            url,
            Some(Body::Json(json.to_string())),
            None,
            true,
        )
        .await
    }

    /// Submits a form: `POST`, `application/x-www-form-urlencoded`, `Origin` `origin`.
    pub async fn submit(
        &mut self,
        url: &str,
        fields: &[(String, String)],
        origin: &str,
        with_cookies: bool,
    ) -> Result<Page, String> {
        self.send(
            reqwest::Method::POST,
            url,
            Some(Body::Form(fields)),
            Some(origin),
            with_cookies,
        )
        .await
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<Body<'_>>,
        origin: Option<&str>,
        with_cookies: bool,
    ) -> Result<Page, String> {
        let mut rb = self.client.request(method.clone(), url);
        if with_cookies && !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            rb = rb.header("cookie", c.join("; "));
        }
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        match body {
            Some(Body::Form(f)) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f.iter())
                    .finish();
                rb = rb
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body);
            }
            Some(Body::Json(j)) => rb = rb.header("content-type", "application/json").body(j),
            None => {}
        }
        let r = rb
            .send()
            .await
            .map_err(|e| request_error(&method, url, &e))?;
        let status = r.status().as_u16();
        let headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = r
            .text()
            .await
            .map_err(|e| request_error(&method, url, &e))?;
        let page = Page {
            status,
            headers,
            body,
        };
        for c in page.set_cookies() {
            self.store_cookie(c);
        }
        Ok(page)
    }

    fn store_cookie(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.trim().split_once('=')) else {
            return;
        };
        let expired = parts.any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == "max-age=0" || a.starts_with("max-age=-")
        });
        if expired || value.is_empty() {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_string(), value.to_string());
        }
    }
}

/// A login-start form read from a page (spec A.6.2, TSR-CONF-11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// Absolute URL.
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// The attributes of one tag (`<form …>`), names lower-cased; values quoted with `"` or `'`,
/// or bare.
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let b = tag.as_bytes();
    let mut i = 0;
    // skip the tag name
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if start == i {
            break;
        }
        let name = tag[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                let vs = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = unescape(&tag[vs..i.min(b.len())]);
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = unescape(&tag[vs..i]);
            }
        }
        out.entry(name).or_insert(value);
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The tags named `name` in `html`, each as the text between `<` and `>`, with their offsets.
fn tags<'a>(html: &'a str, name: &str) -> Vec<(usize, &'a str)> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = lower[from..].find(&open) {
        let start = from + p;
        let after = start + open.len();
        let next = lower.as_bytes().get(after).copied();
        if next.is_some_and(|c| c.is_ascii_whitespace() || c == b'>' || c == b'/') {
            if let Some(end) = html[after..].find('>') {
                out.push((start, &html[start + 1..after + end]));
                from = after + end;
                continue;
            }
        }
        from = after;
    }
    out
}

/// The first `<form method="post">` of `html` (served at `page_url`), its action resolved.
pub fn login_form(html: &str, page_url: &str) -> Result<LoginForm, String> {
    let lower = html.to_ascii_lowercase();
    for (start, tag) in tags(html, "form") {
        let a = attributes(tag);
        if !a
            .get("method")
            .is_some_and(|m| m.eq_ignore_ascii_case("post"))
        {
            continue;
        }
        let end = lower[start..]
            .find("</form")
            .map_or(html.len(), |e| start + e);
        let base = url::Url::parse(page_url).map_err(|e| format!("{page_url}: {e}"))?;
        let action = match a.get("action").filter(|s| !s.is_empty()) {
            Some(act) => base
                .join(act)
                .map_err(|e| format!("form action {act:?}: {e}"))?
                .to_string(),
            None => page_url.to_string(),
        };
        let fields = tags(&html[start..end], "input")
            .into_iter()
            .filter_map(|(_, t)| {
                let ia = attributes(t);
                let name = ia.get("name").filter(|n| !n.is_empty())?.clone();
                Some((name, ia.get("value").cloned().unwrap_or_default()))
            })
            .collect();
        return Ok(LoginForm { action, fields });
    }
    Err("the login page has no <form method=\"post\">".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_post_form() {
        let html = "<form method=get action=/x><input name=a value=1></form>\
            <FORM Method='POST' action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"t&amp;1\">\
            <input type=hidden name='authority' value='http://a'><button>go</button></FORM>";
        let f = login_form(html, "http://c.example/login?authority=x").unwrap();
        assert_eq!(f.action, "http://c.example/login");
        assert_eq!(
            f.fields,
            vec![
                ("csrf".to_string(), "t&1".to_string()),
                ("authority".to_string(), "http://a".to_string())
            ]
        );
        let f = login_form("<form method=post><input name=x></form>", "http://c/p").unwrap();
        assert_eq!(f.action, "http://c/p");
        assert_eq!(f.fields, vec![("x".to_string(), String::new())]);
        assert!(login_form("<p>no form</p>", "http://c/").is_err());
    }

    #[test]
    fn cookies_are_kept_and_deleted() {
        let mut b = Browser::new(reqwest::Client::new());
        b.store_cookie("s=1; Path=/; HttpOnly");
        b.store_cookie("t=2");
        assert_eq!(b.cookies.len(), 2);
        b.store_cookie("s=; Path=/; Max-Age=0");
        assert_eq!(b.cookies.keys().collect::<Vec<_>>(), vec!["t"]);
    }
}
