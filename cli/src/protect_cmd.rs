//! `trousseau protect` and `trousseau unprotect`.

use std::{
    io::{IsTerminal as _, Read, Write},
    path::{Path, PathBuf},
};
use trousseau::ring::IfMissing;

use anyhow::{anyhow, Context as _};
use clap::Args;

use super::{init_cmd::PasswordArgs, ring, CliError, Context};
use trousseau::dataprotection::{
    manager::checked_later, payload, timestamp::Timestamp, DataProtectionError, DataProtector,
    TimeLimitedProtector,
};

/// Options shared by protect and unprotect.
#[derive(Debug, Args)]
pub struct PurposeArgs {
    /// A purpose (repeatable, in order) after the application name.
    #[arg(long = "purpose", value_name = "P")]
    purposes: Vec<String>,
    /// The application name (first purpose); default from the configuration, else `trousseau`.
    #[arg(long, value_name = "N")]
    application_name: Option<String>,
    #[command(flatten)]
    password: PasswordArgs,
}

/// `trousseau protect`.
#[derive(Debug, Args)]
pub struct ProtectArgs {
    #[command(flatten)]
    common: PurposeArgs,
    /// Time-limited payload valid for this long (e.g. 90s, 30m, 12h, 7d).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    #[command(flatten)]
    io: StreamArgs,
    /// The new slot's options, when this creates the key ring (first use).
    #[command(flatten)]
    slot: super::slot_options::SlotArgs,
    /// The text to protect, or `-` (default) for standard input (or `-i FILE`). Prefer
    /// standard input or `-i`: other users can read arguments in the process list.
    #[arg(default_value = "-")]
    text: String,
}

/// Where `protect`/`unprotect` read and write, and in which form the payload is.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Read the data from this file instead of the argument or standard input (`-`: standard
    /// input).
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the result to this file (created with mode 0600, written to a temporary file
    /// beside it and renamed, never half-written) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// The payload is raw bytes instead of base64url text (protect writes it, unprotect reads
    /// it).
    #[arg(long)]
    binary: bool,
}

/// `trousseau unprotect`.
#[derive(Debug, Args)]
pub struct UnprotectArgs {
    #[command(flatten)]
    common: PurposeArgs,
    /// The payload was made with --ttl.
    #[arg(long)]
    time_limited: bool,
    /// Accept payloads of revoked keys (to migrate data; a warning is printed).
    #[arg(long)]
    ignore_revocation: bool,
    /// Read one payload per line from standard input and write one plaintext per line, in the
    /// same order; nothing is written unless every line unprotects.
    #[arg(long)]
    lines: bool,
    #[command(flatten)]
    io: StreamArgs,
    /// The base64url payload, or `-` (default) for standard input (or `-i FILE`).
    #[arg(default_value = "-")]
    payload: String,
}

impl PurposeArgs {
    /// Opens the ring (asking for the master key if it is encrypted; creating the ring first
    /// when `missing` says so) and makes the protector.
    fn protector(&self, ctx: &Context, missing: IfMissing) -> Result<DataProtector, CliError> {
        let manager = ring::open(
            ctx,
            &self.password.answers()?,
            missing,
            self.password.implied_sources(ctx),
        )?;
        Ok(ring::protector(
            ctx,
            &manager,
            self.application_name.as_deref(),
            &self.purposes,
        ))
    }
}

/// What `protect`/`unprotect` work on: the argument, else the `-i` file, else standard input
/// (the argument `-`, `-i -`). Input is read up to `limit` bytes (`what` says what the limit
/// is, for the message) and refused beyond it, so a huge input fails early instead of filling
/// memory.
fn input(
    arg: &str,
    io: &StreamArgs,
    password_on_stdin: bool,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    let file = io.input.as_deref().filter(|f| *f != Path::new("-"));
    if arg != "-" {
        if io.input.is_some() {
            return Err(CliError::usage(anyhow!(
                "give the data either as an argument or with -i, not both"
            )));
        }
        return Ok(arg.as_bytes().to_vec());
    }
    if let Some(file) = file {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        return read_bounded(f, &file.display().to_string(), limit, what);
    }
    if password_on_stdin {
        return Err(CliError::usage(anyhow!(
            "standard input carries the password; give the data with -i FILE, or the password \
             with --password-file, --password-env or --password-fd"
        )));
    }
    read_bounded(std::io::stdin().lock(), "standard input", limit, what)
}

