//! What the HTML pages of both roles share: the escape for text and attribute values, the one
//! stylesheet (served by each site at [`STYLESHEET_PATH`], so page CSPs need no
//! `'unsafe-inline'`), the security headers of every page, and reading a cookie.

/// The stylesheet of every Tessera page (no JavaScript anywhere).
pub const STYLESHEET: &str = include_str!("tessera.css");

/// Where each site serves [`STYLESHEET`].
pub const STYLESHEET_PATH: &str = "/tessera.css";

/// The headers of every HTML page (spec TSR-AUTHZ-4 for the Authority's, TSR-CONSUMER-9's
/// no-referrer for the Consumer's): no script, styles from the site's own stylesheet, no
/// framing, no referrer, never cached. No `form-action`: browsers apply it to the redirect
/// that answers a form's POST, and the Consumer's login start and the Authority's consent
/// both answer with a 303 to another origin.
pub const PAGE_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
];

/// The headers of the stylesheet at [`STYLESHEET_PATH`], served by the Authority and the
/// Consumer alike.
pub const STYLESHEET_HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/css; charset=utf-8"),
    ("cache-control", "public, max-age=3600"),
    ("x-content-type-options", "nosniff"),
];

/// The value of the cookie `name` in `Cookie` header values (`a=1; b=2`), the first if named
/// twice.
pub fn cookie<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Escapes `s` for HTML text and double- or single-quoted attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("Ada's Shop"), "Ada&#39;s Shop");
    }

    #[test]
    fn cookies_by_name() {
        let headers = ["a=1; tessera_browser=xyz", "b=2"];
        assert_eq!(cookie(headers, "tessera_browser"), Some("xyz"));
        assert_eq!(cookie(headers, "b"), Some("2"));
        assert_eq!(cookie(headers, "tessera"), None);
        assert_eq!(cookie(["x=1; x=2"], "x"), Some("1"));
        assert_eq!(cookie([" spaced = no ; ok=yes"], "ok"), Some("yes"));
    }

    #[test]
    fn the_stylesheet_needs_no_script_and_no_other_resource() {
        assert!(
            !STYLESHEET.contains("url("),
            "no fetches from the stylesheet"
        );
        assert!(!STYLESHEET.contains("@import"));
        assert!(
            STYLESHEET.contains(":focus-visible"),
            "visible keyboard focus"
        );
    }
}
