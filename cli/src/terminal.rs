//! The command-line tool's [`Interaction`]: prompts on the controlling terminal (`/dev/tty`;
//! the console, `CONIN$`/`CONOUT$`, on Windows) with echo switched off for secrets, or secrets
//! read line by line from standard input with `--password-stdin`.
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
    io::{BufRead, Write},
};
#[cfg(unix)]
use std::{io::Read, os::fd::AsRawFd};

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

    fn tty(&self, what: &str) -> Result<Tty, Error> {
        Tty::open().map_err(|_| {
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

/// The prompt that asks for a secret again: `Repeat ` and the prompt, whose first letter only
/// is lowercased (never a path or name in it; not an acronym such as `PIN`).
fn repeat_prompt(prompt: &str) -> String {
    let mut chars = prompt.chars();
    let Some(first) = chars.next() else {
        return "Repeat".to_string();
    };
    let rest = chars.as_str();
    if rest.chars().next().is_some_and(char::is_uppercase) {
        return format!("Repeat {prompt}");
    }
    format!("Repeat {}{rest}", first.to_lowercase())
}

fn strip_line_ending(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The controlling terminal: `/dev/tty` on Unix; on Windows the console, read from `CONIN$`
/// and written to `CONOUT$`.
struct Tty {
    input: File,
    #[cfg(windows)]
    output: File,
}

impl Tty {
    #[cfg(unix)]
    fn open() -> std::io::Result<Tty> {
        let input = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        Ok(Tty { input })
    }

    #[cfg(windows)]
    fn open() -> std::io::Result<Tty> {
        // GENERIC_READ | GENERIC_WRITE on the input buffer: SetConsoleMode needs both.
        let input = OpenOptions::new().read(true).write(true).open("CONIN$")?;
        let output = OpenOptions::new().write(true).open("CONOUT$")?;
        Ok(Tty { input, output })
    }
}

impl Write for Tty {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        #[cfg(unix)]
        return self.input.write(buf);
        #[cfg(windows)]
        return self.output.write(buf);
    }

    fn flush(&mut self) -> std::io::Result<()> {
        #[cfg(unix)]
        return self.input.flush();
        #[cfg(windows)]
        return self.output.flush();
    }
}

/// Switches terminal echo off and restores the previous settings when dropped.
#[cfg(unix)]
struct EchoOff {
    fd: i32,
    saved: libc::termios,
}

#[cfg(unix)]
#[allow(unsafe_code)]
impl EchoOff {
    fn new(tty: &Tty) -> Option<EchoOff> {
        let fd = tty.input.as_raw_fd();
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

#[cfg(unix)]
#[allow(unsafe_code)]
impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same, still open, descriptor.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

#[cfg(windows)]
use console::EchoOff;

/// The Windows console: echo off with `SetConsoleMode`, lines read as UTF-16 with
/// `ReadConsoleW` (so that a non-ASCII secret arrives as UTF-8 whatever the code page).
#[cfg(windows)]
#[allow(unsafe_code)]
mod console {
    use std::os::windows::io::AsRawHandle;

    use trousseau_core::{Error, SecretBytes};
    use windows_sys::Win32::{
        Foundation::HANDLE,
        System::Console::{
            GetConsoleMode, ReadConsoleW, SetConsoleMode, CONSOLE_MODE, ENABLE_ECHO_INPUT,
        },
    };
    use zeroize::Zeroize;

    use super::Tty;

    /// Switches console echo off and restores the previous mode when dropped.
    pub(super) struct EchoOff {
        handle: HANDLE,
        saved: CONSOLE_MODE,
    }

    impl EchoOff {
        pub(super) fn new(tty: &Tty) -> Option<EchoOff> {
            let handle: HANDLE = tty.input.as_raw_handle();
            let mut saved: CONSOLE_MODE = 0;
            // SAFETY: `handle` is the open console input handle owned by `tty.input`; `saved`
            // is valid memory for one CONSOLE_MODE.
            if unsafe { GetConsoleMode(handle, &mut saved) } == 0 {
                return None;
            }
            // SAFETY: as above; the mode is the current one with echo cleared.
            if unsafe { SetConsoleMode(handle, saved & !ENABLE_ECHO_INPUT) } == 0 {
                return None;
            }
            Some(EchoOff { handle, saved })
        }
    }

    impl Drop for EchoOff {
        fn drop(&mut self) {
            // SAFETY: restores the mode read in `new` on the same, still open, handle (the
            // guard never outlives the `Tty` it was made from).
            unsafe { SetConsoleMode(self.handle, self.saved) };
        }
    }

    /// One line from the console, without its line ending, as UTF-8.
    pub(super) fn read_line(tty: &mut Tty) -> Result<SecretBytes, Error> {
        let handle: HANDLE = tty.input.as_raw_handle();
        let mut units: Vec<u16> = Vec::with_capacity(128);
        let mut unit = [0u16; 1];
        loop {
            let mut read = 0u32;
            // SAFETY: `unit` is writable memory for one UTF-16 unit, `read` for one u32, and
            // `handle` is the open console input handle owned by `tty.input`.
            let ok = unsafe {
                ReadConsoleW(
                    handle,
                    unit.as_mut_ptr().cast(),
                    1,
                    &mut read,
                    std::ptr::null(),
                )
            };
            if ok == 0 {
                units.zeroize();
                return Err(Error::from_io(
                    &std::io::Error::last_os_error(),
                    "reading from the console",
                ));
            }
            if read == 0 || unit[0] == u16::from(b'\n') {
                break;
            }
            units.push(unit[0]);
        }
        unit.zeroize();
        if units.last() == Some(&u16::from(b'\r')) {
            units.pop();
        }
        let mut line = SecretBytes::with_capacity(units.len() * 3);
        let mut buf = [0u8; 4];
        for c in char::decode_utf16(units.iter().copied()) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            line.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        buf.zeroize();
        units.zeroize();
        Ok(line)
    }
}

#[cfg(windows)]
fn read_tty_line(tty: &mut Tty) -> Result<SecretBytes, Error> {
    console::read_line(tty)
}

#[cfg(unix)]
fn read_tty_line(tty: &mut Tty) -> Result<SecretBytes, Error> {
    let mut line = SecretBytes::with_capacity(128);
    let mut byte = [0u8; 1];
    loop {
        match tty.input.read(&mut byte) {
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

fn ask_hidden(tty: &mut Tty, prompt: &str) -> Result<SecretBytes, Error> {
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
            let again = ask_hidden(&mut tty, &repeat_prompt(prompt))?;
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
        let mut tty = Tty::open().map_err(|_| {
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

    #[test]
    fn the_repeat_prompt_keeps_the_case_of_paths() {
        assert_eq!(
            repeat_prompt("New master password for key ring in /tmp/tmp.3ij2SYqTLr"),
            "Repeat new master password for key ring in /tmp/tmp.3ij2SYqTLr"
        );
        assert_eq!(repeat_prompt("PIN for token T"), "Repeat PIN for token T");
        assert_eq!(repeat_prompt(""), "Repeat");
    }
}
