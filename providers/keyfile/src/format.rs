//! Reading a key file the way KeePass 2.x does (`KcpKeyFile.LoadKeyFile`): XML first, then 32
//! raw bytes, then 64 hex characters, otherwise SHA-256 of the whole file.

use std::{fmt, io::Read, path::Path};

use sha2::{Digest, Sha256};
use trousseau_core::{open_regular_file, read_to_limit, Error, ErrorCode, SecretBytes};
use zeroize::Zeroize;

use crate::xml::{self, NotXml, XmlVersion};

/// Files larger than this are hashed by streaming unless they look like XML.
pub const STREAM_THRESHOLD: u64 = 1 << 20;
/// The largest key file read (64 MiB). KeePass key files are a few hundred bytes, and files
/// used as key files are typically pictures or documents well below this. Anything larger is
/// refused rather than read: the path may name something endless or huge by mistake (or by a
/// party who planted the configuration), and an XML-looking file is parsed in memory.
pub const MAX_KEY_FILE_SIZE: u64 = 64 << 20;
/// How much of a large file decides whether it is parsed as XML (its first non-blank byte).
const XML_SNIFF_LEN: usize = 4096;

/// How a key file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileFormat {
    /// KeePass XML key file, version 1.x (Base64 data).
    XmlV1,
    /// KeePass XML key file, version 2.x (hex data with a hash).
    XmlV2,
    /// Exactly 32 bytes, used as the key.
    Binary,
    /// Exactly 64 hex characters, decoded.
    Hex,
    /// Anything else: SHA-256 of the whole file.
    Hashed,
}

impl KeyFileFormat {
    /// A short stable name: `xml1`, `xml2`, `binary`, `hex`, `hashed`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFileFormat::XmlV1 => "xml1",
            KeyFileFormat::XmlV2 => "xml2",
            KeyFileFormat::Binary => "binary",
            KeyFileFormat::Hex => "hex",
            KeyFileFormat::Hashed => "hashed",
        }
    }
}

impl fmt::Display for KeyFileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key file as read: its key (the KeePass component), its format and the ways KeePassXC
/// would read it differently (empty when both agree).
#[derive(Debug)]
pub struct LoadedKeyFile {
    /// The component bytes (normally 32; an XML file may hold another length).
    pub key: SecretBytes,
    /// The detected format.
    pub format: KeyFileFormat,
    /// Where KeePassXC (`src/keys/FileKey.cpp`) reads this file differently from KeePass, one
    /// sentence each.
    pub keepassxc_differences: Vec<String>,
    /// Remarks that are not disagreements (e.g. KeePassXC's "legacy format" warning).
    pub notes: Vec<String>,
}

/// Reads and interprets a key file. Only a regular file is opened (see
/// [`trousseau_core::open_regular_file`]: a FIFO or a device is refused, never read), and at most
/// [`MAX_KEY_FILE_SIZE`] bytes are read. Large non-XML files are hashed by streaming.
pub fn load_key_file(path: &Path) -> Result<LoadedKeyFile, Error> {
    let what = || format!("key file {}", path.display());
    let too_large = || {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{} is larger than {} MiB, more than any key file this reads; choose the \
                 right key file (KeePass key files are a few hundred bytes)",
                path.display(),
                MAX_KEY_FILE_SIZE >> 20
            ),
        )
    };
    let (mut file, len) = open_regular_file(path, what())?;
    if len > MAX_KEY_FILE_SIZE {
        return Err(too_large());
    }
    // The size `fstat` gave is only a hint: the reads below are what is bounded.
    let mut bytes = SecretBytes::with_capacity(len.min(STREAM_THRESHOLD + 1) as usize);
    read_to_limit(&mut file, &mut bytes, STREAM_THRESHOLD + 1)
        .map_err(|e| Error::from_io(&e, what()))?;
    let head = &bytes.expose()[..bytes.len().min(XML_SNIFF_LEN)];
    if bytes.len() as u64 > STREAM_THRESHOLD && !looks_like_xml(head) {
        return stream_hash(bytes, file)
            .map_err(|e| Error::from_io(&e, what()))?
            .ok_or_else(too_large);
    }
    read_to_limit(&mut file, &mut bytes, MAX_KEY_FILE_SIZE + 1)
        .map_err(|e| Error::from_io(&e, what()))?;
    if bytes.len() as u64 > MAX_KEY_FILE_SIZE {
        return Err(too_large());
    }
    interpret(bytes.expose()).map_err(|e| e.context(what()))
}

