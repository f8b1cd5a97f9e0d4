//! The Responses API's part of admission and of the finish: a `/v1/responses` body read into
//! the hub (continuing the conversation `previous_response_id` names, from the store), and
//! each answer stored for the follow-up that names it.
//!
//! The store is process state (any core may serve the follow-up): the response cache's
//! sharded map, keyed by answer id, bounded in bytes (`responses.store_max_bytes`) and by age
//! (`responses.store_ttl_secs`). Only `/v1/responses` requests touch it, each for one shard
//! lock around a hash probe.

use serde_json::Value;
use switchyard_wire::json::top_level_value_span;
use switchyard_wire::responses::{self, ResponsesMeta};
use switchyard_wire::{ApiError, Completion, Dialect, JsonScratch, RequestView};

use crate::runtime::live::{Shared, StoredResponse};
use crate::upstream::request::{ClientBody, Passthrough, ResponsesCall};

/// Reads a `/v1/responses` body: the request view from its hub form, and the body in the forms
/// the attempts need. `owner` is the client key's name, `request_id` the request's.
pub fn client_body<'a>(
    shared: &Shared,
    body: &'a [u8],
    (owner, request_id): (&str, &str),
    scratch: &mut Vec<u8>,
    json_scratch: &mut JsonScratch,
    view: &mut RequestView,
    texts: &dyn Fn(&str) -> bool,
) -> Result<ClientBody<'a>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("We could not parse the JSON body of your request: {e}"), None))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("The request body must be a JSON object.", None));
    }
    switchyard_wire::view::check_unique_keys(body, scratch)?;
    if !v["model"].is_string() {
        return Err(ApiError::bad_request("Missing required parameter: 'model'.", Some("model")));
    }
    let (prior, passthrough) = match v["previous_response_id"].as_str() {
        None => (Vec::new(), Passthrough::Any),
        Some(id) => earlier(shared, id, owner)?,
    };
    let hub = responses::to_hub(&v, &prior).map_err(|e| ApiError::bad_request(e.to_string(), Some("input")))?;
    let hub_bytes = serde_json::to_vec(&hub.hub).unwrap_or_default();
    view.parse_from_if(&hub_bytes, json_scratch, texts)?;
    view.model_span = top_level_value_span(body, "model");
    let conversation = hub.hub["messages"].as_array().map_or_else(Vec::new, |m| m[hub.conversation_from..].to_vec());
    let call = ResponsesCall {
        meta: ResponsesMeta::of(&v, responses::response_id(request_id)),
        passthrough,
        builtin_tool: hub.builtin_tool,
        store: v["store"].as_bool() != Some(false),
        conversation,
    };
    Ok(ClientBody {
        dialect: Dialect::Responses,
        raw: body,
        hub: Some(hub.hub),
        beta: Default::default(),
        responses: Some(call),
    })
}

/// The conversation answer `id` ended, and where the client's own body may then go. An id
/// the store does not have may still be known to the Responses upstream that made it.
fn earlier(shared: &Shared, id: &str, owner: &str) -> Result<(Vec<Value>, Passthrough), ApiError> {
    let Some(stored) = shared.responses.get(id.as_bytes(), shared.now_ms()) else {
        return Ok((Vec::new(), Passthrough::Any));
    };
    if stored.owner != owner {
        // Another key's answer: as unknown to this key as an id never made.
        let mut e =
            ApiError::bad_request(format!("Previous response with id '{id}' not found."), Some("previous_response_id"));
        e.code = Some("previous_response_not_found");
        return Err(e);
    }
    let passthrough = stored.provider.clone().map_or(Passthrough::Never, Passthrough::Only);
    Ok((stored.conversation.clone(), passthrough))
}

/// Stores answer `c` to `call` (when the request did not say `store: false`) under the id the
/// client saw: the gateway's own for a translated answer, the upstream's for one passed
/// through from `provider`.
pub fn remember(shared: &Shared, call: &ResponsesCall, owner: &str, c: &Completion, provider: Option<&str>) {
    if !call.store {
        return;
    }
    let id = match provider {
        Some(_) if !c.id.is_empty() => c.id.clone(),
        _ => call.meta.id.clone(),
    };
    let mut conversation = call.conversation.clone();
    conversation.push(c.to_hub_message());
    let size: usize = conversation.iter().map(|m| m.to_string().len()).sum::<usize>() + owner.len() + 64;
    let stored = StoredResponse { owner: owner.to_string(), provider: provider.map(str::to_string), conversation };
    let expires = shared.now_ms() + shared.responses_ttl_ms;
    shared.responses.insert(id.into_bytes(), stored, size, expires);
}
