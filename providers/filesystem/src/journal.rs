//! The journal that makes a multi-element store all-or-nothing, its recovery, and the removal of
//! stale temp files.
//!
//! A store of several elements, under the directory lock: every element is written to its own
//! temp file (synced); then the journal `.pending-store` lists the renames `temp target`, one a
//! line, after a header line (written as `.pending-store.new`, synced, renamed into place, the
//! directory synced: the store is committed from here on); then the renames, a directory sync,
//! the journal's removal and another sync. Whoever takes the lock next and finds a journal
//! completes its renames (a rename whose temp file is gone was done) before anything else.
//!
//! A journal is only ever obeyed within the directory: every temp name must be `{guid}.tmp` and
//! every target `<friendly name>.xml`; anything else, or a journal that is not a trusted regular
//! file, is an error that names it, and nothing is renamed.

use std::{
    fs, io,
    path::Path,
    time::{Duration, SystemTime},
};

use trousseau_core::{Element, Error, ErrorCode};

use crate::{
    dir::{self, DirLock, Staged},
    trust::{self, Outcome, Trust},
};

/// The journal's file name in the ring directory.
pub const JOURNAL: &str = ".pending-store";
/// The journal while it is written, before it is renamed into place.
const JOURNAL_NEW: &str = ".pending-store.new";
const HEADER: &str = "trousseau-filesystem pending renames v1";
/// Temp files not touched for this long are left over from a crash and are removed (a younger
/// one may belong to a writer that does not take the lock, like ASP.NET Core itself).
const STALE_TEMP_AGE: Duration = Duration::from_secs(10 * 60);

/// The environment variable of the crash test hook (debug builds only, see the crate docs).
pub const FAILPOINT_ENV: &str = "TROUSSEAU_FAILPOINT_FS_RENAMES";

/// Whether a journal is present (an interrupted or running store).
pub fn pending(dir: &Path) -> Result<bool, Error> {
    match fs::symlink_metadata(dir.join(JOURNAL)) {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::from_io(&e, dir.join(JOURNAL).display())),
    }
}

/// Stores `elements` all-or-nothing (see the module docs). After the journal is written an
/// error leaves the store to be completed by the next holder of the lock, and says so.
pub fn store_all(
    lock: &DirLock,
    dir: &Path,
    elements: &[Element],
    trust: &Trust,
) -> Result<(), Error> {
    let staged = stage_all(lock, dir, elements, trust)?;
    if let Err(e) = write_journal(lock, dir, &staged, trust) {
        staged.iter().for_each(|s| s.discard(dir));
        return Err(e);
    }
    failpoint(0);
    complete(lock, dir, &staged, failpoint).map_err(|e| {
        e.context(format_args!(
            "the store was recorded in {} and will be completed by the next operation on the \
             key ring",
            dir.join(JOURNAL).display()
        ))
    })
}

fn stage_all(
    lock: &DirLock,
    dir: &Path,
    elements: &[Element],
    trust: &Trust,
) -> Result<Vec<Staged>, Error> {
    let mut staged = Vec::with_capacity(elements.len());
    for element in elements {
        match dir::stage(lock, dir, element, trust) {
            Ok(s) => staged.push(s),
            Err(e) => {
                staged.iter().for_each(|s| s.discard(dir));
                return Err(e);
            }
        }
        if staged.len() == 1 {
            failpoint(-1);
        }
    }
    Ok(staged)
}

fn write_journal(
    lock: &DirLock,
    dir: &Path,
    staged: &[Staged],
    trust: &Trust,
) -> Result<(), Error> {
    let mut text = format!("{HEADER}\n");
    for s in staged {
        text.push_str(&format!("{} {}\n", s.temp, s.target));
    }
    dir::write_file(lock, dir, JOURNAL_NEW, trust, &[text.as_bytes()])?;
    if let Err(e) = fs::rename(dir.join(JOURNAL_NEW), dir.join(JOURNAL)) {
        let _ = fs::remove_file(dir.join(JOURNAL_NEW));
        return Err(Error::from_io(&e, dir.join(JOURNAL).display()));
    }
    lock.sync()
}

/// Performs the renames (those whose temp file is gone were done), then removes the journal;
/// `after_rename(n)` runs after the n-th rename.
fn complete(
    lock: &DirLock,
    dir: &Path,
    staged: &[Staged],
    after_rename: fn(i64),
) -> Result<(), Error> {
    for (done, s) in staged.iter().enumerate() {
        match s.commit(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::from_io(&e, dir.join(&s.target).display())),
        }
        after_rename(done as i64 + 1);
    }
    lock.sync()?;
    fs::remove_file(dir.join(JOURNAL)).map_err(|e| {
        Error::from_io(&e, format!("cannot remove {}", dir.join(JOURNAL).display()))
    })?;
    lock.sync()
}

