//! `trousseau-blob` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_blob::PLUGIN);
