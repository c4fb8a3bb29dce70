//! Enroll in this process, derive in two child processes (this same binary re-executed):
//! the token key gives the same component everywhere. `harness = false`: `main` is the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use trousseau_core::{DeriveContext, KeySource, NoInteraction};
use trousseau_pkcs11::{Pkcs11Config, Pkcs11Source};

const SEED: &[u8] = b"kdf seed of the master key ......";

fn main() {
    if let Ok(params) = std::env::var("TROUSSEAU_CHILD_PARAMS") {
        // Child: derive and print the component in hex.
        let config = std::env::var("TROUSSEAU_CHILD_CONFIG").unwrap();
        let src = Pkcs11Source::new(Pkcs11Config::parse(&config).unwrap());
        let c = src
            .derive(&DeriveContext::new(SEED, &params, "child"), &NoInteraction)
            .unwrap();
        println!("{}", hex_of(c.expose()));
        return;
    }
    let hsm = support::SoftHsm::new("trousseau-test");
    let config = hsm.config(serde_json::json!({}));
    let (component, params) = Pkcs11Source::new(Pkcs11Config::parse(&config).unwrap())
        .enroll(&DeriveContext::new(SEED, "", "parent"), &NoInteraction)
        .unwrap()
        .into_parts();
    let expected = hex_of(component.expose());
    for _ in 0..2 {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("TROUSSEAU_CHILD_PARAMS", &params)
            .env("TROUSSEAU_CHILD_CONFIG", &config)
            .env("SOFTHSM2_CONF", &hsm.conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected);
    }
    println!("test derive_in_two_processes ... ok");
    println!("1 passed, 0 failed");
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
