//! `trousseau-pkcs11` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_pkcs11::PLUGIN);
