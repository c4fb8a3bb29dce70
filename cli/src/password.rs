//! The interaction the data-protection commands use: the password from `--password-file`
//! answers password sources only; every other secret (a token PIN) — and the password when no
//! file is given — comes from `--password-stdin` or the terminal ([`TerminalInteraction`]).
//! Each prompted answer is remembered by its prompt for the rest of the command, so that trying
//! several master-key slots asks only once, while different questions get their own answers.

use std::{cell::RefCell, path::Path};

use trousseau_core::{ComponentKind, Error, Interaction, MessageLevel, SecretBytes};

use super::TerminalInteraction;
use trousseau::masterkey::SourceInteraction;

/// Secrets from a file, standard input or the terminal, asked once per command. The password
/// file answers password sources only ([`SourceInteraction`]).
#[derive(Debug)]
pub struct SecretAnswers {
    password: Option<PasswordFile>,
    prompted: Prompted,
}

/// The password file's answer; messages and questions go to the terminal.
#[derive(Debug)]
struct PasswordFile {
    secret: SecretBytes,
    terminal: TerminalInteraction,
}

/// Secrets asked on the terminal (or read from standard input), remembered by prompt.
#[derive(Debug)]
struct Prompted {
    terminal: TerminalInteraction,
    remembered: RefCell<Vec<(String, SecretBytes)>>,
}

impl SecretAnswers {
    /// Reads the password from `file` (first line) if given; other secrets come from standard
    /// input (`stdin`) or the terminal when a source asks. The file must be a regular file of
    /// at most [`trousseau_password::MAX_PASSWORD_FILE_SIZE`] bytes: a FIFO or a device named
    /// by mistake is refused at once, never read.
    pub fn new(file: Option<&Path>, stdin: bool) -> anyhow::Result<Self> {
        let password = match file {
            Some(f) => {
                let text = trousseau_core::read_regular_file(
                    f,
                    trousseau_password::MAX_PASSWORD_FILE_SIZE,
                    format_args!("the password file {}", f.display()),
                )?;
                let line = text.expose().split(|b| *b == b'\n').next().unwrap_or(&[]);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                Some(PasswordFile {
                    secret: SecretBytes::copy_from(line),
                    terminal: TerminalInteraction::new(false),
                })
            }
            None => None,
        };
        Ok(SecretAnswers {
            password,
            prompted: Prompted {
                terminal: TerminalInteraction::new(stdin),
                remembered: RefCell::new(Vec::new()),
            },
        })
    }
}

impl SourceInteraction for SecretAnswers {
    fn for_source(&self, kind: ComponentKind) -> &dyn Interaction {
        match &self.password {
            Some(file) if kind == ComponentKind::Password => file,
            _ => &self.prompted,
        }
    }
}

impl Interaction for PasswordFile {
    fn message(&self, level: MessageLevel, text: &str) {
        self.terminal.message(level, text);
    }

    fn request_secret(&self, _prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
        Ok(self.secret.clone())
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.terminal.request_value(prompt)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        self.terminal.confirm(question, default)
    }
}

impl Interaction for Prompted {
    fn message(&self, level: MessageLevel, text: &str) {
        self.terminal.message(level, text);
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        if let Some((_, s)) = self.remembered.borrow().iter().find(|(p, _)| p == prompt) {
            return Ok(s.clone());
        }
        let s = self.terminal.request_secret(prompt, confirm)?;
        self.remembered
            .borrow_mut()
            .push((prompt.to_string(), s.clone()));
        Ok(s)
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.terminal.request_value(prompt)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        self.terminal.confirm(question, default)
    }
}
