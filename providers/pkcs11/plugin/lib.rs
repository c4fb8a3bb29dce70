//! `trousseau-pkcs11` as a loadable plugin.

#![deny(unsafe_code)]
trousseau_core::export_plugin!(trousseau_pkcs11::PLUGIN);
