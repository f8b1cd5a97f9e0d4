//! The three wire dialects switchyard speaks (OpenAI chat completions, Anthropic Messages,
//! Google Gemini `generateContent`) and translation between any two: requests, responses,
//! stream events and errors, plus token usage. No I/O.
//!
//! OpenAI's shape is the hub: requests are translated through it, and streams are decoded
//! into [`Delta`]s that any client-side encoder turns back into events. Bodies are handled as
//! `serde_json::Value`, so fields a translation does not touch are kept as they came.
//!
//! Also here: the one [`Dialect`] enum every other crate names, the request view read from a
//! chat body (simd-json tape, no DOM), and client-facing errors rendered per dialect.

pub mod answer;
pub mod api_error;
pub mod completion;
pub mod embeddings;
pub mod error;
pub mod json;
pub mod pump;
pub mod ratelimit;
pub mod redact;
pub mod render;
pub mod replay;
pub mod request;
pub mod responses;
pub mod stream;
pub mod tape;
pub mod text;
pub mod time;
pub mod usage;
pub mod view;

pub use api_error::ApiError;
pub use completion::{Completion, FinishReason, ToolCall};
pub use error::{ErrorKind, UpstreamError};
pub use pump::{EventPump, PumpSpec, StreamFault};
pub use replay::CompletionBuilder;
pub use stream::{Delta, StreamDecoder, StreamEncoder};
pub use tape::JsonScratch;
pub use usage::Usage;
pub use view::{RequestView, ViewError};

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// OpenAI chat completions (and compatible servers).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
    /// The OpenAI Responses API (`/v1/responses`): a client dialect, and the upstream dialect
    /// of an OpenAI provider with `responses = true` answering a Responses client (never set
    /// as a provider's `dialect` in config).
    #[serde(skip)]
    Responses,
}

/// Why a body could not be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The body is not what the dialect requires.
    #[error("{0}")]
    Invalid(String),
    /// A feature the target dialect cannot express.
    #[error("{0} is not supported by the {1} dialect")]
    Unsupported(&'static str, &'static str),
}

fn invalid(msg: impl Into<String>) -> TranslateError {
    TranslateError::Invalid(msg.into())
}

/// Seconds since the epoch, for `created` fields.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
