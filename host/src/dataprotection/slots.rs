//! Encryption at rest: a random ring-wrapping key W encrypts each key's master key
//! (`<encryptedSecret decryptorType="Trousseau…RingKeyDecryptor">`, AES-256-GCM), and W is
//! wrapped under key-encryption keys in `<masterKeySlot>` elements (LUKS-style: several slots,
//! several ways in). Adding or removing a slot never rewrites keys. ASP.NET readers skip the
//! slot elements (unknown top-level elements).

use aes_gcm::{
    aead::{consts::U12, AeadInOut},
    Aes256Gcm, KeyInit,
};
use base64::Engine;
use trousseau_core::{abi::RepositoryBox, Element, SecretBytes};
use uuid::Uuid;

use super::{
    error::{random_fill, DataProtectionError, Result},
    keyring::SecretDecryptor,
    keyxml::{ParsedElements, DP_NAMESPACE},
    manager::KeyEncryption,
    timestamp::Timestamp,
    xmltree::{self, escape, XmlElement},
};

/// The `decryptorType` of master keys encrypted under W.
pub const RING_KEY_DECRYPTOR: &str = "Trousseau.DataProtection.RingKeyDecryptor";
/// Namespace of our own elements.
pub const SLOT_NAMESPACE: &str = "urn:trousseau:key-ring:1";
const SLOT_AAD: &[u8] = b"trousseau masterKeySlot v1 ";
const KEY_AAD: &[u8] = b"trousseau ring key v1";
const NONCE: usize = 12;
const TAG: usize = 16;

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str, what: &str) -> Result<Vec<u8>> {
    let clean: String = s.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| DataProtectionError::Xml(format!("{what} is not base64: {e}")))
}

/// AES-256-GCM seal: `nonce || ciphertext || tag`.
fn seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key)
        .map_err(|_| DataProtectionError::InvalidInput("a wrapping key must be 32 bytes".into()))?;
    let mut out = vec![0u8; NONCE];
    random_fill(&mut out)?;
    let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&out[..NONCE])
        .map_err(|_| DataProtectionError::InvalidInput("nonce size".into()))?;
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, (&mut out[start..]).into())
        .map_err(|_| DataProtectionError::InvalidInput("encryption failed".into()))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens [`seal`]'s output; `None` when the key or data is wrong.
fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Option<SecretBytes> {
    if sealed.len() < NONCE + TAG {
        return None;
    }
    let cipher = aes_gcm::AesGcm::<aes::Aes256, U12>::new_from_slice(key).ok()?;
    let (nonce, rest) = sealed.split_at(NONCE);
    let (ct, tag) = rest.split_at(rest.len() - TAG);
    let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(nonce).ok()?;
    let tag = aes_gcm::aead::Tag::<Aes256Gcm>::try_from(tag).ok()?;
    let mut buf = SecretBytes::copy_from(ct);
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.expose_mut().into(), &tag)
        .ok()?;
    Some(buf)
}

/// W: the random 256-bit key that encrypts every key's master key at rest.
#[derive(Clone)]
pub struct RingWrappingKey(SecretBytes);

impl std::fmt::Debug for RingWrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingWrappingKey(<redacted>)")
    }
}

impl RingWrappingKey {
    /// A fresh random W.
    pub fn generate() -> Result<Self> {
        let mut w = SecretBytes::from_vec(vec![0u8; 32]);
        random_fill(w.expose_mut())?;
        Ok(RingWrappingKey(w))
    }
}

impl SecretDecryptor for RingWrappingKey {
    fn decrypt(&self, decryptor_type: &str, xml: &str) -> Result<SecretBytes> {
        if decryptor_type != RING_KEY_DECRYPTOR {
            return Err(DataProtectionError::InvalidInput(format!(
                "the master key is encrypted with {decryptor_type}, which trousseau cannot open"
            )));
        }
        let tree = xmltree::parse(xml)?;
        let value = tree
            .child("encryptedKey")
            .and_then(|k| k.child("value"))
            .ok_or_else(|| {
                DataProtectionError::Xml("<encryptedSecret> has no <encryptedKey><value>".into())
            })?;
        open(self.0.expose(), KEY_AAD, &unb64(&value.text, "<encryptedKey><value>")?).ok_or_else(|| {
            DataProtectionError::InvalidInput(
                "the key's master key does not open with this key ring's wrapping key (the key was copied from another ring, or altered)".into(),
            )
        })
    }
}

impl KeyEncryption for RingWrappingKey {
    fn secret_xml(&self, secret: &SecretBytes) -> Result<String> {
        let sealed = seal(self.0.expose(), KEY_AAD, secret.expose())?;
        Ok(format!(
            "      <encryptedSecret decryptorType=\"{RING_KEY_DECRYPTOR}, Trousseau\" xmlns=\"{DP_NAMESPACE}\">\n        <encryptedKey xmlns=\"\">\n          <!-- This key is encrypted with the trousseau ring-wrapping key. -->\n          <value>{}</value>\n        </encryptedKey>\n      </encryptedSecret>",
            b64(&sealed)
        ))
    }
}

