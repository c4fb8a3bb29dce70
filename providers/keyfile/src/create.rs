//! Writing key files: XML v2.0 byte for byte as KeePass 2.47+ writes it, XML v1.0 as older
//! KeePass versions did, 64 hex characters, or 32 raw bytes.

use std::{
    fs::OpenOptions,
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine;
use sha2::{Digest, Sha256};
use trousseau_core::{Error, ErrorCode, SecretBytes};

/// The formats a key file can be created in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateFormat {
    /// KeePass XML version 2.0 (the KeePass default since 2.47; `.keyx`).
    XmlV2,
    /// KeePass XML version 1.00 (KeePass ≤ 2.46; `.key`).
    XmlV1,
    /// 64 hex characters, one line, no newline.
    Hex,
    /// 32 raw bytes.
    Binary,
}

impl CreateFormat {
    /// Parses `xml2`, `xml1`, `hex` or `binary`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "xml2" => Ok(CreateFormat::XmlV2),
            "xml1" => Ok(CreateFormat::XmlV1),
            "hex" => Ok(CreateFormat::Hex),
            "binary" => Ok(CreateFormat::Binary),
            other => Err(Error::new(
                ErrorCode::InvalidInput,
                format!("unknown key file format {other:?}; use xml2, xml1, hex or binary"),
            )),
        }
    }
}

/// New key material as KeePass makes it: 32 random bytes, or `SHA-256(entropy || random32)`
/// when the user supplied extra entropy (KeePass `KcpKeyFile.Create`).
pub fn generate_key(entropy: Option<&[u8]>) -> Result<SecretBytes, Error> {
    let mut random = SecretBytes::from_vec(vec![0u8; 32]);
    getrandom::fill(random.expose_mut()).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("the system random generator failed: {e}"),
        )
    })?;
    Ok(match entropy {
        Some(extra) if !extra.is_empty() => {
            let mut h = Sha256::new();
            h.update(extra);
            h.update(random.expose());
            SecretBytes::copy_from(h.finalize().as_slice())
        }
        _ => random,
    })
}

/// KeePass `FormatKeyHex(key, 3)`: uppercase hex; before hex digit i a newline and three tabs
/// when i % 32 == 0, else a space when i % 8 == 0; a newline and two tabs at the end.
fn format_key_hex(key: &[u8]) -> String {
    let hex = hex::encode_upper(key);
    let mut out = String::with_capacity(hex.len() * 2);
    for (i, c) in hex.chars().enumerate() {
        if i.is_multiple_of(32) {
            out.push_str("\n\t\t\t");
        } else if i.is_multiple_of(8) {
            out.push(' ');
        }
        out.push(c);
    }
    out.push_str("\n\t\t");
    out
}

fn xml_document(version: &str, data_open: &str, data: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<KeyFile>\n\t<Meta>\n\t\t<Version>{version}</Version>\n\t</Meta>\n\t<Key>\n\t\t{data_open}{data}</Data>\n\t</Key>\n</KeyFile>"
    )
}

/// The file contents for `key` in `format` (LF line endings, no trailing newline for XML, as
/// KeePass writes on Linux/Mono).
pub fn render(format: CreateFormat, key: &[u8]) -> SecretBytes {
    match format {
        CreateFormat::XmlV2 => {
            let hash = hex::encode_upper(&Sha256::digest(key)[..4]);
            SecretBytes::from_vec(
                xml_document(
                    "2.0",
                    &format!("<Data Hash=\"{hash}\">"),
                    &format_key_hex(key),
                )
                .into_bytes(),
            )
        }
        CreateFormat::XmlV1 => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(key);
            SecretBytes::from_vec(xml_document("1.00", "<Data>", &b64).into_bytes())
        }
        CreateFormat::Hex => SecretBytes::from_vec(hex::encode(key).into_bytes()),
        CreateFormat::Binary => SecretBytes::copy_from(key),
    }
}

/// Creates a new key file at `path` (mode 0600) and returns its key. Refuses to overwrite an
/// existing file. The file appears complete or not at all: it is written to a temporary file
/// in the same directory and then hard-linked into place (which fails if `path` exists).
pub fn create_key_file(
    path: &Path,
    format: CreateFormat,
    entropy: Option<&[u8]>,
) -> Result<SecretBytes, Error> {
    let key = generate_key(entropy)?;
    let contents = render(format, key.expose());
    write_new_file(path, contents.expose())?;
    Ok(key)
}

fn write_new_file(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if path.symlink_metadata().is_ok() {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!("{} already exists; refusing to overwrite a key file (choose another name or remove it first)", path.display()),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("random generator failed: {e}")))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let io_err = |e: std::io::Error, what: &Path| Error::from_io(&e, what.display());
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        // On Windows the file gets its directory's ACL (the user's profile: the user only).
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| io_err(e, &tmp))?;
        f.write_all(contents).map_err(|e| io_err(e, &tmp))?;
        f.sync_all().map_err(|e| io_err(e, &tmp))?;
        std::fs::hard_link(&tmp, path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::new(
                    ErrorCode::Conflict,
                    format!(
                        "{} already exists; refusing to overwrite a key file",
                        path.display()
                    ),
                )
            } else {
                io_err(e, path)
            }
        })
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
