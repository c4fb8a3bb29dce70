//! Cost of one key-source call: a plain Rust trait call, the same provider linked in (through
//! the ABI objects, as every built-in is), and the same provider loaded from a plugin library.
//!
//! `cargo bench -p trousseau-tests --bench dispatch`

#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::{abi, DeriveContext, KeySource, NoInteraction};
use trousseau_tests::{fixture_providers as fixtures, workspace};

fn dispatch(c: &mut Criterion) {
    let ctx = DeriveContext::new(&[7u8; 32], "{}", "bench");
    let ui = NoInteraction;

    let plain: Box<dyn KeySource> = Box::new(fixtures::Fixed);
    let linked = abi::KeySourceBox::new(
        abi::create_key_source(&fixtures::PLUGIN, "fixed", "{}")
            .into_result()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let lib = workspace::install_plugin(&workspace::fixture_plugin(), dir.path(), "libfix.so");
    let dynamic = abi::load_library(&lib)
        .unwrap()
        .create_key_source("fixed", "{}")
        .unwrap();

    let mut g = c.benchmark_group("derive");
    g.bench_function("plain trait", |b| {
        b.iter(|| black_box(plain.derive(black_box(&ctx), &ui)))
    });
    g.bench_function("linked-in via ABI", |b| {
        b.iter(|| black_box(linked.derive(black_box(&ctx), &ui)))
    });
    g.bench_function("dynamic plugin", |b| {
        b.iter(|| black_box(dynamic.derive(black_box(&ctx), &ui)))
    });
    g.finish();

    let mut g = c.benchmark_group("describe");
    g.bench_function("plain trait", |b| b.iter(|| black_box(plain.describe())));
    g.bench_function("linked-in via ABI", |b| {
        b.iter(|| black_box(linked.describe()))
    });
    g.bench_function("dynamic plugin", |b| {
        b.iter(|| black_box(dynamic.describe()))
    });
    g.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
