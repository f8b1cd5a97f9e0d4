//! `POST /v1/messages/count_tokens` (Anthropic's shape): passed to the model's provider when it
//! is Anthropic (the client's body with the upstream model name, its `anthropic-beta` too);
//! estimated for any other model or a route (`text::estimate_request_tokens`), with
//! `x-switchyard-token-count: estimate` on the answer.

use serde_json::{Value, json};
use switchyard_guard::keys::ClientKey;
use switchyard_wire::{ApiError, Dialect, UpstreamError};

use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::call::{Call, call};

/// A count: the answer's status and body, and whether it is the gateway's estimate.
pub struct Counted {
    /// HTTP status (an upstream error's, re-rendered).
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
    /// The gateway estimated it.
    pub estimate: bool,
}

/// Counts the input tokens of `body`; `beta` is the client's `anthropic-beta`.
pub async fn count_tokens(
    w: &Worker,
    live: &Live,
    key: Option<&ClientKey>,
    body: &[u8],
    beta: Option<&[u8]>,
) -> Result<Counted, ApiError> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("We could not parse the JSON body of your request: {e}"), None))?;
    let Some(model) = v["model"].as_str().map(str::to_string) else {
        return Err(ApiError::bad_request("model: Field required", Some("model")));
    };
    if !v["messages"].is_array() {
        return Err(ApiError::bad_request("messages: Field required", Some("messages")));
    }
    let table = &live.table;
    let target = table.resolve(&model);
    if target.is_none() && !table.is_route(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    if let Some(k) = key {
        k.admit(&model, w.shared.key_now())?;
    }
    let Some(t) = target.filter(|t| table.providers[t.provider].dialect == Dialect::Anthropic) else {
        let n = switchyard_wire::text::estimate_request_tokens(&v);
        return Ok(Counted { status: 200, body: json!({"input_tokens": n}).to_string().into_bytes(), estimate: true });
    };
    let p = &table.providers[t.provider];
    v["model"] = json!(t.upstream_model);
    let upstream_body = serde_json::to_vec(&v).unwrap_or_default();
    let headers: Vec<(&[u8], &[u8])> = beta.map(|b| (&b"anthropic-beta"[..], b)).into_iter().collect();
    let (status, answer) =
        call(w, live, t, p, Call { path: "/messages/count_tokens", headers: &headers, body: &upstream_body }).await?;
    if (200..300).contains(&status) {
        return Ok(Counted { status, body: answer, estimate: false });
    }
    let e = UpstreamError::parse(Dialect::Anthropic, status, &answer).for_client(&p.secrets);
    let body = serde_json::to_vec(&e.render(Dialect::Anthropic)).unwrap_or_default();
    Ok(Counted { status: e.kind.status(Dialect::Anthropic), body, estimate: false })
}
