//! The gateway: the monoio data plane (listeners, connections, the chat pipeline, upstream
//! pools, relays) and the control plane (reload, signals, admin, state file), wired to the
//! pure crates below it. The `switchyard` binary is a thin CLI over [`run`] and [`check`].

mod boot;
mod conn;
mod control;
mod downstream;
mod endpoints;
mod io;
pub mod log;
mod observe;
mod pipeline;
mod relay;
mod runtime;
mod upstream;

pub use boot::run;
pub use control::source::{Overrides, Source};

/// Validates and compiles the configuration `source` names (reading every file it refers to)
/// without serving; returns a one-line summary.
pub fn check(source: &Source) -> Result<String, String> {
    let cfg = source.load()?;
    let live = runtime::live::Live::build(
        &cfg,
        &|name| source.read_file(name),
        source.hash(),
        &Default::default(),
        &Default::default(),
        &observe::meters::Stats::new(1),
    )?;
    Ok(format!("OK ({} providers, {} models)", live.table.providers.len(), live.table.targets.len()))
}
