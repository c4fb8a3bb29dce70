//! The ring-wrapping key W of an encrypted ring, and what it authenticates.
//!
//! - Each key's master key is sealed under W with AES-256-GCM
//!   (`<encryptedSecret decryptorType="Trousseau…RingKeyDecryptor"><encryptedKey binding="2">`),
//!   the associated data binding it to the key's id, dates and algorithm
//!   (the crate-private `binding::key_binding`). Secrets written before binding existed (no
//!   `binding` attribute) are read with the old constant associated data; a rotation
//!   ([`super::rotation::rotate`]) seals them again, bound.
//! - Each revocation written in an encrypted ring carries `<mac>`: HMAC-SHA256 under a key
//!   derived from W over the revocation's canonical fields (`binding::revocation`). ASP.NET
//!   Core ignores the extra child.
//! - A rotation (see [`super::rotation`]) writes one `<rewrappedSecrets generation="g">`
//!   element: every key secret sealed again under the new W and every revocation MACed again,
//!   so that the existing `<key>` and `<revocation>` elements need not be rewritten (a
//!   repository only adds and deletes elements).

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use aes_gcm::{aead::AeadInOut, Aes256Gcm, KeyInit};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trousseau_core::{Element, SecretBytes};
use uuid::Uuid;

use super::{
    algorithms::Algorithm,
    at_rest::KeyEncryption,
    binding,
    error::{random_fill, DataProtectionError, Result},
    keyring::{Descriptor, Key, MasterKeySecret},
    keyxml::{Revocation, DP_NAMESPACE},
    xmltree::{self, XmlElement},
};

/// The `decryptorType` of master keys encrypted under W.
pub const RING_KEY_DECRYPTOR: &str = "Trousseau.DataProtection.RingKeyDecryptor";
/// Namespace of our own elements.
pub const SLOT_NAMESPACE: &str = "urn:trousseau:key-ring:1";
/// Root element of a rotation's re-wrapped secrets.
pub const REWRAPPED: &str = "rewrappedSecrets";
/// Associated data of key secrets written before they were bound to their key.
const LEGACY_KEY_AAD: &[u8] = b"trousseau ring key v1";
const BOUND: &str = "2";
const NONCE: usize = 12;
const TAG: usize = 16;

pub(crate) fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub(crate) fn unb64(s: &str, what: &str) -> Result<Vec<u8>> {
    let clean: String = s.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| DataProtectionError::Xml(format!("{what} is not base64: {e}")))
}

/// AES-256-GCM seal: `nonce || ciphertext || tag`.
pub(crate) fn seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
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

/// Opens [`seal`]'s output; `None` when the key, the associated data or the data is wrong.
pub(crate) fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Option<SecretBytes> {
    if sealed.len() < NONCE + TAG {
        return None;
    }
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
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

/// HMAC-SHA256 (HMAC takes keys of any length, so the error cannot happen in practice).
fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
        .map_err(|e| DataProtectionError::InvalidInput(format!("HMAC key: {e}")))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// The secrets and revocation MACs a rotation re-wrapped under the new W.
#[derive(Default)]
struct Rewrapped {
    secrets: HashMap<Uuid, Vec<Vec<u8>>>,
    revocation_macs: HashMap<[u8; 32], Vec<Vec<u8>>>,
}

/// W: the random 256-bit key that encrypts every key's master key at rest, with the
/// rotation generation it belongs to.
pub struct RingWrappingKey {
    key: SecretBytes,
    mac_key: SecretBytes,
    generation: u64,
    rewrapped: Rewrapped,
    warned: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for RingWrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RingWrappingKey(<redacted>, generation {})",
            self.generation
        )
    }
}

impl RingWrappingKey {
    /// W from its 32 bytes, for rotation generation `generation`.
    pub(crate) fn from_secret(key: SecretBytes, generation: u64) -> Result<Self> {
        let mac_key = SecretBytes::copy_from(&hmac(key.expose(), b"trousseau revocation mac v1")?);
        Ok(RingWrappingKey {
            key,
            mac_key,
            generation,
            rewrapped: Rewrapped::default(),
            warned: Mutex::new(HashSet::new()),
        })
    }

