//! `routegen import attributegen`: an attributegen configuration as native routes, when every
//! condition can be said exactly in the native format.
//!
//! Conditions are lowered with the filter's own `lower` (the same code that indexes them):
//! a condition converts when it is a disjunction (`||`) of conjunctions of method and
//! `url_path` conditions with nothing left over. Each disjunct becomes one route under the
//! match's value. Response conditions, headers (a missing header makes attributegen abandon
//! the whole attribute, native routes would go on to the next route), other attributes and
//! conditions outside the CEL subset cannot be converted: the command lists them and exits 1.
//! attributegen sees `url_path` as sent, so the output turns path normalisation off (use
//! `--normalize` for routegen's defaults), and leaves unmatched requests unset, as attributegen
//! does. The conversion is then checked by sampling: each route's sample request must get the
//! same value from the attributegen engine and from the native one.

use super::{route_value, Imported, OutputArgs};
use crate::common::{self, Exit, Result};
use crate::input;
use routegen_core::cel::{Activation, Attr, Expr, Value as CelValue};
use routegen_core::engine::{AttributePlan, Condition, Mode, NoHostCel, Outcome, RequestLine};
use routegen_core::lower::{flatten_or, lower, regex_as_template};
use routegen_core::route::PathMatch;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Convert an attributegen configuration to the native format.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen import attributegen attributegen.json > routes.json\n  routegen import attributegen istio/attributegen-dropin/20-wasmplugin.yaml -o yaml\n\n\
Exit status: 0 converted, 1 some condition cannot be expressed natively (listed), 2 unreadable file."
)]
pub struct Args {
    /// The attributegen configuration (JSON/YAML, or a WasmPlugin carrying one).
    config: PathBuf,
    /// Which attribute to convert when there are several (the native format sets one).
    #[arg(long, value_name = "OUTPUT_ATTRIBUTE")]
    attribute: Option<String>,
    /// Normalise request paths with routegen's defaults (attributegen matches them as sent).
    #[arg(long)]
    normalize: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn import(args: &Args) -> Result<Imported> {
    let document = input::load_config(&args.config)?;
    let (engine, _) = common::compile_value(&document).map_err(|e| Exit::invalid(e.to_string()))?;
    let Mode::Attributegen(attributes) = &engine.mode else {
        return Err(Exit::invalid(format!("{} is already in the native format", args.config.display())));
    };
    let (index, attribute) = match (&args.attribute, attributes.len()) {
        (Some(name), _) => attributes
            .iter()
            .enumerate()
            .find(|(_, a)| &a.output_attribute == name)
            .ok_or_else(|| Exit::usage(format!("no attribute '{name}' (have: {})", names(attributes))))?,
        (None, 1) => (0, &attributes[0]),
        (None, 0) => return Err(Exit::invalid("the configuration has no attributes")),
        (None, _) => {
            return Err(Exit::invalid(format!(
                "{} attributes ({}): the native format sets one; choose with --attribute",
                attributes.len(),
                names(attributes)
            )))
        }
    };
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    let mut samples = Vec::new();
    for (j, entry) in attribute.matches.iter().enumerate() {
        let at = format!("attributes[{index}].match[{j}]");
        match convert(&entry.condition) {
            Ok(pieces) => {
                for (methods, key, path, sample) in pieces {
                    samples.push(sample);
                    routes.push(route_value(&entry.value, &methods, key, &path, &[]));
                }
            }
            Err(why) => problems.push(format!("{at} '{}': {why}", entry.value)),
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("cannot convert: {problem}");
        }
        return Err(Exit::invalid(format!(
            "{} of {} conditions cannot be expressed in the native format (listed above)",
            problems.len(),
            attribute.matches.len()
        )));
    }
    let mut extra = Vec::new();
    if !args.normalize {
        extra.push(("normalize".to_string(), json!({"decode_unreserved": false, "merge_slashes": false, "remove_dot_segments": false, "ignore_trailing_slash": false})));
    }
    let warnings = equivalence(attribute, &routes, &extra, &samples)?;
    Ok(Imported {
        summary: format!(
            "converted {} conditions into {} native routes; {} sample requests agree",
            attribute.matches.len(),
            routes.len(),
            samples.len()
        ),
        routes,
        extra,
        warnings,
        default: None,
        output_attribute: Some(attribute.output_attribute.clone()),
        samples: Vec::new(),
    })
}

fn names(attributes: &[AttributePlan]) -> String {
    attributes.iter().map(|a| a.output_attribute.as_str()).collect::<Vec<_>>().join(", ")
}

/// Methods, path key (`""`: no path condition), path, and a sample `(method, path)`.
type Piece = (Vec<String>, &'static str, String, (String, String));

/// The routes for one condition, or why it cannot be expressed.
fn convert(condition: &Condition) -> std::result::Result<Vec<Piece>, String> {
    let expr = match condition {
        Condition::Always => return Ok(vec![(Vec::new(), "", String::new(), ("GET".into(), "/".into()))]),
        Condition::Host { source, .. } => return Err(format!("{source} is outside routegen's CEL subset")),
        Condition::Cel(expr) => expr,
    };
    if expr.uses_response() {
        return Err("reads the response (native routes are chosen at request time)".to_string());
    }
    let mut disjuncts = Vec::new();
    flatten_or(expr, &mut disjuncts);
    let mut pieces: Vec<Piece> = Vec::new();
    for disjunct in disjuncts {
        let lowered = lower(disjunct)
            .ok_or_else(|| format!("{} is not a method or url_path condition", crate::explain::show(disjunct)))?;
        if let Some(residual) = &lowered.residual {
            return Err(format!(
                "{} cannot be expressed (only method and url_path conditions can)",
                crate::explain::show(residual)
            ));
        }
        let methods = lowered.methods.0.clone().unwrap_or_default();
        let method = methods.first().cloned().unwrap_or_else(|| "GET".to_string());
        let (key, path, sample) = match &lowered.path {
            PathMatch::Any => ("", String::new(), "/".to_string()),
            PathMatch::Exact(p) => ("path_exact", common::text(p), common::text(p)),
            PathMatch::Prefix(p) => ("path_prefix", common::text(p), common::text(p)),
            PathMatch::Regex(r) => {
                let (regex, sample) = whole_path_regex(r);
                ("path_regex", regex, sample)
            }
            PathMatch::Template(_) | PathMatch::DirPrefix(_) => {
                // From `matches('^…$')` recognised as a template: keep the regex (a native
                // template cannot say `[^/]*`, an empty segment).
                let Some(pattern) = matches_pattern(disjunct) else {
                    return Err("internal error: template without a pattern".to_string());
                };
                let inner = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')).unwrap_or(&pattern).to_string();
                let sample = regex_as_template(&pattern)
                    .map(|t| common::text(&crate::shadow::fill(&t, b"x1", &[])))
                    .unwrap_or_default();
                ("path_regex", inner, sample)
            }
        };
        // `method == 'POST' || method == 'PUT'` on the same path: one route with both methods.
        match pieces.last_mut() {
            Some((last_methods, last_key, last_path, _))
                if *last_key == key && *last_path == path && !last_methods.is_empty() && !methods.is_empty() =>
            {
                last_methods.extend(methods);
            }
            _ => pieces.push((methods, key, path, (method, sample))),
        }
    }
    Ok(pieces)
}

fn matches_pattern(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Matches(_, m) => Some(m.pattern.clone()),
        Expr::And(a, b) => matches_pattern(a).or_else(|| matches_pattern(b)),
        _ => None,
    }
}

/// A CEL `matches()` regex (searched anywhere, as compiled by the CEL subset) as a native
/// whole-path regex with the same meaning, and a sample path for it.
fn whole_path_regex(regex: &routegen_core::route::PathRegex) -> (String, String) {
    let compiled = regex.regex.as_str();
    let alternation = super::top_level_alternatives(compiled).len() > 1;
    let sample = common::text(&regex.literal_prefix);
    let text = match (compiled.strip_prefix('^'), alternation) {
        (Some(rest), false) if rest.ends_with('$') && !rest.ends_with("\\$") => rest[..rest.len() - 1].to_string(),
        (Some(rest), false) => format!("(?:{rest})(?s:.*)"),
        _ => format!("(?s:.*)(?:{compiled})(?s:.*)"),
    };
    (text, if sample.is_empty() { "/".to_string() } else { sample })
}

/// Method and url_path only, for the equivalence check.
struct Line<'a> {
    method: &'a str,
    path: &'a str,
}

