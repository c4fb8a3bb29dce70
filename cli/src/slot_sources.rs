//! Which key sources a new master-key slot is made of: `--source` on the command line, else
//! the node's unlock sources (`--unlock`), else `[[master_key.sources]]` in the configuration,
//! else the zero-config default (`user-account` when that provider is installed, else
//! `password`).

use super::{spec, CliError, Context};
use clap::Args;
use trousseau::masterkey::SourceSpec;

/// `--source` for the commands that create a slot.
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// A key source of the new slot (repeatable, in order): `PROVIDER` or
    /// `PROVIDER:KEY=VALUE[,KEY=VALUE…]` (values are strings; a dotted key sets a member of a
    /// table, e.g. `pin.env=TOKEN_PIN` gives `"pin": {"env": "TOKEN_PIN"}`), e.g. `--source
    /// password --source keyfile:path=/k.keyx --source
    /// pkcs11:module=/usr/lib/softhsm/libsofthsm2.so,token_label=T,pin.env=TOKEN_PIN`.
    /// Default: `--unlock`, else `[[master_key.sources]]` from the configuration, else
    /// `user-account` when installed, else `password`.
    #[arg(long = "source", value_name = "SPEC")]
    pub sources: Vec<String>,
}

/// How `--source` is written, for error messages.
const SOURCE_FLAG: spec::Flag = spec::Flag {
    name: "--source",
    example: "keyfile:path=/k.keyx",
};

/// Parses one `--source` value into a spec (no public parameters yet); the syntax is
/// [`spec::parse`]'s, every value a string.
pub fn parse_source(text: &str) -> anyhow::Result<SourceSpec> {
    let parsed = spec::parse(text, SOURCE_FLAG, spec::Values::Strings)?;
    Ok(SourceSpec {
        provider: parsed.provider,
        config: serde_json::Value::Object(parsed.settings).to_string(),
        public_params: String::new(),
    })
}

/// A spec in `--source`/`--unlock` syntax (`keyfile:path=/k.keyx`, nested settings dotted), so
/// that what `master-key status` shows can be given back to `--unlock`.
pub fn format_source(spec: &SourceSpec) -> String {
    let settings =
        serde_json::from_str::<serde_json::Value>(&spec.config).unwrap_or(serde_json::Value::Null);
    spec::format(&spec.provider, &settings, spec::Values::Strings)
}

/// `[[master_key.sources]]` as specs (empty when not configured).
pub fn configured(ctx: &Context) -> Vec<SourceSpec> {
    ctx.config
        .master_key
        .sources
        .iter()
        .map(|p| SourceSpec::with_config(&p.provider, &p.settings_json()))
        .collect()
}

/// The sources of a new slot: `--source`, else the engine's choice for new rings (`--unlock`,
/// else `[[master_key.sources]]`, else the zero-configuration default). Unknown providers are
/// usage errors naming what is available.
pub fn resolve(ctx: &Context, args: &SourceArgs) -> Result<Vec<SourceSpec>, CliError> {
    if args.sources.is_empty() {
        return Ok(super::ring::opener(ctx, Vec::new())?.new_ring_sources());
    }
    let specs = args
        .sources
        .iter()
        .map(|s| parse_source(s))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(CliError::usage)?;
    check_key_sources(ctx, &specs, "--source:")?;
    Ok(specs)
}

/// Whether a spec's settings are empty (`{}` or nothing): such a source needs no node-local
/// settings, so the slot's recorded spec can be used again as is.
fn settings_free(config: &str) -> bool {
    let config = config.trim();
    config.is_empty()
        || serde_json::from_str::<serde_json::Value>(config)
            .is_ok_and(|v| v == serde_json::json!({}))
}

/// The sources of a slot that replaces one made of `old` (a slot's recorded specs) when no
/// `--source` is given: the same providers in the same order, each with this node's settings
/// for it (the first unused unlock source of that provider in `unlock`), else the recorded
/// spec when it has no settings (`password`, `user-account`). A source with settings that this
/// node does not unlock with is an error naming `--unlock` and `--source`: its settings (a key
/// file's path, a token's module) are the node's, never taken from the ring.
pub fn keep(old: &[SourceSpec], unlock: &[SourceSpec]) -> anyhow::Result<Vec<SourceSpec>> {
    let mut used = vec![false; unlock.len()];
    old.iter()
        .map(|s| {
            let local = unlock
                .iter()
                .enumerate()
                .position(|(i, u)| !used[i] && u.provider == s.provider);
            if let Some(i) = local {
                used[i] = true;
                return Ok(SourceSpec::with_config(
                    &unlock[i].provider,
                    &unlock[i].config,
                ));
            }
            if settings_free(&s.config) {
                return Ok(SourceSpec::new(&s.provider));
            }
            let recorded = SourceSpec::with_config(&s.provider, &s.config);
            anyhow::bail!(
                "the replaced slot has a {} source with settings that this node does not \
                 unlock with ({}); give them with --unlock {}, or choose the new slot's \
                 sources with --source",
                s.provider,
                format_source(&recorded),
                format_source(&recorded)
            )
        })
        .collect()
}

