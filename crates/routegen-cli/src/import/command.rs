//! `routegen import`: route tables from the descriptions people already have (OpenAPI,
//! Linkerd ServiceProfiles, .proto files, attributegen configs), as a native configuration
//! ready for `pluginConfig`.
//!
//! Every importer produces a list of native routes plus warnings; this module assembles the
//! document, compiles it with the filter's own code (an importer bug can never emit an invalid
//! config), runs `check`'s review on it, and, where the importer knows a sample request per
//! route, verifies with the filter's matcher that each sample lands on its own route.
//!
//! The importers themselves are the sibling modules; this is the command: subcommands, shared
//! output flags, assembling and verifying the document, printing.

use super::{attributegen, envoy, gateway, linkerd, openapi, proto, DocumentOptions, Imported};
use crate::common::{self, DocFormat, Exit, Result};
use crate::{EXIT_INVALID, EXIT_OK};
use routegen_core::engine::{Mode, RequestLine};
use std::collections::HashMap;

#[derive(clap::Subcommand)]
pub enum Command {
    Openapi(openapi::Args),
    Linkerd(linkerd::Args),
    Proto(proto::Args),
    Attributegen(attributegen::Args),
    #[command(name = "gateway-api")]
    GatewayApi(gateway::Args),
    Envoy(envoy::Args),
}

/// Output options every importer shares.
#[derive(clap::Args, Clone)]
pub struct OutputArgs {
    /// Output format of the native configuration.
    #[arg(short = 'o', long = "output", value_enum, default_value = "json")]
    output: DocFormat,
    /// The route name for requests no route matches.
    #[arg(long = "default", value_name = "NAME")]
    default: Option<String>,
    /// Leave the attribute unset for requests no route matches.
    #[arg(long = "no-default", conflicts_with = "default")]
    no_default: bool,
    /// The filter-state attribute to write (`wasm.<NAME>`).
    #[arg(long = "output-attribute", value_name = "NAME")]
    output_attribute: Option<String>,
    /// Exit 1 when there are warnings.
    #[arg(long)]
    strict: bool,
}

pub fn run(command: Command) -> Result<u8> {
    match command {
        Command::Openapi(args) => emit(openapi::import(&args)?, &args.output),
        Command::Linkerd(args) => emit(linkerd::import(&args)?, &args.output),
        Command::Proto(args) => emit(proto::import(&args)?, &args.output),
        Command::Attributegen(args) => emit(attributegen::import(&args)?, &args.output),
        Command::GatewayApi(args) => emit(gateway::import(&args)?, &args.output),
        Command::Envoy(args) => emit(envoy::import(&args)?, &args.output),
    }
}

fn emit(imported: Imported, output: &OutputArgs) -> Result<u8> {
    let document = imported.document(&DocumentOptions {
        output_attribute: output.output_attribute.clone(),
        default: output.default.clone(),
        no_default: output.no_default,
    });
    let (engine, notes) = common::compile_value(&document).map_err(|e| {
        Exit::invalid(format!("internal error: the imported configuration is invalid ({e}); please report this"))
    })?;
    let mut warnings = imported.warnings;
    warnings.extend(crate::check::review(&engine, &notes).into_iter().map(|f| format!("{}: {}", f.field, f.message)));
    if let (Mode::Native(plan), false) = (&engine.mode, imported.samples.is_empty()) {
        let mut failed = 0;
        for sample in &imported.samples {
            let line = RequestLine {
                method: sample.method.as_bytes(),
                path: sample.path.as_bytes(),
                authority: sample.host.as_bytes(),
            };
            let decision = plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new());
            if decision.route != Some(sample.route) {
                failed += 1;
                warnings.push(format!(
                    "{}: a request {} {} is attributed to {} instead",
                    sample.what,
                    sample.method,
                    sample.path,
                    decision.name.map(|n| format!("'{n}'")).unwrap_or_else(|| "no route".to_string())
                ));
            }
        }
        eprintln!(
            "verified: {}/{} sample requests (one per route, each path parameter filled with \"x1\") are attributed to their own route by the filter's matcher",
            imported.samples.len() - failed,
            imported.samples.len()
        );
    }
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!("{}", imported.summary);
    print!("{}", common::to_text(&document, output.output.into())?);
    Ok(if output.strict && !warnings.is_empty() { EXIT_INVALID } else { EXIT_OK })
}
