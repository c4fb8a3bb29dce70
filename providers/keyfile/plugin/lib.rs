//! `trousseau-keyfile` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_keyfile::PLUGIN);
