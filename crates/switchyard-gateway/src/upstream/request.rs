//! Upstream requests: the client's body in the forms attempts need, and the request line,
//! headers and body for a target in its own dialect. Same dialect is the fast path: the
//! client's bytes with only `model` spliced in.

use serde_json::Value;
use switchyard_http::write;
use switchyard_routing::{Provider, Target};
use switchyard_wire::json::top_level_value_span;
use switchyard_wire::responses::ResponsesMeta;
use switchyard_wire::view::rewrite_model;
use switchyard_wire::{ApiError, Dialect, RequestView, request as translate_request};

/// The client's body, read once, in the forms the attempts need.
pub struct ClientBody<'a> {
    /// The client's dialect.
    pub dialect: Dialect,
    /// The body as received.
    pub raw: &'a [u8],
    /// The request in OpenAI shape (parsed lazily for OpenAI clients: only cross-dialect needs it).
    pub hub: Option<Value>,
    /// What an Anthropic client asked of Anthropic's betas: its `anthropic-beta` field and
    /// `?beta=true`, forwarded when the upstream is Anthropic and the body is the client's own.
    pub beta: Beta<'a>,
    /// A Responses API request's answer id, echo and conversation.
    pub responses: Option<ResponsesCall>,
}

/// What a `/v1/responses` request carries besides its body.
pub struct ResponsesCall {
    /// The answer's id and the request fields it echoes.
    pub meta: ResponsesMeta,
    /// Which Responses-capable provider may take the client's body as it is.
    pub passthrough: Passthrough,
    /// The first built-in tool the request names (only a Responses upstream runs those).
    pub builtin_tool: Option<String>,
    /// `store` was not false: the answer is kept for a follow-up.
    pub store: bool,
    /// The conversation so far (earlier turns and this request's input, in hub shape): the
    /// stored answer continues it.
    pub conversation: Vec<Value>,
}

/// Where a Responses request's own body may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passthrough {
    /// To any provider with `responses = true` (no `previous_response_id`, or one the gateway
    /// never stored, which only the upstream that made it can know).
    Any,
    /// Only to this provider, which made the answer `previous_response_id` names; others get
    /// the stored conversation translated.
    Only(String),
    /// Nowhere: the answer named was the gateway's own, which no upstream knows.
    Never,
}

impl ResponsesCall {
    /// Whether provider `p` may be sent the client's own body.
    pub fn passes_to(&self, p: &Provider) -> bool {
        match &self.passthrough {
            Passthrough::Any => true,
            Passthrough::Only(name) => *name == p.name,
            Passthrough::Never => false,
        }
    }
}

/// An Anthropic client's beta opt-ins.
#[derive(Clone, Copy, Debug, Default)]
pub struct Beta<'a> {
    /// The `anthropic-beta` header value.
    pub header: Option<&'a [u8]>,
    /// The path carried `?beta=true`.
    pub query: bool,
}

/// The per-request lines of an upstream head: the auth line, and the client's betas.
pub struct HeadLines<'a> {
    /// The provider key's auth line.
    pub auth: &'a [u8],
    /// Betas to forward (an Anthropic upstream given the client's own body).
    pub beta: Beta<'a>,
}

impl ClientBody<'_> {
    /// The dialect provider `p` is spoken to in for this request.
    pub fn upstream_dialect(&self, p: &Provider) -> Dialect {
        p.dialect_for(self.dialect, self.responses.as_ref().is_some_and(|r| r.passes_to(p)))
    }

    /// Why this Responses request cannot be translated for a provider that does not speak the
    /// Responses API (a built-in tool, or an earlier answer only its upstream holds).
    fn untranslatable(&self) -> Option<ApiError> {
        let r = self.responses.as_ref()?;
        if let Some(tool) = &r.builtin_tool {
            let msg = format!(
                "The tool type `{tool}` is built into OpenAI's Responses API: only a provider with `responses = true` can run it, and this model's cannot."
            );
            return Some(ApiError::bad_request(msg, Some("tools")));
        }
        if r.passthrough == Passthrough::Any && r.meta.echo.get("previous_response_id").is_some_and(|v| v.is_string()) {
            let id = r.meta.echo["previous_response_id"].as_str().unwrap_or_default();
            let mut e = ApiError::bad_request(
                format!("Previous response with id '{id}' not found."),
                Some("previous_response_id"),
            );
            e.code = Some("previous_response_not_found");
            return Some(e);
        }
        None
    }

    /// The request in OpenAI shape, parsed on first use.
    pub fn hub(&mut self) -> Result<&Value, ApiError> {
        if self.hub.is_none() {
            let v = serde_json::from_slice(self.raw).map_err(|e| ApiError::bad_request(e.to_string(), None))?;
            self.hub = Some(v);
        }
        Ok(self.hub.as_ref().expect("just set"))
    }
}

/// Asks an OpenAI upstream for usage when the client did not (usage drives cost).
const INJECT_USAGE: &[u8] = br#""stream_options":{"include_usage":true},"#;

