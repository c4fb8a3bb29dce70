//! One `derive` of each source as the host calls it: `yubikey-recovery` (secret read from an
//! environment variable, parsed, HMAC-SHA1) and `pkcs11` against a private SoftHSM2 token
//! (module open, token lookup, login with the PIN from a file, key lookup, HMAC-SHA256 sign).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::{DeriveContext, KeySource, NoInteraction};
use trousseau_pkcs11::{Pkcs11Config, Pkcs11Source, YubikeyRecoverySource};

const SEED: &[u8] = b"0123456789abcdef0123456789abcdef";

fn recovery(c: &mut Criterion) {
    std::env::set_var(
        "TROUSSEAU_BENCH_YK_SECRET",
        "3132333435363738393031323334353637383930",
    );
    let src =
        YubikeyRecoverySource::from_json(r#"{"secret": {"env": "TROUSSEAU_BENCH_YK_SECRET"}}"#)
            .unwrap();
    let ctx = DeriveContext::new(SEED, "{}", "bench");
    c.bench_function("yubikey_recovery_derive", |b| {
        b.iter(|| {
            src.derive(std::hint::black_box(&ctx), &NoInteraction)
                .unwrap()
        })
    });
}

fn softhsm(c: &mut Criterion) {
    let hsm = support::SoftHsm::new("trousseau-test");
    let src = Pkcs11Source::new(
        Pkcs11Config::parse(&hsm.config(serde_json::json!({"key_label": "bench"}))).unwrap(),
    );
    let (_, params) = src
        .enroll(&DeriveContext::new(SEED, "", "bench"), &NoInteraction)
        .unwrap()
        .into_parts();
    let ctx = DeriveContext::new(SEED, &params, "bench");
    c.bench_function("pkcs11_softhsm2_derive_hmac_sha256", |b| {
        b.iter(|| {
            src.derive(std::hint::black_box(&ctx), &NoInteraction)
                .unwrap()
        })
    });
}

criterion_group!(benches, recovery, softhsm);
criterion_main!(benches);
