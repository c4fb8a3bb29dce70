//! Canonical encodings of what an encrypted ring authenticates: a slot as a whole, the
//! metadata a key secret is bound to, and a revocation.
//!
//! Each encoding is a domain tag followed by length-prefixed fields (u32 big-endian length,
//! then the bytes), so that no two different field lists encode to the same bytes. Fields are
//! taken from *parsed* values written back in one normal form (timestamps as
//! `yyyy-MM-ddTHH:mm:ss.fffffffZ`, ids in lower-case hyphenated form, JSON as `serde_json`
//! writes it), so a rewrite that changes no meaning (another time zone, other whitespace)
//! still authenticates, and any change of meaning does not.

use super::{algorithms::Algorithm, keyring::Key, keyxml::Revocation};

/// A canonical encoding under construction.
#[derive(Debug)]
pub(crate) struct Canonical(Vec<u8>);

impl Canonical {
    /// Starts an encoding with its domain tag.
    pub(crate) fn new(tag: &str) -> Self {
        Canonical(Vec::with_capacity(256)).field(tag.as_bytes())
    }

    /// Appends one field.
    pub(crate) fn field(mut self, bytes: &[u8]) -> Self {
        // Fields are bounded by the element size ceilings, far below 4 GiB.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Appends one text field.
    pub(crate) fn text(self, text: &str) -> Self {
        self.field(text.as_bytes())
    }

    /// The encoded bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// What a key's encrypted secret is bound to: the key's id, creation, activation and
/// expiration dates, and its algorithms. Moving the secret under another `<key>`, or editing
/// any of these, makes it fail to authenticate.
pub(crate) fn key_binding(key: &Key, algorithm: Algorithm) -> Vec<u8> {
    Canonical::new("trousseau key secret v2")
        .text(&key.id.to_string())
        .text(&key.creation.to_string())
        .text(&key.activation.to_string())
        .text(&key.expiration.to_string())
        .text(algorithm.encryption.name())
        .text(algorithm.validation.name())
        .finish()
}

/// What a revocation's MAC covers: which keys it revokes and from when.
pub(crate) fn revocation(r: &Revocation) -> Vec<u8> {
    let (id, date) = match r {
        Revocation::Single { id, date } => (id.to_string(), date),
        Revocation::AllCreatedBefore(date) => ("*".to_string(), date),
    };
    Canonical::new("trousseau revocation v1")
        .text(&id)
        .text(&date.to_string())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed_so_boundaries_cannot_shift() {
        let a = Canonical::new("t").text("ab").text("c").finish();
        let b = Canonical::new("t").text("a").text("bc").finish();
        assert_ne!(a, b);
        assert_eq!(&a[..4], &1u32.to_be_bytes());
    }
}
