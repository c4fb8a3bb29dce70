//! Warm protect and unprotect of 64-byte payloads on 1, 2, 4, … threads up to
//! `available_parallelism()`, through a real [`KeyManager`] (filesystem ring in a temporary
//! directory) whose cache is warm: the figures are the protector's own per-call cost and how it
//! scales across cores (the key-ring cache read, the per-thread randomness, the crypto).
//!
//! `cargo bench -p trousseau --bench warm_scaling`
//!
//! Prints, for each thread count, total operations per second (median of the repeats) and the
//! ratio to one thread; then 64-byte calls on one thread in µs per call next to their hash
//! floor. Settings from the environment: `WARM_SCALING_SECONDS` (per measurement, default 1),
//! `WARM_SCALING_REPEATS` (default 3), `WARM_SCALING_MAX_THREADS` (default
//! `available_parallelism()`).
//!
//! A shared or virtual machine's speed drifts by tens of percent over seconds to minutes, so
//! nothing is compared across a long gap:
//! - Each repeat measures every thread count in turn, and the ratio to one thread is the
//!   median of the repeats' own ratios. Each line also prints its spread (min–max of the
//!   repeats), and operations per CPU-second the threads got (Linux: `/proc/thread-self/stat`)
//!   with its ratio to one thread ("CPU eff."): on a machine shared with other work,
//!   wall-clock scaling mostly measures the cores the threads were given, while a drop in CPU
//!   efficiency is the cost of contention itself.
//! - The one-thread figures are 2,000-call batches of protect and unprotect under the short
//!   `app/bench` purpose chain and under ASP.NET Core's longer cookie chain, and of the **hash
//!   floor** of each chain, one batch of each in turn, round after round. The floor is the
//!   hash compressions a call runs and nothing else, chained as in a call: 3 SHA-512 (2 for the
//!   cookie chain, whose first block is cached) for the payload's subkeys and 5 SHA-256 for its
//!   MAC. No implementation of the format goes below it on the machine measured; each call's
//!   ratio to it is the median of the rounds' ratios.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use sha2::block_api::{compress256, compress512};
use trousseau::dataprotection::{
    manager::{KeyManagementOptions, KeyManager, PlainKeys},
    DataProtector,
};
use trousseau_core::abi::{create_repository, RepositoryBox};

const PAYLOAD: [u8; 64] = [0x5a; 64];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// This thread's CPU time (user + system) in seconds, from `/proc/thread-self/stat` (clock
/// ticks, assumed 100 per second); `None` where that file does not exist.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Operations per second of `threads` threads running `op` for `dur` (wall clock), and
/// operations per CPU-second the threads actually got (insensitive to time the threads spent
/// preempted by other processes, sensitive to lock waits and cache-line contention).
fn throughput(threads: usize, dur: Duration, op: &(dyn Fn() + Sync)) -> (f64, Option<f64>) {
    let barrier = Barrier::new(threads + 1);
    let (total, elapsed, cpu) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let cpu = thread_cpu_seconds();
                    let start = Instant::now();
                    let mut n = 0u64;
                    loop {
                        for _ in 0..64 {
                            op();
                        }
                        n += 64;
                        if start.elapsed() >= dur {
                            break;
                        }
                    }
                    let elapsed = start.elapsed();
                    let cpu = cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
                    (n, elapsed, cpu)
                })
            })
            .collect();
        barrier.wait();
        let mut total = 0u64;
        let mut longest = Duration::ZERO;
        let mut cpu = Some(0.0);
        for h in handles {
            let (n, e, c) = h.join().unwrap();
            total += n;
            longest = longest.max(e);
            cpu = cpu.zip(c).map(|(a, b)| a + b);
        }
        (total, longest, cpu)
    });
    let cpu = cpu.filter(|&c| c > 0.0).map(|c| total as f64 / c);
    (total as f64 / elapsed.as_secs_f64(), cpu)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let seconds: f64 = env_or("WARM_SCALING_SECONDS", 1.0);
    let repeats: usize = env_or("WARM_SCALING_REPEATS", 3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_threads: usize = env_or("WARM_SCALING_MAX_THREADS", cores).max(1);
    let dur = Duration::from_secs_f64(seconds);

    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({ "directory": dir.path() }).to_string();
    let repo = RepositoryBox::new(
        create_repository(&trousseau_filesystem::PLUGIN, "filesystem", &cfg)
            .into_result()
            .unwrap(),
    );
    let manager =
        KeyManager::new(repo, KeyManagementOptions::default(), Arc::new(PlainKeys)).unwrap();
    let protector = DataProtector::new(Arc::new(manager), vec!["app".into(), "bench".into()]);
    // Warm: the ring is built (and a key generated) once; every later call is served cached.
    let payload = protector.protect(&PAYLOAD).unwrap();
    assert_eq!(protector.unprotect(&payload).unwrap(), PAYLOAD);

    let protect = || {
        black_box(protector.protect(black_box(&PAYLOAD)).unwrap());
    };
    let unprotect = || {
        black_box(protector.unprotect(black_box(&payload)).unwrap());
    };

    let mut counts = Vec::new();
    let mut n = 1;
    while n < max_threads {
        counts.push(n);
        n *= 2;
    }
    counts.push(max_threads);

    println!(
        "warm_scaling: 64-byte payloads, warm KeyManager cache, {cores} core(s) reported by \
         available_parallelism, {repeats} repeat(s) of {seconds} s each"
    );
    println!(
        "{:<10} {:>8} {:>14} {:>22} {:>9} {:>10} {:>14} {:>9}",
        "op",
        "threads",
        "median ops/s",
        "spread (min–max)",
        "× 1 thr",
        "per thread",
        "ops/CPU-s",
        "CPU eff."
    );
    for (name, op) in [
        ("protect", &protect as &(dyn Fn() + Sync)),
        ("unprotect", &unprotect),
    ] {
        // One short untimed run so that every thread's pool and caches are warm.
        throughput(max_threads, Duration::from_millis(100), op);
        // [thread count][repeat]: (ops/s, ops per CPU-second).
        let mut runs = vec![Vec::new(); counts.len()];
        for _ in 0..repeats {
            for (runs, &threads) in runs.iter_mut().zip(&counts) {
                runs.push(throughput(threads, dur, op));
            }
        }
        let ones = &runs[0];
        for (threads, runs) in counts.iter().zip(&runs) {
            let rates: Vec<f64> = runs.iter().map(|r| r.0).collect();
            let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().copied().fold(0.0, f64::max);
            // Each repeat's ratio to its own one-thread run.
            let ratio = median(runs.iter().zip(ones).map(|(r, one)| r.0 / one.0).collect());
            let eff: Option<Vec<f64>> = runs
                .iter()
                .zip(ones)
                .map(|(r, one)| r.1.zip(one.1).map(|(c, base)| c / base))
                .collect();
            let cpu: Option<Vec<f64>> = runs.iter().map(|r| r.1).collect();
            let (cpu, eff) = match cpu.map(median).zip(eff.map(median)) {
                Some((c, e)) => (format!("{c:.0}"), format!("{e:.2}")),
                None => ("-".into(), "-".into()),
            };
            println!(
                "{name:<10} {threads:>8} {:>14.0} {:>22} {ratio:>8.2}× {:>9.2}× {cpu:>14} {eff:>9}",
                median(rates),
                format!("{lo:.0}–{hi:.0}"),
                ratio / *threads as f64
            );
        }
    }

    one_thread(&protector, dur.mul_f64(2.0 * repeats as f64));
}

