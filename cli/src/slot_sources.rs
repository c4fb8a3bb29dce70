//! Which key sources a new master-key slot is made of: `--source` on the command line, else
//! the node's unlock sources (`--unlock`), else `[[master_key.sources]]` in the configuration,
//! else the zero-config default (`user-account` when that provider is installed, else
//! `password`).

use anyhow::anyhow;
use clap::Args;
use trousseau_core::ProviderKind;

use super::{CliError, Context};
use trousseau::masterkey::SourceSpec;

/// The provider the zero-config default uses when it is installed.
pub const USER_ACCOUNT: &str = "user-account";
/// The fallback of the zero-config default.
pub const PASSWORD: &str = "password";

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

/// Parses one `--source` value into a spec (no public parameters yet).
pub fn parse_source(text: &str) -> anyhow::Result<SourceSpec> {
    let (provider, settings) = text.split_once(':').unwrap_or((text, ""));
    let provider = provider.trim();
    if provider.is_empty() {
        return Err(anyhow!(
            "--source {text:?} names no provider; use PROVIDER or PROVIDER:KEY=VALUE,…"
        ));
    }
    let mut config = serde_json::Map::new();
    for pair in settings.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            anyhow!("--source {text:?}: {pair:?} is not KEY=VALUE (e.g. keyfile:path=/k.keyx)")
        })?;
        insert_dotted(&mut config, key.trim(), value)
            .map_err(|why| anyhow!("--source {text:?}: {key:?} {why}"))?;
    }
    Ok(SourceSpec {
        provider: provider.to_string(),
        config: serde_json::Value::Object(config).to_string(),
        public_params: String::new(),
    })
}

/// Sets `key` (dotted for nested tables: `pin.env`) to the string `value` in `config`; says
/// why not when the key is empty, given twice or both a value and a table.
fn insert_dotted(
    config: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    value: &str,
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
            config.insert(head.to_string(), value.into());
            Ok(())
        }
        Some(rest) => match config
            .entry(head.to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()))
        {
            serde_json::Value::Object(inner) => insert_dotted(inner, rest, value),
            _ => Err("is both a value and a table"),
        },
    }
}

/// A spec in `--source`/`--unlock` syntax (`keyfile:path=/k.keyx`, nested settings dotted), so
/// that what `master-key status` shows can be given back to `--unlock`.
pub fn format_source(spec: &SourceSpec) -> String {
    fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            serde_json::Value::String(s) => out.push(format!("{prefix}={s}")),
            other => out.push(format!("{prefix}={other}")),
        }
    }
    let mut settings = Vec::new();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&spec.config) {
        flatten("", &value, &mut settings);
    }
    if settings.is_empty() {
        spec.provider.clone()
    } else {
        format!("{}:{}", spec.provider, settings.join(","))
    }
}

fn spec(provider: &str, config: String) -> SourceSpec {
    SourceSpec {
        provider: provider.to_string(),
        config,
        public_params: String::new(),
    }
}

/// The zero-config sources: `[user-account]` when that key source is in the registry, else
/// `[password]`.
pub fn default_sources(ctx: &Context) -> Vec<SourceSpec> {
    let user_account = ctx
        .registry
        .provider(USER_ACCOUNT)
        .is_some_and(|p| p.kind() == ProviderKind::KeySource);
    vec![spec(
        if user_account { USER_ACCOUNT } else { PASSWORD },
        "{}".to_string(),
    )]
}

/// `[[master_key.sources]]` as specs (empty when not configured).
pub fn configured(ctx: &Context) -> Vec<SourceSpec> {
    ctx.config
        .master_key
        .sources
        .iter()
        .map(|p| spec(&p.provider, p.settings_json()))
        .collect()
}

/// The sources of a new slot (command line, configuration or default), each checked to be a
/// key source in the registry. Unknown providers are usage errors naming what is available.
pub fn resolve(ctx: &Context, args: &SourceArgs) -> Result<Vec<SourceSpec>, CliError> {
    let (specs, origin) = if !args.sources.is_empty() {
        let specs = args
            .sources
            .iter()
            .map(|s| parse_source(s))
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(CliError::usage)?;
        (specs, "--source")
    } else if !ctx.unlock_sources.is_empty() {
        (ctx.unlock_sources.clone(), "--unlock")
    } else if !ctx.config.master_key.sources.is_empty() {
        (configured(ctx), "[[master_key.sources]]")
    } else {
        return Ok(default_sources(ctx));
    };
    check_key_sources(ctx, &specs, origin)?;
    Ok(specs)
}

/// Checks that every spec names a key source of the registry; otherwise a usage error saying
/// where it was named (`origin`: `--source`, `--unlock`, `[[master_key.sources]]`) and which
/// key sources are available.
pub fn check_key_sources(
    ctx: &Context,
    specs: &[SourceSpec],
    origin: &str,
) -> Result<(), CliError> {
    for s in specs {
        match ctx.registry.provider(&s.provider) {
            Some(p) if p.kind() == ProviderKind::KeySource => {}
            found => {
                let available: Vec<&str> = ctx
                    .registry
                    .providers()
                    .filter(|p| p.kind() == ProviderKind::KeySource)
                    .map(|p| p.id())
                    .collect();
                return Err(CliError::usage(anyhow!(
                    "{origin}: {:?} is {}; available key sources: {} (plugins are listed by \
                     `trousseau plugins list`)",
                    s.provider,
                    if found.is_some() {
                        "not a key source"
                    } else {
                        "unknown"
                    },
                    available.join(", ")
                )));
            }
        }
    }
    Ok(())
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
}
