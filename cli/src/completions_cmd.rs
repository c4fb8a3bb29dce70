//! `trousseau completions SHELL` and `trousseau man --out-dir DIR`: shell completion scripts
//! (clap_complete) and manual pages (clap_mangen) generated from the same command-line
//! definition the tool parses with, so that they never fall behind it. Neither reads the
//! configuration or loads plugins.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, Context as _};
use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;

use super::{Cli, CliError};

/// The shells a completion script is written for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShellArg {
    /// Bash: `source <(trousseau completions bash)`, or save it as
    /// ~/.local/share/bash-completion/completions/trousseau.
    Bash,
    /// Zsh: save it as `_trousseau` in a directory of $fpath.
    Zsh,
    /// Fish: save it as ~/.config/fish/completions/trousseau.fish.
    Fish,
    /// PowerShell: `trousseau completions powershell | Out-String | Invoke-Expression` in the
    /// profile.
    Powershell,
}

/// `trousseau completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: ShellArg,
}

/// `trousseau man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages to (created if missing; pages of the same names are
    /// replaced), e.g. /usr/local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
}

/// The tool's command line as parsed, named as installed.
fn command() -> clap::Command {
    Cli::command().bin_name("trousseau")
}

/// Prints the completion script of `args.shell` to standard output.
pub fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let shell = match args.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Powershell => Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "trousseau", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
        .map_err(CliError::failed)
}

/// Writes `trousseau.1` and a page per command (`trousseau-master-key-change.1`, …) to
/// `args.out_dir`, and says how many.
pub fn man(args: &ManArgs) -> Result<(), CliError> {
    let dir = &args.out_dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::failed(anyhow!(
            "cannot create the directory {}: {e}; choose another --out-dir",
            dir.display()
        ))
    })?;
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let mut written = 0usize;
    write_pages(&cmd, dir, &mut written)?;
    eprintln!("wrote {written} manual pages to {}", dir.display());
    Ok(())
}

/// `roff` made to render the same, and without warnings, on any formatter: every character
/// outside ASCII written as groff's `\[uXXXX]` escape (`groff` without `-k` reads Latin-1, so
/// `…` or `≤` in a help text would come out as garbage), and lines set ragged-right (`.ad l`
/// after the title) since option values such as a `--source` spec are words too long to
/// justify a line around.
fn portable_roff(roff: &str) -> String {
    let mut out = String::with_capacity(roff.len() + 8);
    for line in roff.split_inclusive('\n') {
        for c in line.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
            }
        }
        if line.starts_with(".TH ") {
            out.push_str(".ad l\n");
        }
    }
    out
}

/// Writes the page of `cmd` and of each of its visible commands, recursively.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<(), CliError> {
    let page = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(page.get_filename());
    let mut roff = Vec::new();
    page.render(&mut roff)
        .and_then(|()| std::fs::write(&path, portable_roff(&String::from_utf8_lossy(&roff))))
        .map_err(|e| CliError::failed(anyhow!("cannot write {}: {e}", path.display())))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
