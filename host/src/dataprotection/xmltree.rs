//! A small XML tree for key-ring elements, read with quick-xml. DTDs and entity references
//! other than the five predefined ones and character references are refused (no entity
//! expansion at all), as ASP.NET's repositories prohibit DTDs.
//!
//! Whoever can write the repository chooses this text, so [`parse`] is bounded: at most
//! [`MAX_XML_BYTES`] of text, [`MAX_ELEMENTS`] elements and [`MAX_DEPTH`] levels of nesting
//! (which also bounds the recursion of everything that walks or drops a tree).

use quick_xml::{
    events::{BytesStart, Event},
    Reader, XmlVersion,
};

use super::error::{DataProtectionError, Result};

/// The deepest nesting [`parse`] accepts (the root is level 1). ASP.NET key elements are
/// about 6 levels deep, an `<encryptedSecret>` a few more.
pub const MAX_DEPTH: usize = 64;
/// The most elements (at any depth) [`parse`] accepts in one ring element. A key has about ten.
pub const MAX_ELEMENTS: usize = 10_000;
/// The largest ring element [`parse`] accepts, in bytes of XML text (a key is 1–5 KiB).
pub const MAX_XML_BYTES: usize = 1 << 20;

/// An element: qualified name, attributes (qualified names, unescaped values), children,
/// and its concatenated text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlElement {
    /// Qualified name as written (`p4:requiresEncryption` style prefixes kept).
    pub name: String,
    /// Attributes in document order.
    pub attributes: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<XmlElement>,
    /// Text directly inside this element (all text nodes concatenated).
    pub text: String,
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

impl XmlElement {
    /// The local name (prefix removed).
    pub fn local_name(&self) -> &str {
        local(&self.name)
    }

    /// An attribute by local name.
    pub fn attr(&self, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| !n.starts_with("xmlns") && local(n) == local_name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child with this local name.
    pub fn child(&self, local_name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.local_name() == local_name)
    }

    /// The children with this local name.
    pub fn children_named<'a>(
        &'a self,
        local_name: &'a str,
    ) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children
            .iter()
            .filter(move |c| c.local_name() == local_name)
    }

    /// The text of a required child element.
    pub fn child_text(&self, local_name: &str) -> Result<&str> {
        self.child(local_name)
            .map(|c| c.text.trim())
            .ok_or_else(|| {
                DataProtectionError::Xml(format!("<{}> has no <{local_name}>", self.name))
            })
    }
}

fn xml_err(e: impl std::fmt::Display) -> DataProtectionError {
    DataProtectionError::Xml(e.to_string())
}

