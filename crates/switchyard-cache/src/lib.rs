//! Response caches: the exact cache (canonical request key, sharded CLOCK, TTL and a byte
//! bound) and the semantic index over it. No I/O.

pub mod cache;
pub mod semantic_cache;
