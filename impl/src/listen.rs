//! Opening a listening socket with an error a newcomer can act on: it names the address and
//! the command-line flag that changes it (`Address already in use (os error 98)` alone names
//! neither).

use std::net::SocketAddr;

/// Why a listener could not be opened: the address, the flag that sets it, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {}{hint}", cause_text(.source))]
pub struct BindError {
    /// The address asked for.
    pub addr: String,
    /// What to do about it (names the flag).
    hint: String,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

fn cause_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AddrNotAvailable => "no such address on this machine".to_owned(),
        _ => e.to_string(),
    }
}

impl BindError {
    /// Whether the address was already taken by another process.
    #[must_use]
    pub fn in_use(&self) -> bool {
        self.source.kind() == std::io::ErrorKind::AddrInUse
    }
}

/// Binds `addr` (given by the command-line flag `flag`, e.g. `--addr`). On failure the error
/// names both; when the address is in use it says that another process (perhaps another
/// `tessera`) holds it and how to pick another port.
pub async fn bind(addr: &str, flag: &str) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| {
        let hint = match source.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                " (another program, perhaps another `tessera serve` or `tessera demo`, is \
                 listening there); stop it, or pass {flag} with another port, e.g. {flag} {}",
                other_port(addr)
            ),
            _ => format!("; pass {flag} with another address"),
        };
        BindError {
            addr: addr.to_owned(),
            hint,
            source,
        }
    })
}

/// `addr` with the port one higher, for the hint (`127.0.0.1:7700` → `127.0.0.1:7710`).
fn other_port(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(mut a) => {
            a.set_port(a.port().checked_add(10).unwrap_or(0));
            a.to_string()
        }
        Err(_) => "127.0.0.1:0".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_in_use_names_the_address_and_the_flag() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = bind(&addr, "--consumer-addr").await.unwrap_err();
        assert!(e.in_use());
        let text = e.to_string();
        assert!(text.contains(&addr), "{text}");
        assert!(text.contains("already in use"), "{text}");
        assert!(text.contains("--consumer-addr"), "{text}");
        assert!(bind("127.0.0.1:0", "--addr").await.is_ok());
    }
}
