//! Tessera reference implementation: the Authority, the Consumer library and their building blocks.
//!
//! - [`core`]: the sans-IO protocol core (session state machine, tickets, decisions);
//! - [`store`]: the [`store::Store`] trait and its SQLite implementation;
//! - [`server`]: the axum HTTP layer ([`server::app`], [`server::Authority`], [`server::spawn`]);
//! - [`hawk`], [`seal`], [`pkce`], [`rand`]: building blocks;
//! - [`error`], [`wire`], [`config`], [`clock`], [`password`]: the error table, wire types,
//!   configuration, time and password hashing.

pub mod audit;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod core;
pub mod demo;
pub mod error;
pub mod hawk;
pub mod metrics;
pub mod migrate;
pub mod password;
pub mod pkce;
pub mod rand;
pub mod replay_store;
pub mod seal;
pub mod server;
pub mod store;
pub mod store_pg;
pub mod wire;