fn looks_like_xml(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// SHA-256 of `head` followed by the rest of `file`; `None` when the whole is larger than
/// [`MAX_KEY_FILE_SIZE`] (reading stops there).
fn stream_hash(head: SecretBytes, file: std::fs::File) -> std::io::Result<Option<LoadedKeyFile>> {
    let mut hasher = Sha256::new();
    hasher.update(head.expose());
    let mut total = head.len() as u64;
    drop(head);
    let mut rest = file.take((MAX_KEY_FILE_SIZE + 1).saturating_sub(total));
    let mut buf = vec![0u8; 64 * 1024];
    let read = loop {
        match rest.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    buf.zeroize();
    read?;
    if total > MAX_KEY_FILE_SIZE {
        return Ok(None);
    }
    Ok(Some(LoadedKeyFile {
        key: SecretBytes::copy_from(hasher.finalize().as_slice()),
        format: KeyFileFormat::Hashed,
        keepassxc_differences: Vec::new(),
        notes: Vec::new(),
    }))
}

/// Interprets key-file contents by KeePass 2.x's rules (`KcpKeyFile.LoadKeyFile`): XML (v1
/// Base64, v2 hex with a hash check), else exactly 32 bytes raw, else exactly 64 hex
/// characters, else SHA-256 of the whole file.
pub fn interpret(bytes: &[u8]) -> Result<LoadedKeyFile, Error> {
    let mut differences = Vec::new();
    let mut notes = Vec::new();
    match xml::scan(bytes) {
        Ok(fields) => {
            let (key, version) = fields.decode()?;
            let raw_version = fields.version.as_deref().unwrap_or("");
            let xc_version_ok = match version {
                XmlVersion::V1 => raw_version.starts_with("1.0"),
                XmlVersion::V2 => raw_version == "2.0",
            };
            if !xc_version_ok {
                differences.push(format!(
                    "KeePassXC refuses Version {raw_version:?} (it accepts only \"1.0…\" and \"2.0\")"
                ));
            }
            if version == XmlVersion::V2 && fields.hash.as_deref().is_none_or(str::is_empty) {
                differences.push("KeePassXC refuses a version 2 key file without a Hash attribute".to_string());
            }
            if fields.meta_after_key {
                differences.push("KeePassXC refuses a key file whose <Meta> comes after <Key>".to_string());
            }
            if key.len() != 32 {
                differences.push(format!(
                    "the key is {} bytes; KeePassXC {} it to 32 bytes, so only KeePass derives this key",
                    key.len(),
                    if key.len() < 32 { "zero-pads" } else { "truncates" }
                ));
            }
            let format = match version {
                XmlVersion::V1 => {
                    notes.push("KeePassXC calls XML version 1 a legacy key file format and warns about it".to_string());
                    KeyFileFormat::XmlV1
                }
                XmlVersion::V2 => KeyFileFormat::XmlV2,
            };
            return Ok(LoadedKeyFile { key, format, keepassxc_differences: differences, notes });
        }
        Err(NotXml::DocType) => differences.push(
            "the file is XML with a DOCTYPE: KeePass refuses DTDs and hashes the file, KeePassXC parses it as an XML key file".to_string(),
        ),
        Err(NotXml::Other) => {}
        Err(NotXml::TooDeep) => {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "the file is a <KeyFile> XML document whose elements nest more than {} \
                     levels deep; KeePass key files are 3 levels deep, so this is not a usable \
                     key file: choose the right file or create a new key file",
                    xml::MAX_DEPTH
                ),
            ))
        }
    }
    if bytes.len() == 32 {
        notes.push(
            "KeePassXC calls 32-byte binary key files a legacy format and warns about it"
                .to_string(),
        );
        return Ok(LoadedKeyFile {
            key: SecretBytes::copy_from(bytes),
            format: KeyFileFormat::Binary,
            keepassxc_differences: differences,
            notes,
        });
    }
    if bytes.len() == 64 && bytes.iter().all(u8::is_ascii_hexdigit) {
        if let Ok(key) = hex::decode(bytes) {
            notes.push(
                "KeePassXC calls 64-hex key files a legacy format and warns about it".to_string(),
            );
            return Ok(LoadedKeyFile {
                key: SecretBytes::from_vec(key),
                format: KeyFileFormat::Hex,
                keepassxc_differences: differences,
                notes,
            });
        }
    }
    if bytes.is_empty() {
        differences.push("the file is empty: KeePass uses SHA-256 of nothing, KeePassXC refuses an empty key file".to_string());
    }
    Ok(LoadedKeyFile {
        key: SecretBytes::copy_from(Sha256::digest(bytes).as_slice()),
        format: KeyFileFormat::Hashed,
        keepassxc_differences: differences,
        notes,
    })
}

/// Whether `bytes` start with a KeePass database signature (KDBX or the old KDB); KeePass
/// refuses such a file as a new key file.
pub fn is_database_file(bytes: &[u8]) -> bool {
    const SIG1: [u8; 4] = [0x03, 0xD9, 0xA2, 0x9A];
    bytes.len() >= 8
        && bytes[..4] == SIG1
        && (bytes[4..8] == [0x67, 0xFB, 0x4B, 0xB5] || bytes[4..8] == [0x65, 0xFB, 0x4B, 0xB5])
}
