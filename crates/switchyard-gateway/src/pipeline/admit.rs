//! The admit and decide phases: the client key, the body (request view and client shape),
//! the key's limits for the requested model, then the routing decision. No I/O. A refusal is
//! returned as a `Reject` and answered by `finish`, like every other ending.

use serde_json::Value;
use switchyard_guard::keys::ClientKey;
use switchyard_http::head::HeaderRef;
use switchyard_wire::json::top_level_value_span;
use switchyard_wire::{ApiError, Dialect, JsonScratch, RequestView, request as translate_request};

use crate::pipeline::exchange::{Exchange, Reject};
use crate::upstream::request::ClientBody;

/// The request's own header fields, for rules and tier headers.
pub struct ReqHeaders<'a> {
    /// The buffer the head was parsed from.
    pub buf: &'a [u8],
    /// Offsets of its fields.
    pub fields: &'a [HeaderRef],
}

impl ReqHeaders<'_> {
    /// The value of header `name`, if present.
    pub fn get(&self, name: &str) -> Option<String> {
        switchyard_http::header_value(self.buf, self.fields, name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// One chat request as the connection read it.
pub struct ChatRequest<'a> {
    /// The body as received.
    pub body: &'a [u8],
    /// The head's fields (rules and tier headers read them).
    pub headers: ReqHeaders<'a>,
    /// The client's dialect, from the path.
    pub dialect: Dialect,
    /// The client key, or why it was refused (checked before the body is read).
    pub key: Result<Option<&'a ClientKey>, ApiError>,
}

/// Runs admission and the decision for `x`: on success `x.client_key` and `x.decision` are
/// set and the client's body is returned in the forms the attempts need.
pub fn admit<'a>(
    x: &mut Exchange<'a>,
    req: &ChatRequest<'a>,
    scratch: &mut Vec<u8>,
    view: &mut RequestView,
) -> Result<ClientBody<'a>, Reject> {
    let (w, live) = (x.w, x.live);
    x.client_key = req.key.clone().map_err(Reject::refused)?;
    // Attempt outcomes and prompt hashes only feed the decision log.
    let logging = w.shared.decisions.is_some();
    // Only routes and the decision log read the prompt's text: a named model skips copying it.
    let texts = |model: &str| logging || live.table.is_route(model);
    // The scratch borrow ends with this statement: never held across an await.
    let body = client_view(req.body, req.dialect, scratch, &mut w.json_scratch.borrow_mut(), view, &texts)
        .map_err(Reject::refused)?;
    if let Some(k) = x.client_key {
        k.admit(&view.model, w.shared.key_now()).map_err(Reject::refused_for_model)?;
    }
    let mut decide_scratch = w.decide_scratch.borrow_mut();
    let decision = live
        .table
        .decide(view, &|n| req.headers.get(n), &mut decide_scratch, w.shared.ms_at(x.ready))
        .map_err(Reject::refused_for_model)?;
    x.decision = Some(decision);
    Ok(body)
}

/// The routing view of a client body, and the body in the forms attempts need.
fn client_view<'a>(
    body: &'a [u8],
    dialect: Dialect,
    scratch: &mut Vec<u8>,
    json_scratch: &mut JsonScratch,
    view: &mut RequestView,
    texts: &dyn Fn(&str) -> bool,
) -> Result<ClientBody<'a>, ApiError> {
    match dialect {
        Dialect::Anthropic => {
            let v: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("We could not parse the JSON body of your request: {e}"), None)
            })?;
            if !v.is_object() {
                return Err(ApiError::bad_request("The request body must be a JSON object.", None));
            }
            switchyard_wire::view::check_unique_keys(body, scratch)?;
            if !v["model"].is_string() {
                return Err(ApiError::bad_request("model: Field required", Some("model")));
            }
            if !v["max_tokens"].is_u64() {
                return Err(ApiError::bad_request("max_tokens: Field required", Some("max_tokens")));
            }
            let hub =
                translate_request::anthropic_to_openai(&v).map_err(|e| ApiError::bad_request(e.to_string(), None))?;
            let hub_bytes = serde_json::to_vec(&hub).unwrap_or_default();
            view.parse_from_if(&hub_bytes, json_scratch, texts)?;
            // The fast path splices the model into the client's own body.
            view.model_span = top_level_value_span(body, "model");
            Ok(ClientBody { dialect, raw: body, hub: Some(hub) })
        }
        _ => {
            view.parse_from_if(body, json_scratch, texts)?;
            Ok(ClientBody { dialect, raw: body, hub: None })
        }
    }
}