/// Reads `reader` (`name`: standard input, a file) to its end, failing as soon as it holds
/// more than `limit` bytes.
fn read_bounded(
    reader: impl Read,
    name: &str,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    let mut data = Vec::new();
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {name}"))?;
    if data.len() > limit {
        return Err(CliError::failed(anyhow!(
            "{name} holds more than {limit} bytes, {what}; raise \
             data_protection.max_payload_size if this is expected"
        )));
    }
    Ok(data)
}

/// Writes `bytes` to standard output, or to `-o FILE`: a new file of mode 0600 beside it is
/// written and synced, then renamed over FILE, so FILE is never seen half-written.
fn output(io: &StreamArgs, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = io.output.as_deref().filter(|f| *f != Path::new("-")) else {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .context("cannot write to standard output");
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("-o {}: name a file", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..100u32 {
        let tmp = dir.join(format!(
            ".{}.{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            stamp.wrapping_add(attempt)
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(anyhow!(
                    "cannot write {}: cannot create a file in {}: {e}",
                    path.display(),
                    dir.display()
                ))
            }
        };
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(anyhow!("cannot write {}: {e}", path.display()));
        }
        return Ok(());
    }
    Err(anyhow!(
        "cannot write {}: no free temporary name in {}",
        path.display(),
        dir.display()
    ))
}

/// The most base64url text a payload within `max_payload` takes (the plaintext limit plus the
/// envelope `unprotect` allows, in base64), with room for line breaks and padding.
fn text_limit(max_payload: usize) -> usize {
    max_payload
        .saturating_add(256)
        .div_ceil(3)
        .saturating_mul(4)
        .saturating_add(1024)
}

/// Parses `90s`, `30m`, `12h`, `7d` into ticks; anything else, or a duration too long to
/// count in ticks, is an error naming it.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("invalid duration {text:?}: use e.g. 90s, 30m, 12h, 7d"))?;
    let seconds_per_unit = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(anyhow!(
                "invalid duration unit in {text:?}: use s, m, h or d"
            ))
        }
    };
    n.checked_mul(seconds_per_unit)
        .and_then(|secs| secs.checked_mul(trousseau::dataprotection::timestamp::TICKS_PER_SECOND))
        .ok_or_else(|| {
            anyhow!("the duration {text:?} is too long; a payload must expire by the year 9999")
        })
}

/// Runs `protect`.
pub fn protect(ctx: &Context, args: ProtectArgs) -> Result<(), CliError> {
    let expiration = match args.ttl.as_deref() {
        Some(text) => {
            let ttl = parse_duration(text).map_err(CliError::usage)?;
            Some(
                checked_later(Timestamp::now(), ttl, &format!("--ttl {text}"))
                    .map_err(CliError::usage)?,
            )
        }
        None => None,
    };
    let limit = ring::max_payload(ctx);
    if args.io.binary && args.io.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::usage(anyhow!(
            "--binary writes raw bytes, not for a terminal; redirect standard output or use -o FILE"
        )));
    }
    let data = input(
        &args.text,
        &args.io,
        args.common.password.password_stdin,
        limit,
        &format!("over the payload limit of {limit} bytes"),
    )?;
    let p = args.common.protector(ctx, IfMissing::Create)?;
    let out = match expiration {
        Some(at) => p.time_limited().protect(&data, at)?,
        None => p.protect(&data)?,
    };
    if args.io.binary {
        output(&args.io, &out)?;
    } else {
        output(
            &args.io,
            format!("{}\n", payload::to_base64url(&out)).as_bytes(),
        )?;
    }
    Ok(())
}

