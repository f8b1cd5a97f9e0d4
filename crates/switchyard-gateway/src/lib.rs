//! The gateway: the monoio data plane (listeners, connections, the chat pipeline, upstream
//! pools, relays) and the control plane (reload, signals, admin, state file), wired to the
//! pure crates below it. The `switchyard` binary is a thin CLI over [`server::run`] and [`check`].

mod admin;
mod answers;
mod conn;
mod decisions;
mod deliver;
mod exchange;
mod fetch;
mod io;
mod live;
pub mod log;
mod metrics;
mod overhead;
mod proxy;
mod records;
mod relay;
pub mod server;
mod state;
mod stats;
mod strategies;
mod tls;
mod translate;
mod upstream;
mod worker;

/// Validates and compiles the configuration `source` names (reading every file it refers to)
/// without serving; returns a one-line summary.
pub fn check(source: &server::Source) -> Result<String, String> {
    let cfg = source.load()?;
    let live = live::Live::build(&cfg, source, &Default::default(), &Default::default(), &stats::Stats::new(1))?;
    Ok(format!("OK ({} providers, {} models)", live.table.providers.len(), live.table.targets.len()))
}
