//! Checks of ELF shared objects before they reach the dynamic loader.
//!
//! - **Completeness.** glibc's `dlopen` maps every loadable segment at the offsets the program
//!   headers give. When the file is shorter than they claim (a truncated copy, an interrupted
//!   download), touching such a page raises SIGBUS and kills the host. So before loading we
//!   check that the ELF and program headers, every segment's file range and the section header
//!   table lie inside the file.
//! - **Is it a plugin at all.** `dlopen` runs a library's constructors before anything can ask
//!   it whether it is a Trousseau plugin; so a library is only handed to the loader when its
//!   dynamic symbol table (`.dynsym`, what `nm -D` lists) defines the root-module symbol every
//!   plugin exports ([`PLUGIN_SYMBOL`]). Any other shared library is refused unopened.
//!
//! Non-ELF files are left to the loader, which refuses them cleanly without running anything.

/// The symbol every plugin exports (abi_stable's root-module loader, written out by
/// `trousseau_core::export_plugin!`).
pub const PLUGIN_SYMBOL: &str = abi_stable::library::ROOT_MODULE_LOADER_NAME;

/// The dynamic symbol table's section type.
const SHT_DYNSYM: u32 = 11;
/// An undefined symbol's section index.
const SHN_UNDEF: u16 = 0;

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

/// Checks that `bytes`, if they are an ELF file, define [`PLUGIN_SYMBOL`] in their dynamic
/// symbol table; otherwise says, in one line, that this is not a Trousseau plugin. Call after
/// [`check_complete`].
pub fn check_plugin_symbol(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Ok(());
    }
    match defines_dynamic_symbol(bytes, PLUGIN_SYMBOL) {
        Some(true) => Ok(()),
        Some(false) => Err(format!(
            "not a Trousseau plugin: its dynamic symbol table does not define {PLUGIN_SYMBOL} \
             (build it with trousseau_core::export_plugin!); it was not loaded"
        )),
        None => Err(
            "not a Trousseau plugin: it has no readable dynamic symbol table (.dynsym) to find \
             the plugin's root module in; it was not loaded"
                .to_string(),
        ),
    }
}

/// Whether the ELF file `bytes` defines `name` in its `SHT_DYNSYM` section (an object has at
/// most one; the first is used); `None` when it has none, or the section or its string table
/// lies outside the file.
fn defines_dynamic_symbol(bytes: &[u8], name: &str) -> Option<bool> {
    let class64 = match bytes.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let r = Reader {
        bytes,
        little: *bytes.get(5)? == 1,
    };
    let (shoff, shentsize, shnum) = if class64 {
        (r.u64(40)?, r.u16(58)?, r.u16(60)?)
    } else {
        (r.u32(32)?, r.u16(46)?, r.u16(48)?)
    };
    // One section header, as (type, offset, size, link, entry size).
    let section = |i: u64| -> Option<(u32, u64, u64, u64, u64)> {
        let at = usize::try_from(shoff.checked_add(i.checked_mul(u64::from(shentsize))?)?)
            .ok()
            // Inside the file, so that `at + 56` below cannot overflow.
            .filter(|&at| at < bytes.len())?;
        let kind = u32::try_from(r.u32(at + 4)?).ok()?;
        Some(if class64 {
            (
                kind,
                r.u64(at + 24)?,
                r.u64(at + 32)?,
                r.u32(at + 40)?,
                r.u64(at + 56)?,
            )
        } else {
            (
                kind,
                r.u32(at + 16)?,
                r.u32(at + 20)?,
                r.u32(at + 24)?,
                r.u32(at + 36)?,
            )
        })
    };
    let slice = |offset: u64, size: u64| {
        let start = usize::try_from(offset).ok()?;
        bytes.get(start..start.checked_add(usize::try_from(size).ok()?)?)
    };
    let (offset, size, link, entsize) = (0..u64::from(shnum))
        .filter_map(section)
        .find(|s| s.0 == SHT_DYNSYM)
        .map(|(_, offset, size, link, entsize)| (offset, size, link, entsize))?;
    let (_, str_offset, str_size, _, _) = section(link)?;
    let strings = slice(str_offset, str_size)?;
    let symbols = slice(offset, size)?;
    let min_entry = if class64 { 24 } else { 16 };
    let entsize = usize::try_from(entsize).ok().filter(|&e| e >= min_entry)?;
    for symbol in symbols.chunks_exact(entsize) {
        let sym = Reader {
            bytes: symbol,
            little: r.little,
        };
        let name_at = usize::try_from(sym.u32(0)?).ok()?;
        let shndx = sym.u16(if class64 { 6 } else { 14 })?;
        let symbol_name = strings
            .get(name_at..)
            .and_then(|s| s.split(|&b| b == 0).next());
        if shndx != SHN_UNDEF && symbol_name == Some(name.as_bytes()) {
            return Some(true);
        }
    }
    Some(false)
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
        assert_eq!(check_plugin_symbol(b"hello"), Ok(()));
    }

    #[test]
    fn a_library_without_the_plugin_symbol_is_refused() {
        // The test executable is ELF with a dynamic symbol table, and exports no plugin.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = check_plugin_symbol(&exe).unwrap_err();
        assert!(err.starts_with("not a Trousseau plugin"), "{err}");
        assert!(err.contains(PLUGIN_SYMBOL), "{err}");
        assert_eq!(defines_dynamic_symbol(&exe, "malloc"), Some(false)); // imported, undefined
                                                                         // Garbage after a valid header: no readable table.
        let mut damaged = exe[..64].to_vec();
        damaged.resize(4096, 0xff);
        assert!(check_plugin_symbol(&damaged).is_err());
    }

    #[test]
    fn section_offsets_near_the_end_of_the_address_space_are_refused() {
        // Found with the elf fuzz target: a section header table offset near u64::MAX
        // overflowed `at + 4` (a panic with overflow checks) when the symbol check ran on
        // its own, without `check_complete` first.
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[40..48].copy_from_slice(&(u64::MAX - 1).to_le_bytes()); // e_shoff
        elf[60..62].copy_from_slice(&1u16.to_le_bytes()); // e_shnum
        assert!(check_plugin_symbol(&elf)
            .unwrap_err()
            .contains("no readable dynamic symbol table"));
    }
}
