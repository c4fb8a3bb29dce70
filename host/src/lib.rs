//! # trousseau — the Trousseau host runtime
//!
//! What a host application embeds: plugin loading and the provider registry, configuration,
//! and the `trousseau` command-line tool built on them. See `docs/architecture.md` in the
//! repository for the architecture.
//!
//! ## Cargo features
//!
//! Each built-in provider is a feature, so an application links only the backends it uses.
//!
//! | feature | what it adds |
//! |---|---|
//! | `filesystem` *(default)* | repository: a directory of XML files (ASP.NET Core layout) |
//! | `password` *(default)* | key source: a password |
//! | `keyfile` *(default)* | key source: a KeePass key file |
//! | `user-account` *(default)* | key source: a per-user key kept by the OS |
//! | `redis` | repository: a Redis list, `redis://` and unix sockets (pure Rust) |
//! | `redis-tls` | `redis` plus `rediss://` (rustls with aws-lc-rs: needs a C compiler) |
//! | `blob` | repository: Azure Blob, S3, GCS (object_store; needs a C compiler) |
//! | `registry` | repository: Windows registry values (listed elsewhere, but Windows only) |
//! | `pkcs11` | key source: HMAC challenge-response on a PKCS#11 token |
//! | `dynamic-plugins` | loading plugin files from directories (`plugins::admission`, `plugins::elf`, `plugins::search`, `Registry::load_dir`) |
//! | `kdbx` | the `kdbx` module: reading KeePass database headers and checking a key against them |
//! | `password-quality` | the policy's `minimum_quality` (zxcvbn); without it such a policy is refused |
//! | `parallel-kdf` *(default)* | Argon2 lanes on threads (rayon); the same key without it, slower |
//! | `full` | all of the above (what the `trousseau` command-line tool uses) |
//!
//! Without a provider's feature its id is simply unknown to the registry ("unknown key-source
//! provider"), as if it were a plugin that is not installed.

#![deny(unsafe_code)]

mod builder;
pub mod builtins;
pub mod config;
pub mod crypto;
pub mod dataprotection;
mod engine;
#[cfg(feature = "kdbx")]
pub mod kdbx;
pub mod masterkey;
pub mod memory;
pub mod plugins;
pub mod policy;
pub mod providers;
pub mod ring;

pub use builder::Builder;
pub use engine::Trousseau;
