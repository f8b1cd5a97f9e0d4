//! Default price table, USD per million tokens, and context windows.
//!
//! Taken from LiteLLM's `model_prices_and_context_window.json` as copied in RoCry/llm-api-price
//! (synced 2026-07-24); see `../shared/protocols.md` §6. Config values override these.

/// Date the prices were taken.
pub const PRICES_AS_OF: &str = "2026-07-24";

/// (model, input USD/1M, output USD/1M, context window).
pub const PRICES: &[(&str, f64, f64, u32)] = &[
    ("gpt-4o", 2.50, 10.00, 128_000),
    ("gpt-4o-mini", 0.15, 0.60, 128_000),
    ("gpt-4.1", 2.00, 8.00, 1_047_576),
    ("gpt-4.1-mini", 0.40, 1.60, 1_047_576),
    ("o3-mini", 1.10, 4.40, 200_000),
    ("claude-3-5-haiku-20241022", 0.80, 4.00, 200_000),
    ("claude-haiku-4-5", 1.00, 5.00, 200_000),
    ("claude-sonnet-4-20250514", 3.00, 15.00, 200_000),
    ("claude-sonnet-4-5", 3.00, 15.00, 200_000),
    ("gemini-2.0-flash", 0.10, 0.40, 1_048_576),
    ("gemini-2.5-flash", 0.30, 2.50, 1_048_576),
    ("gemini-2.5-pro", 1.25, 10.00, 1_048_576),
    ("llama-3.3-70b-versatile", 0.59, 0.79, 128_000),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 0.88, 128_000),
    // Embedding models (protocols.md §6): input tokens only.
    ("text-embedding-3-small", 0.02, 0.0, 8_191),
    ("text-embedding-3-large", 0.13, 0.0, 8_191),
    ("gemini-embedding-001", 0.15, 0.0, 2_048),
];

/// Price entry for a provider model name: exact, else the longest known prefix
/// (`claude-haiku-4-5-20251001` → `claude-haiku-4-5`), ignoring a `provider/` prefix.
pub fn lookup(model: &str) -> Option<(f64, f64, u32)> {
    let name = model.rsplit_once('/').filter(|(p, _)| !p.contains("meta-llama")).map_or(model, |(_, n)| n);
    PRICES
        .iter()
        .filter(|(k, ..)| name == *k || model == *k || name.starts_with(&format!("{k}-")))
        .max_by_key(|(k, ..)| k.len())
        .map(|&(_, i, o, c)| (i, o, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(lookup("gpt-4o-mini"), Some((0.15, 0.60, 128_000)));
        assert_eq!(lookup("gpt-4o"), Some((2.50, 10.00, 128_000)));
        assert_eq!(lookup("claude-haiku-4-5-20251001").map(|p| p.0), Some(1.00));
        assert_eq!(lookup("gemini/gemini-2.5-pro").map(|p| p.1), Some(10.00));
        assert_eq!(lookup("meta-llama/Llama-3.3-70B-Instruct-Turbo").map(|p| p.0), Some(0.88));
        assert_eq!(lookup("my-private-model"), None);
    }
}
