//! `trousseau-filesystem` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_filesystem::PLUGIN);
