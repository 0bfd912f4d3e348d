//! Builds an auto name from a path, and keeps it bounded.
//!
//! Segments the rules of [`super::segment`] do not turn into placeholders are words. Whether a
//! word is a resource (`orders`, kept) or a parameter value (`alice`, becoming `{param}`) is
//! decided per *position* — the segment after a given prefix of the name — from what the whole
//! process has seen there, in shared data. REST alternates collections and items, so a
//! position's kind follows from the segment before it:
//!
//! | kind | where | a new word | freezes when |
//! | --- | --- | --- | --- |
//! | resource | the root; after an ID, a version (`v1`), a namespace word (`api`, `auth`, ...) or a dotted RPC name; anywhere an ID has been seen | literal | `fanout` one-off words, outnumbering recurring ones 2:1 |
//! | collection | after a word at a resource position (`/users/<here>`) | `{param}` until it recurs | a third of `fanout` (at least 3) one-off words, 2:1; or 3 one-off words followed by the same word |
//! | item | after a `{param}`, or a word at a collection position (`/users/{param}/<here>`, `/repos/{param}/<here>`) | `{param}` until it recurs | as collection, or 2 one-off words followed by the same word |
//!
//! A one-off word was seen once; a recurring word twice or more. Frozen by counts, a position
//! keeps the words that had recurred; frozen because one-off words lead into the same subtree
//! (`alice/repos`, `bob/repos`: the evidence of a parameter), it keeps none. At a position that
//! has held IDs, a hex-looking word (`bfcbead`, a short SHA without digits) is an `{id}` too.
//!
//! Then the whole name passes the cap: the first `max_names` distinct names are admitted for
//! the life of the process (all workers); later new names get `overflow`.

use super::methods::method_label;
use super::position::Position;
use super::segment::{classify, Placeholder, Rule};
use super::store::{get_u32, increment_below, SharedStore, Written, RETRIES};
use super::{fnv1a, fnv1a_from, AutoConfig};
use crate::matcher::FxMap;

/// Where a name was counted: an admitted name's local slot (for metric ids), or the overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Name(u32),
    Overflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoName {
    pub name: String,
    pub slot: Slot,
    /// The process-wide count of admitted names, when this request admitted a new one.
    pub admitted: Option<u32>,
}

/// What happened to one segment (for `routegen explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub segment: String,
    pub became: String,
    pub why: String,
}

/// Why a segment became what it became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Rule(Rule),
    PastDepth(usize),
    Empty,
    Version,
    Namespace,
    HexAtIds,
    Untracked,
    NewAtResource,
    Recurring(Kind),
    NotYetRecurring(Kind),
    KeptThroughFreeze,
    Frozen,
    Overflow(u32),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Rule(rule) => f.write_str(rule.describe()),
            Why::PastDepth(depth) => write!(f, "past max_depth ({depth})"),
            Why::Empty => f.write_str("empty segment"),
            Why::Version => f.write_str("a version: kept"),
            Why::Namespace => f.write_str("a namespace word: kept"),
            Why::HexAtIds => f.write_str("hex at a position that holds IDs"),
            Why::Untracked => f.write_str("an untracked position (max positions reached): {param}"),
            Why::NewAtResource => f.write_str("a word at a resource position: kept"),
            Why::Recurring(kind) => write!(f, "a word recurring at {} position: kept", kind.article()),
            Why::NotYetRecurring(kind) => {
                write!(f, "a word at {} position, not yet recurring: {{param}}", kind.article())
            }
            Why::KeptThroughFreeze => f.write_str("a word that recurred before its position fanned out: kept"),
            Why::Frozen => f.write_str("a position that fanned out (frozen as a parameter): {param}"),
            Why::Overflow(max) => write!(f, "max_names ({max}) distinct names reached: a new name overflows"),
        }
    }
}

/// Receives each step of a naming. The filter passes `()`, which keeps nothing (and compiles
/// the explanations away); `routegen explain` passes a `Vec<Step>`.
pub trait Tracer {
    fn step(&mut self, segment: &[u8], became: &str, why: Why);
}

impl Tracer for () {
    fn step(&mut self, _segment: &[u8], _became: &str, _why: Why) {}
}

impl Tracer for Vec<Step> {
    fn step(&mut self, segment: &[u8], became: &str, why: Why) {
        self.push(Step {
            segment: String::from_utf8_lossy(segment).into_owned(),
            became: became.to_string(),
            why: why.to_string(),
        });
    }
}

/// Words after which the next position holds resources or actions, not items
/// (`/api/<resource>`, `/auth/login`, `/settings/billing`).
pub const NAMESPACES: [&str; 13] = [
    "api", "apis", "rest", "rpc", "internal", "public", "admin", "auth", "oauth", "oauth2", "account", "settings", "me",
];