    /// A fresh random W for `generation`.
    pub fn generate(generation: u64) -> Result<Self> {
        let mut w = SecretBytes::from_vec(vec![0u8; 32]);
        random_fill(w.expose_mut())?;
        Self::from_secret(w, generation)
    }

    /// The rotation generation of this W (0 for rings never rotated).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn expose(&self) -> &[u8] {
        self.key.expose()
    }

    /// Whether `other` is the same key (constant time).
    pub fn same_as(&self, other: &RingWrappingKey) -> bool {
        self.key.expose().ct_eq(other.key.expose()).into()
    }

    fn mac(&self, revocation: &Revocation) -> Result<[u8; 32]> {
        hmac(self.mac_key.expose(), &binding::revocation(revocation))
    }

    /// Takes in the `<rewrappedSecrets>` elements of this W's generation (others are ignored:
    /// they belong to another W and would not authenticate).
    pub(crate) fn adopt_rewrapped<'a>(&mut self, elements: impl Iterator<Item = &'a XmlElement>) {
        let mine = self.generation.to_string();
        for e in elements.filter(|e| e.attr("generation") == Some(mine.as_str())) {
            for s in e.children_named("secret") {
                let (Some(id), Ok(sealed)) = (
                    s.attr("key").and_then(|k| Uuid::parse_str(k).ok()),
                    unb64(&s.text, "<secret>"),
                ) else {
                    continue;
                };
                self.rewrapped.secrets.entry(id).or_default().push(sealed);
            }
            for r in e.children_named("revocationMac") {
                let (Some(digest), Ok(mac)) = (
                    r.attr("digest")
                        .and_then(|d| hex::decode(d).ok())
                        .and_then(|d| <[u8; 32]>::try_from(d).ok()),
                    unb64(&r.text, "<revocationMac>"),
                ) else {
                    continue;
                };
                self.rewrapped
                    .revocation_macs
                    .entry(digest)
                    .or_default()
                    .push(mac);
            }
        }
    }

    /// Opens the sealed secret of `key` from its `<encryptedSecret>` element.
    fn open_element(&self, key: &Key, aad: &[u8], xml: &str) -> Option<SecretBytes> {
        let tree = xmltree::parse(xml).ok()?;
        let value = tree.child("encryptedKey")?;
        let sealed = unb64(&value.child("value")?.text, "<value>").ok()?;
        match value.attr("binding") {
            Some(BOUND) => open(self.expose(), aad, &sealed),
            None => {
                let opened = open(self.expose(), LEGACY_KEY_AAD, &sealed)?;
                self.warn_once(
                    format!("key {}", key.id),
                    "its secret was written before secrets were bound to their key; a \
                     rotation of the ring-wrapping key binds it",
                );
                Some(opened)
            }
            Some(_) => None,
        }
    }

    /// Logs `why` for the element `what` names, once per process.
    fn warn_once(&self, what: String, why: &str) {
        let line = format!("{what}: {why}");
        let first = self
            .warned
            .lock()
            .map_or(true, |mut seen| seen.insert(what));
        if first {
            tracing::warn!("{line}");
        }
    }

    /// The `<rewrappedSecrets>` element of a rotation to this W: `secrets` sealed under it
    /// and `revocations` MACed under it.
    pub(crate) fn rewrapped_element(
        &self,
        secrets: &[(&Key, Algorithm, SecretBytes)],
        revocations: &[Revocation],
    ) -> Result<Element> {
        let mut xml = format!(
            "<{REWRAPPED} generation=\"{}\" xmlns=\"{SLOT_NAMESPACE}\">\n  <!-- Key secrets and revocations re-wrapped by a trousseau master-key rotation. -->\n",
            self.generation
        );
        for (key, algorithm, secret) in secrets {
            let sealed = seal(
                self.expose(),
                &binding::key_binding(key, *algorithm),
                secret.expose(),
            )?;
            xml.push_str(&format!(
                "  <secret key=\"{}\">{}</secret>\n",
                key.id,
                b64(&sealed)
            ));
        }
        for r in revocations {
            let digest = Sha256::digest(binding::revocation(r));
            xml.push_str(&format!(
                "  <revocationMac digest=\"{}\">{}</revocationMac>\n",
                hex::encode(digest),
                b64(&self.mac(r)?)
            ));
        }
        xml.push_str(&format!("</{REWRAPPED}>"));
        Ok(Element::new(
            format!("{REWRAPPED}-{}", self.generation),
            xml,
        ))
    }
}

