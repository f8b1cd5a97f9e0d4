//! Endpoints other than chat: embeddings, token counts, metrics, models and feedback (health and readiness are answered
//! inline by the connection loop).

pub mod count_tokens;
pub mod embeddings;
pub mod feedback;
pub mod fleet_metrics;
pub mod metrics;
pub mod models;
