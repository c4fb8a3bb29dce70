//! What the ring-load benchmarks share: a fixed clock and a key manager over a filesystem ring.
#![allow(dead_code, clippy::unwrap_used)]

use std::{path::Path, sync::Arc};

use trousseau::{
    dataprotection::{
        manager::{KeyEncryption, KeyManagementOptions, KeyManager},
        timestamp::Timestamp,
    },
    plugins::Registry,
};

/// The benchmarks' "now": 2026-02-01, a month after their rings' first key.
pub fn now() -> Timestamp {
    Timestamp::parse("2026-02-01T00:00:00Z").unwrap()
}

/// A manager over the filesystem repository in `dir`, its key secrets opened by `protection`,
/// at [`now`], generating no keys.
pub fn manager(dir: &Path, protection: Arc<dyn KeyEncryption>) -> KeyManager {
    let cfg = serde_json::json!({ "directory": dir }).to_string();
    let repo = Registry::with_builtins(None)
        .unwrap()
        .repository("filesystem", &cfg)
        .unwrap();
    let opts = KeyManagementOptions {
        auto_generate_keys: false,
        ..Default::default()
    };
    KeyManager::with_clock(repo, opts, protection, Arc::new(now)).unwrap()
}
