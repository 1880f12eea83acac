//! What the HTML pages of both roles share: the escape for text and attribute values, and the
//! one stylesheet (served by each site at [`STYLESHEET_PATH`], so page CSPs need no
//! `'unsafe-inline'`).

/// The stylesheet of every Tessera page (no JavaScript anywhere).
pub const STYLESHEET: &str = include_str!("tessera.css");

/// Where each site serves [`STYLESHEET`].
pub const STYLESHEET_PATH: &str = "/tessera.css";

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