/// A position's kind (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Resource,
    Collection,
    Item,
}

impl Kind {
    /// The kind of the position after a word kept literal at a position of this kind.
    fn after_word(self) -> Kind {
        match self {
            Kind::Resource | Kind::Item => Kind::Collection,
            Kind::Collection => Kind::Item,
        }
    }

    /// "a resource", "an item".
    fn article(self) -> &'static str {
        match self {
            Kind::Resource => "a resource",
            Kind::Collection => "a collection",
            Kind::Item => "an item",
        }
    }

    /// One-off words sharing their next word that prove a parameter (none at resource positions).
    fn shared_next(self) -> usize {
        match self {
            Kind::Resource => usize::MAX,
            Kind::Collection => 3,
            Kind::Item => 2,
        }
    }
}

/// What a word became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Literal,
    Param,
    Id,
}

/// A worker's auto namer: the config, the shared-data keys, and a local cache that is valid
/// while the process-wide epoch (bumped on every freeze) is unchanged.
#[derive(Debug)]
pub struct AutoNamer {
    config: AutoConfig,
    epoch_key: String,
    names_key: String,
    positions_key: String,
    prefix: String,
    epoch: u32,
    /// Prefix hash (8 bytes) → index into `records`: cached position records, `None` for an
    /// untracked position. (The map type is the crate's one: see [`FxMap`].)
    positions: FxMap<Box<[u8]>, u32>,
    records: Vec<Option<Position>>,
    /// Admitted name → its slot.
    admitted: FxMap<Box<[u8]>, u32>,
    full: bool,
    /// Pieces of the name under construction, reused between requests.
    template: String,
}

impl AutoNamer {
    pub fn new(config: AutoConfig) -> AutoNamer {
        let prefix = config.namespace();
        AutoNamer {
            epoch_key: format!("{prefix}/epoch"),
            names_key: format!("{prefix}/names"),
            positions_key: format!("{prefix}/positions"),
            prefix,
            config,
            epoch: 0,
            positions: FxMap::default(),
            records: Vec::new(),
            admitted: FxMap::default(),
            full: false,
            template: String::new(),
        }
    }

    pub fn config(&self) -> &AutoConfig {
        &self.config
    }

    /// The name for `method` and `path` (already normalised, query cut).
    pub fn name(&mut self, method: &[u8], path: &[u8], store: &mut dyn SharedStore) -> AutoName {
        self.name_traced(method, path, store, &mut ())
    }

    pub fn name_traced(
        &mut self,
        method: &[u8],
        path: &[u8],
        store: &mut dyn SharedStore,
        trace: &mut impl Tracer,
    ) -> AutoName {
        let (epoch, _) = get_u32(store, &self.epoch_key);
        if epoch != self.epoch || self.positions.len() > 2 * self.config.max_positions() as usize {
            self.forget_positions();
            self.epoch = epoch;
        }
        let mut template = std::mem::take(&mut self.template);
        template.clear();
        template.push_str(method_label(method));
        template.push(' ');
        self.build(path, store, &mut template, trace);
        let named = self.admit(&template, store);
        self.template = template;
        if named.slot == Slot::Overflow {
            trace.step(b"", &named.name, Why::Overflow(self.config.max_names));
        }
        named
    }