impl Activation for Line<'_> {
    fn attr(&mut self, attr: Attr) -> Option<CelValue> {
        match attr {
            Attr::RequestMethod => Some(CelValue::Str(self.method.to_string())),
            Attr::RequestUrlPath | Attr::RequestPath => Some(CelValue::Str(self.path.to_string())),
            _ => None,
        }
    }
    fn header(&mut self, _response: bool, _name: &str) -> Option<String> {
        None
    }
}

/// Each sample request gets the same answer from attributegen's engine and the native one.
fn equivalence(
    attribute: &AttributePlan,
    routes: &[Value],
    extra: &[(String, Value)],
    samples: &[(String, String)],
) -> Result<Vec<String>> {
    let mut document = json!({"output_attribute": attribute.output_attribute, "routes": routes});
    for (key, value) in extra {
        document[key] = value.clone();
    }
    let (engine, _) = common::compile_value(&document)
        .map_err(|e| Exit::invalid(format!("internal error: converted config is invalid ({e})")))?;
    let Mode::Native(plan) = &engine.mode else { return Ok(Vec::new()) };
    let mut warnings = Vec::new();
    for (method, path) in samples {
        let want = match attribute.evaluate_in_order(&mut Line { method, path }, &mut NoHostCel) {
            Outcome::Set(value) => Some(value.to_string()),
            _ => None,
        };
        let line = RequestLine { method: method.as_bytes(), path: path.as_bytes(), authority: b"" };
        let got = plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new()).name.map(str::to_string);
        if want != got {
            warnings.push(format!("{method} {path}: attributegen gives {want:?}, the native config {got:?}"));
        }
    }
    Ok(warnings)
}
