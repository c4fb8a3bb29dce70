//! # trousseau-core — the Trousseau plugin ABI and SDK
//!
//! The only crate a Trousseau plugin depends on. A plugin offers **providers** of two kinds:
//!
//! - **key sources** ([`KeySource`]) yield one component of a composite master key (a
//!   password, a key file, a user-account key, a hardware-token response);
//! - **repositories** ([`Repository`]) store the key ring's XML elements by friendly name.
//!
//! Authors implement those plain Rust traits, list their providers in a [`PluginDef`], and
//! export it in one line with [`export_plugin!`] (a loadable `cdylib`) or [`register_builtin!`]
//! (linked into a host). Hosts talk to every provider through [`abi::KeySourceBox`] and
//! [`abi::RepositoryBox`], whatever its origin.
//!
//! ## What crosses the boundary
//! Only `#[repr(C)]` types checked by abi_stable (pinned `=0.11.3`) at load time: a host refuses
//! a plugin built against an incompatible copy of this crate. Secrets cross in
//! [`SecretBytes`], which wipes itself and never prints its bytes. Errors are an [`ErrorCode`]
//! from a closed set plus a message. A panic inside a plugin is caught at the boundary and
//! becomes an [`ErrorCode::Internal`] error. Prompts go through the host's [`Interaction`].
//!
//! ## Reading files named in a configuration
//! [`read_regular_file`] and [`open_regular_file`] open only regular files (never blocking on
//! a FIFO, never opening a device) and read up to a ceiling; providers use them for key files
//! and secret files. They are plain Rust functions, not part of the ABI.
//!
//! ## Windows DPAPI
//! [`dpapi`] wraps `CryptProtectData` and `CryptUnprotectData` (Windows only; its scope type
//! exists everywhere, for configurations) for the providers and the engine that protect bytes
//! under the user's (or the machine's) DPAPI key.
//!
//! ## A minimal plugin
//! ```
//! use trousseau_core::*;
//!
//! struct Fixed;
//! impl KeySource for Fixed {
//!     fn describe(&self) -> SourceDescription {
//!         SourceDescription::new("fixed", ComponentKind::Provider, SourceFlags::NONE, "fixed key")
//!     }
//!     fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment> {
//!         Ok(Enrollment::new(self.derive(ctx, ui)?, "{}"))
//!     }
//!     fn derive(&self, _: &DeriveContext, _: &dyn Interaction) -> Result<SecretBytes> {
//!         Ok(SecretBytes::copy_from(b"not a real key"))
//!     }
//! }
//!
//! fn make(_config: &str) -> Result<Box<dyn KeySource>> {
//!     Ok(Box::new(Fixed))
//! }
//!
//! static PLUGIN: PluginDef = PluginDef {
//!     name: "fixed-example",
//!     version: "0.1.0",
//!     providers: &[ProviderDef {
//!         id: "fixed",
//!         summary: "a fixed key (example)",
//!         config_help: "no configuration",
//!         factory: Factory::KeySource(make),
//!     }],
//! };
//! // In a `cdylib`: trousseau_core::export_plugin!(PLUGIN);
//! # let source = abi::KeySourceBox::new(abi::create_key_source(&PLUGIN, "fixed", "{}").unwrap());
//! # assert_eq!(source.describe().unwrap().label(), "fixed key");
//! ```

#![deny(unsafe_code)]
#![deny(missing_docs)]

// The ABI boundary: abi_stable's derives (`StableAbi`, `sabi_trait`) expand to unsafe impls and
// blocks here, and the loader reads a library's header (see its SAFETY comment).
#[allow(unsafe_code)]
pub mod abi;
pub mod dpapi;
mod error;
mod export;
mod file;
mod interaction;
mod plugin;
mod repository;
mod secret;
mod source;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{Error, ErrorCode, Result};
pub use file::{open_regular_file, read_regular_file, read_to_limit};
pub use interaction::{Interaction, MessageLevel, NoInteraction};
pub use plugin::{
    builtin_plugins, BuiltinPlugin, Factory, KeySourceFactory, PluginDef, PluginInfo, ProviderDef,
    ProviderInfo, ProviderKind, RepositoryFactory,
};
pub use repository::{Capabilities, Element, Repository, RepositoryDescription, Snapshot};
pub use secret::SecretBytes;
pub use source::{
    ComponentKind, DeriveContext, Enrollment, KeySource, SourceDescription, SourceFlags,
};

/// The version of this crate, recorded in every plugin's [`PluginInfo`].
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
pub use inventory as __inventory;
