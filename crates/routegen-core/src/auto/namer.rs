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

use super::index::{HashIndex, Keyed};
use super::methods::method_label;
use super::position::Position;
use super::segment::{classify, Class, Placeholder, Rule};
use super::store::{get_u32, increment_below, SharedStore, Written, RETRIES};
use super::{mix, stable_hash, stable_hash_from, AutoConfig};
use std::rc::Rc;

/// Where a name was counted: an admitted name's local slot (for metric ids), or the overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Name(u32),
    Overflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoName {
    /// Shared with the namer's own copy: handing out a name allocates nothing.
    pub name: Rc<str>,
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

    /// Whether the steps are kept (then every naming works them out again).
    fn wants_steps(&self) -> bool {
        true
    }
}

impl Tracer for () {
    fn step(&mut self, _segment: &[u8], _became: &str, _why: Why) {}

    fn wants_steps(&self) -> bool {
        false
    }
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
    /// Prefix hash → the cached position record, `None` for an untracked position.
    positions: Keyed<Option<Position>>,
    /// Admitted names by their hash; a name's position is its slot. (Two names of one hash
    /// would share a slot and a metric series: at 64 bits and a few hundred names, never in
    /// practice.)
    admitted: Keyed<Rc<str>>,
    overflow: Rc<str>,
    /// Once the cap is reached no name is ever admitted again, so a name refused then is
    /// refused for good: their hashes, kept to spare the host calls.
    refused: HashIndex,
    full: bool,
    /// Once `max_positions` are tracked no position is ever added, so an absent one stays
    /// untracked: cached as such.
    positions_full: bool,
    /// Pieces of the name under construction, reused between requests.
    template: String,
    /// The request's segments, judged once (reused between requests).
    pieces: Vec<Piece>,
    /// Bumped on every change to what this worker knows (cached records, names, flags).
    changes: u64,
    /// Shape of a request (method, words, placeholders) → its name, while `changes` stays
    /// what it was when the name was worked out with no store call: the steady state of a
    /// running proxy names a request in one lookup.
    memo: Keyed<Memo>,
}

/// One segment of the request being named.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: usize,
    end: usize,
    class: Class,
    /// The segment's hash if it is a non-empty word, else 0.
    word: u64,
}

#[derive(Clone, Copy, Debug)]
struct Memo {
    changes: u64,
    slot: Slot,
}

/// Shapes remembered per worker; past it the memo starts again.
const MEMO_ENTRIES: usize = 4096;

/// Counts the store calls of one naming: a name worked out without any is a function of what
/// the worker knows, so it may be remembered.
struct Counted<'a> {
    store: &'a mut dyn SharedStore,
    calls: usize,
}

impl SharedStore for Counted<'_> {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.calls += 1;
        self.store.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Written {
        self.calls += 1;
        self.store.set(key, value, cas)
    }
}

impl AutoNamer {
    pub fn new(config: AutoConfig) -> AutoNamer {
        let prefix = config.namespace();
        let overflow = Rc::from(config.overflow.as_str());
        AutoNamer {
            epoch_key: format!("{prefix}/epoch"),
            names_key: format!("{prefix}/names"),
            positions_key: format!("{prefix}/positions"),
            prefix,
            config,
            epoch: 0,
            positions: Keyed::default(),
            overflow,
            admitted: Keyed::default(),
            refused: HashIndex::default(),
            full: false,
            positions_full: false,
            template: String::new(),
            pieces: Vec::new(),
            changes: 0,
            memo: Keyed::default(),
        }
    }

    pub fn config(&self) -> &AutoConfig {
        &self.config
    }

    /// Catches up with freezes made by other workers: a freeze can turn a word this worker
    /// has cached as recurring into `{param}`, and bumps the process-wide epoch. Call it
    /// periodically (the filter does on a timer; a single namer never needs to): until then
    /// this worker may still name such a word literally. Costs one shared-data read.
    pub fn refresh(&mut self, store: &mut dyn SharedStore) {
        let (epoch, _) = get_u32(store, &self.epoch_key);
        if epoch != self.epoch {
            self.forget_positions();
            self.epoch = epoch;
        }
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
        if self.positions.len() > 2 * self.config.max_positions() as usize {
            self.forget_positions();
        }
        let label = method_label(method);
        let shape = self.judge_segments(label, path);
        // An explanation needs the steps: never from the memo.
        if !trace.wants_steps() {
            if let Some(memo) = self.memo.get(shape) {
                if memo.changes == self.changes {
                    let memo = *memo;
                    return AutoName { name: self.slot_name(memo.slot), slot: memo.slot, admitted: None };
                }
            }
        }
        let changes = self.changes;
        let mut counted = Counted { store, calls: 0 };
        let mut template = std::mem::take(&mut self.template);
        template.clear();
        template.push_str(label);
        template.push(' ');
        self.build(path, &mut counted, &mut template, trace);
        let named = self.admit(&template, &mut counted);
        self.template = template;
        if named.slot == Slot::Overflow {
            trace.step(b"", &named.name, Why::Overflow(self.config.max_names));
        }
        if counted.calls == 0 && self.changes == changes {
            self.remember_name(shape, &named);
        }
        named
    }