fn start(e: &BytesStart<'_>) -> Result<XmlElement> {
    let name = e.name().as_ref().to_string();
    let mut attributes = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(xml_err)?;
        let key = a.key.as_ref().to_string();
        let value = a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| {
            DataProtectionError::Xml(format!(
                "attribute {key}: {e} (entity references are not allowed)"
            ))
        })?;
        attributes.push((key, value.into_owned()));
    }
    Ok(XmlElement {
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn too_big(what: String) -> DataProtectionError {
    DataProtectionError::Xml(format!(
        "{what}; a key-ring element this large is damaged or hostile: remove it from the repository"
    ))
}

/// Parses one element (an optional XML declaration, BOM, comments and whitespace around it
/// are allowed). Refuses DTDs, unknown entities, trailing content, and anything over the
/// limits ([`MAX_XML_BYTES`], [`MAX_ELEMENTS`], [`MAX_DEPTH`]).
pub fn parse(xml: &str) -> Result<XmlElement> {
    if xml.len() > MAX_XML_BYTES {
        return Err(too_big(format!(
            "the element is {} bytes of XML, more than the {MAX_XML_BYTES} accepted",
            xml.len()
        )));
    }
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut elements = 0usize;
    // Called for every element as it opens, `depth` being its level (the root is 1).
    let mut admit = |depth: usize| -> Result<()> {
        elements += 1;
        if depth > MAX_DEPTH {
            return Err(too_big(format!(
                "elements are nested more than {MAX_DEPTH} levels deep"
            )));
        }
        if elements > MAX_ELEMENTS {
            return Err(too_big(format!(
                "the element holds more than {MAX_ELEMENTS} elements"
            )));
        }
        Ok(())
    };
    loop {
        let ev = reader.read_event().map_err(|e| {
            DataProtectionError::Xml(format!(
                "malformed XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match ev {
            Event::DocType(_) => {
                return Err(DataProtectionError::Xml(
                    "a DTD (<!DOCTYPE>) is not allowed in key-ring XML; remove it".into(),
                ))
            }
            Event::Start(e) => {
                if root.is_some() {
                    return Err(DataProtectionError::Xml(
                        "more than one root element".into(),
                    ));
                }
                admit(stack.len() + 1)?;
                stack.push(start(&e)?);
            }
            Event::Empty(e) => {
                admit(stack.len() + 1)?;
                let el = start(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None if root.is_none() => root = Some(el),
                    None => {
                        return Err(DataProtectionError::Xml(
                            "more than one root element".into(),
                        ))
                    }
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| xml_err("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                } else if !t.xml_content(XmlVersion::Implicit1_0).trim().is_empty() {
                    return Err(xml_err("text outside the root element"));
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(xml_err)? {
                    Some(c) => c,
                    None => match &*r.clone().into_inner() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(DataProtectionError::Xml(format!(
                                "entity reference &{other}; is not allowed in key-ring XML"
                            )))
                        }
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_err("the XML ends before its root element is closed"));
    }
    root.ok_or_else(|| xml_err("no element found"))
}

/// Escapes text for element content or a double-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_attributes_and_text() {
        let e = parse("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<a x=\"1&amp;2\"><!-- c --><b p:y=\"z\" xmlns:p=\"u\">t&lt;&#x41;</b><c/></a>").unwrap();
        assert_eq!(e.attr("x"), Some("1&2"));
        let b = e.child("b").unwrap();
        assert_eq!((b.attr("y"), b.text.as_str()), (Some("z"), "t<A"));
        assert!(e.child("c").is_some());
    }

    #[test]
    fn dtd_and_entities_refused() {
        let e = parse("<!DOCTYPE a [<!ENTITY x \"boom\">]><a>&x;</a>").unwrap_err();
        assert!(e.to_string().contains("DTD"), "{e}");
        let e = parse("<a>&x;</a>").unwrap_err();
        assert!(e.to_string().contains("&x;"), "{e}");
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        // Regression: 150,000 levels (1 MB) overflowed the stack (the tree's recursive drop).
        let nested = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(parse(&nested(150_000)).is_err());
        let deep = nested(140_000);
        assert!(deep.len() < MAX_XML_BYTES);
        let e = parse(&deep).unwrap_err().to_string();
        assert!(e.contains("nested more than 64 levels"), "{e}");
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let over = format!(
            "{}<b/>{}",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert!(parse(&over).unwrap_err().to_string().contains("nested"));
    }

    #[test]
    fn element_count_and_size_are_bounded() {
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        let e = parse(&many).unwrap_err().to_string();
        assert!(e.contains("more than 10000 elements"), "{e}");
        assert!(parse(&format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS - 1))).is_ok());
        let huge = format!("<a>{}</a>", "x".repeat(MAX_XML_BYTES));
        let e = parse(&huge).unwrap_err().to_string();
        assert!(e.contains("bytes of XML") && e.contains("remove it"), "{e}");
    }

    #[test]
    fn hostile_elements_leave_the_rest_of_the_ring_readable() {
        use crate::dataprotection::keyxml::ParsedElements;
        use trousseau_core::Element;
        let key = |id: &str, date: &str| {
            format!(
                "<key id=\"{id}\" version=\"1\"><creationDate>{date}</creationDate>\
                 <activationDate>{date}</activationDate><expirationDate>2026-07-01T00:00:00Z\
                 </expirationDate></key>"
            )
        };
        let good = "ead9607a-7754-4369-a7f4-6696e5713ced";
        let elements = [
            Element::new(
                "deep",
                format!("{}{}", "<key>".repeat(140_000), "</key>".repeat(140_000)),
            ),
            Element::new(
                "bad-date",
                key("0c819c80-6619-4019-9536-53f8aaffee57", "2026-01-0é"),
            ),
            Element::new("good", key(good, "2026-01-01T00:00:00Z")),
        ];
        let parsed = ParsedElements::read(&elements).unwrap();
        let ids: Vec<String> = parsed.keys.iter().map(|(_, k)| k.id.to_string()).collect();
        assert_eq!(ids, [good]);
    }
}
