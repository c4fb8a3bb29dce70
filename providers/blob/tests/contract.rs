//! The repository contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! blob repository as a host sees it, against private emulators: Azurite (Azure Blob) and
//! moto (S3).

mod common;

use common::Backend;
use trousseau_core::testkit::{self, repository::RepositoryContract, Plugin};
use trousseau_core::ErrorCode;

fn contract() -> RepositoryContract {
    RepositoryContract::new(Plugin::builtin(&trousseau_blob::PLUGIN), "blob")
        .bad_config(r#"{"service": "azure"}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"service": "ftp", "container": "c", "blob": "b"}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"service": "s3", "container": "", "blob": "b"}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"service": "s3", "container": "c", "blob": "b", "no_such_option": 1}"#,
            ErrorCode::InvalidConfig,
        )
}

#[test]
fn azurite_meets_the_repository_contract() {
    let b = Backend::azurite();
    contract().check(&b.config);
}

#[test]
fn moto_meets_the_repository_contract() {
    let b = Backend::moto();
    contract().check(&b.config);
}

#[test]
fn azurite_conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let b = Backend::azurite();
    contract().check_two_processes(
        &b.config,
        "azurite_conditional_stores_race_between_two_processes",
    );
}

#[test]
fn moto_conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let b = Backend::moto();
    contract().check_two_processes(
        &b.config,
        "moto_conditional_stores_race_between_two_processes",
    );
}
