//! Routing strategies: each turns a request into a tier (or a model), or passes.

pub mod complexity;
pub mod rules;
pub mod semantic;

/// Where a strategy sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// A tier of the route, by index.
    Tier(usize),
    /// A model.
    Model(crate::ids::TargetId),
}

/// Per-request signals computed once and shared by the strategies.
#[derive(Debug, Default)]
pub struct Signals {
    /// The last user turn, ASCII-lowercased.
    pub lower: String,
    /// Code present in the last user turn.
    pub has_code: bool,
}

impl Signals {
    /// Computes the signals of `text` into `self`, reusing its allocation.
    pub fn fill(&mut self, text: &str) {
        self.lower.clear();
        self.lower.push_str(text);
        self.lower.make_ascii_lowercase();
        self.has_code = switchyard_wire::text::has_code(text);
    }
}