    /// Splits and classifies the path's segments into `pieces` (up to the depth cut), and
    /// returns the request's shape: a hash of the method, each word and each placeholder.
    fn judge_segments(&mut self, label: &str, path: &[u8]) -> u64 {
        self.pieces.clear();
        let mut shape = stable_hash(label.as_bytes());
        if path == b"*" {
            return stable_hash_from(shape, b"*");
        }
        let start = usize::from(path.first() == Some(&b'/'));
        let mut from = start;
        for _ in 0..=self.config.max_depth {
            let end = path[from..].iter().position(|&b| b == b'/').map_or(path.len(), |i| from + i);
            let segment = &path[from..end];
            let (class, word) = judged(segment);
            let kind = match class.placeholder {
                Some(p) => stable_hash_from(p as u64 + 2, &segment[segment.len() - class.extension..]),
                None => word.max(u64::from(!segment.is_empty())),
            };
            shape = mix(shape, kind);
            self.pieces.push(Piece { start: from, end, class, word });
            if end == path.len() {
                break;
            }
            from = end + 1;
        }
        shape
    }

    fn remember_name(&mut self, shape: u64, named: &AutoName) {
        if self.memo.len() >= MEMO_ENTRIES {
            self.memo.clear();
        }
        self.memo.set(shape, Memo { changes: self.changes, slot: named.slot });
    }

