//! How the commands that report state print it: `--json` documents (one schema per command,
//! written down in `docs/cli-json.md`; dates as RFC 3339 strings in UTC) and, for people,
//! dates as `2026-05-01 10:11:12 UTC`. The parts shared by several documents — a date, a KDF,
//! a key source — are made here once.

use anyhow::Context as _;
use serde_json::{json, Value};
use trousseau::{
    dataprotection::timestamp::Timestamp,
    masterkey::{Argon2Variant, KdfParams, SourceSpec},
};

use super::CliError;

/// Prints `doc` on standard output, indented, with a final newline.
pub fn print_json(doc: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(doc)
        .context("cannot write the JSON output")
        .map_err(CliError::failed)?;
    println!("{text}");
    Ok(())
}

/// A date in a JSON document: RFC 3339 in UTC with up to seven fractional digits, e.g.
/// `2026-05-01T10:11:12.1234567Z`.
pub fn json_date(t: Timestamp) -> Value {
    Value::String(t.to_string())
}

/// A date for people: `2026-05-01 10:11:12 UTC` (to the second).
pub fn human_date(t: Timestamp) -> String {
    // The RFC 3339 form is `yyyy-MM-ddTHH:mm:ss[.f…]Z`: date and time are its first 19 bytes.
    let text = t.to_string();
    match (text.get(..10), text.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

/// A KDF in a JSON document: `algorithm` (`argon2id`, `argon2d`, `aes-kdf`), the parameters
/// of that algorithm (the others `null`) and `summary`, as people read it. The salt or seed
/// is left out.
pub fn kdf_json(kdf: &KdfParams) -> Value {
    match kdf {
        KdfParams::AesKdf { rounds, .. } => json!({
            "algorithm": "aes-kdf",
            "rounds": rounds,
            "memory_kib": null,
            "iterations": null,
            "parallelism": null,
            "version": null,
            "summary": kdf.summary(),
        }),
        KdfParams::Argon2 {
            variant,
            memory_kib,
            iterations,
            parallelism,
            version,
            ..
        } => json!({
            "algorithm": match variant {
                Argon2Variant::D => "argon2d",
                Argon2Variant::Id => "argon2id",
            },
            "rounds": null,
            "memory_kib": memory_kib,
            "iterations": iterations,
            "parallelism": parallelism,
            "version": version,
            "summary": kdf.summary(),
        }),
    }
}

/// A key source in a JSON document: `provider`, `config` (its settings, a JSON object) and
/// `public_params` (what enrollment recorded, a JSON value; `null` when nothing was). Settings
/// or parameters that are not JSON (a plugin's own text) are kept as a string.
pub fn source_json(spec: &SourceSpec) -> Value {
    let parse = |text: &str| match text.trim() {
        "" => Value::Null,
        t => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
    };
    let config = match parse(&spec.config) {
        Value::Null => json!({}),
        v => v,
    };
    json!({
        "provider": spec.provider,
        "config": config,
        "public_params": parse(&spec.public_params),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_for_people_and_for_json() {
        let t = Timestamp::parse("2026-05-01T10:11:12.1234567Z").unwrap();
        assert_eq!(human_date(t), "2026-05-01 10:11:12 UTC");
        assert_eq!(json_date(t), json!("2026-05-01T10:11:12.1234567Z"));
        let t = Timestamp::parse("2026-05-01T10:11:12Z").unwrap();
        assert_eq!(human_date(t), "2026-05-01 10:11:12 UTC");
    }

    #[test]
    fn a_source_config_is_a_nested_object_not_a_string() {
        let spec = SourceSpec {
            provider: "keyfile".into(),
            config: r#"{"path":"/k.keyx"}"#.into(),
            public_params: r#"{"check":"ab"}"#.into(),
        };
        let v = source_json(&spec);
        assert_eq!(v["config"]["path"], "/k.keyx");
        assert_eq!(v["public_params"]["check"], "ab");
        let bare = source_json(&SourceSpec::new("password"));
        assert_eq!(bare["config"], json!({}));
        assert_eq!(bare["public_params"], Value::Null);
    }

    #[test]
    fn kdf_documents_have_the_same_members_whatever_the_algorithm() {
        let argon = kdf_json(&KdfParams::new_default());
        let aes = kdf_json(&KdfParams::AesKdf {
            rounds: 60_000,
            seed: [0; 32],
        });
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&argon), keys(&aes));
        assert_eq!(argon["algorithm"], "argon2id");
        assert_eq!(aes["rounds"], 60_000);
    }
}