/// Runs `unprotect`.
pub fn unprotect(ctx: &Context, args: UnprotectArgs) -> Result<(), CliError> {
    if args.lines && args.payload != "-" {
        return Err(CliError::usage(anyhow!(
            "--lines reads the payloads from standard input or -i; drop the payload argument"
        )));
    }
    if args.lines && args.io.binary {
        return Err(CliError::usage(anyhow!(
            "--lines reads base64url text, one payload a line; drop --binary"
        )));
    }
    let max = ring::max_payload(ctx);
    let limit = if args.io.binary {
        max.saturating_add(1024)
    } else {
        text_limit(max)
    };
    let text = input(
        &args.payload,
        &args.io,
        args.common.password.password_stdin,
        limit,
        &if args.lines {
            format!("more than --lines reads at once (the base64url of the payload limit, {max} bytes); split the input")
        } else {
            format!("longer than any payload within the payload limit of {max} bytes can be")
        },
    )?;
    let bytes = if args.io.binary {
        text
    } else {
        let text = String::from_utf8(text).map_err(|_| {
            anyhow!("the payload is not text; pass the base64url string, or --binary for raw bytes")
        })?;
        if args.lines {
            let p = args.common.protector(ctx, IfMissing::Fail)?;
            let out = unprotect_lines(&p, &args, &text)?;
            output(&args.io, &out)?;
            return Ok(());
        }
        payload::from_base64url(&text)?
    };
    let p = args.common.protector(ctx, IfMissing::Fail)?;
    let out = unprotect_one(&p, &args, &bytes)?;
    output(&args.io, &out)?;
    Ok(())
}

/// One base64url payload to its plaintext, reporting migration and revocation on stderr. A
/// payload that does not verify is tried the other way (time-limited or not) without a word;
/// when that verifies, the error says to add or drop `--time-limited` instead of the generic
/// "does not verify". A revoked key's error names `--ignore-revocation`.
fn unprotect_one(p: &DataProtector, args: &UnprotectArgs, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let tl = p.time_limited();
    let (this_way, other_way) = if args.time_limited {
        (tl.inner(), p)
    } else {
        (p, tl.inner())
    };
    let u = match this_way.unprotect_detailed(bytes, args.ignore_revocation) {
        Ok(u) => u,
        Err(e @ DataProtectionError::InvalidPayload { .. }) => {
            if other_way
                .unprotect_detailed(bytes, args.ignore_revocation)
                .is_ok()
            {
                return Err(anyhow!(if args.time_limited {
                    "this payload is not time-limited (it was protected without --ttl); unprotect it without --time-limited"
                } else {
                    "this payload is time-limited (it was protected with --ttl); pass --time-limited"
                }));
            }
            return Err(e.into());
        }
        Err(DataProtectionError::RevokedKey(id)) => {
            return Err(anyhow!(
                "the key {id} was revoked; the payload can no longer be trusted (pass --ignore-revocation to read it anyway, only to migrate the data)"
            ))
        }
        Err(e) => return Err(e.into()),
    };
    report(u.requires_migration, u.was_revoked);
    if args.time_limited {
        let (data, _) = TimeLimitedProtector::split(&u.plaintext, Timestamp::now())?;
        Ok(data)
    } else {
        Ok(u.plaintext)
    }
}

/// `--lines`: every line of `text` is a payload (a final line break is optional, `\r\n`
/// accepted); the output holds each plaintext followed by `\n`. The first line that fails,
/// is empty, or whose plaintext contains a line break (which would make the output ambiguous)
/// fails the whole command, naming the line.
fn unprotect_lines(p: &DataProtector, args: &UnprotectArgs, text: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            return Err(anyhow!(
                "line {n} of standard input is empty: give one payload per line"
            ));
        }
        let plain = payload::from_base64url(line)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| unprotect_one(p, args, &bytes))
            .with_context(|| format!("line {n}"))?;
        if plain.contains(&b'\n') {
            return Err(anyhow!(
                "line {n}: the plaintext contains a line break, which --lines cannot write unambiguously; unprotect that payload without --lines"
            ));
        }
        out.extend_from_slice(&plain);
        out.push(b'\n');
    }
    Ok(out)
}

fn report(requires_migration: bool, was_revoked: bool) {
    if was_revoked {
        eprintln!("warning: the payload was made with a revoked key; re-protect the data");
    } else if requires_migration {
        eprintln!("note: the payload was made with a key that is no longer the default; re-protect it to migrate");
    }
}
