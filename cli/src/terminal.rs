//! The command-line tool's [`Interaction`]: prompts on the controlling terminal (`/dev/tty`)
//! with echo switched off for secrets, or secrets read line by line from standard input with
//! `--password-stdin`.
//!
//! - Secrets from stdin: one line per requested secret; the line ending (`\n` or `\r\n`) is
//!   removed, nothing else (unlike KeePass's `-pw-stdin`, which trims spaces too). No
//!   confirmation is asked in this mode.
//! - On the terminal: enrollment asks twice and compares (constant time).
//! - No terminal and no `--password-stdin`: [`ErrorCode::NeedsPin`] naming `--password-stdin`.
//! - Messages go to stderr.

use std::{
    cell::RefCell,
    fs::{File, OpenOptions},
    io::{BufRead, Read, Write},
    os::fd::AsRawFd,
};

use trousseau_core::{Error, ErrorCode, Interaction, MessageLevel, SecretBytes};
use zeroize::Zeroize;

/// The CLI's user interaction.
#[derive(Debug, Default)]
pub struct TerminalInteraction {
    password_stdin: bool,
    stdin_exhausted: RefCell<bool>,
}

impl TerminalInteraction {
    /// Prompts on the terminal; with `password_stdin`, secrets are read from standard input.
    pub fn new(password_stdin: bool) -> Self {
        TerminalInteraction {
            password_stdin,
            stdin_exhausted: RefCell::new(false),
        }
    }

    fn tty(&self, what: &str) -> Result<File, Error> {
        OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|_| {
            Error::new(
                ErrorCode::NeedsPin,
                format!("{what} is needed but there is no terminal to ask on; pipe secrets with --password-stdin"),
            )
        })
    }

    fn stdin_line(&self, prompt: &str) -> Result<SecretBytes, Error> {
        if *self.stdin_exhausted.borrow() {
            return Err(Error::new(
                ErrorCode::NeedsPin,
                format!("{prompt}: standard input has no more lines"),
            ));
        }
        let mut raw = Vec::new();
        let read = std::io::stdin().lock().read_until(b'\n', &mut raw);
        let line = strip_line_ending(&raw);
        let eof = matches!(read, Ok(0));
        let secret = SecretBytes::copy_from(line);
        raw.zeroize();
        read.map_err(|e| Error::from_io(&e, "reading the secret from standard input"))?;
        if eof {
            *self.stdin_exhausted.borrow_mut() = true;
            return Err(Error::new(
                ErrorCode::NeedsPin,
                format!("{prompt}: --password-stdin was given but standard input is empty"),
            ));
        }
        Ok(secret)
    }
}

fn strip_line_ending(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// Switches terminal echo off and restores the previous settings when dropped.
struct EchoOff {
    fd: i32,
    saved: libc::termios,
}

impl EchoOff {
    fn new(tty: &File) -> Option<EchoOff> {
        let fd = tty.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it for a valid fd.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd is an open terminal descriptor owned by `tty`, `saved` is valid memory.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return None;
        }
        let mut quiet = saved;
        quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
        quiet.c_lflag |= libc::ICANON;
        // SAFETY: as above; `quiet` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
            return None;
        }
        Some(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same, still open, descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

fn read_tty_line(tty: &mut File) -> Result<SecretBytes, Error> {
    let mut line = SecretBytes::with_capacity(128);
    let mut byte = [0u8; 1];
    loop {
        match tty.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.extend_from_slice(&byte),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(&e, "reading from the terminal")),
        }
    }
    byte.zeroize();
    if line.expose().ends_with(b"\r") {
        let trimmed = SecretBytes::copy_from(&line.expose()[..line.len() - 1]);
        return Ok(trimmed);
    }
    Ok(line)
}

fn ask_hidden(tty: &mut File, prompt: &str) -> Result<SecretBytes, Error> {
    let io = |e: std::io::Error| Error::from_io(&e, "writing to the terminal");
    write!(tty, "{prompt}: ").map_err(io)?;
    tty.flush().map_err(io)?;
    let guard = EchoOff::new(tty);
    let secret = read_tty_line(tty);
    drop(guard);
    writeln!(tty).map_err(io)?;
    secret
}

impl Interaction for TerminalInteraction {
    fn message(&self, level: MessageLevel, text: &str) {
        match level {
            MessageLevel::Info => eprintln!("{text}"),
            MessageLevel::Warning => eprintln!("warning: {text}"),
        }
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        if self.password_stdin {
            return self.stdin_line(prompt);
        }
        let mut tty = self.tty(prompt)?;
        let first = ask_hidden(&mut tty, prompt)?;
        if confirm {
            let again = ask_hidden(&mut tty, &format!("Repeat {}", prompt.to_lowercase()))?;
            if !first.ct_eq(again.expose()) {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    "the two entries differ; nothing was changed, try again",
                ));
            }
        }
        Ok(first)
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        let mut tty = self.tty(prompt)?;
        let io = |e: std::io::Error| Error::from_io(&e, "terminal");
        write!(tty, "{prompt}: ").map_err(io)?;
        tty.flush().map_err(io)?;
        let line = read_tty_line(&mut tty)?;
        String::from_utf8(line.expose().to_vec()).map_err(|_| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("{prompt}: the answer is not UTF-8"),
            )
        })
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        let mut tty = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|_| {
                Error::new(
                    ErrorCode::Cancelled,
                    format!("{question} — there is no terminal to answer on"),
                )
            })?;
        let io = |e: std::io::Error| Error::from_io(&e, "terminal");
        write!(tty, "{question} [{}] ", if default { "Y/n" } else { "y/N" }).map_err(io)?;
        tty.flush().map_err(io)?;
        let line = read_tty_line(&mut tty)?;
        Ok(match line.expose().trim_ascii() {
            b"" => default,
            b"y" | b"Y" | b"yes" | b"Yes" => true,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_are_stripped_once() {
        assert_eq!(strip_line_ending(b"pw\r\n"), b"pw");
        assert_eq!(strip_line_ending(b"pw\n\n"), b"pw\n");
        assert_eq!(strip_line_ending(b" pw "), b" pw ");
    }
}
