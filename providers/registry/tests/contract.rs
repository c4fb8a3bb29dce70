//! The repository contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! registry repository as a host sees it: on Windows the whole contract under a fresh HKCU
//! test key; elsewhere the contract of a provider on a platform it does not support
//! (configuration still checked, every operation refused as unsupported).
#![allow(clippy::unwrap_used)]

use trousseau_core::testkit::{repository::RepositoryContract, Plugin};
use trousseau_core::ErrorCode;

fn contract() -> RepositoryContract {
    let contract =
        RepositoryContract::new(Plugin::builtin(&trousseau_registry::PLUGIN), "registry")
            .bad_config(r#"{"key": 5}"#, ErrorCode::InvalidConfig)
            .bad_config(
                r#"{"key": "HKCU\\X", "no_such_option": 1}"#,
                ErrorCode::InvalidConfig,
            )
            .bad_config(r#"{"key": "HKXX\\Software\\X"}"#, ErrorCode::InvalidConfig)
            .bad_config(r#"{"key": "HKCU"}"#, ErrorCode::InvalidConfig);
    // Windows fills in {SID} (the default key, ASP.NET Core's) with the process user's SID;
    // elsewhere nothing can, so the default key is refused there.
    #[cfg(not(windows))]
    let contract = contract
        .bad_config("{}", ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"key": "HKLM\\SOFTWARE\\Microsoft\\ASP.NET\\4.0.30319.0\\AutoGenKeys\\{SID}\\DataProtection"}"#,
            ErrorCode::InvalidConfig,
        );
    contract
}

fn test_key(name: &str) -> String {
    format!(
        r"Software\TrousseauTests\contract-{}-{name}",
        std::process::id()
    )
}

fn config(key: &str) -> String {
    // JSON by hand: serde_json is a dev-dependency on Windows only.
    format!(r#"{{"key": "HKCU\\{}"}}"#, key.replace('\\', "\\\\"))
}

#[cfg(windows)]
#[test]
fn meets_the_repository_contract() {
    let key = test_key("single");
    let _ = windows_registry::CURRENT_USER.remove_tree(&key);
    contract().check(&config(&key));
    windows_registry::CURRENT_USER.remove_tree(&key).unwrap();
}

#[cfg(windows)]
#[test]
fn conditional_stores_race_between_two_processes() {
    trousseau_core::testkit::child_process_entry();
    let key = test_key("race");
    let _ = windows_registry::CURRENT_USER.remove_tree(&key);
    contract().check_two_processes(
        &config(&key),
        "conditional_stores_race_between_two_processes",
    );
    // The registry has no conditional store, so the kit may not have run the race (and made
    // no key): the cleanup is best-effort.
    let _ = windows_registry::CURRENT_USER.remove_tree(&key);
}

#[cfg(not(windows))]
#[test]
fn refuses_cleanly_off_windows() {
    contract().check_unsupported(&config(&test_key("unsupported")));
}
