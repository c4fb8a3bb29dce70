//! Warm protect and unprotect of 64-byte payloads on 1, 2, 4, … threads up to
//! `available_parallelism()`, through a real [`KeyManager`] (filesystem ring in a temporary
//! directory) whose cache is warm: the figures are the protector's own per-call cost and how it
//! scales across cores (the key-ring cache read, the per-thread randomness, the crypto).
//!
//! `cargo bench -p trousseau --bench warm_scaling`
//!
//! Prints, for each thread count, total operations per second (median of the repeats) and the
//! ratio to one thread; then protect and unprotect of 64 B on one thread in µs per call
//! (median of batches). Settings from the environment: `WARM_SCALING_SECONDS` (per
//! measurement, default 1), `WARM_SCALING_REPEATS` (default 3), `WARM_SCALING_MAX_THREADS`
//! (default `available_parallelism()`). Each measurement also prints its spread (min–max of
//! the repeats) so that noise on a shared machine is visible, and operations per CPU-second
//! the threads got (Linux: `/proc/thread-self/stat`) with its ratio to one thread ("CPU eff."):
//! on a machine shared with other work, wall-clock scaling mostly measures the cores the
//! threads were given, while a drop in CPU efficiency is the cost of contention itself.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

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

/// Median µs per call of `op` on this thread, over batches of 2,000 calls for about `dur`.
fn latency_us(dur: Duration, op: &dyn Fn()) -> f64 {
    let start = Instant::now();
    let mut batches = Vec::new();
    while start.elapsed() < dur || batches.len() < 5 {
        let t = Instant::now();
        for _ in 0..2000 {
            op();
        }
        batches.push(t.elapsed().as_secs_f64() * 1e6 / 2000.0);
    }
    median(batches)
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
        let mut one = None;
        let mut one_cpu = None;
        for &threads in &counts {
            let (runs, cpu): (Vec<f64>, Vec<Option<f64>>) =
                (0..repeats).map(|_| throughput(threads, dur, op)).unzip();
            let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = runs.iter().copied().fold(0.0, f64::max);
            let m = median(runs);
            let base = *one.get_or_insert(m);
            let cpu: Option<Vec<f64>> = cpu.into_iter().collect();
            let (cpu_m, eff) = match cpu.map(median) {
                Some(c) => {
                    let base = *one_cpu.get_or_insert(c);
                    (format!("{c:.0}"), format!("{:.2}", c / base))
                }
                None => ("-".into(), "-".into()),
            };
            println!(
                "{name:<10} {threads:>8} {m:>14.0} {:>22} {:>8.2}× {:>9.2}× {cpu_m:>14} {eff:>9}",
                format!("{lo:.0}–{hi:.0}"),
                m / base,
                m / base / threads as f64
            );
        }
    }

    println!(
        "one thread, µs per call (median of 2,000-call batches; median and spread of the repeats):"
    );
    for (name, op) in [
        ("protect 64 B", &protect as &dyn Fn()),
        ("unprotect 64 B", &unprotect),
    ] {
        let runs: Vec<f64> = (0..repeats).map(|_| latency_us(dur, op)).collect();
        let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = runs.iter().copied().fold(0.0, f64::max);
        println!("{name:<16} {:>8.3} µs   ({lo:.3}–{hi:.3})", median(runs));
    }
}
