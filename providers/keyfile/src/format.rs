//! Reading a key file the way KeePass 2.x does (`KcpKeyFile.LoadKeyFile`): XML first, then 32
//! raw bytes, then 64 hex characters, otherwise SHA-256 of the whole file.

use std::{fmt, io::Read, path::Path};

use sha2::{Digest, Sha256};
use trousseau_core::{Error, ErrorCode, SecretBytes};
use zeroize::Zeroize;

use crate::xml::{self, NotXml, XmlVersion};

/// Files larger than this are hashed by streaming unless they look like XML.
pub const STREAM_THRESHOLD: u64 = 1 << 20;
/// An XML-looking file larger than this is not parsed (KeePass would try; no real key file is
/// anywhere near this size) but hashed by streaming.
const XML_PARSE_LIMIT: u64 = 64 << 20;

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
    /// Where KeePassXC reads this file differently from KeePass (spec §2.3), one sentence each.
    pub keepassxc_differences: Vec<String>,
    /// Remarks that are not disagreements (e.g. KeePassXC's "legacy format" warning).
    pub notes: Vec<String>,
}

/// Reads and interprets a key file. Large non-XML files are hashed by streaming.
pub fn load_key_file(path: &Path) -> Result<LoadedKeyFile, Error> {
    let what = || format!("key file {}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| Error::from_io(&e, what()))?;
    let meta = file.metadata().map_err(|e| Error::from_io(&e, what()))?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("{} is a directory, not a key file", path.display()),
        ));
    }
    if meta.len() > STREAM_THRESHOLD {
        let mut head = vec![0u8; 4096];
        let n = read_up_to(&mut file, &mut head).map_err(|e| Error::from_io(&e, what()))?;
        head.truncate(n);
        if !looks_like_xml(&head) || meta.len() > XML_PARSE_LIMIT {
            return stream_hash(head, file).map_err(|e| Error::from_io(&e, what()));
        }
        let mut rest = head;
        file.read_to_end(&mut rest)
            .map_err(|e| Error::from_io(&e, what()))?;
        let loaded = interpret(&rest);
        rest.zeroize();
        return loaded.map_err(|e| e.context(what()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    let read = file.read_to_end(&mut bytes);
    let loaded = read
        .map_err(|e| Error::from_io(&e, what()))
        .and_then(|_| interpret(&bytes).map_err(|e| e.context(what())));
    bytes.zeroize();
    loaded
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn looks_like_xml(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

fn stream_hash(mut head: Vec<u8>, mut file: std::fs::File) -> std::io::Result<LoadedKeyFile> {
    let mut hasher = Sha256::new();
    hasher.update(&head);
    head.zeroize();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    buf.zeroize();
    Ok(LoadedKeyFile {
        key: SecretBytes::copy_from(hasher.finalize().as_slice()),
        format: KeyFileFormat::Hashed,
        keepassxc_differences: Vec::new(),
        notes: Vec::new(),
    })
}

/// Interprets key-file contents (KeePass 2.x rules, spec §2.1–2.3).
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
