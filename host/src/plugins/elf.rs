//! A completeness check of ELF shared objects before they reach the dynamic loader.
//!
//! glibc's `dlopen` maps every loadable segment at the offsets the program headers give. When
//! the file is shorter than they claim (a truncated copy, an interrupted download), touching
//! such a page raises SIGBUS and kills the host. So before loading we check that the ELF and
//! program headers, every segment's file range and the section header table lie inside the
//! file. Non-ELF files are left to the loader, which refuses them cleanly.

/// Checks that `bytes`, if they are an ELF file, are not truncated. The error says what is
/// missing, in one line.
pub fn check_complete(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Ok(());
    }
    let truncated = |what: &str| {
        Err(format!(
            "truncated or damaged shared library: {what} lies beyond the end of the file \
             ({} bytes); copy or build the plugin again",
            bytes.len()
        ))
    };
    let class64 = match bytes.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return truncated("the ELF header"),
    };
    let little = match bytes.get(5) {
        Some(1) => true,
        Some(2) => false,
        _ => return truncated("the ELF header"),
    };
    let r = Reader { bytes, little };
    let header_len = if class64 { 64 } else { 52 };
    if bytes.len() < header_len {
        return truncated("the ELF header");
    }
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = if class64 {
        (
            r.u64(32),
            r.u64(40),
            r.u16(54),
            r.u16(56),
            r.u16(58),
            r.u16(60),
        )
    } else {
        (
            r.u32(28),
            r.u32(32),
            r.u16(42),
            r.u16(44),
            r.u16(46),
            r.u16(48),
        )
    };
    let (phoff, shoff) = (phoff.unwrap_or(u64::MAX), shoff.unwrap_or(u64::MAX));
    let (phentsize, phnum) = (phentsize.unwrap_or(0) as u64, phnum.unwrap_or(0) as u64);
    let (shentsize, shnum) = (shentsize.unwrap_or(0) as u64, shnum.unwrap_or(0) as u64);
    let len = bytes.len() as u64;
    let within = |off: u64, size: u64| off.checked_add(size).is_some_and(|end| end <= len);
    if !within(phoff, phentsize * phnum) {
        return truncated("the program header table");
    }
    if shnum > 0 && !within(shoff, shentsize * shnum) {
        return truncated("the section header table");
    }
    for i in 0..phnum {
        let at = (phoff + i * phentsize) as usize;
        let (offset, filesz) = if class64 {
            (r.u64(at + 8), r.u64(at + 32))
        } else {
            (r.u32(at + 4), r.u32(at + 16))
        };
        match (offset, filesz) {
            (Some(offset), Some(filesz)) if within(offset, filesz) => {}
            _ => return truncated(&format!("segment {i}")),
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        let b = self.take::<2>(at)?;
        Some(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Option<u64> {
        let b = self.take::<4>(at)?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        } as u64)
    }
    fn u64(&self, at: usize) -> Option<u64> {
        let b = self.take::<8>(at)?;
        Some(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_library_is_complete_and_every_truncation_is_caught() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(check_complete(&exe), Ok(()));
        for cut in [5, 20, 63, 64, 200, 4096, exe.len() / 2, exe.len() - 1] {
            let err = check_complete(&exe[..cut]).unwrap_err();
            assert!(
                err.starts_with("truncated or damaged shared library"),
                "{cut}: {err}"
            );
        }
    }

    #[test]
    fn non_elf_is_left_to_the_loader() {
        assert_eq!(check_complete(b"hello"), Ok(()));
        assert_eq!(check_complete(b""), Ok(()));
    }
}
