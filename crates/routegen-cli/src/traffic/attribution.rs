//! Naming observed requests the way the filter would: configured routes, then auto names
//! (simulated over one process's worth of traffic, in log order), then the default.

use crate::auto::Simulation;
use routegen_core::auto::Slot;
use routegen_core::engine::{JoinedHeaders, NativePlan, RequestLine};

/// How a request got its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum How {
    Route,
    Auto,
    Overflow,
    Default,
    /// No route, no auto name, no default: the attribute stays unset.
    Unnamed,
}

impl How {
    pub const ALL: [How; 5] = [How::Route, How::Auto, How::Overflow, How::Default, How::Unnamed];

    pub fn describe(self) -> &'static str {
        match self {
            How::Route => "configured route",
            How::Auto => "auto name",
            How::Overflow => "overflow",
            How::Default => "default",
            How::Unnamed => "unnamed",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            How::Route => "route",
            How::Auto => "auto",
            How::Overflow => "overflow",
            How::Default => "default",
            How::Unnamed => "unnamed",
        }
    }
}

/// The filter's naming over one configuration, request after request.
pub struct Attributor<'p> {
    plan: &'p NativePlan,
    auto: Option<Simulation<'p>>,
}

impl<'p> Attributor<'p> {
    pub fn new(plan: &'p NativePlan) -> Attributor<'p> {
        Attributor { plan, auto: Simulation::new(plan) }
    }

    /// The name a request gets (`None`: unset) and how.
    pub fn name(&mut self, method: &str, path: &str, host: &str) -> (Option<String>, How) {
        if let Some(auto) = &mut self.auto {
            return auto.attribute(method, path, host);
        }
        let line = RequestLine { method: method.as_bytes(), path: path.as_bytes(), authority: host.as_bytes() };
        let decision = self.plan.decide(&line, &mut JoinedHeaders::default(), &mut Vec::new());
        let how = match (decision.route, decision.name) {
            (Some(_), _) => How::Route,
            (None, Some(_)) => How::Default,
            (None, None) => How::Unnamed,
        };
        (decision.name.map(str::to_string), how)
    }
}

impl How {
    /// From the filter's decision and auto name.
    pub fn of(route: Option<usize>, name: Option<&str>, auto: Option<Slot>) -> How {
        match (route, auto, name) {
            (Some(_), _, _) => How::Route,
            (None, Some(Slot::Name(_)), _) => How::Auto,
            (None, Some(Slot::Overflow), _) => How::Overflow,
            (None, None, Some(_)) => How::Default,
            (None, None, None) => How::Unnamed,
        }
    }
}
