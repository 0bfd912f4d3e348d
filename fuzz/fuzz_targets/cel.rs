//! The CEL subset: `cel::parse` on arbitrary text, then evaluation against an activation whose
//! attribute and header values come from the rest of the input, and lowering into index routes.
//! Input: `<expression> \0 <request.method> \0 <request.path> \0 ... \0 <header values>`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pieces = common::split(data, 0, 24);
    let source = String::from_utf8_lossy(pieces.remove(0));
    let Ok(expr) = routegen_core::cel::parse(&source) else { return };
    let _ = expr.uses_response();
    let _ = routegen_core::lower::lower(&expr);
    let mut act = common::FuzzActivation::from_pieces(&pieces);
    let value = routegen_core::cel::eval(&expr, &mut act);
    let boolean = routegen_core::cel::eval_bool(&expr, &mut act);
    // eval_bool is eval plus a type check.
    if let Ok(routegen_core::cel::Value::Bool(b)) = value {
        assert_eq!(boolean, Ok(b));
    }
});
