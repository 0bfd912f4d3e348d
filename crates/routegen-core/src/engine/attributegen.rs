//! The attributegen plan: each output attribute's ordered `match` list, with the conjuncts the
//! index can decide (method, `url_path`) filed in a path index and the rest evaluated as CEL.

use super::{Engine, HostCel, Mode, Note};
use crate::cel::{self, Activation, Expr};
use crate::config::{AttributegenAttribute, AttributegenConfig, ConfigError, Phase};
use crate::lower::{lower, release_regexes};
use crate::matcher::{PathIndex, RouteId};
use crate::route::{mask_allows, method_bit, MethodSet};

/// One attributegen `match` entry's condition, compiled.
#[derive(Debug)]
pub enum Condition {
    /// Empty condition: always true.
    Always,
    Cel(Expr),
    /// Outside the subset: evaluated by Envoy. `token` is `None` where no host engine exists.
    Host {
        source: String,
        token: Option<u32>,
    },
}

#[derive(Debug)]
pub struct MatchPlan {
    pub value: String,
    pub condition: Condition,
}

/// One output attribute: its matches, with the indexable ones filed in a path index.
#[derive(Debug)]
pub struct AttributePlan {
    pub output_attribute: String,
    pub phase: Phase,
    pub matches: Vec<MatchPlan>,
    /// For each indexed entry: its position in `matches`, method set and residual condition.
    indexed: Vec<IndexedMatch>,
    index: PathIndex,
    /// Positions of matches not in the index, ascending.
    interpreted: Vec<usize>,
}

#[derive(Debug)]
struct IndexedMatch {
    position: usize,
    mask: u16,
    methods: MethodSet,
    residual: Option<Expr>,
}

/// What one attribute came to for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    Set(&'a str),
    NoMatch,
    /// A condition failed to evaluate: attributegen abandons the attribute for this request.
    Error {
        position: usize,
        message: String,
    },
}

pub(super) fn compile_attributegen(
    config: AttributegenConfig,
    host: &mut dyn HostCel,
    notes: &mut Vec<Note>,
) -> Result<Engine, ConfigError> {
    let mut attributes = Vec::with_capacity(config.attributes.len());
    for (i, attribute) in config.attributes.into_iter().enumerate() {
        attributes.push(AttributePlan::new(attribute, &format!("attributes[{i}]"), host, notes)?);
    }
    Ok(Engine { debug: config.debug, mode: Mode::Attributegen(attributes) })
}

impl AttributePlan {
    fn new(
        attribute: AttributegenAttribute,
        field: &str,
        host: &mut dyn HostCel,
        notes: &mut Vec<Note>,
    ) -> Result<AttributePlan, ConfigError> {
        let mut matches = Vec::with_capacity(attribute.matches.len());
        let mut indexed = Vec::new();
        let mut paths = Vec::new();
        let mut interpreted = Vec::new();
        for (position, entry) in attribute.matches.into_iter().enumerate() {
            let condition_field = format!("{field}.match[{position}].condition");
            let mut condition = compile_condition(&entry.condition, &condition_field, host, notes)?;
            let lowered = match &condition {
                Condition::Cel(expr) => lower(expr),
                _ => None,
            };
            match lowered {
                Some(l) => {
                    if let Condition::Cel(expr) = &mut condition {
                        release_regexes(expr);
                    }
                    paths.push(l.path);
                    indexed.push(IndexedMatch {
                        position,
                        mask: l.methods.mask(),
                        methods: l.methods,
                        residual: l.residual,
                    });
                }
                None => interpreted.push(position),
            }
            matches.push(MatchPlan { value: entry.value, condition });
        }
        let index = PathIndex::new(paths.iter());
        Ok(AttributePlan {
            output_attribute: attribute.output_attribute,
            phase: attribute.phase,
            matches,
            indexed,
            index,
            interpreted,
        })
    }

    /// How many matches the index serves (the rest are evaluated one by one).
    pub fn indexed_len(&self) -> usize {
        self.indexed.len()
    }

