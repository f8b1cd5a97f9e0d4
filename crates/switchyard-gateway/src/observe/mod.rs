//! Observability state written on the request path and read at scrape time: per-worker
//! counter rows and histograms, strategy counters, and the decision log's writer thread. Only
//! atomics and a bounded channel here: recording never blocks and never does I/O on a worker.

pub mod console;
pub mod decision_log;
pub mod histogram;
pub mod meters;
