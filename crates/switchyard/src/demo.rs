//! `switchyard demo`: the gateway on `examples/mock.toml` with an in-process mock provider.

use mock_llm::MockConfig;

use switchyard_gateway::{Overrides, Source};

/// The bundled demo configuration.
const DEMO_CONFIG: &str = include_str!("../../../examples/mock.toml");
/// The learned router weights `examples/mock.toml` names, built in so the demo runs anywhere.
const LEARNED_WEIGHTS: &[u8] = include_bytes!("../../../models/learned-router-embed.bin");

/// The sentence-embedding table and its vocabulary, built in for the same reason (15 MB).
const EMBEDDINGS: &[u8] = include_bytes!("../../../models/embeddings/minilm-static-256.bin");
const EMBEDDINGS_VOCAB: &[u8] = include_bytes!("../../../models/embeddings/vocab.txt");

/// Starts a mock provider on a free port, then the gateway in front of it.
pub fn run(mut overrides: Overrides) -> Result<(), String> {
    let mock = mock_llm::start(MockConfig {
        latency_ms: 20,
        tokens: 24,
        token_interval_ms: 25,
        threads: 1,
        ..MockConfig::default()
    })
    .map_err(|e| format!("cannot start the mock provider: {e}"))?;
    let listen = overrides.listen.get_or_insert_with(|| "127.0.0.1:8080".to_string()).clone();
    // The console on the admin listener (loopback: no admin key needed from this host); a
    // free port for it too when the client port is left to the system.
    let admin = if listen.ends_with(":0") { "127.0.0.1:0" } else { "127.0.0.1:9901" };
    overrides.admin_listen.get_or_insert_with(|| admin.to_string());
    switchyard_gateway::info!("demo: mock provider on {}", mock.base_url());
    switchyard_gateway::info!(
        "demo: try  curl -s http://{listen}/v1/chat/completions -H 'content-type: application/json' \
         -d '{{\"model\":\"mock-openai\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'"
    );
    let source = Source::Inline {
        text: DEMO_CONFIG.to_string(),
        vars: vec![("MOCK_URL".into(), mock.base_url())],
        files: vec![
            ("../models/learned-router-embed.bin", LEARNED_WEIGHTS),
            ("../models/embeddings/minilm-static-256.bin", EMBEDDINGS),
            ("../models/embeddings/vocab.txt", EMBEDDINGS_VOCAB),
        ],
    };
    switchyard_gateway::run(source, overrides)
}
