//! The `trousseau` command-line tool.

fn main() -> std::process::ExitCode {
    trousseau::cli::main()
}
