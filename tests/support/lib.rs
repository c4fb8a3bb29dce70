//! Shared helpers for the integration tests:
//! - private instances of the real servers the repository providers talk to (Redis, Azurite,
//!   moto, PostgreSQL), each in its own temp dir, on a unix socket or a free loopback port,
//!   killed when dropped; a missing tool or a server that does not come up is a test
//!   **failure** (a panic naming the tool and the install script), never a skip;
//! - key-ring elements in ASP.NET Core's exact format (`fixtures`);
//! - fixture providers (`fixture_providers`), the way to the workspace's real binaries and plugin
//!   libraries (`workspace`), the ABI-incompatible plugin fixture (`incompatible`), and the
//!   project venv's Python for the peers written in Python (`venv_python`).

#![forbid(unsafe_code)]
// Test support: a failed setup step is a failed test, so panicking with a message is right.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod azurite;
pub mod fixture_providers;
pub mod fixtures;
mod http;
pub mod incompatible;
mod moto;
// A private PostgreSQL server on a unix socket: Unix only.
#[cfg(unix)]
mod postgres;
mod python;
// A private redis-server on a unix socket: Unix only.
#[cfg(unix)]
mod redis;
mod server;
pub mod workspace;

pub use azurite::Azurite;
pub use moto::Moto;
#[cfg(unix)]
pub use postgres::Postgres;
pub use python::{venv_python, ASPNET_PEER};
#[cfg(unix)]
pub use redis::Redis;
pub use server::{free_port, PortService, Server};

/// The script that installs every tool these helpers start.
pub const INSTALL_HINT: &str = "run `bash .ci/install.d/repositories.sh` to install it";
