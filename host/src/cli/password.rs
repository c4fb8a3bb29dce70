//! Reading passwords: from a file, from standard input, or from the terminal without echo.

use std::{
    io::{BufRead, Read, Write},
    os::unix::io::AsRawFd,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, bail, Context as _};
use trousseau_core::SecretBytes;
use zeroize::Zeroize;

/// Where the master password comes from.
#[derive(Debug, Clone, Default)]
pub struct PasswordInput {
    /// Read the first line of standard input.
    pub stdin: bool,
    /// Read the first line of this file.
    pub file: Option<PathBuf>,
}

fn first_line(mut text: String) -> SecretBytes {
    let line = text.lines().next().unwrap_or("").to_string();
    text.zeroize();
    SecretBytes::from_vec(line.into_bytes())
}

fn from_file(path: &Path) -> anyhow::Result<SecretBytes> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    Ok(first_line(text))
}

/// Prompts on the terminal with echo off.
pub fn prompt(message: &str) -> anyhow::Result<SecretBytes> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            anyhow!("no terminal to ask for the password; use --password-stdin or --password-file")
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain old data; tcgetattr fills it for a valid descriptor.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is an open terminal descriptor and term is a valid termios.
    let have_term = unsafe { libc::tcgetattr(fd, &mut term) } == 0;
    if have_term {
        let mut silent = term;
        silent.c_lflag &= !libc::ECHO;
        // SAFETY: as above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) };
    }
    let _ = write!(tty, "{message}");
    let _ = tty.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    if have_term {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    }
    let _ = writeln!(tty);
    read.context("cannot read the password from the terminal")?;
    Ok(first_line(line))
}

impl PasswordInput {
    /// Reads the password (prompting with `message` when neither option is set).
    pub fn read(&self, message: &str) -> anyhow::Result<SecretBytes> {
        let pw = match (&self.file, self.stdin) {
            (Some(_), true) => bail!("use either --password-stdin or --password-file, not both"),
            (Some(f), false) => from_file(f)?,
            (None, true) => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the password from standard input")?;
                first_line(text)
            }
            (None, false) => prompt(message)?,
        };
        if pw.is_empty() {
            bail!("the password is empty");
        }
        Ok(pw)
    }

    /// Reads a new password: from `file` if given, else prompted twice.
    pub fn read_new(file: Option<&Path>) -> anyhow::Result<SecretBytes> {
        if let Some(f) = file {
            let pw = from_file(f)?;
            if pw.is_empty() {
                bail!("the new password in {} is empty", f.display());
            }
            return Ok(pw);
        }
        let a = prompt("New master password: ")?;
        let b = prompt("Repeat the new master password: ")?;
        if a != b {
            bail!("the two passwords differ");
        }
        if a.is_empty() {
            bail!("the password is empty");
        }
        Ok(a)
    }
}
