//! The key ring over rows, the same for every database: bounded reads, the version token, the
//! conditional store and deletion by name, written against [`Tx`], one transaction of a
//! backend.

use sha2::{Digest, Sha256};
use trousseau_core::{Element, Error, ErrorCode, Result, Snapshot};

/// What each row counts for towards `max_ring_bytes` beyond its text, so that millions of
/// tiny rows are refused as surely as a few huge ones.
pub(crate) const ROW_OVERHEAD: u64 = 256;

/// How much of the table a load accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Sum over the rows of their text's length plus [`ROW_OVERHEAD`].
    pub(crate) ring: u64,
    /// Length of one row's text (friendly name plus XML).
    pub(crate) element: u64,
}

/// The table's size, measured by the database before any row is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Measure {
    /// Number of rows.
    pub(crate) rows: u64,
    /// Bytes of text in all.
    pub(crate) bytes: u64,
    /// The smallest `Id` of a row over the element limit.
    pub(crate) oversized: Option<i64>,
    /// The largest row's text, in bytes.
    pub(crate) largest: u64,
}

/// A count from the database as an unsigned number (never negative).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// One row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: i64,
    pub(crate) name: Option<String>,
    pub(crate) xml: Option<String>,
}

/// One transaction of a backend. Errors are already mapped, naming the repository.
pub(crate) trait Tx {
    /// Measures the table (see [`Measure`]); rows over `max_element` bytes are flagged.
    fn measure(&mut self, max_element: u64) -> Result<Measure>;
    /// Every row, by `Id`.
    fn rows(&mut self) -> Result<Vec<Row>>;
    /// Inserts a row; returns its `Id`.
    fn insert(&mut self, name: &str, xml: &str) -> Result<i64>;
    /// Deletes the rows with this friendly name.
    fn delete_named(&mut self, name: &str) -> Result<()>;
    /// Deletes row `id` if it has no friendly name.
    fn delete_unnamed(&mut self, id: i64) -> Result<()>;
}

/// Every row, once the database said the table is within `limits`.
pub(crate) fn read(tx: &mut dyn Tx, limits: Limits, location: &str) -> Result<Vec<Row>> {
    let m = tx.measure(limits.element)?;
    let fix = "delete the rows that do not belong there, or raise";
    if let Some(id) = m.oversized {
        return Err(Error::new(
            ErrorCode::CorruptData,
            format!(
                "the sql repository {location}: the row with Id {id} holds more than the {} \
                 bytes an element may be (the largest row holds {} bytes; elements are a few \
                 KB); {fix} `max_element_bytes` if it is a real element",
                limits.element, m.largest
            ),
        ));
    }
    let total = m.bytes.saturating_add(m.rows.saturating_mul(ROW_OVERHEAD));
    if total > limits.ring {
        return Err(Error::new(
            ErrorCode::CorruptData,
            format!(
                "the sql repository {location}: the table's {} rows hold {total} bytes \
                 (counting {ROW_OVERHEAD} bytes per row besides its text), more than \
                 `max_ring_bytes` ({}); {fix} `max_ring_bytes` if the ring is really that large",
                m.rows, limits.ring
            ),
        ));
    }
    tx.rows()
}

/// The version token: SHA-256 over every row, each field preceded by its length (NULL
/// distinct from empty).
pub(crate) fn version(rows: &[Row]) -> String {
    let mut hash = Sha256::new();
    for row in rows {
        hash.update(row.id.to_be_bytes());
        for field in [&row.name, &row.xml] {
            match field {
                None => hash.update([0]),
                Some(text) => {
                    hash.update([1]);
                    hash.update((text.len() as u64).to_be_bytes());
                    hash.update(text.as_bytes());
                }
            }
        }
    }
    hex::encode(hash.finalize())
}

/// The name a load gives a row without a friendly name.
fn unnamed(id: i64) -> String {
    format!("row-{id}")
}

/// The snapshot of `rows`: rows with XML, in `Id` order (rows without XML are skipped, as
/// ASP.NET skips them), and the version of all of them.
pub(crate) fn snapshot(rows: Vec<Row>) -> Snapshot {
    let version = version(&rows);
    let elements = rows
        .into_iter()
        .filter_map(|row| {
            let xml = row.xml.filter(|x| !x.is_empty())?;
            let name = row
                .name
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| unnamed(row.id));
            Some(Element::new(name, xml))
        })
        .collect();
    Snapshot::new(elements, version)
}

/// Refuses an element a load would refuse.
pub(crate) fn check_size(element: &Element, limits: Limits, location: &str) -> Result<()> {
    let len = (element.name().len() + element.xml().len()) as u64;
    if len > limits.element {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the sql repository {location}: element {} is {len} bytes (name and XML), more \
                 than `max_element_bytes` ({}); nodes would refuse to load it",
                element.name(),
                limits.element
            ),
        ));
    }
    Ok(())
}

/// Inserts `elements` in order.
pub(crate) fn insert_all(tx: &mut dyn Tx, elements: &[Element]) -> Result<Vec<Row>> {
    elements
        .iter()
        .map(|e| {
            Ok(Row {
                id: tx.insert(e.name(), e.xml())?,
                name: Some(e.name().to_string()),
                xml: Some(e.xml().to_string()),
            })
        })
        .collect()
}

/// Inside a transaction that excludes other writers: stores `elements` if the table's version
/// is `expected`, and returns the new version; otherwise [`ErrorCode::Conflict`].
pub(crate) fn store_if(
    tx: &mut dyn Tx,
    limits: Limits,
    location: &str,
    expected: &str,
    elements: &[Element],
) -> Result<String> {
    let mut rows = read(tx, limits, location)?;
    if version(&rows) != expected {
        return Err(Error::new(
            ErrorCode::Conflict,
            format!(
                "the sql repository {location} changed since it was read; read it again and retry"
            ),
        ));
    }
    rows.extend(insert_all(tx, elements)?);
    // A row inserted with an explicit high Id sorts after ours: the version is over Id order.
    rows.sort_by_key(|r| r.id);
    Ok(version(&rows))
}

/// Deletes the elements a load named `names`.
pub(crate) fn delete(tx: &mut dyn Tx, names: &[String]) -> Result<()> {
    for name in names {
        tx.delete_named(name)?;
        if let Some(id) = name.strip_prefix("row-").and_then(|n| n.parse().ok()) {
            tx.delete_unnamed(id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, name: Option<&str>, xml: Option<&str>) -> Row {
        Row {
            id,
            name: name.map(String::from),
            xml: xml.map(String::from),
        }
    }

    #[test]
    fn version_separates_fields_and_null_from_empty() {
        let a = version(&[row(1, Some("ab"), Some("c"))]);
        assert_ne!(a, version(&[row(1, Some("a"), Some("bc"))]));
        assert_ne!(a, version(&[row(2, Some("ab"), Some("c"))]));
        assert_ne!(
            version(&[row(1, None, Some("x"))]),
            version(&[row(1, Some(""), Some("x"))])
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn snapshot_skips_rows_without_xml_and_names_unnamed_rows() {
        let s = snapshot(vec![
            row(1, Some("key-a"), Some("<key/>")),
            row(2, Some("key-b"), None),
            row(3, None, Some("<x/>")),
            row(4, Some(""), Some("")),
        ]);
        let names: Vec<&str> = s.elements().iter().map(Element::name).collect();
        assert_eq!(names, ["key-a", "row-3"]);
    }
}
