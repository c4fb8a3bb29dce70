//! Key-ring XML in ASP.NET Core's key storage format: `<key>`, `<revocation>`, reading a
//! repository's elements into keys with revocations applied, and writing elements exactly as
//! ASP.NET Core does.

use std::collections::HashMap;

use base64::Engine;
use trousseau_core::{Element, SecretBytes};
use uuid::Uuid;

use super::{
    algorithms::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm},
    at_rest::KeyEncryption,
    error::{DataProtectionError, Result},
    keyring::{Descriptor, Key, MasterKeySecret, RingKey},
    timestamp::Timestamp,
    xmltree::{self, escape, XmlElement},
};

/// ASP.NET's data-protection XML namespace.
pub const DP_NAMESPACE: &str = "http://schemas.asp.net/2015/03/dataProtection";
/// The default descriptor deserializer type name (before the first comma).
pub const DESERIALIZER: &str =
    "Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer";
/// The assembly ASP.NET Core 10 names after its data-protection type names.
pub(crate) const DESERIALIZER_ASSEMBLY: &str =
    ", Microsoft.AspNetCore.DataProtection, Version=10.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";
/// The comment ASP.NET puts in unencrypted master keys.
pub const UNENCRYPTED_WARNING: &str = " Warning: the key below is in an unencrypted form. ";

/// A `<revocation>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One key.
    Single {
        /// The key.
        id: Uuid,
        /// `revocationDate`.
        date: Timestamp,
    },
    /// Every key created strictly before `date`.
    AllCreatedBefore(Timestamp),
}

/// The type name before the first comma, with the pre-Core namespace forwarded.
pub fn type_name(assembly_qualified: &str) -> String {
    let t = assembly_qualified.split(',').next().unwrap_or("").trim();
    match t.strip_prefix("Microsoft.AspNet.DataProtection") {
        Some(rest) => format!("Microsoft.AspNetCore.DataProtection{rest}"),
        None => t.to_string(),
    }
}

fn date(e: &XmlElement, name: &str) -> Result<Timestamp> {
    Timestamp::parse(e.child_text(name)?)
        .map_err(|err| DataProtectionError::Xml(format!("<{name}>: {err}")))
}

fn parse_descriptor(outer: &XmlElement) -> std::result::Result<Descriptor, String> {
    let deser = outer
        .attr("deserializerType")
        .ok_or("the <descriptor> has no deserializerType")?;
    let t = type_name(deser);
    if t != DESERIALIZER {
        return Err(format!(
            "descriptor deserializer {t} is not supported (only {DESERIALIZER})"
        ));
    }
    let d = outer
        .child("descriptor")
        .ok_or("the <descriptor> has no inner <descriptor>")?;
    let enc = d
        .child("encryption")
        .and_then(|e| e.attr("algorithm"))
        .ok_or("no <encryption algorithm=…>")?;
    let encryption = EncryptionAlgorithm::parse(enc).map_err(|e| e.to_string())?;
    let validation = if encryption.is_gcm() {
        ValidationAlgorithm::HmacSha256
    } else {
        let v = d
            .child("validation")
            .and_then(|e| e.attr("algorithm"))
            .ok_or("no <validation algorithm=…>")?;
        ValidationAlgorithm::parse(v).map_err(|e| e.to_string())?
    };
    let secret = if let Some(m) = d.child("masterKey") {
        MasterKeySecret::Plain(master_key_value(m)?)
    } else if let Some(es) = d.child("encryptedSecret") {
        let decryptor_type = es
            .attr("decryptorType")
            .ok_or("<encryptedSecret> has no decryptorType")?;
        MasterKeySecret::Encrypted {
            decryptor_type: type_name(decryptor_type),
            xml: write_element(es),
        }
    } else {
        return Err("the descriptor has neither <masterKey> nor <encryptedSecret>".into());
    };
    Ok(Descriptor {
        algorithm: Algorithm {
            encryption,
            validation,
        },
        secret,
    })
}

/// The key in a `<masterKey>` element: the base64 text of its `<value>` child (or, in the
/// oldest form, of the element itself).
pub(crate) fn master_key_value(m: &XmlElement) -> std::result::Result<SecretBytes, String> {
    let b64: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(
        m.child("value")
            .map_or(m.text.as_str(), |v| v.text.as_str())
            .split_whitespace()
            .collect(),
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| format!("the <masterKey> value is not base64: {e}"))?;
    Ok(SecretBytes::from_vec(bytes))
}

