//! The XML key-file reader, modelled on KeePass 2.x `KfxFile` (XmlSerializer with comments,
//! processing instructions and whitespace ignored, DTD prohibited).
//!
//! [`scan`] only decides whether the file *deserializes* as a `<KeyFile>` document and collects
//! its raw fields; any failure there means "not an XML key file" (KeePass falls through to
//! the other formats). [`XmlFields::decode`] then checks version, data and hash: a failure there
//! is a hard error, as in KeePass.

use quick_xml::{events::Event, Reader};
use sha2::{Digest, Sha256};
use trousseau_core::{Error, ErrorCode, SecretBytes};

/// The deepest element nesting read in a `<KeyFile>` document (the root is level 1). Key
/// files are 3 levels deep (`KeyFile/Key/Data`); deeper documents are refused (see
/// [`NotXml::TooDeep`]) so that reading stays linear and bounded.
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a file was not taken as an XML key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotXml {
    /// Not UTF-8 or not well-formed XML, or some other root element.
    Other,
    /// Well-formed, root `KeyFile`, but it has a DOCTYPE (KeePass prohibits DTDs; KeePassXC
    /// parses such a file).
    DocType,
    /// Root `KeyFile`, but elements nest more than [`MAX_DEPTH`] levels: no key file does
    /// that, and guessing (XML or hashed file?) could silently give another key, so it is a
    /// hard error.
    TooDeep,
}

/// Where an element sits, as far as the key-file fields are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    /// `KeyFile` (the root).
    KeyFile,
    /// `KeyFile/Meta`.
    Meta,
    /// `KeyFile/Meta/Version`.
    Version,
    /// `KeyFile/Key`.
    Key,
    /// `KeyFile/Key/Data`.
    Data,
    /// Anything else.
    Other,
}

impl Node {
    /// The node of a child element called `name` of this one.
    fn child(self, name: &str) -> Node {
        match (self, name) {
            (Node::KeyFile, "Meta") => Node::Meta,
            (Node::KeyFile, "Key") => Node::Key,
            (Node::Meta, "Version") => Node::Version,
            (Node::Key, "Data") => Node::Data,
            _ => Node::Other,
        }
    }
}

/// The raw fields of a document whose root is `<KeyFile>`.
#[derive(Debug, Default)]
pub(crate) struct XmlFields {
    /// Text of `KeyFile/Meta/Version`, as found.
    pub(crate) version: Option<String>,
    /// Text of `KeyFile/Key/Data`, as found.
    pub(crate) data: Option<String>,
    /// The `Hash` attribute of `KeyFile/Key/Data`.
    pub(crate) hash: Option<String>,
    /// `<Meta>` came after `<Key>` (KeePassXC refuses that).
    pub(crate) meta_after_key: bool,
}

/// The XML key-file versions KeePass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XmlVersion {
    /// Major version 1: Base64 data.
    V1,
    /// Major version 2: hex data with an optional 4-byte hash.
    V2,
}

/// Tries to deserialize `bytes` as a KeePass `<KeyFile>` document. Linear in the size of
/// the document: only the kind of each open element is kept ([`Node`]), never its path.
pub(crate) fn scan(bytes: &[u8]) -> Result<XmlFields, NotXml> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| NotXml::Other)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().expand_empty_elements = true;
    let mut open: Vec<Node> = Vec::new();
    let mut fields = XmlFields::default();
    let mut seen_key = false;
    let mut doctype = false;
    let mut root_seen = false;
    loop {
        let event = reader.read_event().map_err(|_| NotXml::Other)?;
        match event {
            Event::DocType(_) => doctype = true,
            Event::Start(start) => {
                let name = start.name();
                let node = match open.last() {
                    None if root_seen || name.as_ref() != "KeyFile" => return Err(NotXml::Other),
                    None => {
                        root_seen = true;
                        Node::KeyFile
                    }
                    Some(parent) => parent.child(name.as_ref()),
                };
                if open.len() >= MAX_DEPTH {
                    // KeePass refuses a DTD before it gets this far, and hashes the file.
                    return Err(if doctype {
                        NotXml::DocType
                    } else {
                        NotXml::TooDeep
                    });
                }
                match node {
                    Node::Meta if seen_key => fields.meta_after_key = true,
                    Node::Key => seen_key = true,
                    Node::Data => {
                        fields.data = Some(String::new());
                        fields.hash = None;
                        for attr in start.attributes() {
                            let attr = attr.map_err(|_| NotXml::Other)?;
                            if attr.key.as_ref() == "Hash" {
                                let value = attr
                                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .map_err(|_| NotXml::Other)?;
                                fields.hash = Some(value.into_owned());
                            }
                        }
                    }
                    Node::Version => fields.version = Some(String::new()),
                    _ => {}
                }
                open.push(node);
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t) => append_text(open.last(), &mut fields, &t.xml10_content()),
            Event::CData(t) => append_text(open.last(), &mut fields, &t),
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().ok_or(NotXml::Other)?
                } else {
                    // With DTDs prohibited only the predefined entities exist; anything else
                    // (including an entity-expansion "bomb") fails to deserialize.
                    match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(NotXml::Other),
                    }
                };
                append_text(open.last(), &mut fields, ch.encode_utf8(&mut [0; 4]));
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::Empty(_) => {}
        }
    }
    if !root_seen || !open.is_empty() {
        return Err(NotXml::Other);
    }
    if doctype {
        return Err(NotXml::DocType);
    }
    Ok(fields)
}

