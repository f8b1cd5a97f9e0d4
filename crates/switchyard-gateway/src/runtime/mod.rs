//! What a worker runs on: the live configuration (swapped whole on reload) and the
//! process-wide state beside it (`live`), the per-core context (`core`: one per worker thread,
//! never shared), the per-core upstream pool (`pool`) and the TLS client (`tls`).
//!
//! Rule: anything written per request lives in a worker's `Worker` or in its own row of a
//! shared meter; `Shared` holds control-plane state and sharded or atomic types only. The pool
//! is per core and keyed by `pool_key`, so it survives a reload untouched.

pub mod core;
pub mod fleet;
pub mod live;
pub mod pool;
pub mod tls;
