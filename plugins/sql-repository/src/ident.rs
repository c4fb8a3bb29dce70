//! SQL identifiers from the configuration (table, schema): validated, then quoted.
//!
//! Values never go into statement text (they are parameters); identifiers cannot be
//! parameters, so they are restricted to ASCII letters, digits, `_` and `-` (starting with a
//! letter or `_`; EF Core schemas such as `keys-prod` occur) and always written double-quoted,
//! which keeps their case as EF Core does and makes `-` part of the name.

/// The longest accepted identifier: PostgreSQL's limit is 63 bytes, and the primary key's
/// constraint is named `PK_<table>`.
const MAX_LEN: usize = 60;

/// A validated identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident(String);

impl Ident {
    /// Checks `name`; the error says what is wrong, for a message about the setting.
    pub(crate) fn new(name: &str) -> Result<Ident, String> {
        let mut chars = name.chars();
        let valid_start = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!(
                "{name:?} is not a plain identifier: use ASCII letters, digits, `_` and `-`, \
                 starting with a letter or `_`"
            ));
        }
        if name.len() > MAX_LEN {
            return Err(format!("{name:?} is longer than {MAX_LEN} characters"));
        }
        Ok(Ident(name.to_string()))
    }

    /// The name as given.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in double quotes, for statement text.
    pub(crate) fn quoted(&self) -> String {
        // No quote can be inside: only letters, digits, `_` and `-` pass `new`.
        format!("\"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_pass() {
        for good in [
            "DataProtectionKeys",
            "_x",
            "ring_2",
            "keys-prod",
            &"a".repeat(MAX_LEN),
        ] {
            assert_eq!(Ident::new(good).unwrap().quoted(), format!("\"{good}\""));
        }
        for bad in [
            "",
            "2keys",
            "-keys",
            "a\"b",
            "a;DROP TABLE x",
            "ключи",
            "a b",
            &"a".repeat(MAX_LEN + 1),
        ] {
            assert!(Ident::new(bad).is_err(), "{bad:?}");
        }
    }
}
