//! `trousseau-user-account` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_user_account::PLUGIN);
