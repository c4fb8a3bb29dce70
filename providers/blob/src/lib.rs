//! Repository: one XML blob in Azure Blob Storage, S3 or GCS, in the ASP.NET Core Data
//! Protection layout.
//!
//! Same layout and write protocol as `Azure.Extensions.AspNetCore.DataProtection.Blobs`: one blob
//! holding `<repository>` with every element as a child; reads use `If-None-Match` with the cached
//! ETag; writes re-read and upload with `If-Match` (or create-if-absent), at most 5 attempts with
//! a randomised 160–200 ms backoff. The same layout works over S3 and GCS through the object
//! store's conditional put. The version token is the ETag, which makes the conditional store exact.
//!
//! A read accepts a blob of at most `max_ring_bytes` (default 64 MiB, the filesystem
//! repository's ring ceiling): a larger size announced by the service is refused before the
//! body is read, and the body is streamed and dropped as soon as it grows past the ceiling, so
//! whoever can write the blob cannot make a node exhaust its memory.

#![forbid(unsafe_code)]

mod config;
mod errors;
mod repository;
mod runtime;

pub use config::{BlobConfig, DEFAULT_MAX_RING_BYTES};
pub use repository::{BlobRepository, ABSENT};

use trousseau_core::{Factory, PluginDef, ProviderDef, Repository, Result};

/// Help on the configuration keys, shown by `trousseau plugins inspect`.
pub const CONFIG_HELP: &str = "\
service: \"azure\", \"s3\" or \"gcs\" (required)
container: the Azure container or the S3/GCS bucket (required)
blob: the object holding the ring, e.g. \"keys.xml\" (required)
endpoint: service URL for emulators and S3-compatible servers (e.g. Azurite http://127.0.0.1:10000/devstoreaccount1)
azure: account; access_key_env or sas_env (names of environment variables); emulator: true for Azurite's development account
s3: region; access_key_id_env, secret_access_key_env (default: the AWS_* variables); anonymous: true for unsigned requests
gcs: service_account_path (default: GOOGLE_* variables)
timeout_ms (default 30000), connect_timeout_ms (default 5000)
max_ring_bytes: the largest blob read, in bytes (default 67108864)";

fn create(config: &str) -> Result<Box<dyn Repository>> {
    Ok(Box::new(BlobRepository::new(BlobConfig::from_json(
        config,
    )?)?))
}

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-blob",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "blob",
        summary: "key ring in one XML blob on Azure Blob Storage, S3 or GCS (ASP.NET Core Azure Blob layout), ETag concurrency",
        config_help: CONFIG_HELP,
        factory: Factory::Repository(create),
    }],
};

trousseau_core::register_builtin!(PLUGIN);
