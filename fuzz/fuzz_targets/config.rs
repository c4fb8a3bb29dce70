//! The TOML configuration file (`Config::parse`), then what is derived from it without I/O:
//! provider settings as JSON and the compiled master-key policy.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use trousseau::{config::Config, policy::Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text, Path::new("fuzz.toml")) else {
        return;
    };
    for provider in config.repository.iter().chain(&config.master_key.sources) {
        let _ = provider.settings_json();
    }
    let _ = Policy::from_config(&config.policy);
});
