//! The pure logic of switchyard: configuration, the compiled `RouteTable`, the request view
//! read from a chat body, and provider-shaped errors. No I/O happens here.

pub mod balancer;
pub mod cache;
pub mod cascade;
pub mod config;
pub mod consensus;
pub mod endpoint;
pub mod error;
pub mod eval;
pub mod health;
pub mod json;
pub mod keys;
pub mod learned;
pub mod limits;
pub mod models;
pub mod prices;
pub mod route;
pub mod semantic_cache;
pub mod strategy;
pub mod table;
pub mod tape;
pub mod text;
pub mod training;
pub mod view;

pub use config::{Config, ConfigError};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use route::{DecideScratch, Decision, Route, Strategy};
pub use table::{Provider, RouteTable, Target};
pub use tape::JsonScratch;
pub use view::{RequestView, ViewError};