/// The master key in a `<masterKey>` element an encryptor decrypted (XML Encryption or DPAPI;
/// an optional BOM and XML declaration are accepted, as .NET writes them); the parsed copy of
/// its text is wiped.
#[cfg(any(windows, feature = "certificate-keys", test))]
pub(crate) fn decrypted_master_key(plain: &[u8]) -> Result<SecretBytes> {
    let unreadable = |why: String| {
        DataProtectionError::InvalidInput(format!(
            "it decrypts, but not to a <masterKey> element ({why}): it was altered or damaged, \
             or not written by ASP.NET Core or trousseau"
        ))
    };
    let text = std::str::from_utf8(plain).map_err(|e| unreadable(e.to_string()))?;
    let mut tree = xmltree::parse(text).map_err(|e| unreadable(e.to_string()))?;
    let value = if tree.local_name() == "masterKey" {
        master_key_value(&tree).map_err(unreadable)
    } else {
        Err(unreadable(format!("found <{}>", tree.local_name())))
    };
    wipe(&mut tree);
    let value = value?;
    if value.is_empty() {
        return Err(unreadable("the key is empty".into()));
    }
    Ok(value)
}

#[cfg(any(windows, feature = "certificate-keys", test))]
fn wipe(e: &mut XmlElement) {
    use zeroize::Zeroize;
    e.text.zeroize();
    for (_, v) in &mut e.attributes {
        v.zeroize();
    }
    for c in &mut e.children {
        wipe(c);
    }
}

/// Parses a `<key>`. Structural errors (id, dates) fail; descriptor problems leave the key in
/// the ring but unusable, as ASP.NET does.
pub fn parse_key(e: &XmlElement) -> Result<Key> {
    let id_text = e
        .attr("id")
        .ok_or_else(|| DataProtectionError::Xml("<key> has no id".into()))?;
    let id = Uuid::parse_str(id_text)
        .map_err(|err| DataProtectionError::Xml(format!("<key id={id_text:?}>: {err}")))?;
    if let Some(v) = e.attr("version") {
        if v != "1" {
            return Err(DataProtectionError::Xml(format!(
                "key {id}: version {v} is not supported"
            )));
        }
    }
    let creation = date(e, "creationDate")?;
    let activation = date(e, "activationDate")?;
    let expiration = date(e, "expirationDate")?;
    if expiration < activation {
        return Err(DataProtectionError::Xml(format!(
            "key {id} expires ({expiration}) before it activates ({activation})"
        )));
    }
    let descriptor = e
        .child("descriptor")
        .ok_or_else(|| "the key has no <descriptor>".to_string())
        .and_then(parse_descriptor);
    Ok(Key {
        id,
        creation,
        activation,
        expiration,
        descriptor,
    })
}

/// Parses a `<revocation>`.
pub fn parse_revocation(e: &XmlElement) -> Result<Revocation> {
    let date = date(e, "revocationDate")?;
    let id = e
        .child("key")
        .and_then(|k| k.attr("id"))
        .ok_or_else(|| DataProtectionError::Xml("<revocation> has no <key id=…>".into()))?;
    if id == "*" {
        return Ok(Revocation::AllCreatedBefore(date));
    }
    let id = Uuid::parse_str(id)
        .map_err(|err| DataProtectionError::Xml(format!("<revocation> key id {id:?}: {err}")))?;
    Ok(Revocation::Single { id, date })
}

/// The unknown top-level elements [`ParsedElements`] keeps: Trousseau's own.
pub const KEPT_ELEMENTS: [&str; 2] = ["masterKeySlot", super::wrapping::REWRAPPED];

/// A `<revocation>` read from a repository.
#[derive(Debug, Clone)]
pub struct RevocationElement {
    /// The element's friendly name.
    pub name: String,
    /// What it revokes.
    pub revocation: Revocation,
    /// The base64 text of its `<mac>` child (written in encrypted rings), if any.
    pub mac: Option<String>,
}

/// What a repository's elements hold.
#[derive(Debug, Default)]
pub struct ParsedElements {
    /// Keys with their element names, in repository order.
    pub keys: Vec<(String, Key)>,
    /// Revocations.
    pub revocations: Vec<RevocationElement>,
    /// Revocation elements that cannot be read, with why: an open ring cannot trust any key
    /// then (ASP.NET's rule); an encrypted ring ignores them (they are not authenticated).
    pub unreadable_revocations: Vec<(String, String)>,
    /// Trousseau's own top-level elements ([`KEPT_ELEMENTS`]: master-key slots, a rotation's
    /// re-wrapped secrets), ignored by the key ring. Other unknown elements are skipped, as
    /// ASP.NET skips them, and not kept in memory.
    pub other: Vec<(String, XmlElement)>,
}

