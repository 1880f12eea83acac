//! Tessera reference implementation: the Authority, the Consumer library and their building blocks.
//!
//! - [`core`]: the sans-IO protocol core (session state machine, tickets, decisions);
//! - [`store`]: the [`store::Store`] trait and its SQLite implementation;
//! - [`server`]: the axum HTTP layer ([`server::app`], [`server::Authority`], [`server::spawn`]);
//! - [`hawk`], [`seal`], [`rand`]: building blocks;
//! - [`error`], [`wire`], [`config`], [`clock`], [`password`]: the error table, wire types,
//!   configuration, time and password hashing.

/// The version of the specification this crate implements (spec TSR-META-3).
pub const PROTOCOL_VERSION: &str = "1.1";

pub mod clock;
pub mod config;
pub mod consumer;
pub mod core;
pub mod demo;
pub mod error;
pub mod hawk;
pub mod password;
pub mod rand;
pub mod seal;
pub mod server;
pub mod store;
pub mod wire;
