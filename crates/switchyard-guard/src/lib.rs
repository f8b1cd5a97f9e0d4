//! Admission guards: hashed client keys compared in constant time, per-key GCRA rate limits
//! and spend budgets as atomics shared by every worker. No I/O.

pub mod fleet;
pub mod keys;
pub mod limits;
