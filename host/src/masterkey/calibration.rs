//! Argon2 parameters for new master-key slots: calibrated to a target unlock time on the
//! machine that makes the slot (as KeePassXC's `--decryption-time`), always between a floor
//! and this node's ceilings ([`KdfLimits`]).
//!
//! - **Floor**: 19 MiB and 2 passes (the OWASP minimum for Argon2id); a slot is never cheaper,
//!   however short the target, except a slot of a high-entropy secret
//!   ([`KdfParams::high_entropy`]).
//! - **Ceilings**: a node refuses to run a slot's KDF above its `[master_key.kdf_limits]`, so
//!   a calibrated slot never asks for more memory, passes or lanes than they allow: the
//!   node that made it must be able to open it.
//! - **How**: one run of the floor parameters measures this machine's speed (KiB × passes per
//!   second with the lanes used); memory grows first (it is what makes guessing costly on
//!   GPUs), with 2 passes, up to the memory ceiling; then passes grow up to their ceiling.
//!   Speed is measured, so the result is only "about" the target; the time the slot's KDF
//!   really took is recorded in the slot when it is made.

use std::time::{Duration, Instant};

use trousseau_core::SecretBytes;

use super::{
    kdf::{random32, DEFAULT_MEMORY_KIB},
    transform_key, Argon2Variant, KdfLimits, KdfParams, MasterKeyError,
};

/// The least Argon2 memory of a calibrated slot: 19 MiB (OWASP's minimum for Argon2id).
pub const FLOOR_MEMORY_KIB: u32 = 19 * 1024;
/// The fewest Argon2 passes of a calibrated slot (OWASP's minimum with 19 MiB).
pub const FLOOR_ITERATIONS: u32 = 2;
/// The most lanes a calibrated slot uses (more rarely helps, and the node that opens the slot
/// may have fewer cores).
const MAX_LANES: u32 = 4;

/// How fast this machine runs Argon2 with a given number of lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Argon2Speed {
    /// KiB of memory × passes per second.
    pub kib_passes_per_second: f64,
    /// The lanes the speed was measured with (and that calibrated parameters use).
    pub parallelism: u32,
}

impl Argon2Speed {
    /// Measures the speed of `variant` with lanes = available cores (1 to 4, at most the
    /// ceiling) by one run of the floor parameters.
    pub fn measure(variant: Argon2Variant, limits: &KdfLimits) -> Result<Self, MasterKeyError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parallelism = u32::try_from(cores)
            .unwrap_or(MAX_LANES)
            .clamp(1, MAX_LANES)
            .min(limits.max_parallelism.max(1));
        let probe = argon2(variant, FLOOR_MEMORY_KIB, FLOOR_ITERATIONS, parallelism);
        let composite = SecretBytes::copy_from(&[0u8; 32]);
        let start = Instant::now();
        transform_key(&composite, &probe)?;
        let seconds = start.elapsed().as_secs_f64().max(1e-6);
        Ok(Argon2Speed {
            kib_passes_per_second: f64::from(FLOOR_MEMORY_KIB) * f64::from(FLOOR_ITERATIONS)
                / seconds,
            parallelism,
        })
    }

    /// Argon2 parameters of `variant` that take about `target` at this speed, between the
    /// floor and `limits` (memory first, then passes; memory in whole MiB). Fresh salt.
    /// Fails when the ceilings are below the floor.
    pub fn params(
        &self,
        variant: Argon2Variant,
        target: Duration,
        limits: &KdfLimits,
    ) -> Result<KdfParams, MasterKeyError> {
        check_floor(limits)?;
        let work = self.kib_passes_per_second * target.as_secs_f64();
        let max_memory = limits.max_memory_kib;
        let mut iterations = FLOOR_ITERATIONS;
        let mut memory = work / f64::from(iterations);
        if memory > f64::from(max_memory) {
            memory = f64::from(max_memory);
            iterations = (work / memory).round().clamp(
                f64::from(FLOOR_ITERATIONS),
                f64::from(limits.max_iterations),
            ) as u32;
        }
        // Whole MiB, never under the floor nor over the ceiling.
        let memory = ((memory.clamp(0.0, f64::from(max_memory)) as u32) / 1024 * 1024)
            .clamp(FLOOR_MEMORY_KIB, max_memory);
        Ok(argon2(variant, memory, iterations, self.parallelism))
    }
}

