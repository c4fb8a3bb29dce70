//! The `PROVIDER[:KEY=VALUE,…]` syntax shared by `--source`, `--unlock` and `--repository`:
//! one parser and one printer, so that every option naming a provider and its settings is
//! written the same way and what the tool prints can be given back to it.
//!
//! A dotted key sets a member of a table (`pin.env=PIN` gives `"pin": {"env": "PIN"}`). Key
//! sources take every value as a string; a repository's settings are the `[repository]` table
//! of the configuration file, where booleans and numbers are written bare, so there `true`,
//! `false` and whole numbers are typed as TOML would type them, and double quotes keep a value
//! a string ([`Values::Typed`]).

use anyhow::anyhow;
use serde_json::{Map, Value};

/// How the values of a spec are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Every value is a string (key sources: `--source`, `--unlock`).
    Strings,
    /// `true` and `false` are booleans, a whole number in its plain decimal form (`2000`,
    /// `-1`; not `007` or `+1`) is a number, a value in double quotes is the string inside
    /// them (`key="2024"`), anything else is a string (`--repository`).
    Typed,
}

/// Where a spec was given and what it looks like, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The option, e.g. `--source`.
    pub name: &'static str,
    /// A valid example, e.g. `keyfile:path=/k.keyx`.
    pub example: &'static str,
}

/// A parsed spec: the provider id and its settings as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The provider id (trimmed, never empty).
    pub provider: String,
    /// The settings, nested by dotted keys.
    pub settings: Map<String, Value>,
}

/// Parses `text` (`PROVIDER` or `PROVIDER:KEY=VALUE[,KEY=VALUE…]`). Errors name `flag`, the
/// text, what is wrong and the expected form.
pub fn parse(text: &str, flag: Flag, values: Values) -> anyhow::Result<Spec> {
    let name = flag.name;
    let (provider, settings) = text.split_once(':').unwrap_or((text, ""));
    let provider = provider.trim();
    if provider.is_empty() {
        return Err(anyhow!(
            "{name} {text:?} names no provider; use PROVIDER or PROVIDER:KEY=VALUE,… (e.g. \
             {name} {})",
            flag.example
        ));
    }
    let mut config = Map::new();
    for pair in settings.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            anyhow!(
                "{name} {text:?}: {pair:?} is not KEY=VALUE; use PROVIDER:KEY=VALUE,… (e.g. \
                 {})",
                flag.example
            )
        })?;
        let value = match values {
            Values::Strings => Value::String(value.to_string()),
            Values::Typed => typed(value),
        };
        insert_dotted(&mut config, key.trim(), value)
            .map_err(|why| anyhow!("{name} {text:?}: {key:?} {why}"))?;
    }
    Ok(Spec {
        provider: provider.to_string(),
        settings: config,
    })
}

/// A [`Values::Typed`] value.
fn typed(value: &str) -> Value {
    if let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        return Value::String(inner.to_string());
    }
    match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => match value.parse::<i64>() {
            Ok(n) if n.to_string() == value => Value::from(n),
            _ => Value::String(value.to_string()),
        },
    }
}

/// Whether a string would be read back as something else than itself with `values`.
fn needs_quotes(s: &str, values: Values) -> bool {
    values == Values::Typed && typed(s) != Value::String(s.to_string())
}

/// Sets `key` (dotted for nested tables: `pin.env`) to `value` in `config`; says why not when
/// the key is empty, given twice or both a value and a table.
fn insert_dotted(
    config: &mut Map<String, Value>,
    key: &str,
    value: Value,
) -> Result<(), &'static str> {
    let (head, rest) = match key.split_once('.') {
        Some((head, rest)) => (head.trim(), Some(rest.trim())),
        None => (key, None),
    };
    if head.is_empty() || rest.is_some_and(str::is_empty) {
        return Err("has an empty name");
    }
    match rest {
        None if config.contains_key(head) => Err("is given twice"),
        None => {
            config.insert(head.to_string(), value);
            Ok(())
        }
        Some(rest) => match config
            .entry(head.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(inner) => insert_dotted(inner, rest, value),
            _ => Err("is both a value and a table"),
        },
    }
}

/// `provider` and its `settings` (a JSON object; anything else is left out) in spec syntax,
/// nested settings dotted, which [`parse`] with the same `values` reads back.
pub fn format(provider: &str, settings: &Value, values: Values) -> String {
    fn flatten(prefix: &str, value: &Value, values: Values, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, values, out);
                }
            }
            Value::String(s) if needs_quotes(s, values) => out.push(format!("{prefix}=\"{s}\"")),
            Value::String(s) => out.push(format!("{prefix}={s}")),
            other => out.push(format!("{prefix}={other}")),
        }
    }
    let mut parts = Vec::new();
    if settings.is_object() {
        flatten("", settings, values, &mut parts);
    }
    if parts.is_empty() {
        provider.to_string()
    } else {
        format!("{provider}:{}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: Flag = Flag {
        name: "--repository",
        example: "filesystem:directory=/var/keys",
    };

    #[test]
    fn typed_values_are_booleans_and_whole_numbers_unless_quoted() {
        let s = parse(
            "blob:emulator=true,anonymous=false,timeout_ms=2000,container=\"2024\",blob=007,\
             endpoint=http://h:1/?a=b,region=-1.5",
            REPO,
            Values::Typed,
        )
        .unwrap();
        assert_eq!(s.provider, "blob");
        assert_eq!(
            Value::Object(s.settings),
            serde_json::json!({
                "emulator": true, "anonymous": false, "timeout_ms": 2000, "container": "2024",
                "blob": "007", "endpoint": "http://h:1/?a=b", "region": "-1.5"
            })
        );
        let s = parse("x:n=2000", REPO, Values::Strings).unwrap();
        assert_eq!(s.settings["n"], "2000");
    }

    #[test]
    fn typed_specs_print_and_parse_back() {
        for text in [
            "redis",
            "redis:key=K,url=redis+unix:///tmp/r.sock",
            "blob:container=\"2024\",emulator=true,timeout_ms=5,x.y=\"false\"",
        ] {
            let s = parse(text, REPO, Values::Typed).unwrap();
            let printed = format(
                &s.provider,
                &Value::Object(s.settings.clone()),
                Values::Typed,
            );
            assert_eq!(parse(&printed, REPO, Values::Typed).unwrap(), s, "{text}");
        }
    }

    #[test]
    fn malformed_specs_say_the_expected_form() {
        let e = parse(":directory=/k", REPO, Values::Typed)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("names no provider; use PROVIDER or PROVIDER:KEY=VALUE")
                && e.contains("--repository filesystem:directory=/var/keys"),
            "{e}"
        );
        let e = parse("redis:url", REPO, Values::Typed)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"url\" is not KEY=VALUE; use PROVIDER:KEY=VALUE"),
            "{e}"
        );
    }
}
