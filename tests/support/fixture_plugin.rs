//! The fixture providers as a loadable plugin.
trousseau_core::export_plugin!(trousseau_tests::fixtures::PLUGIN);