/// Whether a slot of `new` is weaker than one of `old`: some source kind of `old` (counted
/// with repeats) is missing from `new`, i.e. `new` has fewer or different kinds.
pub fn weaker(old: &[SourceSpec], new: &[SourceSpec]) -> bool {
    let mut left: Vec<&str> = new.iter().map(|s| s.provider.as_str()).collect();
    old.iter()
        .any(|s| match left.iter().position(|p| *p == s.provider) {
            Some(i) => {
                left.swap_remove(i);
                false
            }
            None => true,
        })
}

/// Checks that every spec names an installed key source; otherwise a usage error saying where
/// it was named (`origin`: `--source`, `--unlock`, `[[master_key.sources]]`) and which key
/// sources are available.
pub fn check_key_sources(
    ctx: &Context,
    specs: &[SourceSpec],
    origin: &str,
) -> Result<(), CliError> {
    trousseau::ring::check_key_sources(&ctx.registry, specs, origin).map_err(CliError::usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_arguments_become_provider_json() {
        let s = parse_source("keyfile:path=/k.keyx,create=xml2").unwrap();
        assert_eq!(s.provider, "keyfile");
        let v: serde_json::Value = serde_json::from_str(&s.config).unwrap();
        assert_eq!(v["path"], "/k.keyx");
        assert_eq!(v["create"], "xml2");
        assert_eq!(parse_source("password").unwrap().config, "{}");
        assert!(parse_source(":path=/x").is_err());
        let e = parse_source("keyfile:path").unwrap_err().to_string();
        assert!(e.contains("not KEY=VALUE"), "{e}");
        assert!(parse_source("keyfile:path=a,path=b").is_err());
    }

    #[test]
    fn formatted_sources_parse_back() {
        for text in [
            "password",
            "keyfile:path=/k.keyx",
            "pkcs11:module=/m.so,pin.env=PIN,token_label=T",
        ] {
            let spec = parse_source(text).unwrap();
            assert_eq!(parse_source(&format_source(&spec)).unwrap(), spec, "{text}");
        }
    }

    #[test]
    fn dotted_keys_make_nested_tables() {
        let s = parse_source("pkcs11:module=/m.so,pin.env=PIN,pin.x.y=z").unwrap();
        let v: serde_json::Value = serde_json::from_str(&s.config).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"module": "/m.so", "pin": {"env": "PIN", "x": {"y": "z"}}})
        );
        for (bad, why) in [
            ("pkcs11:pin.env=X,pin=1", "given twice"),
            ("pkcs11:pin.env=X,pin.env=Y", "given twice"),
            ("pkcs11:pin.=X", "empty name"),
            ("pkcs11:.env=X", "empty name"),
        ] {
            let e = parse_source(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = parse_source("pkcs11:pin=1,pin.env=X")
            .unwrap_err()
            .to_string();
        assert!(e.contains("both a value and a table"), "{e}");
    }

    #[test]
    fn kept_sources_use_unlock_settings_or_settings_free_records() {
        let old = vec![
            SourceSpec::new("password"),
            parse_source("keyfile:path=/old.keyx").unwrap(),
        ];
        let unlock = vec![parse_source("keyfile:path=/node.keyx").unwrap()];
        let kept = keep(&old, &unlock).unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!(
            (kept[0].provider.as_str(), kept[0].config.as_str()),
            ("password", "{}")
        );
        assert_eq!(kept[1], unlock[0]);
        let e = keep(&old, &[]).unwrap_err().to_string();
        assert!(
            e.contains("--unlock keyfile:path=/old.keyx") && e.contains("--source"),
            "{e}"
        );
        let mut recorded = SourceSpec::new("password");
        recorded.public_params = "{\"x\":1}".to_string();
        assert_eq!(
            keep(&[recorded], &[]).unwrap(),
            vec![SourceSpec::new("password")]
        );
    }

    #[test]
    fn weaker_means_fewer_or_different_kinds() {
        let s = |names: &[&str]| names.iter().map(|n| SourceSpec::new(n)).collect::<Vec<_>>();
        assert!(weaker(&s(&["password"]), &s(&["user-account"])));
        assert!(weaker(&s(&["password", "keyfile"]), &s(&["keyfile"])));
        assert!(weaker(&s(&["password", "password"]), &s(&["password"])));
        assert!(!weaker(&s(&["password"]), &s(&["password"])));
        assert!(!weaker(&s(&["password"]), &s(&["keyfile", "password"])));
    }
}
