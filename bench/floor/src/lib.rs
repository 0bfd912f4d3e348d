//! The floor: what every proxy-wasm filter pays per request (VM entry, a context, two header
//! reads, one property write), with no decision at all. routegen's cost over this is the cost
//! of attribution itself.
//!
//! With the plugin configuration `authority` it also reads `:authority`, as routegen does on
//! every request: the difference between the two prices one header hostcall.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { authority: false }) });
}}

struct Root {
    authority: bool,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.authority = self.get_plugin_configuration().as_deref() == Some(&b"authority"[..]);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { authority: self.authority }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Floor {
    authority: bool,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let method = self.get_http_request_header_bytes(":method");
        let path = self.get_http_request_header_bytes(":path");
        let authority = if self.authority { self.get_http_request_header_bytes(":authority") } else { None };
        // Use the reads so none can be optimised away; the value is constant.
        if method.is_some() || path.is_some() || authority.is_some() {
            self.set_property(vec!["istio_operationId"], Some(b"floor"));
        }
        Action::Continue
    }
}
