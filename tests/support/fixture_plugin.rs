//! The fixture providers as a loadable plugin.

#![deny(unsafe_code)]
trousseau_core::export_plugin!(trousseau_tests::fixture_providers::PLUGIN);
