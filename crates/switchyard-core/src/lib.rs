//! The pure logic of switchyard: configuration, the compiled `RouteTable`, the request view
//! read from a chat body, and provider-shaped errors. No I/O happens here.

pub mod config;
pub mod endpoint;
pub mod error;
pub mod eval;
pub mod json;
pub mod learned;
pub mod table;
pub mod text;
pub mod training;
pub mod view;

pub use config::{Config, ConfigError};
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use table::{Provider, RouteTable, Target};
pub use view::{RequestView, ViewError};
