//! Endpoints other than chat: metrics and feedback (models, health and readiness are answered
//! inline by the connection loop from precomputed bodies).

pub mod feedback;
pub mod metrics;
