//! Plugin admission's ELF checks, which read a file's headers before it may reach the dynamic
//! loader: `plugins::elf::check_complete`, then (as admission calls it, and also on its own)
//! `check_plugin_symbol`, which walks the section headers and the dynamic symbol table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trousseau::plugins::elf::{check_complete, check_plugin_symbol};

fuzz_target!(|data: &[u8]| {
    let _ = check_complete(data);
    let _ = check_plugin_symbol(data);
});