/// The longest unlock time new slots may be calibrated to.
pub const MAX_UNLOCK_TIME: Duration = Duration::from_secs(600);

/// An unlock time given in seconds (`[master_key] unlock_time`, a command-line option), checked:
/// more than 0 and at most [`MAX_UNLOCK_TIME`].
///
/// ```
/// use std::time::Duration;
/// assert_eq!(trousseau::masterkey::unlock_time(0.5)?, Duration::from_millis(500));
/// assert!(trousseau::masterkey::unlock_time(0.0).is_err());
/// # Ok::<(), trousseau::MasterKeyError>(())
/// ```
pub fn unlock_time(seconds: f64) -> Result<Duration, MasterKeyError> {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_UNLOCK_TIME.as_secs_f64() {
        return Err(MasterKeyError::KdfSettings(format!(
            "an unlock time of {seconds} seconds is out of range: give a number of seconds \
             above 0 and at most {} (e.g. 1 or 0.5)",
            MAX_UNLOCK_TIME.as_secs()
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Refuses ceilings under the floor: a slot made under them would be weaker than the floor,
/// or one this node cannot open.
fn check_floor(limits: &KdfLimits) -> Result<(), MasterKeyError> {
    if limits.max_memory_kib < FLOOR_MEMORY_KIB || limits.max_iterations < FLOOR_ITERATIONS {
        return Err(MasterKeyError::KdfSettings(format!(
            "this node's KDF ceilings (max_memory_kib = {}, max_iterations = {}) are below the \
             floor of new slots ({FLOOR_MEMORY_KIB} KiB, {FLOOR_ITERATIONS} passes); raise \
             them in [master_key.kdf_limits]",
            limits.max_memory_kib, limits.max_iterations
        )));
    }
    Ok(())
}

/// Argon2 (version 0x13) with a fresh 32-byte salt.
fn argon2(variant: Argon2Variant, memory_kib: u32, iterations: u32, parallelism: u32) -> KdfParams {
    KdfParams::Argon2 {
        variant,
        salt: random32().to_vec(),
        memory_kib,
        iterations,
        parallelism,
        version: 0x13,
    }
}

impl KdfParams {
    /// Argon2 parameters that take about `target` on this machine, between the floor
    /// ([`FLOOR_MEMORY_KIB`], [`FLOOR_ITERATIONS`]) and `limits`: see the module
    /// documentation. Fresh salt.
    ///
    /// ```
    /// use std::time::Duration;
    /// use trousseau::masterkey::{Argon2Variant, KdfLimits, KdfParams};
    ///
    /// let limits = KdfLimits::default();
    /// let params = KdfParams::calibrate(Argon2Variant::Id, Duration::from_millis(50), &limits)?;
    /// assert!(limits.check(&params).is_ok());
    /// # Ok::<(), trousseau::MasterKeyError>(())
    /// ```
    pub fn calibrate(
        variant: Argon2Variant,
        target: Duration,
        limits: &KdfLimits,
    ) -> Result<Self, MasterKeyError> {
        Argon2Speed::measure(variant, limits)?.params(variant, target, limits)
    }

    /// The fixed parameters of new slots when no unlock time is asked for: Argon2id 64 MiB,
    /// 2 passes, 2 lanes ([`KdfParams::new_default`]), lowered to `limits` where they are
    /// lower (never under the floor). Fresh salt.
    pub fn default_within(limits: &KdfLimits) -> Result<Self, MasterKeyError> {
        check_floor(limits)?;
        Ok(argon2(
            Argon2Variant::Id,
            DEFAULT_MEMORY_KIB.min(limits.max_memory_kib),
            FLOOR_ITERATIONS,
            2u32.min(limits.max_parallelism.max(1)),
        ))
    }

    /// The KDF of a slot whose secret is a random key of at least 128 bits (a recovery key):
    /// Argon2id at the floor, 19 MiB, 2 passes, 1 lane. Stretching adds nothing against
    /// guessing a key that has 2^128 possible values or more (a KDF that slows each guess a
    /// million times adds 20 bits), so such a slot opens quickly; the floor still applies so
    /// that every slot is the same kind of object. Fresh salt.
    pub fn high_entropy() -> Self {
        argon2(Argon2Variant::Id, FLOOR_MEMORY_KIB, FLOOR_ITERATIONS, 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn cost(p: &KdfParams) -> (u32, u32, u32) {
        match p {
            KdfParams::Argon2 {
                memory_kib,
                iterations,
                parallelism,
                ..
            } => (*memory_kib, *iterations, *parallelism),
            other => panic!("not Argon2: {other:?}"),
        }
    }

    fn within_bounds(p: &KdfParams, limits: &KdfLimits) {
        let (m, t, _) = cost(p);
        assert!(limits.check(p).is_ok(), "{p:?}");
        assert!(m >= FLOOR_MEMORY_KIB && t >= FLOOR_ITERATIONS, "{p:?}");
    }

    #[test]
    fn memory_grows_first_then_passes_up_to_the_ceilings() {
        // A machine doing 1 GiB·pass per second: 10 ms is under the floor, 400 ms is 204 MiB
        // at 2 passes, 4 s hits the 256 MiB ceiling and then needs 16 passes (ceiling 8).
        let speed = Argon2Speed {
            kib_passes_per_second: 1024.0 * 1024.0,
            parallelism: 2,
        };
        let limits = KdfLimits::default();
        let at = |ms| {
            let p = speed
                .params(Argon2Variant::Id, Duration::from_millis(ms), &limits)
                .unwrap();
            within_bounds(&p, &limits);
            cost(&p)
        };
        assert_eq!(at(10), (FLOOR_MEMORY_KIB, 2, 2));
        assert_eq!(at(400), (209_715 / 1024 * 1024, 2, 2));
        assert_eq!(at(1500), (256 * 1024, 6, 2));
        assert_eq!(at(4000), (256 * 1024, 8, 2));
    }

    #[test]
    fn a_calibrated_slot_is_within_bounds_and_follows_its_target() {
        let limits = KdfLimits::default();
        // One measurement, two targets: the comparison does not depend on the machine's load
        // between two measurements.
        let speed = Argon2Speed::measure(Argon2Variant::Id, &limits).unwrap();
        let short = speed
            .params(Argon2Variant::Id, Duration::from_millis(50), &limits)
            .unwrap();
        let long = speed
            .params(Argon2Variant::Id, Duration::from_millis(400), &limits)
            .unwrap();
        within_bounds(&short, &limits);
        within_bounds(&long, &limits);
        let work = |p: &KdfParams| {
            let (m, t, _) = cost(p);
            u64::from(m) * u64::from(t)
        };
        assert!(work(&long) > work(&short), "{short:?} vs {long:?}");
        assert_ne!(short.seed(), long.seed());
    }

    #[test]
    fn small_ceilings_lower_the_defaults_but_not_below_the_floor() {
        let small = KdfLimits {
            max_memory_kib: 32 * 1024,
            max_iterations: 2,
            max_parallelism: 1,
            ..KdfLimits::default()
        };
        let p = KdfParams::default_within(&small).unwrap();
        assert_eq!(cost(&p), (32 * 1024, 2, 1));
        let p =
            KdfParams::calibrate(Argon2Variant::Id, Duration::from_millis(400), &small).unwrap();
        within_bounds(&p, &small);
        let below = KdfLimits {
            max_memory_kib: 8 * 1024,
            ..KdfLimits::default()
        };
        let e = KdfParams::default_within(&below).unwrap_err().to_string();
        assert!(
            e.contains("below the floor") && e.contains("[master_key.kdf_limits]"),
            "{e}"
        );
        assert!(KdfParams::calibrate(Argon2Variant::Id, Duration::from_secs(1), &below).is_err());
    }
}