/// One `<masterKeySlot>`: how to rebuild a key-encryption key, and W wrapped under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Slot id.
    pub id: Uuid,
    /// When the slot was made (policy expiry counts from here).
    pub creation: Timestamp,
    /// A label for people.
    pub label: String,
    /// The key sources, as JSON (`[{provider, config, public_params}]`).
    pub sources: String,
    /// The KDF name, parameters and seed, as JSON.
    pub kdf: String,
    /// `nonce || AES-256-GCM(KEK, W) || tag`, AAD binds the slot id.
    pub wrapped: Vec<u8>,
}

impl Slot {
    fn aad(id: Uuid) -> Vec<u8> {
        let mut a = SLOT_AAD.to_vec();
        a.extend_from_slice(id.to_string().as_bytes());
        a
    }

    /// A new slot wrapping `w` under `kek` (32 bytes).
    pub fn wrap(
        kek: &SecretBytes,
        w: &RingWrappingKey,
        label: &str,
        sources: &str,
        kdf: &str,
        now: Timestamp,
    ) -> Result<Slot> {
        let id = Uuid::new_v4();
        let wrapped = seal(kek.expose(), &Self::aad(id), w.0.expose())?;
        Ok(Slot {
            id,
            creation: now,
            label: label.into(),
            sources: sources.into(),
            kdf: kdf.into(),
            wrapped,
        })
    }

    /// Unwraps W with `kek`; `None` if the KEK is wrong.
    pub fn unwrap_with(&self, kek: &SecretBytes) -> Option<RingWrappingKey> {
        open(kek.expose(), &Self::aad(self.id), &self.wrapped).map(RingWrappingKey)
    }

    /// The friendly name of the slot element.
    pub fn element_name(&self) -> String {
        format!("masterKeySlot-{}", self.id)
    }

    /// The `<masterKeySlot>` element.
    pub fn to_element(&self) -> Element {
        Element::new(
            self.element_name(),
            format!(
                "<masterKeySlot id=\"{}\" version=\"1\" xmlns=\"{SLOT_NAMESPACE}\">\n  <!-- Trousseau master-key slot: ignored by ASP.NET Core. -->\n  <creationDate>{}</creationDate>\n  <label>{}</label>\n  <sources>{}</sources>\n  <kdf>{}</kdf>\n  <wrappedKey>{}</wrappedKey>\n</masterKeySlot>",
                self.id,
                self.creation,
                escape(&self.label),
                escape(&self.sources),
                escape(&self.kdf),
                b64(&self.wrapped)
            ),
        )
    }

    /// Parses a `<masterKeySlot>`.
    pub fn parse(e: &XmlElement) -> Result<Slot> {
        let id_text = e.attr("id").unwrap_or("");
        let id = Uuid::parse_str(id_text).map_err(|err| {
            DataProtectionError::Xml(format!("<masterKeySlot id={id_text:?}>: {err}"))
        })?;
        Ok(Slot {
            id,
            creation: Timestamp::parse(e.child_text("creationDate")?)?,
            label: e.child("label").map(|l| l.text.clone()).unwrap_or_default(),
            sources: e.child_text("sources")?.to_string(),
            kdf: e.child_text("kdf")?.to_string(),
            wrapped: unb64(e.child_text("wrappedKey")?, "<wrappedKey>")?,
        })
    }
}

/// Every readable slot among a ring's other elements (unreadable slots are logged and skipped).
pub fn slots(parsed: &ParsedElements) -> Vec<Slot> {
    parsed
        .other
        .iter()
        .filter(|(_, e)| e.local_name() == "masterKeySlot")
        .filter_map(|(name, e)| match Slot::parse(e) {
            Ok(s) => Some(s),
            Err(err) => {
                tracing::warn!("skipping unreadable master-key slot {name}: {err}");
                None
            }
        })
        .collect()
}

/// Why the key-encryption key of a slot could not be rebuilt.
#[derive(Debug)]
pub enum SlotFailure {
    /// The slot's sources are not available here (the text says which); the slot is not tried.
    Unavailable(String),
    /// A source failed (wrong key file, no terminal to ask on, …); the code is kept.
    Source(trousseau_core::Error),
}

