//! The `routegen` binary: everything is in the `routegen_cli` library.

fn main() -> std::process::ExitCode {
    routegen_cli::main()
}
