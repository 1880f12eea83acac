//! The Authority's cookies (spec TSR-AUTHZ-6): names, attributes, and the opaque login cookie.
//!
//! Under an `https` issuer the names carry the `__Host-` prefix, so a browser accepts them only
//! with `Secure`, `Path=/` and no `Domain`: no other site (a sibling subdomain, a plain-http
//! page) can set or overwrite them. Cookies are scoped by host name, not port, so the spec also
//! requires that no other web application share the Authority's host name.
//!
//! The login cookie is sealed (ChaCha20-Poly1305, a key of its own): it carries the Subject's
//! internal id and its expiry, which the browser never sees in clear, and the browser cookie is
//! the additional authenticated data, so a login cookie is good only with its own browser.

use crate::rand::Random;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead;

/// Longest cookie value looked at; longer ones are ignored unparsed.
const MAX_VALUE_LEN: usize = 512;
const LOGIN_AAD: &[u8] = b"tessera-login-v1\0";

/// The cookie names for an issuer (`__Host-` under https, spec TSR-AUTHZ-6).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    pub browser: &'static str,
    pub login: &'static str,
}

pub(crate) const fn names(https: bool) -> Names {
    if https {
        Names {
            browser: "__Host-tessera_browser",
            login: "__Host-tessera_login",
        }
    } else {
        Names {
            browser: "tessera_browser",
            login: "tessera_login",
        }
    }
}

/// The value of cookie `name`, if present and not over [`MAX_VALUE_LEN`].
pub(crate) fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    let values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    crate::html::cookie(values, name)
        .filter(|v| v.len() <= MAX_VALUE_LEN)
        .map(str::to_owned)
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Lax; Path=/`, and `Secure` under https.
pub(crate) fn set(name: &str, value: &str, max_age: i64, https: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if https { "; Secure" } else { "" }
    )
}

/// Seals and opens login cookies.
pub(crate) struct LoginSealer(aead::LessSafeKey);

impl std::fmt::Debug for LoginSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginSealer")
    }
}

impl LoginSealer {
    /// A sealer under a 32-byte key.
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key)
            .ok()
            .map(|k| Self(aead::LessSafeKey::new(k)))
    }

    fn aad(browser: &str) -> Vec<u8> {
        let mut a = LOGIN_AAD.to_vec();
        a.extend_from_slice(browser.as_bytes());
        a
    }

    /// The cookie value for `subject_id` until `exp`, for this browser.
    pub(crate) fn seal(
        &self,
        subject_id: &str,
        exp: i64,
        browser: &str,
        rng: &dyn Random,
    ) -> String {
        let mut nonce = [0u8; aead::NONCE_LEN];
        rng.fill(&mut nonce);
        let mut data = format!("{exp}\n{subject_id}").into_bytes();
        if self
            .0
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(Self::aad(browser)),
                &mut data,
            )
            .is_err()
        {
            return String::new();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The Subject id and expiry in `value`, if it was sealed by us for this browser.
    pub(crate) fn open(&self, value: &str, browser: &str) -> Option<(String, i64)> {
        let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
        if raw.len() < aead::NONCE_LEN + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, aead::Aad::from(Self::aad(browser)), &mut sealed)
            .ok()?;
        let text = std::str::from_utf8(plain).ok()?;
        let (exp, subject_id) = text.split_once('\n')?;
        Some((subject_id.to_owned(), exp.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::SeededRandom;

    #[test]
    fn the_login_cookie_is_opaque_and_bound_to_its_browser() {
        let s = LoginSealer::new(&[7; 32]).unwrap();
        let rng = SeededRandom::new(3);
        let v = s.seal("sub_internal_id_123", 1_000, "browser-a", &rng);
        let raw = URL_SAFE_NO_PAD.decode(&v).unwrap();
        assert!(
            !raw.windows(3).any(|w| w == b"sub"),
            "the id is not in clear"
        );
        assert!(!v.contains("sub_"));
        assert_eq!(
            s.open(&v, "browser-a"),
            Some(("sub_internal_id_123".into(), 1_000))
        );
        assert_eq!(s.open(&v, "browser-b"), None);
        let other = LoginSealer::new(&[8; 32]).unwrap();
        assert_eq!(other.open(&v, "browser-a"), None);
        // flipped bits, truncation, junk
        let mut bad = raw;
        bad[20] ^= 1;
        assert_eq!(s.open(&URL_SAFE_NO_PAD.encode(bad), "browser-a"), None);
        assert_eq!(s.open(&v[..10], "browser-a"), None);
        assert_eq!(s.open("!!!", "browser-a"), None);
    }

    #[test]
    fn https_names_carry_the_host_prefix_and_secure() {
        let n = names(true);
        assert!(n.browser.starts_with("__Host-") && n.login.starts_with("__Host-"));
        let c = set(n.login, "v", 60, true);
        assert!(c.contains("; Secure") && c.contains("Path=/") && !c.contains("Domain"));
        assert!(!set(names(false).login, "v", 60, false).contains("Secure"));
    }
}
