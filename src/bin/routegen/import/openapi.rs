//! `routegen import openapi`: one route per operation of an OpenAPI 3.x or Swagger 2.0 spec.
//!
//! The importer itself (naming, base paths, ordering, the failure-class rule) is
//! `routegen::import::openapi`, in the library so that it can be fuzzed; this is its shell:
//! flags, reading the file, and the file name in error messages.

use super::{Imported, OutputArgs};
use crate::common::{Exit, Result};
use crate::input;
use routegen::import::{ImportError, Naming as LibNaming, OpenApiOptions};
use std::path::PathBuf;

/// Import an OpenAPI 3.x or Swagger 2.0 spec (JSON or YAML): one route per operation.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routegen import openapi petstore.yaml > routes.json\n  routegen import openapi api.github.com.json --name operation-id -o yaml\n  routegen import openapi spec.json --base-path /api/v2\n\n\
Failure classes: declared 5xx responses are already failures by default and produce nothing;\n\
`x-routegen-failure: true` on a response adds its code (e.g. 429), `false` on a 5xx removes it.\n\n\
Exit status: 0 imported, 1 not an OpenAPI document (or warnings with --strict), 2 unreadable file.")]
pub struct Args {
    /// The OpenAPI / Swagger file ('-' for standard input).
    spec: PathBuf,
    /// How to name routes.
    #[arg(long, value_enum, default_value = "method-path")]
    name: Naming,
    /// Prefix every path with this base path instead of the spec's.
    #[arg(long = "base-path", value_name = "PATH", conflicts_with = "no_base_path")]
    base_path: Option<String>,
    /// Ignore the spec's servers / basePath.
    #[arg(long = "no-base-path")]
    no_base_path: bool,
    /// Keep the spec's order even where an earlier route shadows a later one.
    #[arg(long = "keep-order")]
    keep_order: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Naming {
    /// "GET /books/{id}"
    MethodPath,
    /// The operation's operationId ("getBook"); "METHOD /path" where it has none.
    OperationId,
}

pub fn import(args: &Args) -> Result<Imported> {
    let text = input::read_text(&args.spec).map_err(Exit::usage)?;
    let doc = input::parse_document(&text).map_err(|e| Exit::invalid(format!("{}: {e}", args.spec.display())))?;
    let options = OpenApiOptions {
        naming: match args.name {
            Naming::MethodPath => LibNaming::MethodPath,
            Naming::OperationId => LibNaming::OperationId,
        },
        base_path: args.base_path.clone(),
        no_base_path: args.no_base_path,
        keep_order: args.keep_order,
    };
    routegen::import::openapi(&doc, &options).map_err(|e| match e {
        ImportError::Invalid(message) => Exit::invalid(format!("{}: {message}", args.spec.display())),
        ImportError::Internal(message) => Exit::invalid(message),
    })
}