/// Completes an interrupted store if there is a journal, then removes stale temp files. Called
/// by whoever takes the lock, before anything else.
pub fn recover(lock: &DirLock, dir: &Path, trust: &Trust) -> Result<(), Error> {
    if let Some(staged) = read_journal(dir, trust)? {
        tracing::info!(
            "completing the interrupted store recorded in {}",
            dir.join(JOURNAL).display()
        );
        complete(lock, dir, &staged, |_| {}).map_err(|e| {
            e.context(format_args!(
                "cannot complete the interrupted store recorded in {} (the key ring stays \
                 unusable until a user who can write the directory uses it once)",
                dir.join(JOURNAL).display()
            ))
        })?;
    }
    sweep(dir);
    Ok(())
}

/// The journal's renames, or `None` when there is no journal.
fn read_journal(dir: &Path, trust: &Trust) -> Result<Option<Vec<Staged>>, Error> {
    let path = dir.join(JOURNAL);
    match trust::read_file(&path, trust, dir::MAX_ELEMENT_BYTES)? {
        Outcome::Text(text) => parse(&text).map(Some).map_err(|why| malformed(&path, &why)),
        Outcome::Refused(why) => Err(malformed(&path, &why.to_string())),
        Outcome::Gone => Ok(None),
    }
}

fn malformed(path: &Path, why: &str) -> Error {
    Error::new(
        ErrorCode::CorruptData,
        format!(
            "the journal of an interrupted key-ring store, {}, {why}, so it was not obeyed; \
             trousseau did not write it like this. Inspect it and remove it (the store it \
             records is then lost) before using the key ring",
            path.display()
        ),
    )
}

/// The renames of a journal's text; why it is malformed otherwise.
fn parse(text: &str) -> Result<Vec<Staged>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("does not start with the line `{HEADER}`"));
    }
    lines
        .enumerate()
        .map(|(n, line)| {
            parse_line(line).ok_or_else(|| {
                format!(
                    "has a line {} that is not `<guid>.tmp <friendly name>.xml`: {line:?}",
                    n + 2
                )
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Staged> {
    let (temp, target) = line.split_once(' ')?;
    (dir::is_temp_name(temp) && dir::is_element_name(target)).then(|| Staged {
        temp: temp.to_string(),
        target: target.to_string(),
    })
}

/// Removes a half-written journal and temp files older than [`STALE_TEMP_AGE`]. Best effort:
/// failures are logged.
fn sweep(dir: &Path) {
    remove_logged(&dir.join(JOURNAL_NEW));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_stale = entry.file_name().to_str().is_some_and(dir::is_temp_name)
            && entry.metadata().is_ok_and(|m| !m.is_dir() && is_old(&m));
        if is_stale {
            remove_logged(&entry.path());
        }
    }
}

fn is_old(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_TEMP_AGE)
}

fn remove_logged(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => tracing::debug!("removed the leftover {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "cannot remove the leftover {}: {e}; remove it by hand",
            path.display()
        ),
    }
}

/// Test hook: with [`FAILPOINT_ENV`] set to `step`, the process kills itself with SIGKILL here
/// (-1: after the first temp file; 0: after the journal; n: after the n-th rename).
#[cfg(debug_assertions)]
#[allow(unsafe_code)]
fn failpoint(step: i64) {
    let armed = std::env::var(FAILPOINT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok());
    if armed == Some(step) {
        // SAFETY: kill and getpid have no preconditions.
        #[cfg(unix)]
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        // Windows: no signals; abort ends the process as abruptly (no unwinding, no flushing).
        #[cfg(not(unix))]
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn failpoint(_step: i64) {}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMP: &str = "0b7e1c2a-4f7e-4d7a-9a51-3f0c7d2e9b10.tmp";

    #[test]
    fn a_journal_names_renames_within_the_directory() {
        let text = format!("{HEADER}\n{TEMP} key-1.xml\n");
        assert_eq!(
            parse(&text),
            Ok(vec![Staged {
                temp: TEMP.into(),
                target: "key-1.xml".into()
            }])
        );
    }

    #[test]
    fn malformed_journals_are_refused() {
        for body in [
            format!("{TEMP} key-1.xml\n"),
            format!("{HEADER}\n{TEMP} ../key-1.xml\n"),
            format!("{HEADER}\n{TEMP} /etc/key-1.xml\n"),
            format!("{HEADER}\n{TEMP} key-1.txt\n"),
            format!("{HEADER}\n{TEMP} .xml\n"),
            format!("{HEADER}\n../{TEMP} key-1.xml\n"),
            format!("{HEADER}\nkey-2.xml key-1.xml\n"),
            format!("{HEADER}\n{} key-1.xml\n", TEMP.to_uppercase()),
            format!("{HEADER}\n{TEMP}  key-1.xml\n"),
            format!("{HEADER}\n{TEMP}\n"),
        ] {
            assert!(parse(&body).is_err(), "accepted {body:?}");
        }
    }
}
