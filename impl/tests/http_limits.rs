//! The listener's limits on real loopback sockets (spec TSR-CONV-14): slow and idle clients
//! are closed within their timeout, connections over the limit are refused at once, and
//! hyper's own refusals and broken bodies get JSON bodies with the right status.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tessera::config::{Config, HttpLimits, Issuer};
use tessera::server::{app, serve_with_limits, Authority};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: HttpLimits = HttpLimits {
    header_timeout: Duration::from_secs(1),
    body_timeout: Duration::from_secs(1),
    idle_timeout: Duration::from_secs(1),
    max_connections: 4,
};
/// Slack for a loaded machine: a closed connection must be seen within timeout + this.
const SLACK: Duration = Duration::from_secs(3);

async fn start(limits: HttpLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = Issuer::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
    let mut config = Config::new(issuer);
    config.http = limits;
    let state = tokio::task::spawn_blocking(move || Authority::builder(config).build())
        .await
        .unwrap()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with_limits(
        listener,
        app(state),
        limits,
        async move {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

/// Reads until the server closes; returns what it sent and how long the close took.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let t = Instant::now();
    let mut out = Vec::new();
    let r = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        r.is_ok(),
        "the server kept the connection open past {within:?}"
    );
    (out, t.elapsed())
}

/// (status, JSON body) of a raw HTTP/1.1 response.
fn parse(resp: &[u8]) -> (u16, serde_json::Value) {
    let text = String::from_utf8_lossy(resp);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[tokio::test]
async fn an_idle_connection_is_closed_within_the_header_timeout() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (out, took) = read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
    assert!(out.is_empty());
    assert!(
        took >= SHORT.header_timeout - Duration::from_millis(100),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_partial_head_is_closed_within_the_header_timeout() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
}

#[tokio::test]
async fn a_head_sent_one_byte_at_a_time_is_closed_within_the_header_timeout() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    let head = b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = false;
    for b in head {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        // a byte every 300 ms keeps the socket busy but never finishes the head in time
        let mut probe = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut probe)).await {
            assert!(
                matches!(r, Ok(0) | Err(_)),
                "no response to an unfinished head"
            );
            closed = true;
            break;
        }
    }
    assert!(closed, "the trickling client was never cut off");
    assert!(
        t.elapsed() < SHORT.header_timeout + SLACK,
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (out, took) = read_to_close(&mut s, SHORT.idle_timeout + SLACK).await;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        took >= SHORT.idle_timeout - Duration::from_millis(100),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_body_that_trickles_gets_408_within_the_body_timeout() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /v1/handshake HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a",
    )
    .await
    .unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while t.elapsed() < SHORT.body_timeout + SLACK {
        let _ = s.write_all(b" ").await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
                break;
            }
        }
    }
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (408, Some("request_timeout"))
    );
}

#[tokio::test]
async fn a_truncated_body_is_400_not_413() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /v1/handshake HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":1",
    )
    .await
    .unwrap();
    s.shutdown().await.unwrap();
    let (out, _) = read_to_close(&mut s, SLACK).await;
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn a_bad_chunk_size_is_400_not_413() {
    let (addr, _stop) = start(SHORT).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /v1/handshake HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let (out, _) = read_to_close(&mut s, SHORT.idle_timeout + SLACK).await;
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn hypers_own_refusals_have_json_bodies() {
    let (addr, _stop) = start(SHORT).await;
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..120)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    for (request, status, code) in [
        ("NOT HTTP AT ALL\r\n\r\n".to_owned(), 400, "invalid_request"),
        (long_uri, 414, "uri_too_long"),
        (many_headers, 431, "headers_too_large"),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(request.as_bytes()).await;
        let (out, _) = read_to_close(&mut s, SLACK).await;
        let (got, body) = parse(&out);
        assert_eq!((got, body["error"].as_str()), (status, Some(code)));
        assert!(body["error_description"].is_string());
    }
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_at_once_with_503() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(30),
        ..SHORT
    };
    let (addr, _stop) = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..limits.max_connections {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // the listener accepts in order: give it the time to take the held ones first
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let (out, took) = read_to_close(&mut extra, SLACK).await;
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(held);
    // freed slots are usable again
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let (out, _) = read_to_close(&mut s, SLACK).await;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