    fn build(&mut self, path: &[u8], store: &mut dyn SharedStore, out: &mut String, trace: &mut impl Tracer) {
        if path == b"*" {
            out.push('*');
            return;
        }
        let body = path.strip_prefix(b"/").unwrap_or(path);
        let mut segments = body.split(|&b| b == b'/').peekable();
        let mut prefix = fnv1a(b"/");
        let mut prior = Kind::Resource;
        let start = out.len();
        // The next segment's class, worked out for its "next word" and reused as its own.
        let mut peeked = None;
        for depth in 0.. {
            let Some(segment) = segments.next() else { break };
            if depth == self.config.max_depth {
                out.push('/');
                out.push_str(Placeholder::Rest.as_str());
                trace.step(segment, Placeholder::Rest.as_str(), Why::PastDepth(self.config.max_depth));
                break;
            }
            out.push('/');
            let piece_start = out.len();
            let class = peeked.take().unwrap_or_else(|| classify(segment));
            let next_class = segments.peek().map(|next| (classify(next), next.is_empty()));
            let next_word = match (segments.peek(), next_class) {
                (Some(next), Some((next_class, false))) if next_class.placeholder.is_none() => word_hash(next),
                _ => 0,
            };
            peeked = next_class.map(|(c, _)| c);
            match class.placeholder {
                Some(placeholder) => {
                    out.push_str(placeholder.as_str());
                    out.push_str(&String::from_utf8_lossy(&segment[segment.len() - class.extension..]));
                    if placeholder != Placeholder::Param && placeholder != Placeholder::Rest {
                        self.mark_ids(prefix, store);
                    }
                    trace.step(segment, &out[piece_start..], Why::Rule(class.rule));
                    prior = Kind::Resource;
                }
                None if segment.is_empty() => trace.step(segment, "", Why::Empty),
                None => {
                    let text = String::from_utf8_lossy(segment);
                    let namespace = class.is_version() || NAMESPACES.contains(&text.as_ref());
                    if namespace {
                        out.push_str(&text);
                        trace.step(
                            segment,
                            &text,
                            if class.rule == Rule::Version { Why::Version } else { Why::Namespace },
                        );
                        prior = Kind::Resource;
                    } else {
                        let dotted = text.contains('.');
                        let asked = if dotted { Kind::Resource } else { prior };
                        let (verdict, kind, why) = self.judge_word(prefix, asked, segment, next_word, store);
                        match verdict {
                            Verdict::Literal => {
                                out.push_str(&text);
                                // A dotted name (`helloworld.Greeter`) is an RPC service: its
                                // methods follow, resources all.
                                prior = if dotted { Kind::Resource } else { kind.after_word() };
                            }
                            Verdict::Param => {
                                out.push_str(Placeholder::Param.as_str());
                                prior = Kind::Item;
                            }
                            Verdict::Id => {
                                out.push_str(Placeholder::Id.as_str());
                                prior = Kind::Resource;
                            }
                        }
                        trace.step(segment, &out[piece_start..], why);
                    }
                }
            }
            prefix = fnv1a_from(prefix, &out.as_bytes()[piece_start - 1..]);
        }
        if out.len() == start {
            out.push('/');
        }
    }

    fn forget_positions(&mut self) {
        self.positions.clear();
        self.records.clear();
    }

    fn remember(&mut self, prefix: u64, position: Option<Position>) {
        let key: Box<[u8]> = Box::new(prefix.to_le_bytes());
        match self.positions.get(&key).and_then(|&i| self.records.get_mut(i as usize)) {
            Some(slot) => *slot = position,
            None => {
                let index = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
                self.records.push(position);
                self.positions.insert(key, index);
            }
        }
    }

    fn recall(&self, prefix: u64) -> Option<&Option<Position>> {
        let key: &[u8] = &prefix.to_le_bytes();
        self.positions.get(key).and_then(|&i| self.records.get(i as usize))
    }

    fn position_key(&self, prefix: u64) -> String {
        format!("{}/p/{prefix:016x}", self.prefix)
    }

    /// The position's record as this worker last saw it (fetched if not cached); `None` for a
    /// position past `max_positions` (untracked).
    fn cached(&mut self, prefix: u64, store: &mut dyn SharedStore) -> Option<Position> {
        if let Some(known) = self.recall(prefix) {
            return known.clone();
        }
        let fresh = store.get(&self.position_key(prefix)).map(|(bytes, _)| Position::decode(&bytes));
        // Absent is not cached: it may be created any moment.
        if fresh.is_some() {
            self.remember(prefix, fresh.clone());
        }
        fresh
    }

    /// Records that an ID was seen at the position after `prefix` (once per position).
    fn mark_ids(&mut self, prefix: u64, store: &mut dyn SharedStore) {
        if self.cached(prefix, store).is_some_and(|p| p.ids_seen) {
            return;
        }
        self.update(prefix, store, |position| {
            let changed = !position.ids_seen;
            position.ids_seen = true;
            changed
        });
    }

    /// What `word` becomes at the position after `prefix`, the position's kind, and why.
    fn judge_word(
        &mut self,
        prefix: u64,
        prior: Kind,
        word: &[u8],
        next_word: u32,
        store: &mut dyn SharedStore,
    ) -> (Verdict, Kind, Why) {
        let value = fnv1a(word);
        let kind_of = |p: &Position| if p.ids_seen { Kind::Resource } else { prior };
        let hexish = word.len() >= 6 && word.iter().all(u8::is_ascii_hexdigit);
        // Frozen and accepted are for good: a cached record that says either is still true.
        if let Some(position) = self.cached(prefix, store) {
            let kind = kind_of(&position);
            if position.ids_seen && hexish {
                return (Verdict::Id, kind, Why::HexAtIds);
            }
            if position.frozen {
                return frozen_verdict(&position, value, kind);
            }
            if position.accepted(value) {
                return (Verdict::Literal, kind, Why::Recurring(kind));
            }
        }
        let fanout = self.config.fanout as usize;
        let observed = self.update(prefix, store, |position| {
            if position.frozen || (position.ids_seen && hexish) {
                return false;
            }
            let kind = kind_of(position);
            let changed = position.observe(value, next_word);
            let threshold = match kind {
                Kind::Resource => fanout,
                Kind::Collection | Kind::Item => (fanout / 3).max(3),
            };
            let singletons = position.singletons();
            let fans_out = singletons >= threshold && singletons >= 2 * position.accepted_count();
            if fans_out || position.shared_next() >= kind.shared_next() {
                position.frozen = true;
                if kind != Kind::Resource {
                    // A collection that fans out holds parameter values, popular ones too.
                    position.entries.clear();
                }
            }
            changed
        });
        let Some(position) = observed else {
            return (Verdict::Param, prior, Why::Untracked);
        };
        let kind = kind_of(&position);
        if position.ids_seen && hexish {
            return (Verdict::Id, kind, Why::HexAtIds);
        }
        if position.frozen {
            return frozen_verdict(&position, value, kind);
        }
        match kind {
            Kind::Resource => (Verdict::Literal, kind, Why::NewAtResource),
            _ if position.accepted(value) => (Verdict::Literal, kind, Why::Recurring(kind)),
            _ => (Verdict::Param, kind, Why::NotYetRecurring(kind)),
        }
    }

