//! Shared helpers for the integration tests: fixture providers, the way to the workspace's
//! real binaries and plugin libraries, and the ABI-incompatible plugin fixture.

// Test support: a failed setup step is a failed test, so panicking with a message is right.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod fixtures;
pub mod incompatible;
pub mod workspace;
