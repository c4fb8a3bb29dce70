//! Master-key slots: `<masterKeySlot>` elements that each wrap the ring-wrapping key W under a
//! key-encryption key (KEK) rebuilt from key sources and a KDF (LUKS-style: several slots,
//! several ways in). Adding or removing a slot never rewrites keys. ASP.NET readers skip the
//! slot elements (unknown top-level elements).
//!
//! A slot is authenticated as a whole: the AES-256-GCM seal of W has as associated data a
//! canonical encoding of everything the slot says — id, format version, rotation generation,
//! creation date, label, every source (provider, configuration, public parameters) and the
//! KDF with its parameters. Editing any of it makes the slot fail to open. Version-1 slots
//! (written before this) bound only their id; they still open, and a rotation
//! ([`super::rotation`], [`crate::ring::RingOpener::rotate`]) replaces them.
//!
//! Version 3 is version 2 plus `<unlockTimeMs>`: how long the slot's KDF took on the machine
//! that made it, in milliseconds, authenticated with the rest (it tells people what to
//! expect, and a host shows progress against it). Slots without it are still written as
//! version 2 and show the time as not recorded. A node of an older release skips a version-3
//! slot with a warning ("upgrade trousseau") and opens the ring through its other slots.
//!
//! What a slot says is *not* trusted before it opens: which sources to use and where they
//! are come from the node's own configuration ([`super::unlock`]), and the KDF parameters are
//! checked against local ceilings before they run.

use std::time::Duration;

use trousseau_core::{abi::RepositoryBox, Element, SecretBytes};
use uuid::Uuid;

use super::{
    binding::Canonical,
    error::{DataProtectionError, Result},
    keyxml::ParsedElements,
    timestamp::Timestamp,
    wrapping::{b64, open, seal, unb64, RingWrappingKey, SLOT_NAMESPACE},
    xmltree::{escape, XmlElement},
};
use crate::masterkey::{KdfParams, SourceSpec};

/// The slot format written today without a recorded unlock time.
const VERSION: u32 = 2;
/// The slot format written today with a recorded unlock time.
const VERSION_TIMED: u32 = 3;
const LEGACY_AAD: &[u8] = b"trousseau masterKeySlot v1 ";

/// One `<masterKeySlot>`: how to rebuild a key-encryption key, and W wrapped under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Slot id.
    pub id: Uuid,
    /// Format version: 3 (authenticated as a whole, with the unlock time), 2 (authenticated
    /// as a whole) or 1 (legacy: only the id is bound).
    pub version: u32,
    /// The rotation generation of the W it wraps (0 until the first rotation).
    pub generation: u64,
    /// When the slot's master key was made (policy expiry counts from here).
    pub creation: Timestamp,
    /// A label for people.
    pub label: String,
    /// The key sources as enrolled (provider, configuration, public parameters).
    pub sources: Vec<SourceSpec>,
    /// The KDF with its parameters and seed.
    pub kdf: KdfParams,
    /// How long the KDF took on the machine that made the slot (version 3; `None`: not
    /// recorded).
    pub unlock_time: Option<Duration>,
    /// `nonce || AES-256-GCM(KEK, W) || tag`.
    pub wrapped: Vec<u8>,
}

impl Slot {
    /// The associated data of the seal: the whole slot (version 2) or its id (version 1).
    fn aad(&self) -> Result<Vec<u8>> {
        if self.version == 1 {
            let mut a = LEGACY_AAD.to_vec();
            a.extend_from_slice(self.id.to_string().as_bytes());
            return Ok(a);
        }
        let tag = if self.version == VERSION_TIMED {
            "trousseau masterKeySlot v3"
        } else {
            "trousseau masterKeySlot v2"
        };
        let canonical = Canonical::new(tag)
            .text(&self.id.to_string())
            .text(&self.version.to_string())
            .text(&self.generation.to_string())
            .text(&self.creation.to_string())
            .text(&self.label)
            .text(&self.sources_json()?)
            .text(&self.kdf_json()?);
        Ok(match self.unlock_millis() {
            Some(ms) if self.version == VERSION_TIMED => canonical.text(&ms.to_string()),
            _ => canonical,
        }
        .finish())
    }