/// Writes the upstream request for `target` in its dialect. Returns whether the gateway asked
/// for `include_usage` on the client's behalf (its extra chunk must then be dropped).
///
/// Usage is what a request is charged by, so an OpenAI-dialect stream always asks for it,
/// whatever the client sent: no `stream_options`, `{}` or `{"include_usage": false}` (each of
/// which used to stream free of charge), and on the re-serialising path too.
pub fn build_request(
    req: &mut Vec<u8>,
    p: &Provider,
    key: &[u8],
    target: &Target,
    view: &RequestView,
    cb: &mut ClientBody<'_>,
    scratch: &mut Vec<u8>,
) -> Result<bool, ApiError> {
    let up = cb.upstream_dialect(p);
    req.clear();
    if up != cb.dialect
        && let Some(e) = cb.untranslatable()
    {
        return Err(e);
    }
    let needs_usage = up == Dialect::OpenAi && view.stream && !view.include_usage;
    let splice_usage = needs_usage && top_level_value_span(cb.raw, "stream_options").is_none();
    if up == cb.dialect
        && let Some(span) = &view.model_span
        && (!needs_usage || splice_usage)
    {
        // Fast path: the client's bytes with the model spliced in, written straight after the
        // head (one copy of the body).
        let raw = cb.raw;
        let extra = if splice_usage { INJECT_USAGE.len() } else { 0 };
        let len = raw.len() - span.len() + target.upstream_model_json.len() + extra;
        // The client's own body: its betas go with it to an Anthropic upstream.
        let beta = if cb.dialect == Dialect::Anthropic { cb.beta } else { Beta::default() };
        write_head(req, p, up, HeadLines { auth: key, beta }, target, view.stream, len);
        let start = req.len();
        rewrite_model(raw, view, &target.upstream_model_json, req);
        if splice_usage && let Some(brace) = req[start..].iter().position(|&c| c == b'{') {
            let at = start + brace + 1;
            req.splice(at..at, INJECT_USAGE.iter().copied());
        }
        return Ok(splice_usage);
    }
    scratch.clear();
    if up == cb.dialect && !needs_usage {
        // The model key was spelled with escapes: re-serialised by rewrite_model.
        rewrite_model(cb.raw, view, &target.upstream_model_json, scratch);
    } else {
        let mut body = upstream_body(up, cb.hub()?, &target.upstream_model)?;
        if needs_usage {
            ask_for_usage(&mut body);
        }
        serde_json::to_writer(&mut *scratch, &body).map_err(|e| ApiError::status(500, e.to_string()))?;
    }
    // Same dialect re-serialised keeps the client's fields (and betas); a translated body
    // carries only fields the translation knows, so no beta applies.
    let beta = if up == cb.dialect && cb.dialect == Dialect::Anthropic { cb.beta } else { Beta::default() };
    write_head(req, p, up, HeadLines { auth: key, beta }, target, view.stream, scratch.len());
    req.extend_from_slice(scratch);
    Ok(needs_usage)
}

/// Sets `stream_options.include_usage: true`, keeping the client's other stream options.
fn ask_for_usage(body: &mut Value) {
    let Some(request) = body.as_object_mut() else { return };
    let options = request.entry("stream_options").or_insert_with(|| Value::Object(Default::default()));
    if !options.is_object() {
        *options = Value::Object(Default::default());
    }
    if let Some(o) = options.as_object_mut() {
        o.insert("include_usage".into(), Value::Bool(true));
    }
}

/// An OpenAI-shaped request (`hub`) as `up`'s request body for upstream model `model`.
pub fn upstream_body(up: Dialect, hub: &Value, model: &str) -> Result<Value, ApiError> {
    match up {
        Dialect::Anthropic => translate_request::openai_to_anthropic(hub, model),
        Dialect::Gemini => translate_request::openai_to_gemini(hub),
        Dialect::OpenAi => {
            let mut v = hub.clone();
            v["model"] = Value::String(model.to_string());
            Ok(v)
        }
        // Only a Responses client's own body goes to a Responses upstream (see `build_request`).
        Dialect::Responses => Err(switchyard_wire::TranslateError::Unsupported("a chat request", "responses")),
    }
    .map_err(|e| ApiError::bad_request(e.to_string(), None))
}

/// Request line and headers for `up`'s endpoint.
pub fn write_head(
    req: &mut Vec<u8>,
    p: &Provider,
    up: Dialect,
    lines: HeadLines<'_>,
    target: &Target,
    stream: bool,
    len: usize,
) {
    req.extend_from_slice(b"POST ");
    req.extend_from_slice(p.base_path.as_bytes());
    match up {
        Dialect::OpenAi => req.extend_from_slice(b"/chat/completions"),
        Dialect::Responses => req.extend_from_slice(b"/responses"),
        Dialect::Anthropic if lines.beta.query => req.extend_from_slice(b"/messages?beta=true"),
        Dialect::Anthropic => req.extend_from_slice(b"/messages"),
        Dialect::Gemini => {
            req.extend_from_slice(b"/models/");
            req.extend_from_slice(target.upstream_model.as_bytes());
            req.extend_from_slice(if stream { b":streamGenerateContent?alt=sse" } else { b":generateContent" });
        }
    }
    req.extend_from_slice(b" HTTP/1.1\r\n");
    req.extend_from_slice(&p.fixed_headers);
    req.extend_from_slice(lines.auth);
    if let Some(v) = lines.beta.header.filter(|_| up == Dialect::Anthropic) {
        write::header(req, b"anthropic-beta", v);
    }
    req.extend_from_slice(b"content-type: application/json\r\n");
    req.extend_from_slice(if stream { b"accept: text/event-stream\r\n" } else { b"accept: application/json\r\n" });
    write::content_length(req, len as u64);
    req.extend_from_slice(b"\r\n");
}
