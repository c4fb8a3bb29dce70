//! `trousseau-redis` as a loadable plugin.

#![deny(unsafe_code)]
trousseau_core::export_plugin!(trousseau_redis::PLUGIN);
