//! The request view: the few fields of a chat body that routing and forwarding need.

use std::ops::Range;

use simd_json::prelude::*;

use simd_json::tape::Value as TapeValue;

use crate::api_error::ApiError;
use crate::json::{unique_top_level_value_span, unique_top_level_value_span_from_end};
use crate::tape::JsonScratch;

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
    /// A top-level key appears twice: parsers disagree on which one counts.
    #[error("duplicate key `{0}` in the request body")]
    DuplicateKey(String),
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Text of the last user message (text parts joined by newlines).
    pub last_user: String,
    /// Text of the system/developer messages, joined.
    pub system: String,
    /// Bytes of text over all messages (for the token estimate).
    pub text_bytes: usize,
    /// The request offers tools.
    pub has_tools: bool,
    /// `metadata` string pairs from the body.
    pub metadata: Vec<(String, String)>,
    /// The output cap the client set (`max_completion_tokens`, else `max_tokens`).
    pub max_tokens: Option<u64>,
}

impl RequestView {
    /// Reads the view from `body`.
    pub fn parse(body: &[u8], scratch: &mut JsonScratch) -> Result<RequestView, ViewError> {
        let mut view = RequestView::default();
        view.parse_from(body, scratch)?;
        Ok(view)
    }

    /// Reads the view from `body` into `self`, reusing its strings' memory (a connection keeps
    /// one view, so a request allocates none for `model` and the prompt texts). On error `self`
    /// holds a partial view.
    pub fn parse_from(&mut self, body: &[u8], scratch: &mut JsonScratch) -> Result<(), ViewError> {
        self.parse_from_if(body, scratch, &|_| true)
    }

    /// [`RequestView::parse_from`], copying the prompt texts (`last_user`, `system`) only when
    /// `texts(model)` says something will read them; otherwise they are left empty (every other
    /// field, `text_bytes` included, is read). A request that names a model is forwarded as is:
    /// copying a long prompt it never reads is the view's largest cost after the parse itself.
    pub fn parse_from_if(
        &mut self,
        body: &[u8],
        scratch: &mut JsonScratch,
        texts: &dyn Fn(&str) -> bool,
    ) -> Result<(), ViewError> {
        scratch
            .with_tape(body, |v| self.read(body, v, texts))
            .map_err(|e| ViewError::InvalidJson(crate::tape::describe_error(&e)))
            .and_then(|r| r)
    }

    fn read(&mut self, body: &[u8], v: TapeValue<'_, '_>, texts: &dyn Fn(&str) -> bool) -> Result<(), ViewError> {
        let Some(obj) = v.as_object() else {
            return Err(ViewError::NotObject);
        };
        unique_keys(obj.keys())?;
        match v.get("model") {
            None => return Err(ViewError::MissingModel),
            Some(m) => {
                let model = m.as_str().ok_or(ViewError::ModelNotString)?;
                self.model.clear();
                self.model.push_str(model);
            }
        }
        self.stream = match v.get("stream") {
            None => false,
            Some(s) if s.is_null() => false,
            Some(s) => s.as_bool().ok_or(ViewError::BadStream)?,
        };
        self.include_usage =
            v.get("stream_options").and_then(|o| o.get("include_usage")).and_then(|b| b.as_bool()).unwrap_or(false);
        let msgs = v.get("messages").and_then(|m| m.as_array()).ok_or(ViewError::BadMessages)?;
        self.model_span = model_span(body, obj.keys());
        self.messages = msgs.len();
        self.last_user.clear();
        self.system.clear();
        self.text_bytes = 0;
        self.has_tools = v.get("tools").and_then(|t| t.as_array()).is_some_and(|t| !t.is_empty());
        self.max_tokens =
            ["max_completion_tokens", "max_tokens"].iter().find_map(|k| v.get(k).and_then(|t| t.as_u64()));
        self.metadata.clear();
        let want_texts = texts(&self.model);
        let mut last_user = None;
        for m in &msgs {
            let role_value = m.get("role");
            let role = role_value.as_ref().and_then(|r| r.as_str()).unwrap_or("");
            let content = m.get("content");
            self.text_bytes += content.map_or(0, content_len);
            match role {
                "system" | "developer" if want_texts => {
                    if let Some(c) = content {
                        if !self.system.is_empty() {
                            self.system.push('\n');
                        }
                        push_content(&mut self.system, c);
                    }
                }
                "user" => last_user = content,
                _ => {}
            }
        }
        if let Some(c) = last_user.filter(|_| want_texts) {
            push_content(&mut self.last_user, c);
        }
        if let Some(meta) = v.get("metadata").and_then(|m| m.as_object()) {
            for (k, val) in meta.iter() {
                if let Some(s) = val.as_str() {
                    self.metadata.push((k.to_string(), s.to_string()));
                }
            }
        }
        Ok(())
    }

