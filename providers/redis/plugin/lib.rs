//! `trousseau-redis` as a loadable plugin.
trousseau_core::export_plugin!(trousseau_redis::PLUGIN);
