//! The Azure Blob layout of ASP.NET Core (`AzureBlobXmlRepository`): one document whose root
//! `<repository>` holds every element as a child, saved by `XDocument.Save(stream,
//! SaveOptions.DisableFormatting)`, i.e. a UTF-8 byte-order mark, the XML declaration, then the
//! document without formatting.

use quick_xml::events::Event;
use quick_xml::Reader;
use trousseau_core::{Error, ErrorCode, Result};

use crate::element::compact_stored;

/// The name of the root element.
pub const ROOT: &str = "repository";

const BOM: &str = "\u{feff}";
const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// The document bytes holding `elements` (each already compacted, see
/// [`crate::element::compact`]), exactly as ASP.NET Core saves them.
pub fn write(elements: &[String]) -> Vec<u8> {
    let mut doc = String::with_capacity(
        BOM.len() + DECLARATION.len() + 32 + elements.iter().map(String::len).sum::<usize>(),
    );
    doc.push_str(BOM);
    doc.push_str(DECLARATION);
    if elements.is_empty() {
        doc.push_str("<repository />");
    } else {
        doc.push_str("<repository>");
        for e in elements {
            doc.push_str(e);
        }
        doc.push_str("</repository>");
    }
    doc.into_bytes()
}

/// The child elements of a stored document, each compacted. An empty document is an empty ring
/// (as in ASP.NET). A document that is not UTF-8 XML, holds a DTD, or whose root is not
/// `<repository>` fails with [`ErrorCode::CorruptData`] naming `location`.
pub fn read(bytes: &[u8], location: &str) -> Result<Vec<String>> {
    let corrupt = |what: String| {
        Error::new(
            ErrorCode::CorruptData,
            format!(
                "{location} is not a key-ring document (an XML document whose root is <{ROOT}>): {what}; fix or remove it, or point the repository at another blob"
            ),
        )
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| corrupt(format!("not UTF-8 ({e})")))?
        .trim_start_matches(BOM);
    let mut reader = Reader::from_str(text);
    let mut children = Vec::new();
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut child_start = 0usize;
    loop {
        let start = offset(&reader);
        let event = reader
            .read_event()
            .map_err(|e| corrupt(format!("{e} at byte {}", reader.error_position())))?;
        let end = offset(&reader);
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(corrupt("a DTD is not allowed".into())),
            Event::Start(ref s) | Event::Empty(ref s) if depth == 0 => {
                if seen_root {
                    return Err(corrupt("more than one root element".into()));
                }
                seen_root = true;
                let name = s.name();
                if name.as_ref() != ROOT {
                    return Err(corrupt(format!("the root element is <{}>", name.as_ref())));
                }
                if matches!(event, Event::Start(_)) {
                    depth = 1;
                }
            }
            Event::Start(_) => {
                if depth == 1 {
                    child_start = start;
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 1 => {
                children.push(child(text, start, end, &corrupt)?);
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    children.push(child(text, child_start, end, &corrupt)?);
                }
            }
            Event::Text(_)
                if depth == 0 && !text.get(start..end).unwrap_or("").trim().is_empty() =>
            {
                return Err(corrupt("text outside the root element".into()));
            }
            _ => {}
        }
    }
    if !seen_root {
        return Err(corrupt("no root element".into()));
    }
    if depth != 0 {
        return Err(corrupt("the document ends inside an element".into()));
    }
    Ok(children)
}

fn child(
    text: &str,
    start: usize,
    end: usize,
    corrupt: &dyn Fn(String) -> Error,
) -> Result<String> {
    let raw = text
        .get(start..end)
        .ok_or_else(|| corrupt(format!("bad element boundaries {start}..{end}")))?;
    compact_stored(raw).map_err(|e| corrupt(e.message().to_string()))
}

fn offset<R>(reader: &Reader<R>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_is_what_asp_net_saves() {
        let doc = write(&["<a x=\"1\" />".into(), "<b>t</b>".into()]);
        assert_eq!(
            doc,
            b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><repository><a x=\"1\" /><b>t</b></repository>"
        );
        assert_eq!(
            read(&doc, "blob").unwrap(),
            vec!["<a x=\"1\" />", "<b>t</b>"]
        );
        assert_eq!(read(&write(&[]), "blob").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn read_accepts_formatting_and_nested_children() {
        let doc = "<repository>\n  <key id=\"1\">\n    <x><y/></x>\n  </key>\n  <!-- c -->\n  <z/>\n</repository>\n";
        assert_eq!(
            read(doc.as_bytes(), "blob").unwrap(),
            vec!["<key id=\"1\"><x><y/></x></key>", "<z/>"]
        );
    }

    #[test]
    fn read_refuses_other_documents_naming_the_location() {
        for bad in [
            &b"not xml at all"[..],
            b"<keys><key/></keys>",
            b"<repository><key></repository>",
            b"\xff\xfe<repository/>",
            b"<!DOCTYPE repository><repository/>",
        ] {
            let e = read(bad, "azure://c/keys.xml").unwrap_err();
            assert_eq!(e.code(), ErrorCode::CorruptData);
            assert!(
                e.message().contains("azure://c/keys.xml"),
                "{}",
                e.message()
            );
        }
        assert_eq!(read(b"", "x").unwrap(), Vec::<String>::new());
    }
}
