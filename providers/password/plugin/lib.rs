//! `trousseau-password` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_password::PLUGIN);
