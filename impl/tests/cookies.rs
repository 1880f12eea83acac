//! The Authority's cookies (spec TSR-AUTHZ-6): `__Host-` names and `Secure` under https, an
//! opaque login cookie bound to its browser.

mod common;

use axum::http::StatusCode;
use common::{config, cookies, find_value, form, page, query_param, Harness, CONSUMER};
use tessera::config::Issuer;
use tessera::server::Authority;

const HTTPS_ISSUER: &str = "https://auth.example";

fn https_harness() -> Harness {
    let mut c = config(true);
    c.issuer = Issuer::parse(HTTPS_ISSUER).unwrap();
    Harness::build(Authority::builder(c), None)
}

fn set_cookies(r: &common::Resp) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn under_https_cookies_are_host_prefixed_secure_and_the_login_is_opaque() {
    let h = https_harness();
    let c = h.consumer(CONSUMER);
    let (hs, _) = h.handshake(&c, &[], &[]).await;
    assert_eq!(hs.status, StatusCode::OK, "{}", hs.json);
    let url = hs.json["authorize_url"].as_str().unwrap();
    let path = &url[HTTPS_ISSUER.len()..];
    let request = query_param(url, "request").unwrap();

    let p = page(&h, path, "").await;
    let set = set_cookies(&p);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].starts_with("__Host-tessera_browser="), "{set:?}");
    assert!(set[0].contains("; Secure") && set[0].contains("Path=/"));
    assert!(!set[0].to_ascii_lowercase().contains("domain="));
    let browser = cookies(&p).remove(0);
    let csrf = find_value(&String::from_utf8(p.body).unwrap(), "csrf_token");

    let pw = h.password("alice");
    let r = form(
        &h,
        "/authorize/login",
        &browser,
        &[
            ("request", &request),
            ("csrf_token", &csrf),
            ("username", "alice"),
            ("password", &pw),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let set = set_cookies(&r);
    assert!(set[0].starts_with("__Host-tessera_login="), "{set:?}");
    assert!(set[0].contains("; Secure") && set[0].contains("HttpOnly"));
    let login = cookies(&r).remove(0);
    let value = login.split_once('=').unwrap().1;

    // opaque: the internal Subject id appears neither in clear nor base64-decoded
    let alice = h
        .state
        .store()
        .subject_by_username("alice")
        .unwrap()
        .unwrap();
    assert!(!value.contains(&alice.id));
    let decoded = base64_decode(value);
    assert!(
        !decoded
            .windows(alice.id.len())
            .any(|w| w == alice.id.as_bytes()),
        "the login cookie carries the Subject id in clear"
    );

    // the pair signs the browser in; the login cookie with another browser cookie does not
    let consent = page(&h, path, &format!("{browser}; {login}")).await;
    assert!(String::from_utf8_lossy(&consent.body).contains("Allow"));
    let other = page(
        &h,
        path,
        &format!("__Host-tessera_browser={}; {login}", "b".repeat(43)),
    )
    .await;
    // another browser is not signed in: it is refused the request outright, since the request
    // belongs to the first browser that opened it (spec TSR-AUTHZ-9)
    let other_body = String::from_utf8_lossy(&other.body);
    assert!(!other_body.contains("Allow"), "{other_body}");
    assert!(
        other_body.contains("Sign in") || other_body.contains("opened in another browser"),
        "{other_body}"
    );
    // an unprefixed cookie (which any http page of the host could have set) is ignored
    let unprefixed = page(
        &h,
        path,
        &format!(
            "tessera_browser={}; tessera_{}",
            browser.split_once('=').unwrap().1,
            &login["__Host-tessera_".len()..]
        ),
    )
    .await;
    let unprefixed_body = String::from_utf8_lossy(&unprefixed.body);
    assert!(!unprefixed_body.contains("Allow"), "{unprefixed_body}");
    assert!(
        unprefixed_body.contains("Sign in")
            || unprefixed_body.contains("opened in another browser"),
        "{unprefixed_body}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_default()
}

/// GET `/` of `addr` with this `Host` header: (status, body).
async fn get_with_host(addr: &str, host: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    (text[9..12].parse().unwrap(), text)
}

#[tokio::test]
async fn the_demo_puts_authority_and_consumer_on_different_host_names_and_warns() {
    let demo = tessera::demo::start(tessera::demo::DemoOptions::ephemeral())
        .await
        .unwrap();
    let a = url::Url::parse(&demo.issuer).unwrap();
    let c = url::Url::parse(&demo.consumer_url).unwrap();
    assert_eq!(a.host_str(), Some("localhost"));
    assert_eq!(c.host_str(), Some("127.0.0.1"));
    let addr = format!("127.0.0.1:{}", c.port().unwrap());
    let (status, _) = get_with_host(&addr, &format!("127.0.0.1:{}", c.port().unwrap())).await;
    assert_eq!(status, 200);
    // opened on the Authority's host name: a warning, not the app
    let (status, body) = get_with_host(&addr, &format!("localhost:{}", c.port().unwrap())).await;
    assert_eq!(status, 421);
    assert!(
        body.contains("host-warning") && body.contains("Authority"),
        "{body}"
    );
    assert!(body.contains(&demo.consumer_url));
    demo.stop().await;
}
