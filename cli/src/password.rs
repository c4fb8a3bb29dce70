//! The interaction the data-protection commands use: the password from `--password-file`
//! answers password sources only; every other secret (a token PIN) — and the password when no
//! file is given — comes from `--password-stdin` or the terminal ([`TerminalInteraction`]).
//! Each prompted answer is remembered by its prompt for the rest of the command, so that trying
//! several master-key slots asks only once, while different questions get their own answers.

use std::{cell::RefCell, io::IsTerminal, path::Path, time::Duration};

use trousseau_core::{ComponentKind, Error, Interaction, MessageLevel, SecretBytes};

use super::{progress, TerminalInteraction};
use trousseau::{
    masterkey::{KdfParams, SourceInteraction},
    ring::RecoveryKey,
};

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
        Ok(Self::with_password(
            file.map(password_file).transpose()?,
            stdin,
        ))
    }

    /// `password` answers the password sources when given; other secrets come from standard
    /// input (`stdin`) or the terminal when a source asks.
    pub fn with_password(password: Option<SecretBytes>, stdin: bool) -> Self {
        SecretAnswers {
            password: password.map(|secret| PasswordFile {
                secret,
                terminal: TerminalInteraction::new(false),
            }),
            prompted: Prompted {
                terminal: TerminalInteraction::new(stdin),
                remembered: RefCell::new(Vec::new()),
                role: None,
            },
        }
    }

    /// The same answers, their prompts said for `role` ("Current", "New"; see [`reword`]).
    pub fn for_role(mut self, role: &'static str) -> Self {
        self.prompted.role = Some(role);
        self
    }
}

/// The first line of `bytes` (without `\r\n` or `\n`): a password given in a file, a variable
/// or a descriptor.
fn first_line(bytes: &[u8]) -> SecretBytes {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
    SecretBytes::copy_from(line.strip_suffix(b"\r").unwrap_or(line))
}

/// The password in the first line of `file`, a regular file of at most
/// [`trousseau_password::MAX_PASSWORD_FILE_SIZE`] bytes.
pub fn password_file(file: &Path) -> anyhow::Result<SecretBytes> {
    let text = trousseau_core::read_regular_file(
        file,
        trousseau_password::MAX_PASSWORD_FILE_SIZE,
        format_args!("the password file {}", file.display()),
    )?;
    Ok(first_line(text.expose()))
}

/// The password in the environment variable `name` (its first line).
pub fn password_env(name: &str) -> anyhow::Result<SecretBytes> {
    match std::env::var(name) {
        Ok(value) => {
            let value = zeroize::Zeroizing::new(value);
            Ok(first_line(value.as_bytes()))
        }
        Err(std::env::VarError::NotPresent) => Err(anyhow::anyhow!(
            "--password-env {name}: the environment variable {name} is not set"
        )),
        Err(std::env::VarError::NotUnicode(_)) => Err(anyhow::anyhow!(
            "--password-env {name}: the environment variable {name} is not UTF-8 text"
        )),
    }
}

/// The password in the first line read from the open file descriptor `fd` (e.g. `3` with
/// `3<file` or a pipe from the calling program), at most
/// [`trousseau_password::MAX_PASSWORD_FILE_SIZE`] bytes.
pub fn password_fd(fd: u32) -> anyhow::Result<SecretBytes> {
    use std::io::Read as _;
    if !cfg!(unix) {
        anyhow::bail!(
            "--password-fd is available on Unix only; use --password-file or --password-env"
        );
    }
    let path = format!("/dev/fd/{fd}");
    let file = std::fs::File::open(&path)
        .map_err(|e| anyhow::anyhow!("--password-fd {fd}: cannot read descriptor {fd}: {e}"))?;
    let limit = trousseau_password::MAX_PASSWORD_FILE_SIZE;
    let mut data = zeroize::Zeroizing::new(Vec::new());
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| anyhow::anyhow!("--password-fd {fd}: cannot read descriptor {fd}: {e}"))?;
    if u64::try_from(data.len()).unwrap_or(u64::MAX) > limit {
        anyhow::bail!("--password-fd {fd}: more than {limit} bytes; give the password only");
    }
    Ok(first_line(&data))
}

/// A recovery key: `given` (from a file, a variable or a descriptor), else a line of standard
/// input (`stdin`), else asked on the terminal; its letters and checksum are checked here,
/// before any slot is tried.
pub fn recovery_key(given: Option<SecretBytes>, stdin: bool) -> anyhow::Result<RecoveryKey> {
    let text = match given {
        Some(text) => text,
        None => TerminalInteraction::new(stdin).request_secret("Recovery key", false)?,
    };
    let text = std::str::from_utf8(text.expose()).map_err(|_| {
        anyhow::anyhow!("the recovery key is not text; give the key as it was printed")
    })?;
    Ok(RecoveryKey::parse(text)?)
}

impl SourceInteraction for SecretAnswers {
    fn for_source(&self, kind: ComponentKind) -> &dyn Interaction {
        match &self.password {
            Some(file) if kind == ComponentKind::Password => file,
            _ => &self.prompted,
        }
    }

    /// Shows progress on a terminal while a KDF runs (nothing when stderr is not one).
    fn key_derivation(
        &self,
        params: &KdfParams,
        expected: Option<Duration>,
        derive: &mut dyn FnMut(),
    ) {
        if !std::io::stderr().is_terminal() {
            return derive();
        }
        progress::with_progress(
            &format!("deriving the key ({})", params.summary()),
            expected,
            derive,
        );
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
