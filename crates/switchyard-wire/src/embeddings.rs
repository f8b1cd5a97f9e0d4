//! `POST /v1/embeddings`: the OpenAI request read and checked, Gemini's
//! `batchEmbedContents` built from it and read back into OpenAI's list. No I/O.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::ApiError;

/// Inputs per Gemini `batchEmbedContents` call (the API's limit).
pub const GEMINI_BATCH: usize = 100;

/// An embeddings request as a client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The model asked for.
    pub model: String,
    /// The input texts (None when the input is token arrays, which only OpenAI-compatible
    /// upstreams take).
    pub texts: Option<Vec<String>>,
    /// `dimensions`.
    pub dimensions: Option<u64>,
    /// `encoding_format: "base64"`.
    pub base64: bool,
    /// The body, parsed.
    pub body: Value,
}

impl EmbeddingsRequest {
    /// Reads and checks a body.
    pub fn parse(body: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("We could not parse the JSON body of your request: {e}"), None)
        })?;
        let Some(model) = v["model"].as_str() else {
            return Err(ApiError::bad_request("you must provide a model parameter", Some("model")));
        };
        let texts = match &v["input"] {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
                Some(a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            }
            // Token ids: one array of integers, or an array of them.
            Value::Array(a) if !a.is_empty() && (a.iter().all(Value::is_u64) || a.iter().all(is_token_array)) => None,
            _ => {
                let msg = "'input' must be a string, an array of strings, or token arrays, and not empty";
                return Err(ApiError::bad_request(msg, Some("input")));
            }
        };
        let base64 = match v["encoding_format"].as_str() {
            None | Some("float") => false,
            Some("base64") => true,
            Some(other) => {
                let msg = format!("'encoding_format' must be 'float' or 'base64', not '{other}'");
                return Err(ApiError::bad_request(msg, Some("encoding_format")));
            }
        };
        Ok(EmbeddingsRequest { model: model.to_string(), texts, dimensions: v["dimensions"].as_u64(), base64, body: v })
    }

    /// Bytes of input text (what usage is estimated from when the upstream reports none).
    pub fn text_bytes(&self) -> usize {
        self.texts.iter().flatten().map(String::len).sum()
    }

    /// The body for an OpenAI-compatible upstream's model `upstream_model`.
    pub fn openai_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut v = self.body.clone();
        v["model"] = json!(upstream_model);
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// Gemini `batchEmbedContents` bodies, one per `GEMINI_BATCH` inputs.
    pub fn gemini_batches(&self, upstream_model: &str) -> Vec<Vec<u8>> {
        let texts = self.texts.as_deref().unwrap_or_default();
        texts
            .chunks(GEMINI_BATCH)
            .map(|chunk| {
                let requests: Vec<Value> = chunk
                    .iter()
                    .map(|t| {
                        let mut r =
                            json!({"model": format!("models/{upstream_model}"), "content": {"parts": [{"text": t}]}});
                        if let Some(d) = self.dimensions {
                            r["outputDimensionality"] = json!(d);
                        }
                        r
                    })
                    .collect();
                serde_json::to_vec(&json!({"requests": requests})).unwrap_or_default()
            })
            .collect()
    }

    /// OpenAI's list for `vectors`, named `model`, with `prompt_tokens` of usage.
    pub fn openai_list(&self, model: &str, vectors: &[Vec<f64>], prompt_tokens: u64) -> Value {
        let data: Vec<Value> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let embedding = if self.base64 { json!(base64_f32(v)) } else { json!(v) };
                json!({"object": "embedding", "index": i, "embedding": embedding})
            })
            .collect();
        json!({"object": "list", "model": model, "data": data,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}})
    }
}

fn is_token_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_u64))
}

/// The vectors of a Gemini `batchEmbedContents` answer, in order.
pub fn from_gemini_batch(v: &Value) -> Result<Vec<Vec<f64>>, String> {
    let list = v["embeddings"].as_array().ok_or("the answer has no `embeddings`")?;
    list.iter()
        .map(|e| {
            e["values"]
                .as_array()
                .ok_or_else(|| "an embedding has no `values`".to_string())
                .map(|vals| vals.iter().filter_map(Value::as_f64).collect())
        })
        .collect()
}

/// A vector as OpenAI's base64: little-endian f32s.
fn base64_f32(v: &[f64]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_and_batched() {
        let r = EmbeddingsRequest::parse(br#"{"model":"e","input":["a","b"],"dimensions":4}"#).unwrap();
        assert_eq!(r.texts.as_deref(), Some(&["a".to_string(), "b".to_string()][..]));
        let many: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        let r = EmbeddingsRequest { texts: Some(many), ..r };
        let batches = r.gemini_batches("text-embedding-004");
        assert_eq!(batches.len(), 3);
        let first: Value = serde_json::from_slice(&batches[0]).unwrap();
        assert_eq!(first["requests"].as_array().unwrap().len(), 100);
        assert_eq!(first["requests"][0]["model"], "models/text-embedding-004");
        assert_eq!(first["requests"][0]["outputDimensionality"], 4);
        assert!(EmbeddingsRequest::parse(br#"{"model":"e","input":[[1,2],[3]]}"#).unwrap().texts.is_none());
        for bad in [
            &br#"{"input":"a"}"#[..],
            br#"{"model":"e"}"#,
            br#"{"model":"e","input":[]}"#,
            br#"{"model":"e","input":"a","encoding_format":"hex"}"#,
        ] {
            assert_eq!(EmbeddingsRequest::parse(bad).unwrap_err().status, 400);
        }
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let r = EmbeddingsRequest::parse(br#"{"model":"e","input":"a","encoding_format":"base64"}"#).unwrap();
        let list = r.openai_list("e", &[vec![1.0, -2.0]], 3);
        let b =
            base64::engine::general_purpose::STANDARD.decode(list["data"][0]["embedding"].as_str().unwrap()).unwrap();
        assert_eq!(b, [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat());
        assert_eq!(list["usage"]["prompt_tokens"], 3);
    }
}
