//! `trousseau-registry` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_registry::PLUGIN);
