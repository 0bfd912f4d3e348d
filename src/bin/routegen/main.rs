//! `routegen`: check, explain and generate route tables, over the same core the filter runs.

mod input;

use clap::{Parser, Subcommand};
use routegen::engine::{self, NoHostCel};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes scripts can rely on.
pub const EXIT_OK: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(name = "routegen", version, about = "Bounded, human-named per-route attribution for Envoy and Istio")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and compile a configuration exactly as the filter does.
    ///
    /// CONFIG is a native or attributegen JSON/YAML file, or a whole WasmPlugin manifest
    /// (its spec.pluginConfig is checked). Exit status: 0 valid, 1 invalid, 2 unreadable.
    #[command(after_help = "Examples:\n  routegen check routes.json\n  routegen check istio/wasmplugin.yaml")]
    Check {
        /// The configuration file ('-' for standard input).
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let value = match input::load_config(path) {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let compiled = routegen::config::parse_value(&routegen::json::Json::from(&value)).and_then(|config| engine::compile(config, &mut NoHostCel));
    match compiled {
        Ok((_engine, notes)) => {
            for note in &notes {
                println!("note: {note}");
            }
            println!("ok: {} is a valid routegen configuration", path.display());
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            println!("error: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
