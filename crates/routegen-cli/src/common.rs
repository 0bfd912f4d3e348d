//! What every command shares: loading and compiling a configuration exactly as the filter does,
//! errors that carry their exit code, and the output formats.

use crate::input;
use crate::{EXIT_INVALID, EXIT_USAGE};
use routegen_core::config::{self, ConfigError};
use routegen_core::engine::{self, Engine, NoHostCel, Note};
use serde_json::Value;
use std::path::Path;

/// A failed command: the exit code and the message printed as `error: …` on stderr.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl Exit {
    pub fn usage(message: impl Into<String>) -> Exit {
        Exit { code: EXIT_USAGE, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Exit {
        Exit { code: EXIT_INVALID, message: message.into() }
    }
}

pub type Result<T> = std::result::Result<T, Exit>;

/// `-o` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Yaml,
    Table,
}

/// `-o` values for commands whose output is a document (import, render).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    Json,
    Yaml,
}

impl From<DocFormat> for Format {
    fn from(format: DocFormat) -> Format {
        match format {
            DocFormat::Json => Format::Json,
            DocFormat::Yaml => Format::Yaml,
        }
    }
}

/// A configuration as the filter sees it: the document, and the compiled engine.
pub struct Loaded {
    pub document: Value,
    pub engine: Engine,
}

/// Reads a file (JSON, YAML or a WasmPlugin) and compiles it; an unreadable file is a usage
/// error (2), an invalid configuration exit 1 with the field path.
pub fn load(path: &Path) -> Result<Loaded> {
    let document = input::load_config(path)?;
    let (engine, _notes) = compile_value(&document).map_err(|e| Exit::invalid(e.to_string()))?;
    Ok(Loaded { document, engine })
}

/// Parses and compiles a document with the filter's own code (no host CEL here).
pub fn compile_value(document: &Value) -> std::result::Result<(Engine, Vec<Note>), ConfigError> {
    let config = config::parse_serde(document)?;
    engine::compile(config, &mut NoHostCel)
}

/// A document as pretty JSON or YAML.
pub fn to_text(value: &Value, format: Format) -> Result<String> {
    match format {
        Format::Yaml => serde_norway::to_string(value).map_err(|e| Exit::usage(format!("cannot write YAML: {e}"))),
        Format::Json | Format::Table => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| Exit::usage(format!("cannot write JSON: {e}"))),
    }
}

/// Lossy text of path bytes for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fixed-width columns, left-aligned except the ones listed as right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("   ");
            }
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
