//! The config loader: any text gives a config or an error naming a field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_routing::health::HealthRegistry;
use switchyard_config::Config;
use switchyard_routing::RouteTable;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |k: &str| (k == "FUZZ").then(|| "value".to_string());
    match Config::parse(text, &env) {
        // A valid config compiles to a route table or fails with a named field, too.
        Ok(cfg) => {
            if let Err(e) = RouteTable::compile(&cfg, &|_| Err("no files while fuzzing".into()), &HealthRegistry::default()) {
                assert!(!e.field.is_empty());
            }
        }
        Err(e) => assert!(!e.field.is_empty()),
    }
});
