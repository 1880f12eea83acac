//! Tessera reference implementation: the Authority, and the `tessera` binary.
//!
//! The protocol pieces shared with Consumers live in `tessera-protocol` and the Consumer library
//! in `tessera-consumer` (a Consumer depends on that crate alone, with no database, password
//! hashing or CLI crates); both are re-exported here ([`wire`], [`hawk`], [`rand`], [`clock`],
//! [`consumer`]) so Authority code and tests name one crate.
//!
//! - [`core`]: the sans-IO protocol core (session state machine, tickets, decisions);
//! - [`store`]: the [`store::Store`] trait and its SQLite implementation;
//! - [`server`]: the axum HTTP layer ([`server::app`], [`server::Authority`], [`server::spawn`]);
//! - [`hawk`], [`replay`], [`seal`], [`rand`]: building blocks;
//! - [`error`], [`wire`], [`config`], [`clock`], [`password`]: the error table, wire types,
//!   configuration, time and password hashing.

pub use tessera_consumer as consumer;
pub use tessera_protocol::{clock, html, rand, PROTOCOL_VERSION};

/// Hawk 1.1 (`tessera_protocol::hawk`), with the Authority's in-memory nonce cache.
pub mod hawk {
    pub use tessera_protocol::hawk::*;

    /// The in-memory nonce cache: bucketed, sharded, bounded in bytes, with per-owner quotas and
    /// a restart fence (see [`crate::replay`]).
    pub use crate::replay::ReplayCache as NonceCache;
}

/// The wire types (`tessera_protocol::wire`), with the Authority's strict request parsing.
pub mod wire {
    pub use crate::json::{check_names, parse};
    pub use tessera_protocol::wire::*;
}

pub mod audit;
pub mod config;
pub mod core;
pub mod demo;
pub mod error;
pub mod json;
pub mod listen;
pub mod metrics;
pub mod migrate;
pub mod password;
pub mod replay;
pub mod replay_store;
pub mod seal;
pub mod server;
pub mod store;
pub mod store_pg;
