//! The request view: the few fields of a chat body that routing and forwarding need.

use std::ops::Range;

use simd_json::prelude::*;

use crate::error::ApiError;
use crate::json::top_level_value_span;

/// What is wrong with a chat request body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// Not parseable JSON.
    #[error("We could not parse the JSON body of your request: {0}")]
    InvalidJson(String),
    /// Valid JSON, but not an object.
    #[error("The request body must be a JSON object.")]
    NotObject,
    /// No `model` field.
    #[error("you must provide a model parameter")]
    MissingModel,
    /// `model` is present but not a string.
    #[error("`model` must be a string")]
    ModelNotString,
    /// `messages` is missing or not an array.
    #[error("`messages` must be an array")]
    BadMessages,
    /// `stream` is not a boolean.
    #[error("`stream` must be a boolean")]
    BadStream,
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> ApiError {
        let param = match e {
            ViewError::MissingModel | ViewError::ModelNotString => Some("model"),
            ViewError::BadMessages => Some("messages"),
            ViewError::BadStream => Some("stream"),
            _ => None,
        };
        ApiError::bad_request(e.to_string(), param)
    }
}

/// Fields read from an OpenAI chat completion body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestView {
    /// The model asked for.
    pub model: String,
    /// Byte range of the `model` value (with quotes) in the original body, when found.
    pub model_span: Option<Range<usize>>,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`.
    pub include_usage: bool,
    /// Number of messages.
    pub messages: usize,
}

impl RequestView {
    /// Reads the view from `body`; `scratch` is a reusable buffer simd-json may mutate, so the
    /// original bytes stay intact for forwarding.
    pub fn parse(body: &[u8], scratch: &mut Vec<u8>) -> Result<RequestView, ViewError> {
        scratch.clear();
        scratch.extend_from_slice(body);
        let v = simd_json::to_borrowed_value(scratch)
            .map_err(|e| ViewError::InvalidJson(e.to_string()))?;
        if !v.is_object() {
            return Err(ViewError::NotObject);
        }
        let model = match v.get("model") {
            None => return Err(ViewError::MissingModel),
            Some(m) => m.as_str().ok_or(ViewError::ModelNotString)?.to_string(),
        };
        let stream = match v.get("stream") {
            None => false,
            Some(s) if s.is_null() => false,
            Some(s) => s.as_bool().ok_or(ViewError::BadStream)?,
        };
        let include_usage = v
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(|b| b.as_bool())
            .unwrap_or(false);
        let messages = v
            .get("messages")
            .and_then(|m| m.as_array())
            .ok_or(ViewError::BadMessages)?
            .len();
        Ok(RequestView {
            model_span: top_level_value_span(body, "model"),
            model,
            stream,
            include_usage,
            messages,
        })
    }
}

/// Appends `body` with the `model` value replaced by `new_model_json` (a JSON string literal).
///
/// Splices around the byte range when known; otherwise re-serialises (only for bodies that
/// spell the key with escapes).
pub fn rewrite_model(body: &[u8], view: &RequestView, new_model_json: &[u8], out: &mut Vec<u8>) {
    if let Some(span) = &view.model_span {
        out.extend_from_slice(&body[..span.start]);
        out.extend_from_slice(new_model_json);
        out.extend_from_slice(&body[span.end..]);
        return;
    }
    let mut scratch = body.to_vec();
    let mut v =
        simd_json::to_owned_value(&mut scratch).expect("body was validated by RequestView::parse");
    let model: String = simd_json::to_owned_value(&mut new_model_json.to_vec())
        .ok()
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("model".into(), simd_json::OwnedValue::from(model));
    }
    out.extend_from_slice(simd_json::to_string(&v).unwrap_or_default().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: &str) -> Result<RequestView, ViewError> {
        RequestView::parse(body.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn reads_fields() {
        let v = view(r#"{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(v.model, "auto");
        assert!(v.stream && v.include_usage);
        assert_eq!(v.messages, 1);
        let v = view(r#"{"model":"a","messages":[],"stream":null}"#).unwrap();
        assert!(!v.stream && !v.include_usage);
    }

    #[test]
    fn errors() {
        assert!(matches!(view("{not json"), Err(ViewError::InvalidJson(_))));
        assert!(matches!(view(""), Err(ViewError::InvalidJson(_))));
        assert_eq!(view("[1]"), Err(ViewError::NotObject));
        assert_eq!(view(r#"{"messages":[]}"#), Err(ViewError::MissingModel));
        assert_eq!(
            view(r#"{"model":3,"messages":[]}"#),
            Err(ViewError::ModelNotString)
        );
        assert_eq!(view(r#"{"model":"a"}"#), Err(ViewError::BadMessages));
        assert_eq!(
            view(r#"{"model":"a","messages":[],"stream":"yes"}"#),
            Err(ViewError::BadStream)
        );
        let e: ApiError = ViewError::MissingModel.into();
        assert_eq!((e.status, e.param), (400, Some("model")));
    }

    #[test]
    fn rewrite_keeps_everything_else_byte_for_byte() {
        let body = r#"{ "temperature": 0.25, "model" : "auto", "messages":[{"role":"user","content":"model \"x\""}], "x_unknown": {"a": [1, 2.50]} }"#;
        let v = view(body).unwrap();
        let mut out = Vec::new();
        rewrite_model(body.as_bytes(), &v, b"\"gpt-4o-mini\"", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            body.replace("\"auto\"", "\"gpt-4o-mini\"")
        );
    }

    #[test]
    fn rewrite_with_escaped_key_falls_back_to_reserialising() {
        let body = r#"{"mod\u0065l":"auto","messages":[]}"#;
        let v = view(body).unwrap();
        assert_eq!(v.model, "auto");
        assert_eq!(v.model_span, None);
        let mut out = Vec::new();
        rewrite_model(body.as_bytes(), &v, b"\"m2\"", &mut out);
        let back = view(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(back.model, "m2");
    }
}
