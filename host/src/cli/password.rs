//! The interaction the data-protection commands use: secrets from `--password-file` or
//! `--password-stdin`, else prompted on the terminal ([`TerminalInteraction`]). Each answer is
//! remembered by its prompt for the rest of the command, so that trying several master-key
//! slots asks only once, while different questions (a password, a token PIN) get their own
//! answers.

use std::{cell::RefCell, path::Path};

use trousseau_core::{Error, Interaction, MessageLevel, SecretBytes};

use super::terminal::TerminalInteraction;

/// Secrets from a file, standard input or the terminal, asked once per command.
#[derive(Debug)]
pub struct SecretAnswers {
    file: Option<SecretBytes>,
    terminal: TerminalInteraction,
    remembered: RefCell<Vec<(String, SecretBytes)>>,
}

impl SecretAnswers {
    /// Reads the secret from `file` (first line) if given; otherwise from standard input
    /// (`stdin`) or the terminal when a source asks.
    pub fn new(file: Option<&Path>, stdin: bool) -> anyhow::Result<Self> {
        let file = match file {
            Some(f) => {
                let text = std::fs::read(f).map_err(|e| {
                    anyhow::anyhow!("cannot read the password file {}: {e}", f.display())
                })?;
                let line = text.split(|b| *b == b'\n').next().unwrap_or(&[]);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                Some(SecretBytes::copy_from(line))
            }
            None => None,
        };
        Ok(SecretAnswers {
            file,
            terminal: TerminalInteraction::new(stdin),
            remembered: RefCell::new(Vec::new()),
        })
    }
}

impl Interaction for SecretAnswers {
    fn message(&self, level: MessageLevel, text: &str) {
        self.terminal.message(level, text);
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        if let Some(s) = &self.file {
            return Ok(s.clone());
        }
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
