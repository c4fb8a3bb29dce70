//! Rotating the ring-wrapping key W: after a slot's secret leaked, removing the slot is not
//! enough (whoever holds the leaked secret can put the old slot element back, and it still
//! unwraps the same W). A rotation makes a new W, seals every trusted key secret and MACs
//! every trusted revocation again under it, and re-wraps every slot that still opens, in a
//! new *generation*. Nodes only use slots of the highest generation present
//! ([`super::slots::current`]), so a replayed slot of an older generation opens nothing.
//!
//! Repositories only add and delete elements, so the existing `<key>` elements are not
//! rewritten: the new secrets go into one `<rewrappedSecrets generation="g">` element (see
//! [`super::wrapping`]). That element and the new slots are stored with **one conditional
//! store** against the version the rotation read, which every built-in repository performs
//! all-or-nothing (the filesystem through a roll-forward journal), so an interrupted rotation
//! leaves either the old ring or the new one. The old slots and the previous
//! `<rewrappedSecrets>` are deleted afterwards; if that is interrupted the leftovers are
//! harmless (an older generation is never used) and the next rotation deletes them.
//!
//! Running nodes keep the W they opened until they open the ring again: restart them after a
//! rotation.

use trousseau_core::{abi::RepositoryBox, Capabilities, ErrorCode, SecretBytes};
use uuid::Uuid;

use super::{
    at_rest::KeyEncryption,
    error::{DataProtectionError, Result},
    keyxml::ParsedElements,
    slots::{self, Slot},
    wrapping::{RingWrappingKey, REWRAPPED},
};

/// What a rotation did.
#[derive(Debug)]
pub struct Rotated {
    /// The new generation.
    pub generation: u64,
    /// Keys whose secret was re-wrapped.
    pub keys: usize,
    /// Keys left out because they do not authenticate under the old W (never used anyway).
    pub untrusted_keys: Vec<Uuid>,
    /// Revocations MACed again.
    pub revocations: usize,
    /// The new slots, with the ids of the slots they replace.
    pub slots: Vec<(Uuid, Slot)>,
    /// Elements of the old generation that could not be deleted (harmless; deleted by the
    /// next rotation), with why.
    pub leftovers: Option<String>,
}

/// How often the read–seal–store cycle is retried when another writer changed the ring.
const RETRIES: usize = 5;

/// Rotates W. `current` is the W the ring was opened with; `slots` are the slots of the
/// current generation to keep, each with its key-encryption key (the caller proved each one
/// by unwrapping `current` with it). Slots of the current generation not listed are dropped.
pub fn rotate(
    repo: &RepositoryBox,
    current: &RingWrappingKey,
    slots: &[(Slot, SecretBytes)],
) -> Result<Rotated> {
    if slots.is_empty() {
        return Err(DataProtectionError::InvalidInput(
            "a rotation must keep at least one master-key slot".into(),
        ));
    }
    let caps = repo.describe()?.capabilities();
    for _ in 0..RETRIES {
        let snapshot = repo.load()?;
        let parsed = ParsedElements::read(snapshot.elements())?;
        let next = RingWrappingKey::generate(current.generation() + 1)?;
        let mut secrets = Vec::new();
        let mut untrusted_keys = Vec::new();
        for (_, key) in &parsed.keys {
            match key
                .descriptor
                .as_ref()
                .ok()
                .and_then(|d| Some((d.algorithm, current.open_secret(key, d).ok()?)))
            {
                Some((algorithm, secret)) => secrets.push((key, algorithm, secret)),
                None => untrusted_keys.push(key.id),
            }
        }
        let revocations: Vec<_> = parsed
            .trusted_revocations(current)
            .map(|r| r.revocation.clone())
            .collect();
        let mut elements = vec![next.rewrapped_element(&secrets, &revocations)?];
        let mut new_slots = Vec::new();
        for (old, kek) in slots {
            let slot = Slot::wrap_timed(
                kek,
                &next,
                &old.label,
                old.sources.clone(),
                old.kdf.clone(),
                old.creation,
                old.unlock_time,
            )?;
            elements.push(slot.to_element()?);
            new_slots.push((old.id, slot));
        }
        if caps.contains(Capabilities::CONDITIONAL_STORE) {
            match repo.store_conditional(snapshot.version(), &elements) {
                Ok(_) => {}
                Err(e) if e.code() == ErrorCode::Conflict => continue,
                Err(e) => return Err(e.into()),
            }
        } else {
            // Bundle first, slots last: until a slot of the new generation exists, the old
            // generation stays current.
            for e in &elements {
                repo.store(e)?;
            }
        }
        let leftovers = delete_old(repo, &parsed, next.generation(), caps);
        return Ok(Rotated {
            generation: next.generation(),
            keys: secrets.len(),
            untrusted_keys,
            revocations: revocations.len(),
            slots: new_slots,
            leftovers,
        });
    }
    Err(DataProtectionError::KeyRing(
        "the key ring kept changing during the rotation; run it again".into(),
    ))
}

/// Deletes the slots and re-wrapped secrets of older generations; says why not, if it cannot.
fn delete_old(
    repo: &RepositoryBox,
    parsed: &ParsedElements,
    generation: u64,
    caps: Capabilities,
) -> Option<String> {
    let mut names: Vec<String> = slots::slots(parsed)
        .into_iter()
        .filter(|(_, s)| s.generation < generation)
        .map(|(n, _)| n)
        .collect();
    let mine = generation.to_string();
    names.extend(
        parsed
            .other
            .iter()
            .filter(|(_, e)| {
                e.local_name() == REWRAPPED && e.attr("generation") != Some(mine.as_str())
            })
            .map(|(n, _)| n.clone()),
    );
    if names.is_empty() {
        return None;
    }
    if !caps.contains(Capabilities::DELETE) {
        return Some(format!(
            "this repository cannot delete; {} element(s) of older generations stay (they are \
             never used)",
            names.len()
        ));
    }
    repo.delete(&names).err().map(|e| {
        format!(
            "deleting {} element(s) of older generations failed ({e}); they are never used, \
             and the next rotation deletes them",
            names.len()
        )
    })
}
