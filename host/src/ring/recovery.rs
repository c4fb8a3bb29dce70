//! Recovery keys: a generated 256-bit key that opens a master-key slot of its own, printed
//! once in a form a person can copy by hand and type back, as systemd-cryptenroll's
//! `--recovery-key`.
//!
//! **Form.** 32 bytes from the operating system's random generator, written in *modhex*
//! (the 16 letters `cbdefghijklnrtuv`, no digits, no vowels but `e`, `i` and `u`, the same
//! keys on most Latin keyboard layouts), 8 groups of 8 letters, then a ninth group: the CRC-32
//! of the 32 bytes. The CRC detects every change of one letter and every swap of two adjacent
//! letters (both are bursts of at most 8 bits), so a typo is reported before any KDF runs.
//! Reading back ignores case, spaces, dashes and line breaks.
//!
//! **Slot.** The key is the password of a `password` source: the slot is an ordinary slot
//! made of `password`, whose password is the 8 key groups joined by dashes (lower case,
//! without the checksum). So any node that unlocks with a password opens it when given the
//! recovery key instead. Its KDF is cheap ([`crate::masterkey::KdfParams::high_entropy`]):
//! with 2^256 possible keys, stretching each guess adds nothing that matters.

use trousseau_core::SecretBytes;
use zeroize::{Zeroize, Zeroizing};

/// The modhex alphabet: the letter for each 4-bit value.
const MODHEX: &[u8; 16] = b"cbdefghijklnrtuv";
/// Bytes of key.
const KEY_BYTES: usize = 32;
/// Letters per group.
const GROUP: usize = 8;
/// Letters of a whole recovery key, checksum included.
const LETTERS: usize = (KEY_BYTES + 4) * 2;

/// Why a typed recovery key was refused (before anything was tried with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryKeyError {
    /// A character that is not one of the key's letters.
    #[error(
        "letter {position} of the recovery key is {found:?}, which is not a recovery-key \
         letter (only cbdefghijklnrtuv, in groups separated by dashes or spaces)"
    )]
    Letter {
        /// The character.
        found: char,
        /// Its position among the letters, from 1.
        position: usize,
    },
    /// Too many or too few letters.
    #[error(
        "the recovery key has {found} letters, not {LETTERS} (9 groups of 8); check that no \
         group is missing or repeated"
    )]
    Length {
        /// How many letters were given.
        found: usize,
    },
    /// The checksum group does not match the key groups: a typo.
    #[error(
        "the recovery key has a typo: its last group (a checksum) does not match the other \
         groups; compare each group with the printed key. Nothing was tried with it"
    )]
    Checksum,
    /// The operating system's random generator failed.
    #[error("cannot generate a recovery key: the system random generator failed ({0})")]
    Random(String),
}

/// A recovery key (zeroized on drop; `Debug` shows nothing of it).
pub struct RecoveryKey {
    key: SecretBytes,
}

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The modhex letters of `bytes`, high nibble first.
fn letters(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 2));
    for b in bytes {
        out.push(MODHEX[usize::from(b >> 4)]);
        out.push(MODHEX[usize::from(b & 0x0f)]);
    }
    out
}

/// `letters` in groups of 8 joined by dashes.
fn grouped(letters: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(letters.len() + letters.len() / GROUP));
    for (i, group) in letters.chunks(GROUP).enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.extend(group.iter().map(|&c| char::from(c)));
    }
    out
}

impl RecoveryKey {
    /// A new key of 256 bits from the operating system's random generator.
    pub fn generate() -> Result<RecoveryKey, RecoveryKeyError> {
        let mut key = SecretBytes::from_vec(vec![0u8; KEY_BYTES]);
        getrandom::fill(key.expose_mut()).map_err(|e| RecoveryKeyError::Random(e.to_string()))?;
        Ok(RecoveryKey { key })
    }