    /// The recorded unlock time in whole milliseconds, as stored.
    fn unlock_millis(&self) -> Option<u64> {
        self.unlock_time
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
    }

    fn sources_json(&self) -> Result<String> {
        serde_json::to_string(&self.sources)
            .map_err(|e| DataProtectionError::InvalidInput(format!("slot sources: {e}")))
    }

    fn kdf_json(&self) -> Result<String> {
        serde_json::to_string(&self.kdf)
            .map_err(|e| DataProtectionError::InvalidInput(format!("slot KDF: {e}")))
    }

    /// A new slot wrapping `w` under `kek` (32 bytes), for `w`'s generation. `creation` is
    /// when the master key was made (kept when a rotation re-wraps the slot). No unlock time
    /// is recorded (version 2; see [`Slot::wrap_timed`]).
    pub fn wrap(
        kek: &SecretBytes,
        w: &RingWrappingKey,
        label: &str,
        sources: Vec<SourceSpec>,
        kdf: KdfParams,
        creation: Timestamp,
    ) -> Result<Slot> {
        Slot::wrap_timed(kek, w, label, sources, kdf, creation, None)
    }

    /// [`Slot::wrap`], recording `unlock_time`, how long the KDF took here (version 3), when
    /// given.
    pub fn wrap_timed(
        kek: &SecretBytes,
        w: &RingWrappingKey,
        label: &str,
        sources: Vec<SourceSpec>,
        kdf: KdfParams,
        creation: Timestamp,
        unlock_time: Option<Duration>,
    ) -> Result<Slot> {
        let mut slot = Slot {
            id: Uuid::new_v4(),
            version: if unlock_time.is_some() {
                VERSION_TIMED
            } else {
                VERSION
            },
            generation: w.generation(),
            creation,
            label: label.into(),
            sources,
            kdf,
            unlock_time,
            wrapped: Vec::new(),
        };
        slot.wrapped = seal(kek.expose(), &slot.aad()?, w.expose())?;
        Ok(slot)
    }

    /// Unwraps W with `kek`; `None` if the KEK is wrong or anything in the slot was changed.
    pub fn unwrap_with(&self, kek: &SecretBytes) -> Option<RingWrappingKey> {
        let w = open(kek.expose(), &self.aad().ok()?, &self.wrapped)?;
        RingWrappingKey::from_secret(w, self.generation).ok()
    }

    /// The friendly name of the slot element.
    pub fn element_name(&self) -> String {
        format!("masterKeySlot-{}", self.id)
    }

    /// The `<masterKeySlot>` element (version 2, or 3 with the unlock time).
    pub fn to_element(&self) -> Result<Element> {
        let unlock_time = match self.unlock_millis() {
            Some(ms) if self.version == VERSION_TIMED => {
                format!("\n  <unlockTimeMs>{ms}</unlockTimeMs>")
            }
            _ => String::new(),
        };
        Ok(Element::new(
            self.element_name(),
            format!(
                "<masterKeySlot id=\"{}\" version=\"{}\" generation=\"{}\" xmlns=\"{SLOT_NAMESPACE}\">\n  <!-- Trousseau master-key slot: ignored by ASP.NET Core. -->\n  <creationDate>{}</creationDate>\n  <label>{}</label>\n  <sources>{}</sources>\n  <kdf>{}</kdf>{unlock_time}\n  <wrappedKey>{}</wrappedKey>\n</masterKeySlot>",
                self.id,
                self.version,
                self.generation,
                self.creation,
                escape(&self.label),
                escape(&self.sources_json()?),
                escape(&self.kdf_json()?),
                b64(&self.wrapped)
            ),
        ))
    }