    /// A view of a bare prompt (one user message), for dry runs and calibration.
    pub fn from_prompt(model: &str, prompt: &str) -> RequestView {
        RequestView {
            model: model.to_string(),
            model_span: None,
            stream: false,
            include_usage: false,
            messages: 1,
            last_user: prompt.to_string(),
            system: String::new(),
            text_bytes: prompt.len(),
            has_tools: false,
            metadata: Vec::new(),
            max_tokens: None,
        }
    }

    /// Estimated prompt tokens.
    pub fn estimated_tokens(&self) -> usize {
        crate::text::estimate_tokens(self.text_bytes)
    }
}

/// Where the `model` value is, for the splice. `unique_keys` has refused repeated keys, so the
/// first literal `"model"` key found is the one; the scan starts from the end of the body when
/// `messages` (usually most of it) comes first, as the OpenAI Python SDK writes it.
fn model_span<'k>(body: &[u8], mut keys: impl Iterator<Item = &'k str>) -> Option<std::ops::Range<usize>> {
    let messages_first = keys.find(|&k| k == "messages" || k == "model") == Some("messages");
    if messages_first {
        unique_top_level_value_span_from_end(body, "model")
    } else {
        unique_top_level_value_span(body, "model")
    }
}

/// Appends the text of a message `content` (a string, or an array of parts with `text`).
fn push_content(out: &mut String, c: TapeValue<'_, '_>) {
    if let Some(s) = c.as_str() {
        out.push_str(s);
    } else if let Some(parts) = c.as_array() {
        for p in &parts {
            if let Some(t) = p.get("text")
                && let Some(t) = t.as_str()
            {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
    }
}

fn content_len(c: TapeValue<'_, '_>) -> usize {
    if let Some(s) = c.as_str() {
        s.len()
    } else if let Some(parts) = c.as_array() {
        parts.iter().filter_map(|p| p.get("text").and_then(|t| t.as_str().map(str::len))).sum()
    } else {
        0
    }
}

/// Refuses a repeated top-level key. simd-json keeps duplicates and `get` returns the first,
/// while most upstreams keep the last: a body with both could be routed as one model and run
/// as another. Top-level objects are small, so the pairwise check is a few compares.
fn unique_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Result<(), ViewError> {
    let mut seen: [&str; 32] = [""; 32];
    let mut more: Vec<&str> = Vec::new();
    for (i, k) in keys.enumerate() {
        if seen[..i.min(32)].contains(&k) || more.contains(&k) {
            return Err(ViewError::DuplicateKey(k.to_string()));
        }
        if i < 32 { seen[i] = k } else { more.push(k) }
    }
    Ok(())
}

/// Checks a JSON object body for repeated top-level keys (for bodies read with serde_json,
/// which silently keeps the last).
pub fn check_unique_keys(body: &[u8], scratch: &mut Vec<u8>) -> Result<(), ViewError> {
    scratch.clear();
    scratch.extend_from_slice(body);
    let v =
        simd_json::to_borrowed_value(scratch).map_err(|e| ViewError::InvalidJson(crate::tape::describe_error(&e)))?;
    match v.as_object() {
        Some(o) => unique_keys(o.keys().map(|k| k.as_ref())),
        None => Err(ViewError::NotObject),
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
    let mut v = simd_json::to_owned_value(&mut scratch).expect("body was validated by RequestView::parse");
    let model: String = simd_json::to_owned_value(&mut new_model_json.to_vec())
        .ok()
        .and_then(|m| m.as_str().map(str::to_string))
        .unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        // Every copy goes: the parser keeps duplicates.
        while o.remove("model").is_some() {}
        o.insert("model".into(), simd_json::OwnedValue::from(model));
    }
    out.extend_from_slice(simd_json::to_string(&v).unwrap_or_default().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: &str) -> Result<RequestView, ViewError> {
        RequestView::parse(body.as_bytes(), &mut JsonScratch::default())
    }

    #[test]
    fn reused_scratch_reads_like_a_fresh_one() {
        let big = format!(
            r#"{{"model":"big","messages":[{{"role":"system","content":"s"}},{{"role":"user","content":"{}"}}]}}"#,
            "y\\n".repeat(20_000)
        );
        let huge = format!(r#"{{"model":"huge","messages":[{{"role":"user","content":"{}"}}]}}"#, "z".repeat(1 << 21));
        let bodies = [
            big.as_str(),
            r#"{"model":"a","stream":true,"messages":[{"role":"user","content":"hi \u00e9"}]}"#,
            r#"{"model":"a","messages":[{"role":"user","content":"cut"#,
            huge.as_str(),
            r#"{"model":"b","messages":[]}"#,
            big.as_str(),
        ];
        let mut scratch = JsonScratch::default();
        for b in bodies {
            assert_eq!(RequestView::parse(b.as_bytes(), &mut scratch), view(b), "{}", &b[..b.len().min(60)]);
        }
        assert!(view(bodies[2]).is_err());
        assert_eq!(view(bodies[1]).unwrap().last_user, "hi é");
    }

    #[test]
    fn reused_view_reads_like_a_fresh_one() {
        let bodies = [
            r#"{"model":"first-model","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function"}],"metadata":{"team":"ml"},"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"a long first question"}]}"#,
            r#"{"model":"b","messages":[{"role":"assistant","content":"no user here"}]}"#,
            r#"{"model":"c","messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]}]}"#,
            r#"{"model":7,"messages":[]}"#,
            r#"{"messages":[{"role":"user","content":"partly read"}],"model":"d","stream":"yes"}"#,
        ];
        let mut scratch = JsonScratch::default();
        // Every order of two bodies: the second read must not keep anything of the first.
        for a in bodies {
            for b in bodies {
                let mut reused = RequestView::default();
                let _ = reused.parse_from(a.as_bytes(), &mut scratch);
                let got = reused.parse_from(b.as_bytes(), &mut scratch).map(|_| reused);
                assert_eq!(got, view(b), "{a} then {b}");
            }
        }
    }

    #[test]
    fn texts_are_skipped_only_when_not_wanted() {
        let body = br#"{"model":"direct","metadata":{"k":"v"},"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#;
        let mut scratch = JsonScratch::default();
        let full = RequestView::parse(body, &mut scratch).unwrap();
        assert_eq!((full.system.as_str(), full.last_user.as_str()), ("Be terse.", "a\nb"));
        let mut v = full.clone();
        v.parse_from_if(body, &mut scratch, &|m| m != "direct").unwrap();
        assert_eq!((v.system.as_str(), v.last_user.as_str()), ("", ""), "not wanted: left empty");
        assert_eq!(RequestView { system: full.system.clone(), last_user: full.last_user.clone(), ..v.clone() }, full);
        v.parse_from_if(body, &mut scratch, &|m| m == "direct").unwrap();
        assert_eq!(v, full);
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
    fn reads_text_parts_system_tools_and_metadata() {
        let v = view(r#"{"model":"a","metadata":{"team":"ml","n":3},"tools":[{"type":"function"}],"messages":[
            {"role":"system","content":"Be terse."},
            {"role":"user","content":"first"},
            {"role":"assistant","content":null},
            {"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"part two"}]}]}"#).unwrap();
        assert_eq!(v.system, "Be terse.");
        assert_eq!(v.last_user, "part one\npart two");
        assert_eq!(v.messages, 4);
        assert!(v.has_tools);
        assert_eq!(v.metadata, vec![("team".to_string(), "ml".to_string())]);
        assert_eq!(v.text_bytes, "Be terse.".len() + "first".len() + "part one".len() + "part two".len());
    }

    #[test]
    fn errors() {
        assert!(matches!(view("{not json"), Err(ViewError::InvalidJson(_))));
        assert!(matches!(view(""), Err(ViewError::InvalidJson(_))));
        assert_eq!(view("[1]"), Err(ViewError::NotObject));
        assert_eq!(view(r#"{"messages":[]}"#), Err(ViewError::MissingModel));
        assert_eq!(view(r#"{"model":3,"messages":[]}"#), Err(ViewError::ModelNotString));
        assert_eq!(view(r#"{"model":"a"}"#), Err(ViewError::BadMessages));
        assert_eq!(view(r#"{"model":"a","messages":[],"stream":"yes"}"#), Err(ViewError::BadStream));
        let e: ApiError = ViewError::MissingModel.into();
        assert_eq!((e.status, e.param), (400, Some("model")));
    }

    #[test]
    fn rewrite_keeps_everything_else_byte_for_byte() {
        let body = r#"{ "temperature": 0.25, "model" : "auto", "messages":[{"role":"user","content":"model \"x\""}], "x_unknown": {"a": [1, 2.50]} }"#;
        let v = view(body).unwrap();
        let mut out = Vec::new();
        rewrite_model(body.as_bytes(), &v, b"\"gpt-4o-mini\"", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), body.replace("\"auto\"", "\"gpt-4o-mini\""));
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
