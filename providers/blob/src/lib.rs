//! Repository: one XML blob in Azure Blob Storage, S3 or GCS, in the ASP.NET Core Data Protection layout.

use trousseau_core::PluginDef;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-blob",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[],
};

trousseau_core::register_builtin!(PLUGIN);