    /// Parses a `<masterKeySlot>`.
    pub fn parse(e: &XmlElement) -> Result<Slot> {
        let id_text = e.attr("id").unwrap_or("");
        let bad = |what: String| {
            DataProtectionError::Xml(format!("<masterKeySlot id={id_text:?}>: {what}"))
        };
        let id = Uuid::parse_str(id_text).map_err(|err| bad(err.to_string()))?;
        let version = match e.attr("version").unwrap_or("1") {
            "1" => 1,
            "2" => 2,
            "3" => VERSION_TIMED,
            v => {
                return Err(bad(format!(
                    "version {v} is not supported; upgrade trousseau"
                )))
            }
        };
        let generation = match (version, e.attr("generation")) {
            (1, _) | (_, None) => 0,
            (_, Some(g)) => g
                .parse()
                .map_err(|_| bad(format!("generation {g:?} is not a number")))?,
        };
        Ok(Slot {
            id,
            version,
            generation,
            creation: Timestamp::parse(e.child_text("creationDate")?)?,
            label: e.child("label").map(|l| l.text.clone()).unwrap_or_default(),
            sources: serde_json::from_str(e.child_text("sources")?)
                .map_err(|err| bad(format!("its <sources> are unreadable ({err})")))?,
            kdf: serde_json::from_str(e.child_text("kdf")?)
                .map_err(|err| bad(format!("its <kdf> is unreadable ({err})")))?,
            unlock_time: if version == VERSION_TIMED {
                let text = e.child_text("unlockTimeMs")?;
                Some(Duration::from_millis(text.trim().parse().map_err(
                    |_| bad(format!("its <unlockTimeMs> {text:?} is not a number")),
                )?))
            } else {
                None
            },
            wrapped: unb64(e.child_text("wrappedKey")?, "<wrappedKey>")?,
        })
    }

    /// The providers of the slot, for messages: `password + keyfile`.
    pub fn describe_sources(&self) -> String {
        describe(&self.sources)
    }
}

