//! Plugin admission's ELF completeness check (`plugins::elf::check_complete`), which reads
//! every header of a file before it may reach the dynamic loader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = trousseau::plugins::elf::check_complete(data);
});