/// Tries each slot in order: `kek_for` rebuilds the KEK of a slot from its sources. Returns W
/// and the slot that opened it. The error lists every slot tried and why it did not open
/// (wrong key, source failure, sources not available); its code is `WrongKey` when some slot
/// got a wrong key, else the first source failure's, else `NotFound`.
pub fn open_ring(
    slots: &[Slot],
    kek_for: &mut dyn FnMut(&Slot) -> std::result::Result<SecretBytes, SlotFailure>,
) -> Result<(RingWrappingKey, Uuid)> {
    use trousseau_core::ErrorCode;
    if slots.is_empty() {
        return Err(DataProtectionError::KeyRing(
            "the key ring has no master-key slot; run `trousseau init` first".into(),
        ));
    }
    let mut tried = Vec::new();
    let mut code = None;
    for slot in slots {
        let why = match kek_for(slot) {
            Ok(kek) => match slot.unwrap_with(&kek) {
                Some(w) => return Ok((w, slot.id)),
                None => {
                    code = Some(ErrorCode::WrongKey);
                    "wrong key (its sources gave a key that does not open it)".to_string()
                }
            },
            Err(SlotFailure::Unavailable(why)) => format!("not available here: {why}"),
            Err(SlotFailure::Source(e)) => {
                let wrong = e.code() == ErrorCode::WrongKey;
                if wrong || code.is_none() {
                    code = Some(e.code());
                }
                if wrong {
                    format!("wrong key: {}", e.message())
                } else {
                    e.message().to_string()
                }
            }
        };
        tried.push(format!("slot {} ({}): {why}", slot.id, slot.label));
    }
    Err(DataProtectionError::NoSlotOpens(
        trousseau_core::Error::new(
            code.unwrap_or(ErrorCode::NotFound),
            format!(
                "no master-key slot opens with the given key sources; tried: {}",
                tried.join("; ")
            ),
        ),
    ))
}

/// Stores a new slot (never touches keys).
pub fn add_slot(repo: &RepositoryBox, slot: &Slot) -> Result<()> {
    repo.store(&slot.to_element())?;
    Ok(())
}

/// Removes a slot; the last slot cannot be removed (the ring would become unopenable).
pub fn remove_slot(repo: &RepositoryBox, id: Uuid) -> Result<()> {
    let snap = repo.load()?;
    let parsed = ParsedElements::read(snap.elements())?;
    let all = slots(&parsed);
    if !all.iter().any(|s| s.id == id) {
        return Err(DataProtectionError::InvalidInput(format!(
            "there is no master-key slot {id}; `trousseau master-key status` lists them"
        )));
    }
    if all.len() == 1 {
        return Err(DataProtectionError::InvalidInput(format!(
            "slot {id} is the last master-key slot; add another slot before removing it"
        )));
    }
    let names: Vec<String> = parsed
        .other
        .iter()
        .filter(|(_, e)| {
            e.local_name() == "masterKeySlot" && e.attr("id") == Some(id.to_string().as_str())
        })
        .map(|(n, _)| n.clone())
        .collect();
    repo.delete(&names)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_keys_encrypt_under_w() {
        let w = RingWrappingKey::generate().unwrap();
        let kek_a = SecretBytes::copy_from(&[1u8; 32]);
        let kek_b = SecretBytes::copy_from(&[2u8; 32]);
        let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let a = Slot::wrap(
            &kek_a,
            &w,
            "admin <pw>",
            r#"[{"provider":"password"}]"#,
            r#"{"name":"argon2id"}"#,
            now,
        )
        .unwrap();
        let back = Slot::parse(&xmltree::parse(a.to_element().xml()).unwrap()).unwrap();
        assert_eq!(back, a);
        assert!(back.unwrap_with(&kek_b).is_none());
        let opened = back.unwrap_with(&kek_a).unwrap();
        let secret = SecretBytes::copy_from(&[9u8; 64]);
        let xml = w.secret_xml(&secret).unwrap();
        let tree = xmltree::parse(&xml).unwrap();
        let dec = super::super::keyxml::type_name(tree.attr("decryptorType").unwrap());
        assert_eq!(opened.decrypt(&dec, &xml).unwrap(), secret);
        let other = RingWrappingKey::generate().unwrap();
        assert!(other.decrypt(&dec, &xml).is_err());
        // Wrong composition lists the slots tried.
        let b = Slot::wrap(&kek_b, &w, "token", "[]", "{}", now).unwrap();
        let e = open_ring(&[a.clone(), b.clone()], &mut |s| {
            if s.id == a.id {
                Ok(SecretBytes::copy_from(&[3u8; 32]))
            } else {
                Err(SlotFailure::Unavailable(
                    "provider `token` is not installed".into(),
                ))
            }
        })
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("slot {} (admin <pw>): wrong key", a.id))
                && msg.contains(&format!(
                    "slot {} (token): not available here: provider `token`",
                    b.id
                )),
            "{msg}"
        );
        let (_, used) = open_ring(&[a, b.clone()], &mut |s| {
            if s.id == b.id {
                Ok(kek_b.clone())
            } else {
                Err(SlotFailure::Source(trousseau_core::Error::new(
                    trousseau_core::ErrorCode::NeedsPin,
                    "no terminal",
                )))
            }
        })
        .unwrap();
        assert_eq!(used, b.id);
    }
}
