//! Starts the reference Authority (crate `tessera`) in process, in conformance mode, on an
//! ephemeral loopback port. The suite talks to it over HTTP only, like to any other target.

/// How far ahead of the start [`Reference::start_fenced`]'s earlier process left the replay
/// high-water mark: a few seconds beyond the 60 s skew, as a clock that ran ahead leaves it, so
/// that the first `ts` past the fence is within the skew after the runner's clearing advance
/// even if a second passes between the mark and the start.
pub const EARLIER_MARK_AHEAD: i64 = 65;

/// A running reference Authority; stops when dropped with [`Reference::stop`].
#[derive(Debug)]
pub struct Reference {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Spawned(tessera::server::Running),
    Own {
        addr: std::net::SocketAddr,
        tx: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    },
}

impl Reference {
    pub async fn start() -> Result<Reference, String> {
        Self::start_with(|a| a).await
    }

    /// Starts it as the suite tests it: conformance mode with its restart fence on, as after a
    /// restart (TSR-HAWK-10; the fence is off by default in conformance mode, spec A.2). Its
    /// store holds the replay high-water mark an earlier process left, [`EARLIER_MARK_AHEAD`]
    /// seconds ahead of now, so it refuses every `ts` up to that mark and the
    /// `conformance.restart-fence` vector probes the fence before the runner clears it. (On a
    /// fresh store the mark is 0: no earlier process, nothing to fence.)
    pub async fn start_fenced() -> Result<Reference, String> {
        use tessera::store::Store as _;
        let store = tessera::store::SqliteStore::in_memory().map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let now = i64::try_from(now).map_err(|e| e.to_string())?;
        store
            .raise_replay_mark(now + EARLIER_MARK_AHEAD)
            .map_err(|e| e.to_string())?;
        let store: std::sync::Arc<dyn tessera::store::Store> = std::sync::Arc::new(store);
        Self::start_with(move |a| a.restart_fence(true).store(store)).await
    }

    /// Starts it as deployed, for the production profile: conformance mode on the real clock,
    /// restart fence on.
    pub async fn start_production() -> Result<Reference, String> {
        Self::start_with(|a| a.real_clock()).await
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
        Ok(Reference {
            inner: Inner::Spawned(running),
        })
    }

    /// Its base URL (the issuer).
    pub fn url(&self) -> String {
        match &self.inner {
            Inner::Spawned(r) => r.issuer().to_string(),
            Inner::Own { addr, .. } => format!("http://127.0.0.1:{}", addr.port()),
        }
    }

    /// Starts it with its configuration adjusted by `adjust` (e.g. its TTLs).
    pub async fn start_with_config(
        adjust: impl FnOnce(&mut tessera::config::Config) + Send + 'static,
    ) -> Result<Reference, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let issuer = tessera::config::Issuer::parse(&format!("http://127.0.0.1:{}", addr.port()))
            .map_err(|e| e.to_string())?;
        let mut config = tessera::config::Config::new(issuer);
        config.conformance = true;
        adjust(&mut config);
        let state = tokio::task::spawn_blocking(move || {
            tessera::server::Authority::builder(config).build()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = tessera::server::app(state);
        let task = tokio::spawn(tessera::server::serve(listener, router, async move {
            let _ = rx.await;
        }));
        Ok(Reference {
            inner: Inner::Own { addr, tx, task },
        })
    }

    pub async fn stop(self) {
        match self.inner {
            Inner::Spawned(r) => {
                let _ = r.stop().await;
            }
            Inner::Own { tx, task, .. } => {
                let _ = tx.send(());
                let _ = task.await;
            }
        }
    }
}