    /// Read-modify-write of a position record with compare-and-swap. `apply` returns whether
    /// it changed anything (no write if not). Returns the record as written (or as read, if
    /// the store would not take it), `None` when the position cannot be tracked.
    fn update(
        &mut self,
        prefix: u64,
        store: &mut dyn SharedStore,
        mut apply: impl FnMut(&mut Position) -> bool,
    ) -> Option<Position> {
        let key = self.position_key(prefix);
        let mut result = None;
        for _ in 0..RETRIES {
            let (mut position, cas) = match store.get(&key) {
                Some((bytes, cas)) => (Position::decode(&bytes), cas),
                None => {
                    // A new position takes a slot, or is not tracked at all.
                    increment_below(store, &self.positions_key, self.config.max_positions())?;
                    (Position::default(), 0)
                }
            };
            let was_frozen = position.frozen;
            if !apply(&mut position) {
                result = Some(position);
                break;
            }
            match store.set(&key, &position.encode(), cas) {
                Written::Mismatch => continue,
                Written::Ok | Written::Failed => {
                    if position.frozen && !was_frozen {
                        self.bump_epoch(store);
                    }
                    result = Some(position);
                    break;
                }
            }
        }
        if let Some(position) = &result {
            self.remember(prefix, Some(position.clone()));
        }
        result
    }

    /// Tells every worker that a position froze: their cached records may be stale.
    fn bump_epoch(&mut self, store: &mut dyn SharedStore) {
        let before = self.epoch;
        match increment_below(store, &self.epoch_key, u32::MAX) {
            // Nobody else froze anything in between: our cache is current.
            Some(now) if now == before.wrapping_add(1) => self.epoch = now,
            _ => self.forget_positions(),
        }
    }

    /// Passes a name through the cap.
    fn admit(&mut self, name: &str, store: &mut dyn SharedStore) -> AutoName {
        if let Some(&slot) = self.admitted.get(name.as_bytes()) {
            return AutoName { name: name.to_string(), slot: Slot::Name(slot), admitted: None };
        }
        let key = format!("{}/n/{:016x}", self.prefix, fnv1a(name.as_bytes()));
        let known = store.get(&key).is_some_and(|(stored, _)| stored == name.as_bytes());
        let mut admitted = None;
        if !known {
            let fresh = if self.full { None } else { increment_below(store, &self.names_key, self.config.max_names) };
            match fresh {
                Some(count) => {
                    let _ = store.set(&key, name.as_bytes(), 0);
                    admitted = Some(count);
                }
                None => {
                    self.full = get_u32(store, &self.names_key).0 >= self.config.max_names;
                    return AutoName { name: self.config.overflow.clone(), slot: Slot::Overflow, admitted: None };
                }
            }
        }
        let slot = u32::try_from(self.admitted.len()).unwrap_or(u32::MAX);
        self.admitted.insert(name.as_bytes().into(), slot);
        AutoName { name: name.to_string(), slot: Slot::Name(slot), admitted }
    }

    /// Admitted names this worker knows of.
    pub fn known_names(&self) -> usize {
        self.admitted.len()
    }
}

fn frozen_verdict(position: &Position, value: u64, kind: Kind) -> (Verdict, Kind, Why) {
    if position.accepted(value) {
        (Verdict::Literal, kind, Why::KeptThroughFreeze)
    } else {
        (Verdict::Param, kind, Why::Frozen)
    }
}

/// The hash of a segment that is a word: the "next word" of the segment before it (0 is kept
/// for a placeholder or nothing).
fn word_hash(segment: &[u8]) -> u32 {
    (fnv1a(segment) as u32).max(1)
}

#[cfg(test)]
mod tests;