    fn build(&mut self, path: &[u8], store: &mut dyn SharedStore, out: &mut String, trace: &mut impl Tracer) {
        if path == b"*" {
            out.push('*');
            return;
        }
        let mut prefix = stable_hash(b"/");
        let mut prior = Kind::Resource;
        let start = out.len();
        let pieces = std::mem::take(&mut self.pieces);
        for (depth, piece) in pieces.iter().enumerate() {
            let segment = &path[piece.start..piece.end];
            if depth == self.config.max_depth {
                out.push('/');
                out.push_str(Placeholder::Rest.as_str());
                trace.step(segment, Placeholder::Rest.as_str(), Why::PastDepth(self.config.max_depth));
                break;
            }
            out.push('/');
            let piece_start = out.len();
            let (class, value) = (piece.class, piece.word);
            // The hash of the next segment if it is a word (0: a placeholder, empty, or the end).
            let next_word = pieces.get(depth + 1).map_or(0, |next| (next.word as u32).max(u32::from(next.word != 0)));
            match class.placeholder {
                Some(placeholder) => {
                    out.push_str(placeholder.as_str());
                    out.push_str(utf8(&segment[segment.len() - class.extension..]));
                    if placeholder != Placeholder::Param && placeholder != Placeholder::Rest {
                        self.mark_ids(prefix, store);
                    }
                    trace.step(segment, &out[piece_start..], Why::Rule(class.rule));
                    prior = Kind::Resource;
                }
                None if segment.is_empty() => trace.step(segment, "", Why::Empty),
                None => {
                    // A word: UTF-8 (the rules make anything else a `{token}`).
                    let text = utf8(segment);
                    let namespace = class.is_version() || is_namespace(segment);
                    if namespace {
                        out.push_str(text);
                        trace.step(
                            segment,
                            text,
                            if class.rule == Rule::Version { Why::Version } else { Why::Namespace },
                        );
                        prior = Kind::Resource;
                    } else {
                        let dotted = segment.contains(&b'.');
                        let asked = if dotted { Kind::Resource } else { prior };
                        let (verdict, kind, why) = self.judge_word(prefix, asked, segment, value, next_word, store);
                        match verdict {
                            Verdict::Literal => {
                                out.push_str(text);
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
            prefix = stable_hash_from(prefix, &out.as_bytes()[piece_start - 1..]);
        }
        self.pieces = pieces;
        if out.len() == start {
            out.push('/');
        }
    }

    fn forget_positions(&mut self) {
        self.changes += 1;
        self.positions.clear();
    }

    fn remember(&mut self, prefix: u64, position: Option<Position>) {
        self.changes += 1;
        self.positions.set(prefix, position);
    }

    fn recall(&self, prefix: u64) -> Option<&Option<Position>> {
        self.positions.get(prefix)
    }

    fn position_key(&self, prefix: u64) -> String {
        format!("{}/p/{prefix:016x}", self.prefix)
    }

    /// The position's record as this worker last saw it (fetched if not cached); `None` for a
    /// position not recorded yet, or past `max_positions` (untracked).
    fn cached(&mut self, prefix: u64, store: &mut dyn SharedStore) -> Option<&Position> {
        if self.recall(prefix).is_none() {
            match store.get(&self.position_key(prefix)) {
                Some((bytes, _)) => self.remember(prefix, Some(Position::decode(&bytes))),
                // Absent is cached only when it is for good; else it may be created any moment.
                None if self.positions_full => self.remember(prefix, None),
                None => return None,
            }
        }
        self.recall(prefix).and_then(Option::as_ref)
    }

    /// Records that an ID was seen at the position after `prefix` (once per position).
    fn mark_ids(&mut self, prefix: u64, store: &mut dyn SharedStore) {
        let positions_full = self.positions_full;
        match self.cached(prefix, store) {
            Some(position) if position.ids_seen => return,
            None if positions_full => return,
            _ => {}
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
        value: u64,
        next_word: u32,
        store: &mut dyn SharedStore,
    ) -> (Verdict, Kind, Why) {
        let kind_of = |p: &Position| if p.ids_seen { Kind::Resource } else { prior };
        let hexish = word.len() >= 6 && word.iter().all(u8::is_ascii_hexdigit);
        // Frozen and accepted are for good: a cached record that says either is still true.
        let positions_full = self.positions_full;
        match self.cached(prefix, store) {
            Some(position) => {
                let kind = kind_of(position);
                if position.ids_seen && hexish {
                    return (Verdict::Id, kind, Why::HexAtIds);
                }
                if position.frozen {
                    return frozen_verdict(position, value, kind);
                }
                if position.accepted(value) {
                    return (Verdict::Literal, kind, Why::Recurring(kind));
                }
            }
            None if positions_full => return (Verdict::Param, prior, Why::Untracked),
            None => {}
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
                    let max = self.config.max_positions();
                    if self.positions_full || increment_below(store, &self.positions_key, max).is_none() {
                        self.positions_full = get_u32(store, &self.positions_key).0 >= max;
                        self.changes += 1;
                        return None;
                    }
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
        let hash = stable_hash(name.as_bytes());
        if let Some(slot) = self.admitted.position(hash) {
            return AutoName { name: self.slot_name(Slot::Name(slot)), slot: Slot::Name(slot), admitted: None };
        }
        if self.refused.get(hash).is_some() {
            return self.overflow();
        }
        let key = format!("{}/n/{hash:016x}", self.prefix);
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
                    self.changes += 1;
                    if self.full {
                        if self.refused.len() >= REFUSED_CACHE {
                            self.refused.clear();
                        }
                        self.refused.insert(hash, 0);
                    }
                    return self.overflow();
                }
            }
        }
        let shared: Rc<str> = Rc::from(name);
        let slot = self.admitted.set(hash, Rc::clone(&shared));
        self.changes += 1;
        AutoName { name: shared, slot: Slot::Name(slot), admitted }
    }

    /// The name counted under `slot`.
    fn slot_name(&self, slot: Slot) -> Rc<str> {
        match slot {
            Slot::Name(i) => self.admitted.at(i).map_or_else(|| Rc::clone(&self.overflow), Rc::clone),
            Slot::Overflow => Rc::clone(&self.overflow),
        }
    }

    fn overflow(&self) -> AutoName {
        AutoName { name: Rc::clone(&self.overflow), slot: Slot::Overflow, admitted: None }
    }

    /// The process-wide count of admitted names, as the store has it now. Workers admit
    /// concurrently, so a gauge set at each admission can end on an older count; setting it
    /// from this on a timer makes it converge on the true one.
    pub fn admitted_total(&self, store: &mut dyn SharedStore) -> u32 {
        get_u32(store, &self.names_key).0
    }

    /// Admitted names this worker knows of.
    pub fn known_names(&self) -> usize {
        self.admitted.len()
    }
}

/// Refused names remembered per worker (8 bytes each, plus the map's own); past it the cache
/// starts again, costing only host calls.
const REFUSED_CACHE: usize = 4096;

fn frozen_verdict(position: &Position, value: u64, kind: Kind) -> (Verdict, Kind, Why) {
    if position.accepted(value) {
        (Verdict::Literal, kind, Why::KeptThroughFreeze)
    } else {
        (Verdict::Param, kind, Why::Frozen)
    }
}

/// A segment's class, and its hash if it is a non-empty word (else 0).
fn judged(segment: &[u8]) -> (Class, u64) {
    let class = classify(segment);
    let word = class.placeholder.is_none() && !segment.is_empty();
    (class, if word { stable_hash(segment).max(1) } else { 0 })
}

fn is_namespace(segment: &[u8]) -> bool {
    NAMESPACES.iter().any(|n| n.len() == segment.len() && n.as_bytes() == segment)
}

/// A literal's text. Literals are UTF-8 (the rules make anything else a placeholder), so the
/// fallback is never taken; it keeps a bad byte from costing more than an empty piece.
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests;
