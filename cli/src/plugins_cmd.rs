//! `trousseau plugins list | inspect`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

use trousseau::plugins::{admission, open_plugin, Origin, ProviderEntry};

use super::{report, CliError, Context};

/// `trousseau plugins …`
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every provider: id, kind, version, origin (built-in or plugin path).
    /// Exits 1 if a plugin file was refused (after listing the rest).
    List {
        /// Print JSON instead of a table: the providers and the refused files (schema:
        /// docs/cli-json.md).
        #[arg(long)]
        json: bool,
    },
    /// Show what a plugin file offers, or why it is refused; or, given a provider id (built-in
    /// or from a loaded plugin), its kind, origin and configuration help.
    Inspect {
        /// The plugin library, or a provider id such as `password` or `redis`. An existing
        /// path is inspected as a file; anything else is looked up as a provider id.
        #[arg(value_name = "FILE|ID")]
        target: PathBuf,
        /// Print JSON: the plugin and its providers, the same document for a file and an id
        /// (schema: docs/cli-json.md).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `plugins` subcommand.
pub fn run(ctx: &Context, cmd: PluginsCommand) -> Result<(), CliError> {
    match cmd {
        PluginsCommand::List { json } => list(ctx, json),
        PluginsCommand::Inspect { target, json } => {
            // An existing path (a dangling link included: inspecting it says what is wrong)
            // is a file; otherwise a provider id of the registry.
            if target.symlink_metadata().is_ok() {
                return inspect(ctx, &target, json);
            }
            let provider = target.to_str().and_then(|id| ctx.registry.provider(id));
            match provider {
                Some(p) => inspect_provider(p, json),
                None => Err(CliError::usage(anyhow!(
                    "{:?} is neither a plugin file (there is no such file) nor a provider id; \
                     provider ids: {} (`trousseau plugins list` shows where each comes from)",
                    target.display().to_string(),
                    ctx.registry
                        .providers()
                        .map(|p| p.id())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    }
}

fn origin_string(origin: &Origin) -> String {
    origin.to_string()
}

fn list(ctx: &Context, as_json: bool) -> Result<(), CliError> {
    let reg = &ctx.registry;
    if as_json {
        let providers: Vec<_> = reg
            .providers()
            .map(|p| {
                json!({
                    "id": p.id(),
                    "kind": p.kind().as_str(),
                    "plugin": p.plugin_name(),
                    "version": p.version(),
                    "origin": origin_string(p.origin()),
                    "builtin": *p.origin() == Origin::Builtin,
                    "summary": p.summary(),
                })
            })
            .collect();
        let refused: Vec<_> = reg
            .refusals()
            .iter()
            .map(|r| json!({"path": r.path.display().to_string(), "reason": r.reason}))
            .collect();
        report::print_json(&json!({"providers": providers, "refused": refused}))?;
    } else {
        let rows: Vec<[String; 4]> = reg
            .providers()
            .map(|p| {
                [
                    p.id().to_string(),
                    p.kind().as_str().to_string(),
                    p.version().to_string(),
                    origin_string(p.origin()),
                ]
            })
            .collect();
        print_table(&["ID", "KIND", "VERSION", "ORIGIN"], &rows);
        for r in reg.refusals() {
            eprintln!("{r}");
        }
    }
    if reg.refusals().is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(anyhow!(
            "{} plugin file(s) refused",
            reg.refusals().len()
        )))
    }
}

/// `plugins inspect ID`: one provider of the registry.
fn inspect_provider(p: &ProviderEntry, as_json: bool) -> Result<(), CliError> {
    if as_json {
        let path = match p.origin() {
            Origin::Builtin => None,
            Origin::Plugin(path) => Some(path.display().to_string()),
        };
        return report::print_json(&inspected(
            path,
            p.plugin_name(),
            p.version(),
            None,
            vec![provider_json(
                p.id(),
                p.kind().as_str(),
                p.summary(),
                p.config_help(),
                p.origin(),
            )],
        ));
    }
    println!("{} ({}): {}", p.id(), p.kind().as_str(), p.summary());
    println!("origin: {}", origin_string(p.origin()));
    println!("plugin: {} {}", p.plugin_name(), p.version());
    if !p.config_help().trim().is_empty() {
        println!("\nconfiguration:");
        for line in p.config_help().lines() {
            println!("    {line}");
        }
    }
    Ok(())
}

fn inspect(ctx: &Context, file: &Path, as_json: bool) -> Result<(), CliError> {
    let pins = ctx
        .config
        .plugins
        .pins
        .as_ref()
        .map(|ps| {
            ps.iter()
                .map(|p| admission::normalise_pin(p))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| CliError::usage(anyhow!(e)))?;
    let (_, info) =
        open_plugin(file, pins.as_deref()).map_err(|r| CliError::failed(anyhow!("{r}")))?;
    if as_json {
        let origin = Origin::Plugin(file.to_path_buf());
        let providers = info
            .providers()
            .iter()
            .map(|p| {
                provider_json(
                    p.id(),
                    p.kind().as_str(),
                    p.summary(),
                    p.config_help(),
                    &origin,
                )
            })
            .collect();
        return report::print_json(&inspected(
            Some(file.display().to_string()),
            info.name(),
            info.version(),
            Some(info.sdk_version()),
            providers,
        ));
    }
    println!(
        "plugin {} {} ({})",
        info.name(),
        info.version(),
        file.display()
    );
    println!("built with trousseau-core {}", info.sdk_version());
    for p in info.providers() {
        println!("\n{} ({}): {}", p.id(), p.kind().as_str(), p.summary());
        for line in p.config_help().lines() {
            println!("    {line}");
        }
    }

    Ok(())
}

/// The `plugins inspect --json` document, the same for a file and a provider id: the plugin
/// file (`path`, `null` for a built-in provider), the plugin's `name` and `version`, the
/// `trousseau-core` it was built with (`sdk_version`, known for a file only) and its
/// `providers`.
fn inspected(
    path: Option<String>,
    name: &str,
    version: &str,
    sdk_version: Option<&str>,
    providers: Vec<serde_json::Value>,
) -> serde_json::Value {
    json!({
        "path": path,
        "name": name,
        "version": version,
        "sdk_version": sdk_version,
        "providers": providers,
    })
}

/// One provider in the `plugins inspect --json` document.
fn provider_json(
    id: &str,
    kind: &str,
    summary: &str,
    config_help: &str,
    origin: &Origin,
) -> serde_json::Value {
    json!({
        "id": id,
        "kind": kind,
        "summary": summary,
        "config_help": config_help,
        "origin": origin_string(origin),
        "builtin": *origin == Origin::Builtin,
    })
}

fn print_table(header: &[&str; 4], rows: &[[String; 4]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(*header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }
}
