//! The repository contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! Redis repository as a host sees it, against a private redis-server.
// Unix only: a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]

use trousseau_core::testkit::{self, repository::RepositoryContract, Plugin};
use trousseau_core::ErrorCode;
use trousseau_tests::Redis;

const PASSWORD: &str = "s3cret-contract-pw";

fn contract() -> RepositoryContract {
    RepositoryContract::new(Plugin::builtin(&trousseau_redis::PLUGIN), "redis")
        .secret(PASSWORD)
        .bad_config(r#"{"url": 42}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"no_such_option": true}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"url": "ftp://example.invalid/"}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(r#"{"key": ""}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"command_timeout_ms": 0}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"password_env": "TROUSSEAU_CONTRACT_NO_SUCH_VARIABLE"}"#,
            ErrorCode::InvalidConfig,
        )
}

/// The configuration with the password in the URL (it must never show up in a message).
fn config(redis: &Redis) -> String {
    format!(r#"{{"url":"{}?pass={PASSWORD}"}}"#, redis.url())
}

#[test]
fn meets_the_repository_contract() {
    let redis = Redis::start_with_password(PASSWORD);
    contract().check(&config(&redis));
}

#[test]
fn conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let redis = Redis::start_with_password(PASSWORD);
    contract().check_two_processes(
        &config(&redis),
        "conditional_stores_race_between_two_processes",
    );
}
