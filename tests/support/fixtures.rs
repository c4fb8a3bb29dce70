//! Key-ring elements in ASP.NET Core's exact key XML format, as the repositories store them.

/// A 512-bit master key (base64), the same in every fixture.
const MASTER_KEY: &str =
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw==";

/// A `<key>` element exactly as ASP.NET Core 10 writes it, serialised without formatting
/// (`XElement.ToString(SaveOptions.DisableFormatting)`), for key `id`.
pub fn key_xml(id: &str) -> String {
    key_xml_dated(
        id,
        "2026-04-16T16:40:09.6237156Z",
        "2026-04-16T16:40:09.6237156Z",
        "2026-07-15T16:40:09.6237156Z",
    )
}

/// The same `<key>` element with the given creation, activation and expiration dates
/// (`xs:dateTime` text as ASP.NET writes it, e.g. `2026-04-16T16:40:09.6237156Z`).
pub fn key_xml_dated(id: &str, creation: &str, activation: &str, expiration: &str) -> String {
    trousseau_core::testkit::repository::key_xml(id, creation, activation, expiration, MASTER_KEY)
}

/// The same `<key>` element with a line break and indentation between every two tags.
pub fn key_xml_indented(id: &str) -> String {
    key_xml(id).replace("><", ">\n  <")
}

/// A single-key `<revocation>` as ASP.NET Core's `XmlKeyManager` writes it, without formatting.
pub fn revocation_xml(id: &str) -> String {
    format!(
        r#"<revocation version="1"><revocationDate>2026-05-01T10:00:00.1234567Z</revocationDate><key id="{id}" /><reason>compromised laptop</reason></revocation>"#
    )
}

/// A mass `<revocation>` of every key created before the date, as in ASP.NET Core's key-storage
/// format documentation, without formatting.
pub fn mass_revocation_xml() -> String {
    r#"<revocation version="1"><revocationDate>2015-03-20T15:45:45.7366491-07:00</revocationDate><!-- All keys created before the revocation date are revoked. --><key id="*" /><reason>human-readable reason</reason></revocation>"#.into()
}

/// Key id number `n` in canonical form.
pub fn key_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Key `n` ([`key_id`]) as a repository element, named `key-<id>` as ASP.NET names it.
pub fn key_element(n: usize) -> trousseau_core::Element {
    trousseau_core::Element::new(format!("key-{}", key_id(n)), key_xml(&key_id(n)))
}

/// Into an empty `repo`: keys 1 and 2 and a revocation of key 1, one store each; reads them
/// back, asserts they come in that order with their names and text, and returns the snapshot.
pub fn store_and_read_back(repo: &dyn trousseau_core::Repository) -> trousseau_core::Snapshot {
    assert!(repo.load().unwrap().elements().is_empty());
    let revocation = trousseau_core::Element::new(
        format!("revocation-{}", key_id(1)),
        revocation_xml(&key_id(1)),
    );
    let elements = [key_element(1), key_element(2), revocation];
    for e in &elements {
        repo.store(e).unwrap();
    }
    let snapshot = repo.load().unwrap();
    assert_eq!(snapshot.elements(), &elements[..]);
    snapshot
}
