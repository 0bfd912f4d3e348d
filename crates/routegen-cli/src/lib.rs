//! `routegen`: check, explain, import, render and observe route tables, over the same core the
//! filter runs (config parser, compiler, matcher): what the CLI says is what the filter does.
//!
//! One module per command; `common` holds loading, compiling and output formats; `import` every
//! importer (a library, so that fuzz targets reach each one); `shadow` the shadowing analysis.

pub mod auto;
pub mod check;
pub mod common;
pub mod coverage;
pub mod explain;
pub mod import;
pub mod input;
pub mod learn;
pub mod prom;
pub mod render;
pub mod routes;
pub mod shadow;
pub mod top;
pub mod traffic;

use clap::{Parser, Subcommand};
use common::Exit;
use std::process::ExitCode;

/// Exit codes scripts can rely on.
pub const EXIT_OK: u8 = 0;
/// Invalid configuration, findings that fail (`--strict`), inexpressible conversions.
pub const EXIT_INVALID: u8 = 1;
/// Usage errors, unreadable files, unreachable Prometheus.
pub const EXIT_USAGE: u8 = 2;

const EXIT_CODES: &str = "Exit status:\n  0  success\n  1  invalid configuration, failing findings (--strict), or an input that cannot be converted\n  2  usage error, unreadable input, or Prometheus unreachable";

#[derive(Parser)]
#[command(
    name = "routegen",
    version,
    about = "Bounded, human-named per-route attribution for Envoy and Istio",
    long_about = "Bounded, human-named per-route attribution for Envoy and Istio.\n\n\
        Every command reads configurations with the filter's own parser and matches with the\n\
        filter's own engine, so what routegen says is what the filter will do.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Explain(explain::Args),
    /// Generate a native configuration from OpenAPI, a Linkerd ServiceProfile, .proto files, attributegen or Gateway API routes.
    #[command(subcommand)]
    Import(import::Command),
    /// Render Istio manifests or a plain-Envoy config snippet for a configuration.
    #[command(subcommand)]
    Render(render::Command),
    Routes(routes::Args),
    Learn(learn::Args),
    Coverage(coverage::Args),
    Top(top::Args),
}

/// The whole command line: parses arguments, runs the command, maps errors to exit codes.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own exit code for usage errors is 2 already; --help and --version are 0.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Import(command) => import::run(command),
        Command::Render(command) => render::run(command),
        Command::Routes(args) => routes::run(args),
        Command::Learn(args) => learn::run(args),
        Command::Coverage(args) => coverage::run(args),
        Command::Top(args) => top::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Exit { code, message }) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}
