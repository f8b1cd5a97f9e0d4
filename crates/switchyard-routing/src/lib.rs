//! Routing: the `RouteTable` compiled from a config, the strategies that score a request
//! (rules, complexity, semantic intents, the learned router), the balancer that orders a
//! tier's targets by health and cost, cascade checks and the consensus vote. No I/O: files
//! named in the config come through a `FileLoader`.
//!
//! Module order, bottom to top: `target` (providers and targets) → `health` →
//! `balancer` (the `Plan`) → `strategy`, `learned`, `eval` → `route` → `table`.

pub mod balancer;
pub mod cascade;
pub mod consensus;
pub mod describe;
pub mod eval;
pub mod health;
pub mod ids;
pub mod learned;
pub mod models;
pub mod route;
pub mod strategy;
pub mod table;
pub mod target;
pub mod training;

pub use balancer::Plan;
pub use ids::{RouteId, TargetId};
pub use route::{DecideScratch, Decision, Route, Strategy};
pub use table::RouteTable;
pub use target::{Provider, Target};
