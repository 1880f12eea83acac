//! Starts the reference Authority (crate `tessera`) in process, in conformance mode, on an
//! ephemeral loopback port. The suite talks to it over HTTP only, like to any other target.

/// A running reference Authority; stops when dropped with [`Reference::stop`].
#[derive(Debug)]
pub struct Reference {
    running: tessera::server::Running,
}

impl Reference {
    pub async fn start() -> Result<Reference, String> {
        Self::start_with(|a| a).await
    }

    /// Starts it with the builder adjusted by `configure` (e.g. the restart fence on).
    pub async fn start_with(
        configure: impl FnOnce(tessera::server::Authority) -> tessera::server::Authority
            + Send
            + 'static,
    ) -> Result<Reference, String> {
        let running = tessera::server::spawn(true, configure)
            .await
            .map_err(|e| format!("cannot start the reference Authority: {e}"))?;
        Ok(Reference { running })
    }

    /// Its base URL (the issuer).
    pub fn url(&self) -> String {
        self.running.issuer().to_string()
    }

    pub async fn stop(self) {
        let _ = self.running.stop().await;
    }
}
