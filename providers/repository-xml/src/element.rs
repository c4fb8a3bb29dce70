//! One element's text as ASP.NET Core stores it, and friendly names for stores without names.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use sha2::{Digest, Sha256};
use trousseau_core::{Error, ErrorCode, Result};

/// The element text ASP.NET Core writes (`XElement.ToString(SaveOptions.DisableFormatting)`):
/// the single root element of `xml` with no XML declaration, no processing instructions and no
/// whitespace-only text between tags; every other byte (attributes, quoting, `<x />` spacing,
/// comments, entity references) is kept as written.
///
/// Fails with [`ErrorCode::InvalidInput`] when `xml` is not one well-formed element (a DTD is
/// refused, as ASP.NET refuses it).
pub fn compact(xml: &str) -> Result<String> {
    compact_as(xml, ErrorCode::InvalidInput)
}

/// [`compact`] for text read back from a store: failures are [`ErrorCode::CorruptData`].
pub(crate) fn compact_stored(xml: &str) -> Result<String> {
    compact_as(xml, ErrorCode::CorruptData)
}

fn compact_as(xml: &str, code: ErrorCode) -> Result<String> {
    let bad = |what: &str| Error::new(code, format!("not a single XML element: {what}"));
    // quick-xml skips a leading byte-order mark without counting it in its positions, which
    // would shift every slice below; it is not part of the element text anyway.
    let xml = xml.trim_start_matches('\u{feff}');
    let mut reader = Reader::from_str(xml);
    let mut out = String::with_capacity(xml.len());
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let start = position(&reader);
        let event = reader
            .read_event()
            .map_err(|e| bad(&format!("{e} at byte {}", reader.error_position())))?;
        let raw = xml.get(start..position(&reader)).unwrap_or("");
        match event {
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) => continue,
            Event::DocType(_) => return Err(bad("a DTD is not allowed")),
            Event::Text(_) if raw.trim().is_empty() => continue,
            Event::Start(_) | Event::Empty(_) if depth == 0 => {
                roots += 1;
                if roots > 1 {
                    return Err(bad("more than one root element"));
                }
            }
            Event::Comment(_) if depth == 0 => continue,
            _ if depth == 0 => return Err(bad("text outside the root element")),
            _ => {}
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.push_str(raw);
    }
    if roots == 0 {
        return Err(bad("no element"));
    }
    if depth != 0 {
        return Err(bad("the root element is not closed"));
    }
    Ok(out)
}

fn position<R>(reader: &Reader<R>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// The friendly name of an element read from a store that keeps no names, derived from its
/// (compacted) text so that it is the same on every node and every read:
/// `key-{id}` for `<key id=…>`, `revocation-{id}` for a single-key `<revocation>`, otherwise
/// `{root}-{first 16 hex digits of SHA-256(text)}` (mass revocations, unknown elements).
pub fn friendly_name(xml: &str) -> String {
    let mut reader = Reader::from_str(xml);
    let mut root: Option<String> = None;
    let mut depth = 0usize;
    loop {
        let (start, empty) = match reader.read_event() {
            Ok(Event::Start(s)) => (s, false),
            Ok(Event::Empty(s)) => (s, true),
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        let name = start.local_name().as_ref().to_owned();
        match (root.as_deref(), depth) {
            (None, _) => {
                if name == "key" {
                    if let Some(id) = id_attribute(&start) {
                        return format!("key-{id}");
                    }
                }
                root = Some(name);
            }
            (Some("revocation"), 1) if name == "key" => {
                if let Some(id) = id_attribute(&start).filter(|id| !id.is_empty()) {
                    return format!("revocation-{id}");
                }
            }
            _ => {}
        }
        if !empty {
            depth += 1;
        }
    }
    let digest = Sha256::digest(xml.as_bytes());
    let root: String = root
        .unwrap_or_else(|| "element".into())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    format!("{root}-{}", hex::encode(&digest[..8]))
}

/// The `id` attribute, restricted to the characters ASP.NET allows in friendly names
/// (`[A-Za-z0-9_-]`; `*` and anything else dropped).
fn id_attribute(start: &BytesStart<'_>) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == "id")
        .map(|a| {
            a.value
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = r#"<key id="ead9607a-7754-4369-a7f4-6696e5713ced" version="1"><creationDate>2026-04-16T16:40:09.6237156Z</creationDate><descriptor><encryption algorithm="AES_256_CBC" /><masterKey p4:requiresEncryption="true" xmlns:p4="http://schemas.asp.net/2015/03/dataProtection"><!-- Warning: the key below is in an unencrypted form. --><value>AAAA&amp;</value></masterKey></descriptor></key>"#;

    #[test]
    fn compact_keeps_disable_formatting_text_byte_for_byte() {
        assert_eq!(compact(KEY).unwrap(), KEY);
    }

    #[test]
    fn compact_drops_declaration_and_indentation() {
        let pretty = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<revocation version=\"1\">\n  <revocationDate>2015-03-20T22:45:30.2616742Z</revocationDate>\n  <key id=\"bbbbbbbb-1c1c-2d2d-3e3e-444444444444\" />\n  <reason>human-readable reason</reason>\n</revocation>\n";
        assert_eq!(
            compact(pretty).unwrap(),
            "<revocation version=\"1\"><revocationDate>2015-03-20T22:45:30.2616742Z</revocationDate><key id=\"bbbbbbbb-1c1c-2d2d-3e3e-444444444444\" /><reason>human-readable reason</reason></revocation>"
        );
    }

    #[test]
    fn compact_drops_a_byte_order_mark() {
        // Found by fuzzing: a leading BOM shifted every slice by its 3 bytes, so the stored
        // text came out as `"?><repository` instead of the element.
        let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><repository />";
        assert_eq!(compact(doc).unwrap(), "<repository />");
        assert_eq!(compact("\u{feff}\u{feff}<a>x</a>").unwrap(), "<a>x</a>");
    }

    #[test]
    fn compact_refuses_what_is_not_one_element() {
        for bad in [
            "",
            "text",
            "<a></b>",
            "<a/><b/>",
            "<a>",
            "<!DOCTYPE a><a/>",
            "<a/>tail",
        ] {
            let e = compact(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidInput, "{bad:?}");
            assert!(e.message().contains("XML"), "{}", e.message());
        }
    }

    #[test]
    fn friendly_names_follow_asp_net() {
        assert_eq!(
            friendly_name(KEY),
            "key-ead9607a-7754-4369-a7f4-6696e5713ced"
        );
        let single = r#"<revocation version="1"><revocationDate>2015-03-20T22:45:30Z</revocationDate><key id="bbbbbbbb-1c1c-2d2d-3e3e-444444444444" /><reason>r</reason></revocation>"#;
        assert_eq!(
            friendly_name(single),
            "revocation-bbbbbbbb-1c1c-2d2d-3e3e-444444444444"
        );
        let all = r#"<revocation version="1"><revocationDate>2015-03-20T15:45:45-07:00</revocationDate><!-- All keys created before the revocation date are revoked. --><key id="*" /><reason>r</reason></revocation>"#;
        let name = friendly_name(all);
        assert!(name.starts_with("revocation-") && name.len() == "revocation-".len() + 16);
        assert_ne!(name, friendly_name(&all.replace("15:45:45", "15:45:46")));
        assert!(friendly_name("<slot/>").starts_with("slot-"));
    }
}
