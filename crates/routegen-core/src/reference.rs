//! The obviously-correct reference: a sequential first-match scan, route by route.
//!
//! It defines what the compiled index must answer (the differential tests compare the two on
//! random tables) and is the baseline the benchmarks measure against.

use crate::engine::HeaderSource;
use crate::route::RouteSpec;

/// The first route whose method, path, headers and query hold, trying each route in order.
/// `path` is already cut at the query and normalised; `query` is the raw query string.
pub fn first_match(
    routes: &[RouteSpec],
    method: &[u8],
    path: &[u8],
    query: &[u8],
    headers: &mut dyn HeaderSource,
) -> Option<usize> {
    routes.iter().position(|route| {
        route.methods.allows(method)
            && route.path.matches(path)
            && route.headers.iter().all(|h| h.matches(headers.header(&h.name).as_deref()))
            && route.query.iter().all(|q| q.matches(crate::route::query_value(query, &q.name)))
    })
}
