//! New slots through [`RingOpener`]: calibrated to the settings' unlock time with the time
//! recorded, recovery-key slots that open the ring alone with a cheap KDF, and weak passwords
//! refused when they cannot be confirmed.

use std::time::Duration;

use trousseau_core::{abi::RepositoryBox, Error, Interaction, MessageLevel, SecretBytes};

use super::*;
use crate::{
    dataprotection::slots::{self, Slot},
    masterkey::{
        EverySource, KdfLimits, KdfParams, SourceSpec, FLOOR_ITERATIONS, FLOOR_MEMORY_KIB,
    },
    MemoryRepository, Registry,
};

/// Answers every secret with its text, refuses every confirmation, and keeps the messages.
struct Answers(String, std::cell::RefCell<Vec<String>>);

impl Interaction for Answers {
    fn message(&self, _: MessageLevel, text: &str) {
        self.1.borrow_mut().push(text.to_string());
    }
    fn request_secret(&self, _: &str, _: bool) -> Result<SecretBytes, Error> {
        Ok(SecretBytes::copy_from(self.0.as_bytes()))
    }
    fn request_value(&self, _: &str) -> Result<String, Error> {
        Ok(String::new())
    }
    fn confirm(&self, _: &str, _: bool) -> Result<bool, Error> {
        Ok(false)
    }
}

fn answers(secret: &str) -> Answers {
    Answers(secret.to_string(), std::cell::RefCell::new(Vec::new()))
}

fn settings(unlock_time: Option<Duration>) -> RingSettings {
    RingSettings {
        unlock_sources: vec![SourceSpec::new(PASSWORD)],
        unlock_time,
        ..RingSettings::default()
    }
}

fn memory() -> RepositoryBox {
    RepositoryBox::in_process("memory", Box::new(MemoryRepository::new()))
}

fn the_slots(repo: &RepositoryBox) -> Vec<Slot> {
    slots::current(&slots::slots(&inspect(repo).unwrap()))
}

fn cost(kdf: &KdfParams) -> (u32, u32) {
    match kdf {
        KdfParams::Argon2 {
            memory_kib,
            iterations,
            ..
        } => (*memory_kib, *iterations),
        other => panic!("not Argon2: {other:?}"),
    }
}

/// A ring created in memory with `specs` answered by `ui`.
fn created(opener: &RingOpener<'_>, specs: &[SourceSpec], ui: &Answers) -> OpenedRing {
    match opener
        .create(memory(), "pw", specs, &EverySource(ui))
        .unwrap()
    {
        Creation::Created(ring) => ring,
        Creation::LostRace(_) => panic!("the repository was empty"),
    }
}

const STRONG: &str = "tulip Cobalt 93 orbit; wander-glass";

#[test]
fn a_new_ring_slot_is_calibrated_within_bounds_and_records_its_time() {
    let registry = Registry::with_builtins(None).unwrap();
    let opener = RingOpener::new(&registry, settings(Some(Duration::from_millis(50)))).unwrap();
    let ui = answers(STRONG);
    let specs = [SourceSpec::new(PASSWORD)];
    let ring = created(&opener, &specs, &ui);
    let slots = the_slots(ring.manager.repository());
    assert_eq!(slots.len(), 1);
    let slot = &slots[0];
    assert_eq!(slot.version, 3);
    assert!(slot.unlock_time.is_some());
    assert!(KdfLimits::default().check(&slot.kdf).is_ok());
    let (m, t) = cost(&slot.kdf);
    assert!(
        m >= FLOOR_MEMORY_KIB && t >= FLOOR_ITERATIONS,
        "{:?}",
        slot.kdf
    );
    // The strength estimate needs zxcvbn (the `password-quality` feature).
    assert_eq!(
        ui.1.borrow()
            .iter()
            .any(|m| m.starts_with("new password strength: ")),
        cfg!(feature = "password-quality"),
        "{:?}",
        ui.1.borrow()
    );
}

#[test]
fn a_recovery_slot_opens_the_ring_alone_with_the_cheap_kdf() {
    let registry = Registry::with_builtins(None).unwrap();
    let opener = RingOpener::new(&registry, settings(None)).unwrap();
    let specs = [SourceSpec::new(PASSWORD)];
    let ring = created(&opener, &specs, &answers(STRONG));
    let repo = ring.manager.repository();
    let parsed = inspect(repo).unwrap();
    let opened = opener
        .open_w(
            repo,
            &parsed,
            &EverySource(&answers(STRONG)),
            Expired::Refuse,
        )
        .unwrap();

    let key = RecoveryKey::generate().unwrap();
    let text = key.password();
    let password = String::from_utf8(text.expose().to_vec()).unwrap();
    let (slot, _) = opener
        .new_slot_for(
            repo,
            &opened.w,
            "recovery key",
            &specs,
            &EverySource(&answers(&password)),
            SlotSecret::Generated,
        )
        .unwrap();
    slots::add_slot(repo, &slot).unwrap();
    assert_eq!(cost(&slot.kdf), (FLOOR_MEMORY_KIB, FLOOR_ITERATIONS));

    let parsed = inspect(repo).unwrap();
    let again = opener
        .open_w(
            repo,
            &parsed,
            &EverySource(&answers(&password)),
            Expired::Refuse,
        )
        .unwrap();
    assert_eq!(again.slot.id, slot.id);
    assert!(again.w.same_as(&opened.w));
}

#[cfg(feature = "password-quality")]
#[test]
fn a_weak_password_is_refused_when_it_cannot_be_confirmed() {
    let registry = Registry::with_builtins(None).unwrap();
    let specs = [SourceSpec::new(PASSWORD)];
    for weak in [WeakPasswords::Confirm, WeakPasswords::Refuse] {
        let s = RingSettings {
            weak_passwords: weak,
            ..settings(None)
        };
        let opener = RingOpener::new(&registry, s).unwrap();
        let e = opener
            .create(memory(), "pw", &specs, &EverySource(&answers("abc")))
            .unwrap_err();
        assert!(matches!(e, RingError::WeakPassword { .. }), "{e}");
        assert_eq!(e.hint(), Some(Hint::StrongerPassword));
        assert!(e.to_string().contains("nothing was changed"), "{e}");
    }
    // Allowed (the library's default): made, with the warning said.
    let opener = RingOpener::new(&registry, settings(None)).unwrap();
    let ui = answers("abc");
    opener
        .create(memory(), "pw", &specs, &EverySource(&ui))
        .unwrap();
    assert!(ui.1.borrow().iter().any(|m| m.contains("very weak")));
}
