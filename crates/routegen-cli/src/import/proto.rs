//! `routegen import proto`: each rpc of each service in .proto files becomes
//! `POST /pkg.Service/Method`, named `pkg.Service/Method` (unique across services, unlike
//! Linkerd's bare rpc names).
//!
//! A small tokenizer, not a full protobuf parser: comments (`//`, `/* */`) and string literals
//! are skipped correctly, messages/enums/options are skipped by brace matching, and only
//! `package`, `service` and `rpc … returns (…)` are read. Streaming rpcs are routed the same
//! (gRPC uses one POST per call either way).

use super::{route_value, Imported, OutputArgs, Sample};
use crate::common::{Exit, Result};
use crate::input;
use std::path::PathBuf;

/// Import gRPC services from .proto files: one route per rpc.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen import proto books.proto\n  routegen import proto api/*.proto -o yaml\n\n\
Exit status: 0 imported, 1 no service found or a syntax error, 2 unreadable file."
)]
pub struct Args {
    /// One or more .proto files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One rpc: fully qualified service and method name.
#[derive(Debug, PartialEq, Eq)]
pub struct Rpc {
    pub service: String,
    pub method: String,
    pub streaming: bool,
}

pub fn import(args: &Args) -> Result<Imported> {
    let mut rpcs = Vec::new();
    for file in &args.files {
        let text = input::read_text(file).map_err(Exit::usage)?;
        rpcs.extend(parse(&text).map_err(|e| Exit::invalid(format!("{}: {e}", file.display())))?);
    }
    if rpcs.is_empty() {
        return Err(Exit::invalid("no service with an rpc found"));
    }
    let mut warnings = Vec::new();
    let mut routes = Vec::new();
    let mut samples = Vec::new();
    for rpc in &rpcs {
        let name = format!("{}/{}", rpc.service, rpc.method);
        let path = format!("/{name}");
        if routes.iter().any(|r: &serde_json::Value| r.get("name").and_then(|n| n.as_str()) == Some(name.as_str())) {
            warnings.push(format!("rpc {name} is defined twice; the second is dropped"));
            continue;
        }
        samples.push(Sample {
            method: "POST".into(),
            path: path.clone(),
            host: String::new(),
            route: routes.len(),
            what: name.clone(),
        });
        routes.push(route_value(&name, &["POST".to_string()], "path_exact", &path, &[]));
    }
    let services: std::collections::BTreeSet<&str> = rpcs.iter().map(|r| r.service.as_str()).collect();
    Ok(Imported {
        summary: format!(
            "imported {} rpcs of {} services ({} streaming)",
            routes.len(),
            services.len(),
            rpcs.iter().filter(|r| r.streaming).count()
        ),
        routes,
        extra: Vec::new(),
        warnings,
        default: Some("[DEFAULT]".to_string()),
        output_attribute: None,
        samples,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Symbol(char),
    Str,
}

fn tokenize(text: &str) -> std::result::Result<Vec<(Token, usize)>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").ok_or(format!("line {line}: unclosed /* comment"))?;
                line += text[i..i + 2 + end].matches('\n').count();
                i += end + 4;
            }
            b'"' | b'\'' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != c {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return Err(format!("line {line}: unclosed string"));
                }
                tokens.push((Token::Str, line));
                i = j + 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
                    i += 1;
                }
                tokens.push((Token::Word(text[start..i].to_string()), line));
            }
            _ => {
                tokens.push((Token::Symbol(c as char), line));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Every rpc in one file, services qualified by the file's package.
pub fn parse(text: &str) -> std::result::Result<Vec<Rpc>, String> {
    let tokens = tokenize(text)?;
    let mut package = String::new();
    let mut rpcs = Vec::new();
    let mut i = 0;
    let word = |i: usize| match tokens.get(i) {
        Some((Token::Word(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let symbol = |i: usize| match tokens.get(i) {
        Some((Token::Symbol(c), _)) => Some(*c),
        _ => None,
    };
    let line = |i: usize| tokens.get(i).or(tokens.last()).map(|t| t.1).unwrap_or(0);
    // Index just past the block opening at `open` ('{'), by brace matching.
    let skip_block = |open: usize| -> std::result::Result<usize, String> {
        let mut depth = 0;
        for (k, (token, _)) in tokens.iter().enumerate().skip(open) {
            match token {
                Token::Symbol('{') => depth += 1,
                Token::Symbol('}') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(k + 1);
                    }
                }
                _ => {}
            }
        }
        Err(format!("line {}: unclosed '{{'", line(open)))
    };
    while i < tokens.len() {
        match (word(i), symbol(i)) {
            (Some("package"), _) => {
                package = word(i + 1).ok_or(format!("line {}: expected a package name", line(i)))?.to_string();
                i += 2;
            }
            (Some("service"), _) => {
                let name = word(i + 1).ok_or(format!("line {}: expected a service name", line(i)))?;
                if symbol(i + 2) != Some('{') {
                    return Err(format!("line {}: expected '{{' after service {name}", line(i)));
                }
                let end = skip_block(i + 2)?;
                let service = if package.is_empty() { name.to_string() } else { format!("{package}.{name}") };
                let mut k = i + 3;
                while k < end - 1 {
                    match (word(k), symbol(k)) {
                        (Some("rpc"), _) => {
                            let method =
                                word(k + 1).ok_or(format!("line {}: expected an rpc name", line(k)))?.to_string();
                            // rpc Name ( [stream] Req ) returns ( [stream] Resp ) ; | { … }
                            let mut j = k + 2;
                            let mut streaming = false;
                            while j < end - 1 && symbol(j) != Some(';') && symbol(j) != Some('{') {
                                streaming |= word(j) == Some("stream");
                                j += 1;
                            }
                            if !(k + 2..j).any(|x| word(x) == Some("returns")) {
                                return Err(format!("line {}: rpc {method} has no 'returns'", line(k)));
                            }
                            k = if symbol(j) == Some('{') { skip_block(j)? } else { j + 1 };
                            rpcs.push(Rpc { service: service.clone(), method, streaming });
                        }
                        (_, Some('{')) => k = skip_block(k)?,
                        _ => k += 1,
                    }
                }
                i = end;
            }
            (Some("message" | "enum" | "extend"), _) => {
                let mut j = i + 1;
                while j < tokens.len() && symbol(j) != Some('{') {
                    j += 1;
                }
                i = skip_block(j)?;
            }
            (_, Some('{')) => i = skip_block(i)?,
            _ => i += 1,
        }
    }
    Ok(rpcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_rpcs_comments_and_streams() {
        let rpcs = parse(
            r#"
            syntax = "proto3";
            // service Fake { rpc No(A) returns (B); }
            package acme.books.v1; /* service Hidden { rpc X(A) returns (B); } */
            import "google/api/annotations.proto";
            option go_package = "x/y;z { }";
            message Book { message Inner { string s = 1; } map<string, int32> m = 2; }
            enum Kind { A = 0; }
            service Books {
              option (x) = "service";
              rpc GetBook (GetBookRequest) returns (Book) {
                option (google.api.http) = { get: "/v1/{name=books/*}" };
              }
              rpc ListBooks(stream acme.books.v1.ListRequest) returns (stream Book);
            }
            service Shelves { rpc Get(A) returns (B) {} }
            "#,
        )
        .unwrap();
        let names: Vec<String> =
            rpcs.iter().map(|r| format!("{}/{}{}", r.service, r.method, if r.streaming { "*" } else { "" })).collect();
        assert_eq!(
            names,
            vec!["acme.books.v1.Books/GetBook", "acme.books.v1.Books/ListBooks*", "acme.books.v1.Shelves/Get"]
        );
    }

    #[test]
    fn errors() {
        assert!(parse("service A { rpc X(A) }").unwrap_err().contains("no 'returns'"));
        assert!(parse("service A { rpc X(A) returns (B);").unwrap_err().contains("unclosed"));
        assert!(parse("/* x").unwrap_err().contains("unclosed /*"));
        assert_eq!(parse("service S { rpc M(A) returns (B); }").unwrap()[0].service, "S");
    }
}
