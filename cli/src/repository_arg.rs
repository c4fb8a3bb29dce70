//! The key ring's options — `--repository SPEC` (and how it overrides the configuration
//! file's `[repository]` table) and `--unlock SPEC` — and where they appear: under their own
//! help heading, on the commands that use a key ring only ([`OnRing`], [`RingCommand`]), and
//! before the command name, where every command accepts them but only a command that uses a
//! ring takes them ([`RingArgs::merge`]).
//!
//! The spec is written as `--source` is (`PROVIDER[:KEY=VALUE,…]`, see [`crate::spec`]), with
//! the keys of the provider's `[repository]` settings, so that any repository, a plugin's
//! included, is chosen and configured the same way and the tool knows no provider's settings.
//! Naming the file's provider keeps the file's settings and the spec's keys override theirs
//! (dotted keys member by member); naming another provider replaces the table.

use anyhow::anyhow;
use clap::{Args, Subcommand};

use trousseau::config::ProviderConfig;

use super::{spec, CliError};

/// How `--repository` is written, for error messages.
const FLAG: spec::Flag = spec::Flag {
    name: "--repository",
    example: "filesystem:directory=/var/keys",
};

/// The help heading of the key ring's options.
pub const HEADING: &str = "Key ring";

/// The options choosing and opening the key ring.
#[derive(Debug, Default, Clone, Args)]
pub struct RingArgs {
    /// `--repository`.
    #[command(flatten)]
    pub repository: RepositoryArg,
    /// A key source this node opens an encrypted key ring with (repeatable, in order), written
    /// as `--source` is: `PROVIDER[:KEY=VALUE,…]`, e.g. `--unlock password --unlock
    /// keyfile:path=/k.keyx`. Overrides `[[master_key.sources]]`. Where a source's files,
    /// devices and programs are is taken only from here or the configuration, never from the
    /// key ring.
    #[arg(long = "unlock", value_name = "SPEC", help_heading = HEADING)]
    pub unlock: Vec<String>,
}

impl RingArgs {
    /// Whether none of the options was given.
    pub fn is_empty(&self) -> bool {
        self.repository.spec.is_none() && self.unlock.is_empty()
    }

    /// The options given before the command name (`self`) joined with those given after it
    /// (`after`; `None`: `command` does not use a key ring, so options before it are a usage
    /// error rather than silently ignored). `--unlock` values keep their order, those before
    /// the command first; `--repository` may be given once. In a [`RingCommand`] group the
    /// options are global, so the parser has already given both sides the same values (the
    /// last `--repository` given wins there).
    pub fn merge(self, after: Option<RingArgs>, command: &str) -> Result<RingArgs, CliError> {
        let after = match after {
            None if self.is_empty() => return Ok(self),
            None => {
                let flag = if self.repository.spec.is_some() {
                    "--repository"
                } else {
                    "--unlock"
                };
                return Err(CliError::usage(anyhow!(
                    "{flag} is for the commands that use a key ring (init, protect, unprotect, \
                     keys, master-key); `trousseau {command}` does not use one, so leave {flag} \
                     out"
                )));
            }
            Some(after)
                if after.repository.spec == self.repository.spec && after.unlock == self.unlock =>
            {
                return Ok(after)
            }
            Some(after) => after,
        };
        let repository = match (self.repository.spec, after.repository.spec) {
            (Some(_), Some(_)) => {
                return Err(CliError::usage(anyhow!(
                    "--repository is given twice (before and after the command name); give it \
                     once"
                )))
            }
            (a, b) => RepositoryArg { spec: a.or(b) },
        };
        let mut unlock = self.unlock;
        unlock.extend(after.unlock);
        Ok(RingArgs { repository, unlock })
    }
}

/// A command that uses a key ring: its own options, and the key ring's under their heading.
#[derive(Debug, Args)]
pub struct OnRing<A: Args> {
    /// The key ring's options.
    #[command(flatten)]
    pub ring: RingArgs,
    /// The command's own.
    #[command(flatten)]
    pub args: A,
}

/// A group of commands that use a key ring (`keys`, `master-key`): the key ring's options,
/// given after the group's name or after the command's (see [`global`]).
#[derive(Debug, Args)]
pub struct RingCommand<C: Subcommand> {
    /// The key ring's options.
    #[command(flatten)]
    pub ring: RingArgs,
    /// The command.
    #[command(subcommand)]
    pub command: C,
}

/// Makes a key-ring option of a [`RingCommand`] global, so that each command of the group
/// shows and accepts it: `#[command(mut_arg("repository", global), mut_arg("unlock",
/// global))]`.
pub fn global(arg: clap::Arg) -> clap::Arg {
    arg.global(true)
}

