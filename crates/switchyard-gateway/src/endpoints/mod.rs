//! Endpoints other than chat: metrics, models and feedback (health and readiness are answered
//! inline by the connection loop).

pub mod feedback;
pub mod metrics;
pub mod models;
