//! The endpoints beside chat: OpenAI `/v1/embeddings`, Gemini `:embedContent` and
//! `:batchEmbedContents`, and Anthropic `/v1/messages/count_tokens`. Embeddings are
//! deterministic per text (a hash spread over the dimensions, unit length), so a test can check
//! that a vector belongs to its input.

use serde_json::{Value, json};
use switchyard_http::head::Method;

use crate::chat::Dialect;

/// Dimensions of an embedding unless the request asks for others.
const DIMENSIONS: usize = 8;

/// The answer to a non-chat request, with the dialect its errors are in; None for other paths.
pub fn answer(method: Method, path: &str, body: &[u8]) -> Option<(Dialect, Result<String, String>)> {
    if method != Method::Post {
        return None;
    }
    let parsed = || serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
    if path == "/v1/embeddings" {
        return Some((Dialect::OpenAi, parsed().and_then(|v| openai_embeddings(&v))));
    }
    if path == "/v1/messages/count_tokens" {
        return Some((Dialect::Anthropic, parsed().and_then(|v| count_tokens(&v, body.len()))));
    }
    let (model, action) = path.strip_prefix("/v1beta/models/")?.rsplit_once(':')?;
    let answer = match action {
        "embedContent" => parsed().and_then(|v| gemini_embed(&v).map(|e| json!({"embedding": e}).to_string())),
        "batchEmbedContents" => parsed().and_then(|v| gemini_batch(&v, model)),
        _ => return None,
    };
    Some((Dialect::Gemini, answer))
}

/// A unit vector for `text` in `dims` dimensions (FNV-1a of the text and each index).
pub fn embedding(text: &str, dims: usize) -> Vec<f64> {
    let h = |i: usize| {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ i as u64;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        (h >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let v: Vec<f64> = (0..dims).map(h).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    v.into_iter().map(|x| x / norm).collect()
}

fn openai_embeddings(v: &Value) -> Result<String, String> {
    let model = v["model"].as_str().ok_or("you must provide a model parameter")?;
    // Strings, or token arrays (embedded by their JSON text).
    let inputs: Vec<String> = match &v["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_u64) => vec![v["input"].to_string()],
        Value::Array(a) if !a.is_empty() => {
            a.iter().map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string)).collect()
        }
        _ => return Err("'input' is a required property".into()),
    };
    let dims = v["dimensions"].as_u64().map_or(DIMENSIONS, |d| d as usize);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object":"embedding","index":i,"embedding":embedding(t, dims)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.len().div_ceil(4)).sum();
    Ok(json!({"object":"list","model":model,"data":data,"usage":{"prompt_tokens":tokens,"total_tokens":tokens}})
        .to_string())
}

fn gemini_embed(v: &Value) -> Result<Value, String> {
    let text: String = v
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .ok_or("content: required")?
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    let dims = v["outputDimensionality"].as_u64().map_or(DIMENSIONS, |d| d as usize);
    Ok(json!({"values": embedding(&text, dims)}))
}

fn gemini_batch(v: &Value, model: &str) -> Result<String, String> {
    let requests = v["requests"].as_array().ok_or("requests: required")?;
    let mut out = Vec::new();
    for r in requests {
        if r["model"].as_str().is_some_and(|m| m != format!("models/{model}")) {
            return Err(format!("requests[].model must be models/{model}"));
        }
        out.push(gemini_embed(r)?);
    }
    Ok(json!({"embeddings": out}).to_string())
}

fn count_tokens(v: &Value, len: usize) -> Result<String, String> {
    if !v["model"].is_string() {
        return Err("model: Field required".into());
    }
    if !v["messages"].is_array() {
        return Err("messages: Field required".into());
    }
    Ok(json!({"input_tokens": len.div_ceil(4)}).to_string())
}