/// The option choosing and configuring the key-ring repository.
#[derive(Debug, Default, Clone, Args)]
pub struct RepositoryArg {
    /// The key-ring repository, written as --source is: `PROVIDER[:KEY=VALUE,…]` with the
    /// provider's [repository] settings (`trousseau plugins inspect PROVIDER` lists them), e.g.
    /// `--repository filesystem:directory=/var/keys`, `--repository
    /// redis:url=redis+unix:///run/redis.sock,key=DataProtection-Keys`, `--repository
    /// blob:service=s3,container=keys,blob=keys.xml,region=eu-west-1`. A dotted key sets a
    /// member of a table; `true`, `false` and whole numbers are booleans and numbers
    /// (`connect_timeout_ms=2000`), a value in double quotes stays a string (`key="2024"`);
    /// values cannot hold commas. The provider of the configuration file's [repository] keeps
    /// the file's settings, the spec's keys overriding theirs; another provider replaces the
    /// table. Secrets never go here, where other users see them in the process list: name
    /// environment variables instead (`redis:password_env=REDIS_PASSWORD`,
    /// `blob:sas_env=SAS`).
    #[arg(
        long = "repository",
        id = "repository",
        value_name = "SPEC",
        help_heading = HEADING
    )]
    pub spec: Option<String>,
}

impl RepositoryArg {
    /// The repository after applying the spec to `file` (the configuration file's table). A
    /// malformed spec is a usage error saying the expected form; whether the provider exists
    /// is checked later, with the registry.
    pub fn apply(&self, file: Option<&ProviderConfig>) -> Result<Option<ProviderConfig>, CliError> {
        let Some(text) = &self.spec else {
            return Ok(file.cloned());
        };
        let parsed = spec::parse(text, FLAG, spec::Values::Typed).map_err(CliError::usage)?;
        let mut settings = match file {
            Some(f) if f.provider == parsed.provider => f.settings.clone(),
            _ => toml::Table::new(),
        };
        for (key, value) in parsed.settings {
            let value = toml::Value::try_from(value).map_err(CliError::usage)?;
            merge(&mut settings, key, value);
        }
        Ok(Some(ProviderConfig {
            provider: parsed.provider,
            settings,
        }))
    }
}

/// Sets `key` to `value` in `table`; when both are tables, member by member.
fn merge(table: &mut toml::Table, key: String, value: toml::Value) {
    match (table.get_mut(&key), value) {
        (Some(toml::Value::Table(old)), toml::Value::Table(new)) => {
            for (k, v) in new {
                merge(old, k, v);
            }
        }
        (_, value) => {
            table.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(provider: &str, settings: &str) -> ProviderConfig {
        ProviderConfig {
            provider: provider.into(),
            settings: toml::from_str(settings).unwrap(),
        }
    }

    fn arg(spec: &str) -> RepositoryArg {
        RepositoryArg {
            spec: Some(spec.into()),
        }
    }

    fn applied(spec: &str, f: Option<&ProviderConfig>) -> (String, String) {
        let r = arg(spec).apply(f).unwrap().unwrap();
        (r.provider.clone(), r.settings_json())
    }

    #[test]
    fn the_same_provider_merges_the_spec_over_the_file() {
        let f = file(
            "redis",
            "url = \"redis://a/\"\nkey = \"K\"\n[tls]\nca = \"/ca\"\nverify = true\n",
        );
        assert_eq!(
            applied("redis:url=redis://b/,tls.verify=false", Some(&f)),
            (
                "redis".into(),
                r#"{"key":"K","tls":{"ca":"/ca","verify":false},"url":"redis://b/"}"#.into()
            )
        );
        assert_eq!(applied("redis", Some(&f)).1, f.settings_json());
    }

    #[test]
    fn another_provider_replaces_the_table() {
        let f = file("redis", "url = \"redis://a/\"\n");
        assert_eq!(
            applied("filesystem:directory=/k", Some(&f)),
            ("filesystem".into(), r#"{"directory":"/k"}"#.into())
        );
        assert_eq!(
            applied("redis", Some(&file("filesystem", "directory = \"/k\"\n"))),
            ("redis".into(), "{}".into())
        );
    }

    #[test]
    fn values_are_typed_as_the_toml_file_types_them() {
        assert_eq!(
            applied(
                "redis:connect_timeout_ms=2000,key=\"2024\",url=redis+unix:///tmp/r.sock",
                None
            )
            .1,
            r#"{"connect_timeout_ms":2000,"key":"2024","url":"redis+unix:///tmp/r.sock"}"#
        );
        assert_eq!(
            applied("blob:emulator=true", None).1,
            r#"{"emulator":true}"#
        );
    }

    #[test]
    fn no_spec_keeps_the_file_and_a_malformed_one_is_a_usage_error() {
        let f = file("redis", "url = \"redis://a/\"\n");
        let none = RepositoryArg::default();
        assert_eq!(
            none.apply(Some(&f)).unwrap().unwrap().settings_json(),
            f.settings_json()
        );
        assert!(none.apply(None).unwrap().is_none());
        for bad in [":url=x", "redis:url", "redis:url=a,url=b"] {
            let e = arg(bad).apply(None).unwrap_err();
            assert_eq!(e.code(), 2, "{bad}");
            assert!(
                e.message().starts_with(&format!("--repository {bad:?}")),
                "{}",
                e.message()
            );
        }
        let e = arg("redis:url").apply(None).unwrap_err();
        assert!(
            e.message()
                .contains("use PROVIDER:KEY=VALUE,… (e.g. filesystem:directory=/var/keys)"),
            "{}",
            e.message()
        );
    }
}
