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
    /// Which of two secrets asked by one command this is ("Current", "New"), see [`reword`].
    role: Option<&'static str>,
}

/// A source's prompt said for `role` ("Current", "New"), so that a command asking for the
/// current and the new master password does not ask twice in the same words: `Password for
/// X` becomes `New master password for X`; any other prompt (a token PIN) is prefixed,
/// `New slot: Token PIN …`.
pub fn reword(prompt: &str, role: Option<&str>) -> String {
    let Some(role) = role else {
        return prompt.to_string();
    };
    match prompt.strip_prefix("Password") {
        Some(rest) => format!("{role} master password{rest}"),
        None => format!("{role} slot: {prompt}"),
    }
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
                role: None,
            },
        })
    }

    /// The same answers, their prompts said for `role` ("Current", "New"; see [`reword`]).
    pub fn for_role(mut self, role: &'static str) -> Self {
        self.prompted.role = Some(role);
        self
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
        let prompt = reword(prompt, self.role);
        if let Some((_, s)) = self.remembered.borrow().iter().find(|(p, _)| *p == prompt) {
            return Ok(s.clone());
        }
        let s = self.terminal.request_secret(&prompt, confirm)?;
        self.remembered.borrow_mut().push((prompt, s.clone()));
        Ok(s)
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.terminal.request_value(prompt)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        self.terminal.confirm(question, default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_new_passwords_are_asked_in_different_words() {
        let prompt = "Password for key ring in /tmp/tmp.3ij2SYqTLr";
        assert_eq!(reword(prompt, None), prompt);
        let current = reword(prompt, Some("Current"));
        let new = reword(prompt, Some("New"));
        assert_eq!(
            current,
            "Current master password for key ring in /tmp/tmp.3ij2SYqTLr"
        );
        assert_eq!(
            new,
            "New master password for key ring in /tmp/tmp.3ij2SYqTLr"
        );
        assert_eq!(reword("Token PIN", Some("New")), "New slot: Token PIN");
    }
}
