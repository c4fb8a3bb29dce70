//! # trousseau — the Trousseau host runtime
//!
//! What a host application embeds: plugin loading and the provider registry, configuration,
//! and the `trousseau` command-line tool built on them. See `docs/architecture.md` in the
//! repository for the architecture.

pub mod builtins;
pub mod config;
pub mod crypto;
pub mod dataprotection;
pub mod kdbx;
pub mod masterkey;
pub mod plugins;
pub mod policy;
