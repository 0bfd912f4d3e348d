//! The host calls routegen makes, none of which can panic.
//!
//! The proxy-wasm SDK's own wrappers (`hostcalls::set_property`, `get_map_value_bytes`,
//! `define_metric`, …) `panic!` on any status they do not expect, and a panic traps the VM for
//! every request on the worker. So the few calls we need are declared here against the ABI
//! directly and every status comes back as a `Result`.

use std::ptr::{null, null_mut};

/// A proxy-wasm status code other than OK.
pub type Status = u32;
const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
const CAS_MISMATCH: u32 = 8;

pub const REQUEST_HEADERS: u32 = 0;
pub const RESPONSE_HEADERS: u32 = 2;
pub const RESPONSE_TRAILERS: u32 = 3;

pub const COUNTER: u32 = 0;
pub const GAUGE: u32 = 1;

#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_set_property(path: *const u8, path_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_get_property(path: *const u8, path_size: usize, out: *mut *mut u8, out_size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(buffer: u32, start: usize, max: usize, out: *mut *mut u8, out_size: *mut usize) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_get_current_time_nanoseconds(out: *mut u64) -> u32;
    fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        out: *mut *mut u8,
        out_size: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(key: *const u8, key_size: usize, value: *const u8, value_size: usize, cas: u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
}

/// Asks for `on_tick` every `period_ms` on this VM's root context (0 stops the ticks).
pub fn set_tick_period(period_ms: u32) -> Result<(), Status> {
    // SAFETY: a plain value argument.
    match unsafe { proxy_set_tick_period_milliseconds(period_ms) } {
        OK => Ok(()),
        status => Err(status),
    }
}

/// Wall-clock nanoseconds; 0 if the host will not say (durations then read as 0).
pub fn now_nanos() -> u64 {
    let mut now = 0u64;
    // SAFETY: the out-pointer is a valid local.
    match unsafe { proxy_get_current_time_nanoseconds(&mut now) } {
        OK => now,
        _ => 0,
    }
}

/// Takes ownership of a buffer the host allocated in our memory (through the SDK's exported
/// `proxy_on_memory_allocate`, which uses the global allocator).
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes at `data` with our allocator and hands them over.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Reads a buffer-returning call's result: `Ok(None)` for NOT_FOUND.
fn read(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Option<Vec<u8>>, Status> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    match call(&mut data, &mut size) {
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        status => Err(status),
    }
}

/// A property path is its segments joined by NUL.
fn property_path(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

/// Writes filter state `wasm.<name>` (one path segment).
pub fn set_property(name: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: pointers and lengths describe live slices for the duration of the call.
    match unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) } {
        OK => Ok(()),
        status => Err(status),
    }
}

pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let path = property_path(path);
    // SAFETY: as above; the out-pointers are valid locals.
    read(|out, size| unsafe { proxy_get_property(path.as_ptr(), path.len(), out, size) })
}

pub fn header(map: u32, name: &str) -> Result<Option<Vec<u8>>, Status> {
    // SAFETY: as above.
    read(|out, size| unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), out, size) })
}

/// The plugin configuration bytes (buffer type 7).
pub fn plugin_configuration() -> Result<Vec<u8>, Status> {
    const PLUGIN_CONFIGURATION: u32 = 7;
    // SAFETY: as above.
    read(|out, size| unsafe { proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, usize::MAX, out, size) })
        .map(Option::unwrap_or_default)
}

pub fn call_foreign(name: &str, args: &[u8]) -> Result<Vec<u8>, Status> {
    let args_ptr = if args.is_empty() { null() } else { args.as_ptr() };
    // SAFETY: as above.
    read(|out, size| unsafe { proxy_call_foreign_function(name.as_ptr(), name.len(), args_ptr, args.len(), out, size) })
        .and_then(|result| result.ok_or(NOT_FOUND))
}

pub fn define_metric(kind: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: as above.
    match unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) } {
        OK => Ok(id),
        status => Err(status),
    }
}

/// Adds `delta` (a flush's count, far below 2^63) to a counter; a failed increment has
/// nowhere better to go.
pub fn add(id: u32, delta: u64) {
    // SAFETY: plain values.
    let _ = unsafe { proxy_increment_metric(id, delta as i64) };
}

pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain values.
    match unsafe { proxy_record_metric(id, value) } {
        OK => Ok(()),
        status => Err(status),
    }
}

/// Shared data (one store per VM id, seen by every worker): the value and its CAS version.
pub fn get_shared(key: &str) -> Result<Option<(Vec<u8>, u32)>, Status> {
    let mut cas = 0u32;
    // SAFETY: as above; `cas` is a valid local.
    let value = read(|out, size| unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), out, size, &mut cas) })?;
    Ok(value.map(|v| (v, cas)))
}

/// The outcome of a shared-data write.
pub enum SharedWrite {
    Ok,
    Mismatch,
    Failed(Status),
}

/// Writes shared data if its version is still `cas` (0: unconditionally).
pub fn set_shared(key: &str, value: &[u8], cas: u32) -> SharedWrite {
    let value_ptr = if value.is_empty() { null() } else { value.as_ptr() };
    // SAFETY: pointers and lengths describe live slices for the duration of the call.
    match unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value_ptr, value.len(), cas) } {
        OK => SharedWrite::Ok,
        CAS_MISMATCH => SharedWrite::Mismatch,
        status => SharedWrite::Failed(status),
    }
}