/// The one-thread table: each 64-byte call and its chain's hash floor, a 2,000-call batch of
/// each in turn, for about `total`.
fn one_thread(protector: &DataProtector, total: Duration) {
    let cookies = protector
        .create_protector(
            "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware",
        )
        .create_protector("Cookies")
        .create_protector("v2");
    let short = protector.protect(&PAYLOAD).unwrap();
    let cookie = cookies.protect(&PAYLOAD).unwrap();
    let protect = |p: &DataProtector| {
        black_box(p.protect(black_box(&PAYLOAD)).unwrap());
    };
    let unprotect = |p: &DataProtector, payload: &[u8]| {
        black_box(p.unprotect(black_box(payload)).unwrap());
    };
    // (name, call, index of its floor in this list)
    let ops: [(&str, &dyn Fn(), usize); 6] = [
        ("floor: 3 SHA-512 + 5 SHA-256", &|| hash_floor(3), 0),
        ("protect 64 B, app/bench", &|| protect(protector), 0),
        (
            "unprotect 64 B, app/bench",
            &|| unprotect(protector, &short),
            0,
        ),
        ("floor: 2 SHA-512 + 5 SHA-256", &|| hash_floor(2), 3),
        ("protect 64 B, cookie chain", &|| protect(&cookies), 3),
        (
            "unprotect 64 B, cookie chain",
            &|| unprotect(&cookies, &cookie),
            3,
        ),
    ];
    let start = Instant::now();
    let mut rounds: Vec<[f64; 6]> = Vec::new();
    while start.elapsed() < total || rounds.len() < 11 {
        rounds.push(ops.map(|(_, op, _)| {
            let t = Instant::now();
            for _ in 0..2000 {
                op();
            }
            t.elapsed().as_secs_f64() * 1e6 / 2000.0
        }));
    }
    println!(
        "one thread, µs per call: {} rounds of one 2,000-call batch of each in turn",
        rounds.len()
    );
    println!(
        "{:<30} {:>8} {:>8} {:>10}",
        "call", "median", "best", "× floor"
    );
    for (i, (name, _, floor)) in ops.iter().enumerate() {
        let times: Vec<f64> = rounds.iter().map(|r| r[i]).collect();
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio = median(rounds.iter().map(|r| r[i] / r[*floor]).collect());
        println!(
            "{name:<30} {:>8.3} {best:>8.3} {:>10}",
            median(times),
            if i == *floor {
                "-".into()
            } else {
                format!("{ratio:.2}")
            }
        );
    }
}

/// The hash compressions of one 64-byte call under the default algorithm, chained as in a
/// call, and nothing else: `sha512_blocks` SHA-512 compressions for the payload's subkeys
/// (HMAC-SHA512 whose padded-key blocks are precomputed per key: its message spans two
/// blocks, or one after a cached first block), then HMAC-SHA256 of `IV || 80 bytes of
/// ciphertext` under the fresh MAC key: 2 compressions for the padded key, 2 for the message,
/// 1 outer.
fn hash_floor(sha512_blocks: usize) {
    let mut derived = [0x5A5A_5A5A_5A5A_5A5Au64; 8];
    for _ in 0..sha512_blocks {
        compress512(&mut derived, black_box(&[[0x36; 128]]));
    }
    let mut mac = [0x6a09_e667u32; 8];
    let mut block = [[0x5Cu8; 64]];
    block[0][..8].copy_from_slice(&derived[0].to_be_bytes());
    for _ in 0..5 {
        compress256(&mut mac, &block);
    }
    black_box(mac);
}