impl KeyEncryption for RingWrappingKey {
    fn secret_xml(&self, key: &Key, algorithm: Algorithm, secret: &SecretBytes) -> Result<String> {
        let sealed = seal(
            self.expose(),
            &binding::key_binding(key, algorithm),
            secret.expose(),
        )?;
        Ok(format!(
            "      <encryptedSecret decryptorType=\"{RING_KEY_DECRYPTOR}, Trousseau\" xmlns=\"{DP_NAMESPACE}\">\n        <encryptedKey binding=\"{BOUND}\" xmlns=\"\">\n          <!-- This key is encrypted with the trousseau ring-wrapping key. -->\n          <value>{}</value>\n        </encryptedKey>\n      </encryptedSecret>",
            b64(&sealed)
        ))
    }

    fn open_secret(&self, key: &Key, descriptor: &Descriptor) -> Result<SecretBytes> {
        let refuse = |why: &str| {
            self.warn_once(format!("key {}", key.id), &format!("not trusted: {why}"));
            Err(DataProtectionError::KeyUnusable {
                key: key.id,
                reason: format!("not trusted: {why}"),
            })
        };
        let MasterKeySecret::Encrypted {
            decryptor_type,
            xml,
        } = &descriptor.secret
        else {
            return refuse("its master key is stored unencrypted in an encrypted key ring (it was planted, or written in interop mode); it is never used");
        };
        if decryptor_type != RING_KEY_DECRYPTOR {
            return refuse(&format!(
                "its master key is encrypted with {decryptor_type}, not this ring's wrapping key"
            ));
        }
        let aad = binding::key_binding(key, descriptor.algorithm);
        let rewrapped = self.rewrapped.secrets.get(&key.id).into_iter().flatten();
        if let Some(secret) = rewrapped
            .filter_map(|sealed| open(self.expose(), &aad, sealed))
            .next()
            .or_else(|| self.open_element(key, &aad, xml))
        {
            return Ok(secret);
        }
        refuse("its master key does not authenticate under this ring's wrapping key (it was copied from another ring or moved from another key, its id, dates or algorithm were edited, or it predates a master-key rotation)")
    }

    fn revocation_mac(&self, revocation: &Revocation) -> Result<Option<String>> {
        let mac = self.mac(revocation)?;
        Ok(Some(format!(
            "<mac xmlns=\"{SLOT_NAMESPACE}\">{}</mac>",
            b64(&mac)
        )))
    }

    fn trusts_revocation(&self, revocation: &Revocation, mac: Option<&str>) -> bool {
        let Ok(expected) = self.mac(revocation) else {
            return false;
        };
        let matches = |m: &[u8]| -> bool { m.ct_eq(&expected).into() };
        if mac
            .and_then(|m| unb64(m, "<mac>").ok())
            .is_some_and(|m| matches(&m))
        {
            return true;
        }
        let digest: [u8; 32] = Sha256::digest(binding::revocation(revocation)).into();
        let rewrapped = self
            .rewrapped
            .revocation_macs
            .get(&digest)
            .is_some_and(|macs| macs.iter().any(|m| matches(m)));
        if !rewrapped {
            let what = match revocation {
                Revocation::Single { id, date } => format!("revocation of key {id} dated {date}"),
                Revocation::AllCreatedBefore(date) => {
                    format!("revocation of every key created before {date}")
                }
            };
            self.warn_once(
                what,
                "not trusted: it carries no valid MAC under this ring's wrapping key (it was \
                 planted, or written in interop mode); it is ignored",
            );
        }
        rewrapped
    }

    fn is_closed(&self) -> bool {
        true
    }
}