impl ParsedElements {
    /// Reads every element: an unparsable `<key>` is skipped with a warning, an unparsable
    /// `<revocation>` is kept aside (see [`ParsedElements::into_ring_keys`]), duplicate key
    /// ids fail naming both elements.
    ///
    /// Given owned elements (`snapshot.into_elements()`), each element's text is dropped as
    /// soon as it is parsed, so a large ring is not held twice.
    pub fn read<E: std::borrow::Borrow<Element>>(
        elements: impl IntoIterator<Item = E>,
    ) -> Result<ParsedElements> {
        let mut out = ParsedElements::default();
        let mut seen: HashMap<Uuid, String> = HashMap::new();
        for el in elements {
            let el = el.borrow();
            let tree = match xmltree::parse(el.xml()) {
                Ok(t) => t,
                Err(e) => {
                    if el.name().starts_with("revocation") {
                        out.unreadable_revocations
                            .push((el.name().to_string(), e.to_string()));
                    } else {
                        tracing::warn!("skipping element {}: {e}", el.name());
                    }
                    continue;
                }
            };
            match tree.local_name() {
                "key" => match parse_key(&tree) {
                    Ok(k) => {
                        if let Some(prev) = seen.insert(k.id, el.name().to_string()) {
                            return Err(DataProtectionError::KeyRing(format!(
                                "key id {} appears twice, in elements {prev} and {}; delete one of them",
                                k.id,
                                el.name()
                            )));
                        }
                        out.keys.push((el.name().to_string(), k));
                    }
                    Err(e) => tracing::warn!("skipping unreadable key element {}: {e}", el.name()),
                },
                "revocation" => match parse_revocation(&tree) {
                    Ok(revocation) => out.revocations.push(RevocationElement {
                        name: el.name().to_string(),
                        revocation,
                        mac: tree.child("mac").map(|m| m.text.clone()),
                    }),
                    Err(e) => out
                        .unreadable_revocations
                        .push((el.name().to_string(), e.to_string())),
                },
                name if KEPT_ELEMENTS.contains(&name) => {
                    out.other.push((el.name().to_string(), tree));
                }
                other => tracing::debug!("ignoring element {} (<{other}>)", el.name()),
            }
        }
        Ok(out)
    }

    /// The revocations `protection` honours: all of them in an open ring; in an encrypted
    /// ring only those whose MAC verifies (the others are reported once and ignored).
    pub fn trusted_revocations<'a>(
        &'a self,
        protection: &'a dyn KeyEncryption,
    ) -> impl Iterator<Item = &'a RevocationElement> + 'a {
        self.revocations
            .iter()
            .filter(move |r| protection.trusts_revocation(&r.revocation, r.mac.as_deref()))
    }

    /// The latest trusted mass-revocation date.
    pub fn mass_revocation(&self, protection: &dyn KeyEncryption) -> Option<Timestamp> {
        self.trusted_revocations(protection)
            .filter_map(|r| match r.revocation {
                Revocation::AllCreatedBefore(d) => Some(d),
                Revocation::Single { .. } => None,
            })
            .max()
    }

    /// Turns the keys into ring entries with the trusted revocations applied. In an open
    /// ring an unreadable revocation fails (no key can be trusted, as in ASP.NET); in an
    /// encrypted ring it is unauthenticated, so it is ignored with a warning.
    pub fn into_ring_keys(self, protection: &dyn KeyEncryption) -> Result<Vec<RingKey>> {
        if let Some((name, why)) = self.unreadable_revocations.first() {
            if !protection.is_closed() {
                return Err(DataProtectionError::Xml(format!(
                    "revocation element {name} cannot be read, so no key can be trusted: {why}"
                )));
            }
            for (name, why) in &self.unreadable_revocations {
                tracing::warn!(
                    "ignoring unreadable revocation element {name} (not authenticated): {why}"
                );
            }
        }
        let mass = self.mass_revocation(protection);
        let single: std::collections::HashSet<Uuid> = self
            .trusted_revocations(protection)
            .filter_map(|r| match r.revocation {
                Revocation::Single { id, .. } => Some(id),
                Revocation::AllCreatedBefore(_) => None,
            })
            .collect();
        Ok(self
            .keys
            .into_iter()
            .map(|(_, k)| {
                let revoked = single.contains(&k.id) || mass.is_some_and(|d| k.creation < d);
                RingKey::new(k, revoked)
            })
            .collect())
    }
}