/// The providers of `specs`, for messages: `password + keyfile`.
pub fn describe(specs: &[SourceSpec]) -> String {
    specs
        .iter()
        .map(|s| s.provider.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Every readable slot among a ring's other elements (unreadable slots are logged and
/// skipped), with their element names.
pub fn slots(parsed: &ParsedElements) -> Vec<(String, Slot)> {
    parsed
        .other
        .iter()
        .filter(|(_, e)| e.local_name() == "masterKeySlot")
        .filter_map(|(name, e)| match Slot::parse(e) {
            Ok(s) => Some((name.clone(), s)),
            Err(err) => {
                tracing::warn!("skipping unreadable master-key slot {name}: {err}");
                None
            }
        })
        .collect()
}

/// The slots of the ring's current generation (the highest any slot claims): after a
/// rotation, slots of older generations wrap a retired W and are never used.
pub fn current(all: &[(String, Slot)]) -> Vec<Slot> {
    let Some(generation) = all.iter().map(|(_, s)| s.generation).max() else {
        return Vec::new();
    };
    all.iter()
        .filter(|(_, s)| s.generation == generation)
        .map(|(_, s)| s.clone())
        .collect()
}

/// Stores a new slot (never touches keys).
pub fn add_slot(repo: &RepositoryBox, slot: &Slot) -> Result<()> {
    repo.store(&slot.to_element()?)?;
    Ok(())
}

/// Removes a slot; the last slot of the current generation cannot be removed (the ring would
/// become unopenable).
pub fn remove_slot(repo: &RepositoryBox, id: Uuid) -> Result<()> {
    let snap = repo.load()?;
    let parsed = ParsedElements::read(snap.elements())?;
    let all = slots(&parsed);
    let live = current(&all);
    if !all.iter().any(|(_, s)| s.id == id) {
        return Err(DataProtectionError::InvalidInput(format!(
            "there is no master-key slot {id} in the key ring"
        )));
    }
    if live.len() == 1 && live[0].id == id {
        return Err(DataProtectionError::InvalidInput(format!(
            "slot {id} is the last master-key slot; add another slot before removing it"
        )));
    }
    let names: Vec<String> = all
        .iter()
        .filter(|(_, s)| s.id == id)
        .map(|(n, _)| n.clone())
        .collect();
    repo.delete(&names)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataprotection::xmltree;

    fn spec(provider: &str, config: &str) -> SourceSpec {
        SourceSpec {
            provider: provider.into(),
            config: config.into(),
            public_params: String::new(),
        }
    }

    fn sample(kek: &SecretBytes, w: &RingWrappingKey) -> Slot {
        let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        Slot::wrap(
            kek,
            w,
            "admin <pw>",
            vec![spec("password", "{}")],
            KdfParams::new_default(),
            now,
        )
        .unwrap()
    }

    fn reparsed(slot: &Slot) -> Slot {
        Slot::parse(&xmltree::parse(slot.to_element().unwrap().xml()).unwrap()).unwrap()
    }

    #[test]
    fn a_slot_round_trips_and_opens_only_with_its_kek() {
        let w = RingWrappingKey::generate(3).unwrap();
        let kek = SecretBytes::copy_from(&[1u8; 32]);
        let slot = sample(&kek, &w);
        let back = reparsed(&slot);
        assert_eq!(back, slot);
        assert_eq!(back.generation, 3);
        assert!(back
            .unwrap_with(&SecretBytes::copy_from(&[2u8; 32]))
            .is_none());
        let opened = back.unwrap_with(&kek).unwrap();
        assert!(opened.same_as(&w));
        assert_eq!(opened.generation(), 3);
    }

    #[test]
    fn every_field_of_a_slot_is_authenticated() {
        let w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[1u8; 32]);
        let slot = sample(&kek, &w);
        type Edit = (&'static str, Box<dyn Fn(&mut Slot)>);
        let edits: Vec<Edit> = vec![
            ("id", Box::new(|s| s.id = Uuid::new_v4())),
            ("generation", Box::new(|s| s.generation += 1)),
            ("creation", Box::new(|s| s.creation = s.creation.plus(1))),
            ("label", Box::new(|s| s.label.push('!'))),
            (
                "provider",
                Box::new(|s| s.sources[0].provider = "keyfile".into()),
            ),
            (
                "config",
                Box::new(|s| s.sources[0].config = r#"{"path":"/x"}"#.into()),
            ),
            (
                "public params",
                Box::new(|s| s.sources[0].public_params = "{}".into()),
            ),
            (
                "extra source",
                Box::new(|s| s.sources.push(spec("user-account", "{}"))),
            ),
            (
                "kdf",
                Box::new(|s| {
                    if let KdfParams::Argon2 { iterations, .. } = &mut s.kdf {
                        *iterations += 1;
                    }
                }),
            ),
        ];
        for (what, edit) in edits {
            let mut changed = slot.clone();
            edit(&mut changed);
            assert!(
                reparsed(&changed).unwrap_with(&kek).is_none(),
                "editing the {what} must make the slot fail to open"
            );
        }
        assert!(reparsed(&slot).unwrap_with(&kek).is_some());
    }

    #[test]
    fn version_1_slots_still_open() {
        let w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[7u8; 32]);
        let mut legacy = sample(&kek, &w);
        legacy.version = 1;
        legacy.generation = 0;
        let mut aad = LEGACY_AAD.to_vec();
        aad.extend_from_slice(legacy.id.to_string().as_bytes());
        legacy.wrapped = seal(kek.expose(), &aad, w.expose()).unwrap();
        let xml = legacy
            .to_element()
            .unwrap()
            .xml()
            .replace("version=\"2\" generation=\"0\"", "version=\"1\"");
        let back = Slot::parse(&xmltree::parse(&xml).unwrap()).unwrap();
        assert_eq!(back.version, 1);
        assert!(back.unwrap_with(&kek).is_some());
    }

    /// A version-2 slot as written before unlock times were recorded (sealed under the KEK
    /// 01…01, wrapping W = 07…07), made outside this code from the documented format.
    const VERSION_2_SLOT: &str = r#"<masterKeySlot id="3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b" version="2" generation="0" xmlns="urn:trousseau:key-ring:1">
  <creationDate>2026-01-01T00:00:00Z</creationDate>
  <label>admin (password)</label>
  <sources>[{&quot;provider&quot;:&quot;password&quot;,&quot;config&quot;:&quot;{}&quot;,&quot;public_params&quot;:&quot;&quot;}]</sources>
  <kdf>{&quot;kdf&quot;:&quot;argon2&quot;,&quot;variant&quot;:&quot;id&quot;,&quot;salt&quot;:&quot;AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=&quot;,&quot;memory_kib&quot;:19456,&quot;iterations&quot;:2,&quot;parallelism&quot;:1,&quot;version&quot;:19}</kdf>
  <wrappedKey>AAECAwQFBgcICQoLvKGSISf5AX75beDDJ27PpKnBbA3ylkIHds0/h6aAOrUQ6USQKhIRrdH21PmUlBAq</wrappedKey>
</masterKeySlot>"#;

    #[test]
    fn a_version_2_slot_from_before_unlock_times_still_opens() {
        let slot = Slot::parse(&xmltree::parse(VERSION_2_SLOT).unwrap()).unwrap();
        assert_eq!((slot.version, slot.unlock_time), (2, None));
        let w = slot
            .unwrap_with(&SecretBytes::copy_from(&[1u8; 32]))
            .unwrap();
        let expected = RingWrappingKey::from_secret(SecretBytes::copy_from(&[7u8; 32]), 0).unwrap();
        assert!(w.same_as(&expected));
        // Written back, it stays a version-2 slot and still opens.
        let again = reparsed(&slot);
        assert_eq!(again.version, 2);
        assert!(!again.to_element().unwrap().xml().contains("unlockTimeMs"));
        assert!(again
            .unwrap_with(&SecretBytes::copy_from(&[1u8; 32]))
            .is_some());
    }

    #[test]
    fn the_unlock_time_is_recorded_and_authenticated() {
        let w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[1u8; 32]);
        let plain = sample(&kek, &w);
        let slot = Slot::wrap_timed(
            &kek,
            &w,
            &plain.label,
            plain.sources.clone(),
            plain.kdf.clone(),
            plain.creation,
            Some(Duration::from_millis(950)),
        )
        .unwrap();
        let back = reparsed(&slot);
        assert_eq!(back.version, 3);
        assert_eq!(back.unlock_time, Some(Duration::from_millis(950)));
        assert!(back.unwrap_with(&kek).is_some());
        let xml = slot.to_element().unwrap().xml().to_string();
        assert!(xml.contains("<unlockTimeMs>950</unlockTimeMs>"), "{xml}");
        let edited = xml.replace("<unlockTimeMs>950<", "<unlockTimeMs>10<");
        let edited = Slot::parse(&xmltree::parse(&edited).unwrap()).unwrap();
        assert!(
            edited.unwrap_with(&kek).is_none(),
            "the time is authenticated"
        );
        let unreadable = xml.replace("<unlockTimeMs>950<", "<unlockTimeMs>soon<");
        let e = Slot::parse(&xmltree::parse(&unreadable).unwrap()).unwrap_err();
        assert!(e.to_string().contains("<unlockTimeMs>"), "{e}");
    }

    #[test]
    fn only_the_highest_generation_is_current() {
        let kek = SecretBytes::copy_from(&[1u8; 32]);
        let old = sample(&kek, &RingWrappingKey::generate(1).unwrap());
        let new = sample(&kek, &RingWrappingKey::generate(2).unwrap());
        let all = vec![("a".to_string(), old), ("b".to_string(), new.clone())];
        assert_eq!(current(&all), vec![new]);
    }
}
