//! Composition of components into the 32-byte composite key (KeePass order and rules).

use sha2::{Digest, Sha256};
use trousseau_core::{ComponentKind, SecretBytes, SourceFlags};

use super::MasterKeyError;

/// One component of a master key, as a key source returned it.
#[derive(Debug, Clone)]
pub struct Component {
    /// What kind of source produced it (decides its place and treatment).
    pub kind: ComponentKind,
    /// The source's flags (`DIRECT_KEY`, `EXCLUSIVE`, …).
    pub flags: SourceFlags,
    /// The component bytes: SHA-256 of the password; the key-file key; a provider's raw key
    /// (hashed here unless `DIRECT_KEY`); the user-account key (raw); a challenge response.
    pub bytes: SecretBytes,
}

/// KeePass position: password, then key file or provider, then user account; challenge-response
/// responses are combined and appended last (KeePassXC).
fn rank(kind: ComponentKind) -> u8 {
    match kind {
        ComponentKind::Password => 0,
        ComponentKind::KeyFile | ComponentKind::Provider => 1,
        ComponentKind::UserAccount => 2,
        ComponentKind::ChallengeResponse => 3,
    }
}

/// The composite key: SHA-256 over the components in KeePass order (stable within one rank).
///
/// - password and key-file components are used as they are;
/// - a provider component is SHA-256-hashed unless its source has [`SourceFlags::DIRECT_KEY`]
///   (KeePass `KcpCustomKey`);
/// - a user-account component is used raw (64 bytes in KeePass);
/// - challenge-response components are concatenated, hashed with SHA-256 and appended last
///   (KeePassXC `CompositeKey::rawKey`); with none, nothing is appended.
///
/// Errors: no components; an [`SourceFlags::EXCLUSIVE`] source combined with another; two
/// user-account components (KeePass refuses that too); an empty component.
///
/// The composite of a password alone, as KeePass computes it (the password source's
/// component is SHA-256 of the UTF-8 password; the composite hashes the components again),
/// then run through a KDF with [`transform_key`](super::transform_key):
///
/// ```
/// use trousseau::{
///     masterkey::{composite_key, derive_components, transform_key, EverySource, KdfParams},
///     providers::Password,
///     NoInteraction, Registry,
/// };
///
/// # std::env::set_var("DB_PASSWORD", "correct horse battery staple");
/// let registry = Registry::with_builtins(None)?;
/// let kdf = KdfParams::new_default(); // Argon2id, 64 MiB, fresh salt
/// let components = derive_components(
///     &registry,
///     &[Password::from_env("DB_PASSWORD")],
///     kdf.seed(),
///     &EverySource(&NoInteraction),
///     "example",
/// )?;
/// let composite = composite_key(components)?;
/// assert_eq!(
///     hex::encode(composite.expose()),
///     // SHA-256(SHA-256("correct horse battery staple"))
///     "b867db875479bcc0287352cdaa4a1755689b8338777d0915e9acd9f6edbc96cb"
/// );
/// let key = transform_key(&composite, &kdf)?;
/// assert_eq!(key.len(), 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn composite_key(mut components: Vec<Component>) -> Result<SecretBytes, MasterKeyError> {
    if components.is_empty() {
        return Err(MasterKeyError::NoComponents);
    }
    if components.len() > 1 {
        if let Some(c) = components
            .iter()
            .find(|c| c.flags.contains(SourceFlags::EXCLUSIVE))
        {
            return Err(MasterKeyError::Composition(format!(
                "the {} source is exclusive and cannot be combined with other sources; use it alone",
                c.kind.as_str()
            )));
        }
    }
    if components
        .iter()
        .filter(|c| c.kind == ComponentKind::UserAccount)
        .count()
        > 1
    {
        return Err(MasterKeyError::Composition(
            "a master key can hold only one user-account source".to_string(),
        ));
    }
    if let Some(c) = components.iter().find(|c| c.bytes.is_empty()) {
        return Err(MasterKeyError::Composition(format!(
            "the {} source returned an empty component (cancelled?)",
            c.kind.as_str()
        )));
    }
    components.sort_by_key(|c| rank(c.kind));
    let mut outer = Sha256::new();
    let mut responses = Sha256::new();
    let mut any_response = false;
    for c in &components {
        match c.kind {
            ComponentKind::Provider if !c.flags.contains(SourceFlags::DIRECT_KEY) => {
                outer.update(Sha256::digest(c.bytes.expose()));
            }
            ComponentKind::ChallengeResponse => {
                responses.update(c.bytes.expose());
                any_response = true;
            }
            _ => outer.update(c.bytes.expose()),
        }
    }
    if any_response {
        outer.update(responses.finalize());
    }
    Ok(SecretBytes::copy_from(outer.finalize().as_slice()))
}
