//! The `trousseau` command-line tool: argument parsing, exit codes, logging, and the shared
//! context (configuration + registry) the subcommands use. A thin client of the engine (the
//! `trousseau` library crate): everything it does with keys goes through the engine's API.
//!
//! Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error. Errors are
//! printed as one `error: …` paragraph, never as a panic or a backtrace.

#![deny(unsafe_code)]

mod completions_cmd;
mod context;
mod exit;
mod first_use;
mod init_cmd;
mod keepass_cmd;
mod keyfile_cmd;
mod keys_cmd;
mod logging;
mod master_key_cmd;
mod password;
mod plugins_cmd;
mod progress;
mod protect_cmd;
mod report;
mod repository_arg;
mod ring;
mod slot_options;
mod slot_sources;
mod spec;
mod terminal;
mod user_account_cmd;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use context::Context;
use exit::CliError;
use repository_arg::{global, OnRing, RepositoryArg, RingArgs, RingCommand};
use terminal::TerminalInteraction;

/// Trousseau: composite master keys from pluggable key sources, and an ASP.NET Core-compatible
/// data-protection key ring in pluggable repositories.
#[derive(Debug, Parser)]
#[command(name = "trousseau", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (default: $TROUSSEAU_CONFIG, else ~/.config/trousseau/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Directory to load plugins from, searched first (repeatable).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); or set TROUSSEAU_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The key ring's options, accepted before the command name too (only by the commands
    /// that use a key ring).
    #[command(flatten)]
    pub ring: RingArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and inspect providers and plugins.
    #[command(subcommand)]
    Plugins(plugins_cmd::PluginsCommand),
    /// Create the key ring: the first master-key slot and the first key.
    Init(OnRing<init_cmd::InitArgs>),
    /// Protect data (prints base64url).
    Protect(OnRing<protect_cmd::ProtectArgs>),
    /// Unprotect a payload made by `protect` or by ASP.NET Core.
    Unprotect(OnRing<protect_cmd::UnprotectArgs>),
    /// List, create, revoke and delete keys.
    #[command(mut_arg("repository", global), mut_arg("unlock", global))]
    Keys(RingCommand<keys_cmd::KeysCommand>),
    /// Manage the master-key slots.
    #[command(
        name = "master-key",
        mut_arg("repository", global),
        mut_arg("unlock", global)
    )]
    MasterKey(RingCommand<master_key_cmd::MasterKeyCommand>),
    /// Create and inspect KeePass-compatible key files.
    #[command(subcommand)]
    Keyfile(keyfile_cmd::KeyfileCommand),
    /// Check key sources against a KeePass database.
    #[command(subcommand)]
    Keepass(keepass_cmd::KeepassCommand),
    /// Back up, restore and inspect the per-user key of the `user-account` source.
    UserAccount(user_account_cmd::UserAccountArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell) to standard output.
    Completions(completions_cmd::CompletionsArgs),
    /// Write the manual pages: trousseau.1 and one page per command.
    Man(completions_cmd::ManArgs),
}

impl Command {
    /// The command's key-ring options (`None`: it uses no key ring) and its name.
    fn ring(&mut self) -> (Option<RingArgs>, &'static str) {
        let take = std::mem::take;
        match self {
            Command::Init(a) => (Some(take(&mut a.ring)), "init"),
            Command::Protect(a) => (Some(take(&mut a.ring)), "protect"),
            Command::Unprotect(a) => (Some(take(&mut a.ring)), "unprotect"),
            Command::Keys(c) => (Some(take(&mut c.ring)), "keys"),
            Command::MasterKey(c) => (Some(take(&mut c.ring)), "master-key"),
            Command::Plugins(_) => (None, "plugins"),
            Command::Keyfile(_) => (None, "keyfile"),
            Command::Keepass(_) => (None, "keepass"),
            Command::UserAccount(_) => (None, "user-account"),
            Command::Completions(_) => (None, "completions"),
            Command::Man(_) => (None, "man"),
        }
    }
}

/// Runs the tool with the process arguments and returns its exit code.
fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message());
            ExitCode::from(e.code())
        }
    }
}

/// Runs one parsed command line.
fn run(mut cli: Cli) -> Result<(), CliError> {
    let (after, name) = cli.command.ring();
    let ring = std::mem::take(&mut cli.ring).merge(after, name)?;
    match cli.command {
        Command::Completions(a) => return completions_cmd::completions(&a),
        Command::Man(a) => return completions_cmd::man(&a),
        _ => {}
    }
    let mut ctx = Context::new(cli.config.as_deref(), &cli.plugin_dirs, &ring.repository)?;
    ctx.unlock_sources = ring
        .unlock
        .iter()
        .map(|s| slot_sources::parse_source(s))
        .collect::<anyhow::Result<_>>()
        .map_err(CliError::usage)?;
    slot_sources::check_key_sources(&ctx, &ctx.unlock_sources, "--unlock:")?;
    slot_options::apply(&mut ctx)?;
    if matches!(cli.command, Command::Plugins(_)) {
        // The plugin commands are the diagnostic tools: a configuration naming a missing
        // provider must not stop them, so it is only a warning there.
        if let Err(e) = ctx.check_providers() {
            tracing::warn!("{}", e.message());
        }
    } else {
        for refusal in ctx.registry.refusals() {
            tracing::warn!("{refusal}");
        }
        ctx.check_providers()?;
    }
    match cli.command {
        Command::Plugins(cmd) => plugins_cmd::run(&ctx, cmd),
        Command::Init(a) => init_cmd::run(&ctx, a.args),
        Command::Protect(a) => protect_cmd::protect(&ctx, a.args),
        Command::Unprotect(a) => protect_cmd::unprotect(&ctx, a.args),
        Command::Keys(c) => keys_cmd::run(&ctx, c.command),
        Command::MasterKey(c) => master_key_cmd::run(&ctx, c.command),
        Command::Keyfile(cmd) => keyfile_cmd::run(cmd),
        Command::Keepass(cmd) => keepass_cmd::run(&ctx, cmd),
        Command::UserAccount(args) => user_account_cmd::run(&ctx, args),
        Command::Completions(_) | Command::Man(_) => Ok(()),
    }
}

/// Logs go to stderr, coloured only when stderr is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>). A warning or error is written once per process: the same
/// ring element is read more than once by some commands, and each read would warn again.
fn init_logging(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("TROUSSEAU_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(logging::OncePerProcess::default())
        .with_ansi(logging::colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_target(false)
        .without_time()
        .try_init();
}

/// Rust ignores SIGPIPE, so `trousseau plugins list | head` would make `println!` panic when
/// the reader goes away. A command-line tool should end quietly instead, like other Unix tools.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to SIG_DFL at start-up, before any thread exists.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
