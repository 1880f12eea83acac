//! One conformance-mode Authority per fuzzing process, driven in process with `oneshot`.

use axum::body::Body;
use axum::http::Request;
use std::sync::OnceLock;
use tessera::config::{Config, Issuer};
use tessera::server::{app, Authority};
use tower::ServiceExt as _;

struct World {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let mut config = Config::new(Issuer::parse("http://127.0.0.1:7700").unwrap());
        config.conformance = true;
        let state = Authority::builder(config).build().unwrap();
        World {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            router: app(state),
        }
    })
}

/// Sends `req`; returns the status and body. Panics (a finding) on a 5xx.
pub fn send(req: Request<Body>) -> (u16, Vec<u8>) {
    let w = world();
    let (method, uri) = (req.method().clone(), req.uri().clone());
    w.rt.block_on(async {
        let resp = w.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        assert!(
            status < 500,
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        (status, body)
    })
}

/// Splits `data` at the first `sep`.
pub fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
