//! Reading configurations the way people keep them: JSON, YAML, or inside a WasmPlugin.

use crate::common::Exit;
use routegen_core::config::Json;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// Reads a file (or `-` for stdin) as JSON or YAML. A Kubernetes `WasmPlugin` yields its
/// `spec.pluginConfig`, which is what Istio hands the filter. An unreadable file is a usage
/// error (exit 2); text that is not a configuration document is invalid (exit 1).
pub fn load_config(path: &Path) -> Result<Value, Exit> {
    let text = read_text(path).map_err(Exit::usage)?;
    let invalid = |e: String| Exit::invalid(format!("{}: {e}", path.display()));
    if looks_like_json(&text) {
        // The filter's own reader first: it rejects what serde_json's Value would silently
        // merge (a repeated key), with the same message Envoy's log shows.
        Json::parse(&text).map_err(invalid)?;
    }
    let value = parse_document(&text).map_err(invalid)?;
    plugin_config(value).map_err(invalid)
}

fn looks_like_json(text: &str) -> bool {
    let trimmed = text.trim_start();
    trimmed.starts_with('{') || trimmed.starts_with('[')
}

pub fn read_text(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// JSON first (exact error positions for JSON files), then YAML.
pub fn parse_document(text: &str) -> Result<Value, String> {
    if looks_like_json(text) {
        return serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"));
    }
    serde_norway::from_str::<Value>(text).map_err(|e| format!("invalid YAML: {e}"))
}

fn plugin_config(value: Value) -> Result<Value, String> {
    if value.get("kind").and_then(Value::as_str) == Some("WasmPlugin") {
        return value
            .pointer("/spec/pluginConfig")
            .cloned()
            .ok_or_else(|| "this WasmPlugin has no spec.pluginConfig".to_string());
    }
    Ok(value)
}