/// Serialises an element tree back to XML (no declaration).
pub fn write_element(e: &XmlElement) -> String {
    let mut s = format!("<{}", e.name);
    for (k, v) in &e.attributes {
        s.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    if e.children.is_empty() && e.text.is_empty() {
        s.push_str(" />");
        return s;
    }
    s.push('>');
    s.push_str(&escape(&e.text));
    for c in &e.children {
        s.push_str(&write_element(c));
    }
    s.push_str(&format!("</{}>", e.name));
    s
}

/// The `<masterKey>` element ASP.NET writes for an unencrypted key (with its warning).
pub fn plain_master_key_xml(secret: &SecretBytes) -> String {
    format!(
        "      <masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"{DP_NAMESPACE}\">\n        <!--{UNENCRYPTED_WARNING}-->\n        <value>{}</value>\n      </masterKey>",
        base64::engine::general_purpose::STANDARD.encode(secret.expose())
    )
}

/// The `<key>` element, formatted as ASP.NET Core writes it; `secret_xml` is the
/// `<masterKey>` or `<encryptedSecret>` element.
pub fn key_xml(key: &Key, algorithm: Algorithm, secret_xml: &str) -> String {
    let validation = if algorithm.encryption.is_gcm() {
        "      <!-- AES-GCM includes a 128-bit authentication tag, no extra validation algorithm required. -->".to_string()
    } else {
        format!(
            "      <validation algorithm=\"{}\" />",
            algorithm.validation.name()
        )
    };
    format!(
        "<key id=\"{}\" version=\"1\">\n  <creationDate>{}</creationDate>\n  <activationDate>{}</activationDate>\n  <expirationDate>{}</expirationDate>\n  <descriptor deserializerType=\"{DESERIALIZER}{DESERIALIZER_ASSEMBLY}\">\n    <descriptor>\n      <encryption algorithm=\"{}\" />\n{validation}\n{secret_xml}\n    </descriptor>\n  </descriptor>\n</key>",
        key.id, key.creation, key.activation, key.expiration, algorithm.encryption.name()
    )
}

/// A `<revocation>` element and its friendly name, as ASP.NET Core writes it, with `mac` (an
/// authenticator element from [`KeyEncryption::revocation_mac`]) as its last child when given;
/// ASP.NET Core ignores that child.
pub fn revocation_element(
    r: &Revocation,
    now: Timestamp,
    reason: &str,
    mac: Option<&str>,
) -> Element {
    let mac = mac.map(|m| format!("  {m}\n")).unwrap_or_default();
    match r {
        Revocation::Single { id, date } => Element::new(
            format!("revocation-{id}"),
            format!(
                "<revocation version=\"1\">\n  <revocationDate>{date}</revocationDate>\n  <key id=\"{id}\" />\n  <reason>{}</reason>\n{mac}</revocation>",
                escape(reason)
            ),
        ),
        Revocation::AllCreatedBefore(date) => Element::new(
            format!("revocation-{}", now.compact()),
            format!(
                "<revocation version=\"1\">\n  <revocationDate>{date}</revocationDate>\n  <!-- All keys created before the revocation date are revoked. -->\n  <key id=\"*\" />\n  <reason>{}</reason>\n{mac}</revocation>",
                escape(reason)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataprotection::at_rest::PlainKeys;

    // A key as ASP.NET Core 10.0.5 writes it (unencrypted form), with a master key of 00..3F.
    pub(crate) const SPEC_KEY: &str = r#"<key id="ead9607a-7754-4369-a7f4-6696e5713ced" version="1">
  <creationDate>2026-04-16T16:40:09.6237156Z</creationDate>
  <activationDate>2026-04-16T16:40:09.6237156Z</activationDate>
  <expirationDate>2026-07-15T16:40:09.6237156Z</expirationDate>
  <descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=10.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60">
    <descriptor>
      <encryption algorithm="AES_256_CBC" />
      <validation algorithm="HMACSHA256" />
      <masterKey p4:requiresEncryption="true" xmlns:p4="http://schemas.asp.net/2015/03/dataProtection">
        <!-- Warning: the key below is in an unencrypted form. -->
        <value>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==</value>
      </masterKey>
    </descriptor>
  </descriptor>
</key>"#;

    #[test]
    fn spec_key_reads_and_writes_identically() {
        let k = parse_key(&xmltree::parse(SPEC_KEY).unwrap()).unwrap();
        assert_eq!(k.id.to_string(), "ead9607a-7754-4369-a7f4-6696e5713ced");
        assert_eq!(k.expiration.to_string(), "2026-07-15T16:40:09.6237156Z");
        let d = k.descriptor.as_ref().unwrap();
        assert_eq!(d.algorithm, Algorithm::default());
        let MasterKeySecret::Plain(s) = &d.secret else {
            panic!("encrypted")
        };
        assert_eq!(s.expose(), (0..64u8).collect::<Vec<_>>().as_slice());
        let again = key_xml(&k, d.algorithm, &plain_master_key_xml(s));
        assert_eq!(again, SPEC_KEY);
    }

    #[test]
    fn type_names_match_before_first_comma() {
        assert_eq!(
            type_name(&format!("{DESERIALIZER}, X, Version=2.1.1.0")),
            DESERIALIZER
        );
        assert_eq!(
            type_name("Microsoft.AspNet.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNet.DataProtection, Version=1.0.0.0"),
            DESERIALIZER
        );
        let other = SPEC_KEY.replace(
            "ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer",
            "ConfigurationModel.CngCbcAuthenticatedEncryptorDescriptorDeserializer",
        );
        let k = parse_key(&xmltree::parse(&other).unwrap()).unwrap();
        assert!(k.descriptor.unwrap_err().contains("CngCbc"));
    }

    #[test]
    fn revocation_forms() {
        let now = Timestamp::parse("2015-03-20T22:45:30.2616742Z").unwrap();
        let id: Uuid = "bbbbbbbb-1c1c-2d2d-3e3e-444444444444".parse().unwrap();
        for r in [
            Revocation::Single { id, date: now },
            Revocation::AllCreatedBefore(now),
        ] {
            let el = revocation_element(&r, now, "because <reasons>", None);
            assert_eq!(
                parse_revocation(&xmltree::parse(el.xml()).unwrap()).unwrap(),
                r
            );
        }
        assert_eq!(
            revocation_element(&Revocation::AllCreatedBefore(now), now, "", None).name(),
            "revocation-20150320T2245302616742Z"
        );
        let docs = "<revocation version=\"1\"><revocationDate>2015-03-20T15:45:45.7366491-07:00</revocationDate><!-- All keys created before the revocation date are revoked. --><key id=\"*\" /><reason>r</reason></revocation>";
        assert_eq!(
            parse_revocation(&xmltree::parse(docs).unwrap()).unwrap(),
            Revocation::AllCreatedBefore(Timestamp::parse("2015-03-20T22:45:45.7366491Z").unwrap())
        );
    }

    fn el(name: &str, xml: &str) -> Element {
        Element::new(name, xml)
    }

    #[test]
    fn ring_reading_rules() {
        let ok = el("key-a", SPEC_KEY);
        let junk_key = el("key-b", "<key id=\"nope\"/>");
        let other = el("masterKeySlot-1", "<masterKeySlot x=\"1\"/>");
        let p = ParsedElements::read(&[ok.clone(), junk_key, other]).unwrap();
        assert_eq!((p.keys.len(), p.other.len()), (1, 1));
        let bad_rev = el(
            "revocation-x",
            "<revocation version=\"1\"><key id=\"*\"/></revocation>",
        );
        let e = ParsedElements::read(&[ok.clone(), bad_rev])
            .unwrap()
            .into_ring_keys(&PlainKeys)
            .unwrap_err();
        assert!(e.to_string().contains("revocation-x"), "{e}");
        let e = ParsedElements::read(&[ok.clone(), el("key-dup", SPEC_KEY)]).unwrap_err();
        assert!(
            e.to_string().contains("key-a") && e.to_string().contains("key-dup"),
            "{e}"
        );
        let backwards =
            SPEC_KEY.replace("<expirationDate>2026-07-15", "<expirationDate>2026-01-15");
        assert!(parse_key(&xmltree::parse(&backwards).unwrap())
            .unwrap_err()
            .to_string()
            .contains("before it activates"));
        let dtd = el("key-c", &format!("<!DOCTYPE key>{SPEC_KEY}"));
        assert_eq!(ParsedElements::read(&[dtd]).unwrap().keys.len(), 0);
    }

    #[test]
    fn revocations_apply() {
        let rev_all = revocation_element(
            &Revocation::AllCreatedBefore(Timestamp::parse("2026-04-16T16:40:10Z").unwrap()),
            Timestamp::now(),
            "r",
            None,
        );
        let keys = ParsedElements::read(&[el("key-a", SPEC_KEY), rev_all])
            .unwrap()
            .into_ring_keys(&PlainKeys)
            .unwrap();
        assert!(keys[0].revoked);
        let rev_before = revocation_element(
            &Revocation::AllCreatedBefore(
                Timestamp::parse("2026-04-16T16:40:09.6237156Z").unwrap(),
            ),
            Timestamp::now(),
            "r",
            None,
        );
        let keys = ParsedElements::read(&[el("key-a", SPEC_KEY), rev_before])
            .unwrap()
            .into_ring_keys(&PlainKeys)
            .unwrap();
        assert!(!keys[0].revoked, "strictly before");
    }
}