fn append_text(node: Option<&Node>, fields: &mut XmlFields, text: &str) {
    let target = match node {
        Some(Node::Version) => &mut fields.version,
        Some(Node::Data) => &mut fields.data,
        _ => return,
    };
    if let Some(t) = target {
        t.push_str(text);
    }
}

/// KeePass `StrUtil.ParseVersion`: parts split on `.`/`,`, trimmed, parsed as 16-bit numbers
/// (an unparsable part counts as 0). Returns the major part.
pub(crate) fn major_version(version: &str) -> u16 {
    let first = version.split(['.', ',']).next().unwrap_or("");
    let t = first.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    t.parse::<u16>().unwrap_or(0)
}

/// KeePass `MemUtil.ParseHex` semantics: even length, hex digits only, either case.
fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    hex::decode(s).ok()
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::CorruptData, msg)
}

impl XmlFields {
    /// Checks version, data and hash as KeePass `KfxFile.GetKey` does; every failure is a
    /// hard error.
    pub(crate) fn decode(&self) -> Result<(SecretBytes, XmlVersion), Error> {
        let version = match major_version(self.version.as_deref().unwrap_or("")) {
            1 => XmlVersion::V1,
            2 => XmlVersion::V2,
            _ => {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    format!(
                        "XML key file version {:?} is not supported (KeePass reads major versions 1 and 2)",
                        self.version.as_deref().unwrap_or("")
                    ),
                ))
            }
        };
        let data: String = self
            .data
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let key = match version {
            XmlVersion::V1 => {
                use base64::Engine;
                let engine = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_allow_trailing_bits(true)
                        .with_decode_padding_mode(
                            base64::engine::DecodePaddingMode::RequireCanonical,
                        ),
                );
                engine.decode(data.as_bytes()).map_err(|e| {
                    corrupt(format!("XML key file (version 1) has invalid Base64 key data: {e}; the file is damaged"))
                })?
            }
            XmlVersion::V2 => parse_hex(&data).ok_or_else(|| {
                corrupt("XML key file (version 2) has invalid hex key data; the file is damaged")
            })?,
        };
        let key = SecretBytes::from_vec(key);
        if key.is_empty() {
            return Err(corrupt("XML key file has no key data; the file is damaged"));
        }
        if let Some(hash) = self.hash.as_deref().filter(|h| !h.is_empty()) {
            let expected = parse_hex(hash).ok_or_else(|| {
                corrupt(format!(
                    "XML key file Hash attribute {hash:?} is not hex; the file is damaged"
                ))
            })?;
            let digest = Sha256::digest(key.expose());
            let matches = expected.len() == 4
                && bool::from(subtle::ConstantTimeEq::ct_eq(&digest[..4], &expected[..]));
            if !matches {
                return Err(corrupt(
                    "XML key file hash mismatch: the key data does not match its Hash attribute; the file is damaged (KeePass refuses it too)",
                ));
            }
        }
        Ok((key, version))
    }
}
