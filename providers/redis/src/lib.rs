//! Repository: a Redis list in the ASP.NET Core Data Protection layout.
//!
//! Same layout as `Microsoft.AspNetCore.DataProtection.StackExchangeRedis`: one list (default key
//! `DataProtection-Keys`), one entry per element holding its text without formatting, appended
//! with `RPUSH` and read with `LRANGE 0 -1`; friendly names are not stored. On top of that:
//! deletion (`LREM`) and a conditional store (`WATCH`/`MULTI`/`EXEC`) whose version token is a
//! digest of the list, so it changes on every write, ours or an ASP.NET node's.
//!
//! # Bounded reads
//!
//! Whoever can write the list (anyone with the Redis password) must not make a node exhaust
//! its memory. So the list is never fetched blindly: one Lua script (`EVAL`, atomic on the
//! server) walks the list with `LLEN` and `LRANGE` in chunks, measuring each entry, and returns
//! the entries only when none is longer than `max_element_bytes` (default 1 MiB) and their
//! lengths plus 256 bytes each add up to at most `max_ring_bytes` (default 64 MiB), the
//! filesystem repository's ceilings. Otherwise the read fails with
//! [`trousseau_core::ErrorCode::CorruptData`] naming the entry and the limit, having received
//! only a few integers. The Redis user therefore needs `EVAL` (ACL `+eval`, or `@scripting`)
//! besides the list commands.

#![forbid(unsafe_code)]

mod config;
mod errors;
mod repository;

pub use config::{RedisConfig, DEFAULT_MAX_ELEMENT_BYTES, DEFAULT_MAX_RING_BYTES, ENTRY_OVERHEAD};
pub use repository::RedisRepository;

use trousseau_core::{Factory, PluginDef, ProviderDef, Repository, Result};

/// Help on the configuration keys, shown by `trousseau plugins inspect`.
pub const CONFIG_HELP: &str = "\
url: redis://[user[:password]@]host[:port][/db], rediss://… (TLS) or redis+unix:///path/to/socket[?db=N&user=U&pass=P] (default redis://127.0.0.1:6379)
key: the list holding the ring (default \"DataProtection-Keys\", as ASP.NET Core)
username_env, password_env: names of environment variables holding the username / password (override the URL's)
connect_timeout_ms, command_timeout_ms: timeouts in milliseconds (default 5000 each)
max_ring_bytes, max_element_bytes: the most a read of the list accepts, in all (each entry's length plus 256) and per entry (default 67108864 and 1048576); reads use EVAL
tls_ca_file: rediss:// only: PEM file of the CA that signed the server's certificate (a private CA), trusted instead of the public web roots";

fn create(config: &str) -> Result<Box<dyn Repository>> {
    Ok(Box::new(RedisRepository::new(RedisConfig::from_json(
        config,
    )?)?))
}

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-redis",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "redis",
        summary:
            "key ring in a Redis list (ASP.NET Core layout), with deletion and conditional store",
        config_help: CONFIG_HELP,
        factory: Factory::Repository(create),
    }],
};

trousseau_core::register_builtin!(PLUGIN);
