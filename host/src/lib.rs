//! # trousseau — the Trousseau engine
//!
//! Composite master keys from pluggable key sources (KeePass-compatible), and an ASP.NET Core
//! Data Protection-compatible key ring kept in a pluggable repository, as a library. The
//! `trousseau` command-line tool (crate `trousseau-cli`) is a thin client of it.
//!
//! ## Quick start
//!
//! ```
//! use trousseau::{providers::{Filesystem, Password}, Trousseau};
//!
//! # let dir = tempfile::tempdir()?;
//! # std::env::set_var("SHOP_RING_PASSWORD", "a long passphrase");
//! let tr = Trousseau::builder()
//!     .application_name("shop")
//!     .repository(Filesystem::at(dir.path()))
//!     .unlock_with(Password::from_env("SHOP_RING_PASSWORD"))
//!     .build()?;
//! let cookies = tr.protector("cookies");
//! let token = cookies.protect_str("session 42")?;
//! assert_eq!(cookies.unprotect_str(&token)?, "session 42");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or from a configuration file: [`Trousseau::from_config_file`]; for tests,
//! [`Trousseau::ephemeral`]. The ring is created on first use; an encrypted ring (the default)
//! is opened only through a master-key slot made of the key sources this process names, and
//! nothing a writer of the repository puts there without the master key is used
//! (`docs/threat-model.md`).
//!
//! ## Layers
//!
//! - [`Trousseau`] and [`Builder`]: what most applications need.
//! - [`ring`]: opening, creating and rotating a ring from a [`Registry`] and settings.
//! - [`dataprotection`]: the key manager, key ring, protectors and the ASP.NET Core formats.
//! - [`masterkey`]: composite keys and KDFs; [`policy`]: master-key rules.
//! - [`plugins`]: the provider registry (built-ins, and plugin files with `dynamic-plugins`).
//!
//! See `docs/architecture.md` in the repository for the architecture.
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
#![deny(missing_docs)]
#![warn(
    rustdoc::broken_intra_doc_links,
    rustdoc::private_intra_doc_links,
    rustdoc::bare_urls
)]

mod builder;
mod builtins;
pub mod config;
mod crypto;
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

// The types an application meets first, at the crate root.
pub use config::{Config, ConfigError};
pub use dataprotection::{
    algorithms::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm},
    manager::{KeyManagementOptions, KeyManager},
    timestamp::Timestamp,
    DataProtectionError, DataProtector, TimeLimitedProtector,
};
pub use masterkey::{KdfLimits, MasterKeyError, SourceSpec};
pub use memory::MemoryRepository;
pub use plugins::Registry;
pub use policy::Policy;
pub use providers::RepositorySpec;
pub use ring::{Hint, RingError};
pub use trousseau_core::{Interaction, MessageLevel, NoInteraction, Repository};