    /// Reads a key as a person typed it: case, spaces, dashes and line breaks are ignored; the
    /// letters and the checksum are checked.
    ///
    /// ```
    /// use trousseau::ring::{RecoveryKey, RecoveryKeyError};
    ///
    /// let key = RecoveryKey::generate()?;
    /// let printed = key.to_text();
    /// let typed = printed.to_uppercase().replace('-', " ");
    /// assert_eq!(RecoveryKey::parse(&typed)?.to_text(), printed);
    ///
    /// // One letter wrong: caught by the checksum.
    /// let first = printed.as_bytes()[0];
    /// let typo = format!("{}{}", if first == b'c' { 'b' } else { 'c' }, &printed[1..]);
    /// assert_eq!(RecoveryKey::parse(&typo).unwrap_err(), RecoveryKeyError::Checksum);
    /// # Ok::<(), RecoveryKeyError>(())
    /// ```
    pub fn parse(text: &str) -> Result<RecoveryKey, RecoveryKeyError> {
        let mut nibbles = Zeroizing::new(Vec::with_capacity(LETTERS));
        for c in text.chars() {
            if c.is_whitespace() || c == '-' {
                continue;
            }
            let lower = c.to_ascii_lowercase();
            let value = u8::try_from(lower)
                .ok()
                .and_then(|b| MODHEX.iter().position(|&m| m == b));
            match value {
                Some(v) => nibbles.push(v as u8),
                None => {
                    return Err(RecoveryKeyError::Letter {
                        found: c,
                        position: nibbles.len() + 1,
                    })
                }
            }
        }
        if nibbles.len() != LETTERS {
            return Err(RecoveryKeyError::Length {
                found: nibbles.len(),
            });
        }
        let mut bytes = Zeroizing::new(
            nibbles
                .chunks(2)
                .map(|pair| (pair[0] << 4) | pair[1])
                .collect::<Vec<u8>>(),
        );
        let (key, check) = bytes.split_at(KEY_BYTES);
        let expected = crc32(key).to_be_bytes();
        // The checksum is a function of the key, so comparing it in constant time keeps a
        // timing difference from saying how much of it matched.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], check)) {
            return Err(RecoveryKeyError::Checksum);
        }
        let key = SecretBytes::copy_from(key);
        bytes.zeroize();
        Ok(RecoveryKey { key })
    }

    /// The key as printed: 9 groups of 8 letters joined by dashes, the last one the checksum.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut all = Zeroizing::new(self.key.expose().to_vec());
        all.extend_from_slice(&crc32(self.key.expose()).to_be_bytes());
        grouped(&letters(&all))
    }

    /// The password the key's slot is made of: the 8 key groups joined by dashes, without the
    /// checksum.
    pub fn password(&self) -> SecretBytes {
        let text = grouped(&letters(self.key.expose()));
        SecretBytes::copy_from(text.as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Groups of key letters (then one of checksum).
    const KEY_GROUPS: usize = KEY_BYTES * 2 / GROUP;

    #[test]
    fn the_crc_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn printed_keys_read_back_with_any_case_and_separators() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        assert_eq!(text.len(), LETTERS + 8);
        assert_eq!(text.split('-').count(), KEY_GROUPS + 1);
        assert!(text.split('-').all(|g| g.len() == GROUP));
        let messy = format!("  {}\n", text.to_uppercase().replace('-', " - "));
        let back = RecoveryKey::parse(&messy).unwrap();
        assert!(back.password().ct_eq(key.password().expose()));
        assert_eq!(
            key.password().len(),
            KEY_GROUPS * GROUP + KEY_GROUPS - 1,
            "the password leaves the checksum out"
        );
        assert_ne!(
            RecoveryKey::generate().unwrap().to_text(),
            text,
            "keys are random"
        );
    }

    #[test]
    fn every_single_letter_typo_and_adjacent_swap_is_caught() {
        let key = RecoveryKey::generate().unwrap();
        let letters: Vec<u8> = key.to_text().bytes().filter(|&b| b != b'-').collect();
        for i in 0..letters.len() {
            for &other in MODHEX.iter().filter(|&&m| m != letters[i]) {
                let mut typo = letters.clone();
                typo[i] = other;
                let text = String::from_utf8(typo).unwrap();
                assert_eq!(
                    RecoveryKey::parse(&text).unwrap_err(),
                    RecoveryKeyError::Checksum
                );
            }
            if i + 1 < letters.len() && letters[i] != letters[i + 1] {
                let mut swapped = letters.clone();
                swapped.swap(i, i + 1);
                let text = String::from_utf8(swapped).unwrap();
                assert!(RecoveryKey::parse(&text).is_err());
            }
        }
    }

    #[test]
    fn wrong_letters_and_lengths_say_what_is_wrong() {
        let key = RecoveryKey::generate().unwrap();
        let text = key.to_text();
        let e = RecoveryKey::parse(&format!("0{}", &text[1..])).unwrap_err();
        assert_eq!(
            e,
            RecoveryKeyError::Letter {
                found: '0',
                position: 1
            }
        );
        let e = RecoveryKey::parse(&text[9..]).unwrap_err();
        assert_eq!(e, RecoveryKeyError::Length { found: 64 });
        assert!(e.to_string().contains("64 letters, not 72"), "{e}");
        assert_eq!(format!("{key:?}"), "RecoveryKey(..)");
    }
}
