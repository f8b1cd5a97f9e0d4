//! Shared inputs for the benches: prompts of several sizes and a routing config.

/// A chat body whose last user message is `text`, after `turns` earlier exchanges.
pub fn chat_body(model: &str, text: &str, turns: usize) -> String {
    let mut msgs = vec![r#"{"role":"system","content":"You are a helpful assistant."}"#.to_string()];
    for i in 0..turns {
        msgs.push(format!(
            r#"{{"role":"user","content":"Earlier question number {i} about the design of the system, with some detail to make it realistic."}}"#
        ));
        msgs.push(format!(
            r#"{{"role":"assistant","content":"Earlier answer number {i}: a few sentences explaining trade-offs, caveats and a recommendation for next steps."}}"#
        ));
    }
    msgs.push(format!(r#"{{"role":"user","content":{}}}"#, switchyard_wire::json::quote(text)));
    format!(r#"{{"model":"{model}","stream":true,"temperature":0.2,"messages":[{}]}}"#, msgs.join(","))
}

/// A short prompt.
pub const SHORT: &str = "What is the capital of France?";

/// About 1 KB of prompt text with reasoning markers and a question.
pub fn prompt_1k() -> String {
    let base = "Explain why the service latency increased after the deploy, compare the two caching strategies we discussed, and suggest which one to keep. ";
    base.repeat(1024 / base.len() + 1)[..1024].to_string()
}

/// A conversation of about 32 KB.
pub fn conversation_32k(model: &str) -> String {
    chat_body(model, &prompt_1k(), 140)
}
