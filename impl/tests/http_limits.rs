//! The listener's limits on real loopback sockets (spec TSR-CONV-14): slow and idle clients
//! are closed within their timeout, connections over the limit are refused at once, and
//! hyper's own refusals and broken bodies get JSON bodies with the right status. The same
//! limits hold on the TLS listener (`tls_*` tests), over HTTP/1.1 and HTTP/2.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::config::{Config, HttpLimits, Issuer};
use tessera::server::{
    app, serve_tls_with_limits, serve_with_limits, tls_config_from_pem, Authority,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
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
async fn read_to_close(s: &mut (impl AsyncRead + Unpin), within: Duration) -> (Vec<u8>, Duration) {
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

// --- the TLS listener -------------------------------------------------------------------

/// A TLS Authority on an ephemeral port with a fresh self-signed certificate for
/// `localhost`, and a client configuration trusting it (offering `alpn`).
struct TlsServer {
    addr: SocketAddr,
    roots: rustls::RootCertStore,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TlsServer {
    async fn start(limits: HttpLimits) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let tls = tls_config_from_pem(
            certified.cert.pem().as_bytes(),
            certified.key_pair.serialize_pem().as_bytes(),
        )
        .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = Issuer::parse(&format!("https://localhost:{}", addr.port())).unwrap();
        let mut config = Config::new(issuer);
        config.http = limits;
        let state = tokio::task::spawn_blocking(move || Authority::builder(config).build())
            .await
            .unwrap()
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_tls_with_limits(
            listener,
            app(state),
            limits,
            tls,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            roots,
            _stop: tx,
        }
    }

    /// A TCP connection with a finished TLS handshake offering `alpn`.
    async fn connect(&self, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("a TLS handshake")
    }
}

const HTTP1: &[&[u8]] = &[b"http/1.1"];
const H2_AND_HTTP1: &[&[u8]] = &[b"h2", b"http/1.1"];
const GET_METADATA: &[u8] =
    b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test]
async fn tls_a_socket_that_never_starts_its_handshake_is_closed_within_the_header_timeout() {
    let server = TlsServer::start(SHORT).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let (out, took) = read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
    assert!(out.is_empty());
    assert!(
        took >= SHORT.header_timeout - Duration::from_millis(100),
        "{took:?}"
    );
}

#[tokio::test]
async fn tls_a_handshake_sent_one_byte_at_a_time_is_cut_off_within_the_header_timeout() {
    let server = TlsServer::start(SHORT).await;
    // a real ClientHello, captured from a rustls client through an in-memory pipe
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(server.roots.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut client = rustls::ClientConnection::new(
        Arc::new(config),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    assert!(hello.len() > 100);
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let t = Instant::now();
    let mut closed = false;
    for b in &hello {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(100), s.read(&mut probe)).await {
            assert!(
                matches!(r, Ok(0) | Err(_)),
                "no answer to half a ClientHello"
            );
            closed = true;
            break;
        }
        if t.elapsed() > SHORT.header_timeout + SLACK {
            break;
        }
    }
    assert!(closed, "the trickling handshake was never cut off");
    assert!(
        t.elapsed() < SHORT.header_timeout + SLACK,
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn tls_an_idle_connection_after_the_handshake_is_closed_within_the_header_timeout() {
    let server = TlsServer::start(SHORT).await;
    let t = Instant::now();
    let mut s = server.connect(HTTP1).await;
    let (out, _) = read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
    assert!(out.is_empty());
    // the handshake counts in the header timeout: measured from the TCP connect
    let took = t.elapsed();
    assert!(
        took >= SHORT.header_timeout - Duration::from_millis(100)
            && took < SHORT.header_timeout + SLACK,
        "{took:?}"
    );
}

#[tokio::test]
async fn tls_a_partial_head_is_closed_within_the_header_timeout() {
    let server = TlsServer::start(SHORT).await;
    let mut s = server.connect(HTTP1).await;
    s.write_all(b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    s.flush().await.unwrap();
    let (out, _) = read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn tls_a_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TlsServer::start(SHORT).await;
    let mut s = server.connect(HTTP1).await;
    s.write_all(GET_METADATA).await.unwrap();
    s.flush().await.unwrap();
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
async fn tls_hypers_own_refusals_have_json_bodies() {
    let server = TlsServer::start(SHORT).await;
    let mut s = server.connect(HTTP1).await;
    s.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    s.flush().await.unwrap();
    let (out, _) = read_to_close(&mut s, SLACK).await;
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// One HTTP/2 frame: 24-bit length, type, flags, stream id.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const H2_SETTINGS: u8 = 0x4;
const H2_HEADERS: u8 = 0x1;
const H2_PING: u8 = 0x6;

/// `GET /.well-known/tessera-authority` on stream 1 (HPACK: indexed `:method GET` and
/// `:scheme https`, literal `:path` and `:authority` without Huffman coding).
fn h2_get_metadata() -> Vec<u8> {
    let path = b"/.well-known/tessera-authority";
    let authority = b"localhost";
    let mut block = vec![0x82, 0x87, 0x04, u8::try_from(path.len()).unwrap()];
    block.extend_from_slice(path);
    block.extend_from_slice(&[0x01, u8::try_from(authority.len()).unwrap()]);
    block.extend_from_slice(authority);
    // END_STREAM | END_HEADERS
    h2_frame(H2_HEADERS, 0x5, 1, &block)
}

#[tokio::test]
async fn tls_h2_a_connection_that_sends_no_request_is_closed_within_the_header_timeout() {
    let server = TlsServer::start(SHORT).await;
    let mut s = server.connect(H2_AND_HTTP1).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(H2_PREFACE).await.unwrap();
    s.write_all(&h2_frame(H2_SETTINGS, 0, 0, &[]))
        .await
        .unwrap();
    s.flush().await.unwrap();
    let (out, took) = read_to_close(&mut s, SHORT.header_timeout + SLACK).await;
    // the server's own SETTINGS came first
    assert_eq!(out.get(3), Some(&H2_SETTINGS), "{out:?}");
    assert!(
        took >= SHORT.header_timeout - Duration::from_millis(100),
        "{took:?}"
    );
}

#[tokio::test]
async fn tls_h2_pings_do_not_keep_an_idle_connection_open() {
    let server = TlsServer::start(SHORT).await;
    let mut s = server.connect(H2_AND_HTTP1).await;
    s.write_all(H2_PREFACE).await.unwrap();
    s.write_all(&h2_frame(H2_SETTINGS, 0, 0, &[]))
        .await
        .unwrap();
    s.write_all(&h2_get_metadata()).await.unwrap();
    s.flush().await.unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut closed = false;
    while t.elapsed() < SHORT.idle_timeout + SLACK {
        // a ping every 200 ms: traffic, but never a request
        if s.write_all(&h2_frame(H2_PING, 0, 0, &[7; 8]))
            .await
            .is_err()
            || s.flush().await.is_err()
        {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    assert!(closed, "pings kept an idle HTTP/2 connection open");
    // the request was answered before the close
    assert_eq!(h2_status(&out, 1), Some(200), "{out:?}");
}

/// The status of the response on `stream` in what a server sent, if its HEADERS frame begins
/// with an indexed `:status` (HPACK static entries 8-14; hyper encodes 200 that way).
fn h2_status(mut out: &[u8], stream: u32) -> Option<u16> {
    while out.len() >= 9 {
        let len = usize::from(out[0]) << 16 | usize::from(out[1]) << 8 | usize::from(out[2]);
        let id = u32::from_be_bytes([out[5], out[6], out[7], out[8]]) & 0x7fff_ffff;
        let payload = out.get(9..9 + len)?;
        if out[3] == H2_HEADERS && id == stream {
            return [200, 204, 206, 304, 400, 404, 500]
                .get(usize::from(payload.first()?.checked_sub(0x88)?))
                .copied();
        }
        out = &out[9 + len..];
    }
    None
}

#[tokio::test]
async fn tls_connections_over_the_limit_get_503_over_tls() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(30),
        ..SHORT
    };
    let server = TlsServer::start(limits).await;
    let mut held = Vec::new();
    for _ in 0..limits.max_connections {
        held.push(server.connect(H2_AND_HTTP1).await);
    }
    // the refusal speaks HTTP/1.1 whatever the client offered
    let mut extra = server.connect(H2_AND_HTTP1).await;
    assert_eq!(extra.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (out, took) = read_to_close(&mut extra, SLACK).await;
    let (status, body) = parse(&out);
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = server.connect(HTTP1).await;
    s.write_all(
        b"GET /.well-known/tessera-authority HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    s.flush().await.unwrap();
    let (out, _) = read_to_close(&mut s, SLACK).await;
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