    /// Evaluates the attribute with attributegen's semantics: the first match whose condition
    /// is true wins; an evaluation error before that abandons the attribute.
    ///
    /// `line` is `(:method, :path)`; with it, indexed matches are found through the index and
    /// merged, in position order, with the interpreted ones. Without it (a request missing
    /// either header) every condition is evaluated in order, as CEL would.
    pub fn evaluate(
        &self,
        line: Option<(&[u8], &[u8])>,
        act: &mut dyn Activation,
        host: &mut dyn HostCel,
        scratch: &mut Vec<RouteId>,
    ) -> Outcome<'_> {
        let Some((method, raw_path)) = line else {
            return self.evaluate_in_order(act, host);
        };
        // attributegen sees `request.url_path` exactly: `:path` cut at '?', nothing normalised.
        let url_path = match raw_path.iter().position(|&b| b == b'?') {
            Some(end) => &raw_path[..end],
            None => raw_path,
        };
        self.index.candidates(url_path, scratch);
        let bit = method_bit(method);
        let mut candidates = scratch.iter().filter_map(|&id| self.indexed.get(id as usize).map(|m| (id, m))).peekable();
        let mut interpreted = self.interpreted.iter().copied().peekable();
        loop {
            let next_indexed = candidates.peek().map(|(_, m)| m.position);
            let next_interpreted = interpreted.peek().copied();
            let verdict = match (next_indexed, next_interpreted) {
                (None, None) => return Outcome::NoMatch,
                (Some(a), Some(b)) if b < a => {
                    interpreted.next();
                    (b, self.check(b, act, host))
                }
                (Some(_), _) => {
                    let Some((id, m)) = candidates.next() else { return Outcome::NoMatch };
                    let holds = mask_allows(m.mask, bit, &m.methods, method) && self.index.confirm(id, url_path);
                    let verdict = match (&m.residual, holds) {
                        (_, false) => Ok(false),
                        (None, true) => Ok(true),
                        (Some(residual), true) => cel::eval_bool(residual, act).map_err(|e| e.to_string()),
                    };
                    (m.position, verdict)
                }
                (None, Some(b)) => {
                    interpreted.next();
                    (b, self.check(b, act, host))
                }
            };
            match verdict {
                (position, Ok(true)) => return self.set(position),
                (_, Ok(false)) => continue,
                (position, Err(message)) => return Outcome::Error { position, message },
            }
        }
    }

    /// The reference semantics: every condition, in order.
    pub fn evaluate_in_order(&self, act: &mut dyn Activation, host: &mut dyn HostCel) -> Outcome<'_> {
        for position in 0..self.matches.len() {
            match self.check(position, act, host) {
                Ok(true) => return self.set(position),
                Ok(false) => {}
                Err(message) => return Outcome::Error { position, message },
            }
        }
        Outcome::NoMatch
    }

    fn set(&self, position: usize) -> Outcome<'_> {
        match self.matches.get(position) {
            Some(m) => Outcome::Set(&m.value),
            None => Outcome::NoMatch,
        }
    }

    fn check(&self, position: usize, act: &mut dyn Activation, host: &mut dyn HostCel) -> Result<bool, String> {
        match self.matches.get(position).map(|m| &m.condition) {
            None => Ok(false),
            Some(Condition::Always) => Ok(true),
            Some(Condition::Cel(expr)) => cel::eval_bool(expr, act).map_err(|e| e.to_string()),
            Some(Condition::Host { token: Some(token), .. }) => host.evaluate(*token),
            Some(Condition::Host { token: None, .. }) => Err("this condition needs Envoy's CEL engine".to_string()),
        }
    }
}

fn compile_condition(
    source: &str,
    field: &str,
    host: &mut dyn HostCel,
    notes: &mut Vec<Note>,
) -> Result<Condition, ConfigError> {
    if source.trim().is_empty() {
        return Ok(Condition::Always);
    }
    let subset_error = match cel::parse(source) {
        Ok(expr) => return Ok(Condition::Cel(expr)),
        Err(e) if e.malformed => {
            return Err(ConfigError::new(field, format!("invalid CEL: {e}")));
        }
        Err(e) => e.to_string(),
    };
    if !host.available() {
        notes.push(Note {
            field: field.to_string(),
            message: format!("needs Envoy's CEL at run time (outside routegen's subset: {subset_error})"),
        });
        return Ok(Condition::Host { source: source.to_string(), token: None });
    }
    match host.create(source) {
        Ok(token) => {
            notes.push(Note {
                field: field.to_string(),
                message: format!("evaluated by Envoy's CEL (outside routegen's subset: {subset_error})"),
            });
            Ok(Condition::Host { source: source.to_string(), token: Some(token) })
        }
        Err(host_error) => Err(ConfigError::new(
            field,
            format!("invalid CEL: {subset_error}; Envoy's CEL also rejects it: {host_error}"),
        )),
    }
}
