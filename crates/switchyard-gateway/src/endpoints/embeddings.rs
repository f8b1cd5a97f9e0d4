//! `POST /v1/embeddings` (OpenAI's shape) sent to an embedding model: an OpenAI-compatible
//! upstream gets the body with its model name (token-array inputs too), Gemini gets
//! `batchEmbedContents` calls of up to 100 inputs each, read back into OpenAI's list. The
//! model's fallbacks are tried when one answers 429 or 5xx or cannot embed. Usage and cost are
//! counted per model and charged to the client key (Gemini reports no usage: its input is
//! charged at four bytes a token).

use serde_json::Value;
use switchyard_guard::keys::ClientKey;
use switchyard_routing::{Target, TargetId};
use switchyard_wire::embeddings::{EmbeddingsRequest, from_gemini_batch};
use switchyard_wire::{ApiError, Dialect, UpstreamError, Usage};

use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::call::{Call, call};

/// Answers an embeddings request: the JSON body of the answer, or the error.
pub async fn embeddings(w: &Worker, live: &Live, key: Option<&ClientKey>, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let req = EmbeddingsRequest::parse(body)?;
    let table = &live.table;
    if table.is_route(&req.model) {
        let msg = format!("`{}` is a route; embeddings are sent to a model (a `[models]` entry).", req.model);
        return Err(ApiError::bad_request(msg, Some("model")));
    }
    let Some(first) = table.target_index(&req.model) else { return Err(ApiError::model_not_found(&req.model)) };
    if let Some(k) = key {
        k.admit(&req.model, w.shared.key_now())?;
    }
    let plan: Vec<TargetId> = std::iter::once(first).chain(table.targets[first].fallbacks.iter().copied()).collect();
    let mut last = None;
    for t in plan.into_iter().filter(|&t| key.is_none_or(|k| k.may_use(&table.targets[t].name))) {
        match embed_with(w, live, &table.targets[t], &req).await {
            Ok((answer, usage)) => {
                let cost = crate::pipeline::account(table, None, &table.targets[t], &usage);
                if let Some(k) = key {
                    k.charge(usage.total(), cost, w.shared.key_now());
                }
                live.counts(None, t).add(w.core, 200);
                return Ok(answer);
            }
            Err((e, retry)) => {
                live.counts(None, t).add(w.core, e.status);
                if !retry {
                    return Err(e);
                }
                last = Some(e);
            }
        }
    }
    Err(last
        .unwrap_or_else(|| ApiError::status(403, "This API key may not use any model this request could be sent to.")))
}

/// One target's answer and its usage, or the error and whether a fallback may be tried.
async fn embed_with(
    w: &Worker,
    live: &Live,
    t: &Target,
    req: &EmbeddingsRequest,
) -> Result<(Vec<u8>, Usage), (ApiError, bool)> {
    let p = &live.table.providers[t.provider];
    let upstream_error = |status: u16, body: &[u8]| {
        let e = UpstreamError::parse(p.dialect, status, body).for_client(&p.secrets);
        let retry = status == 429 || status >= 500;
        (
            ApiError::status(e.kind.status(Dialect::OpenAi), format!("upstream provider `{}`: {}", p.name, e.message)),
            retry,
        )
    };
    match p.dialect {
        Dialect::OpenAi | Dialect::Responses => {
            let body = req.openai_body(&t.upstream_model);
            let (status, answer) = call(w, live, t, p, Call { path: "/embeddings", headers: &[], body: &body })
                .await
                .map_err(|e| (e, true))?;
            if !(200..300).contains(&status) {
                return Err(upstream_error(status, &answer));
            }
            let v: Value = serde_json::from_slice(&answer).map_err(|_| {
                (ApiError::status(502, format!("upstream provider `{}`: invalid answer", p.name)), true)
            })?;
            // An upstream that reports no usage is charged the estimate, never nothing.
            let prompt = v
                .pointer("/usage/prompt_tokens")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| switchyard_wire::text::estimate_tokens(body.len()) as u64);
            Ok((answer, Usage { prompt, ..Usage::default() }))
        }
        Dialect::Gemini => {
            if req.texts.is_none() {
                let e = ApiError::bad_request(
                    "token-array input needs an OpenAI-compatible embedding model",
                    Some("input"),
                );
                return Err((e, true));
            }
            let path = format!("/models/{}:batchEmbedContents", t.upstream_model);
            let mut vectors = Vec::new();
            for body in req.gemini_batches(&t.upstream_model) {
                let (status, answer) = call(w, live, t, p, Call { path: &path, headers: &[], body: &body })
                    .await
                    .map_err(|e| (e, true))?;
                if !(200..300).contains(&status) {
                    return Err(upstream_error(status, &answer));
                }
                let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                let more = from_gemini_batch(&v)
                    .map_err(|m| (ApiError::status(502, format!("upstream provider `{}`: {m}", p.name)), true))?;
                vectors.extend(more);
            }
            let prompt = switchyard_wire::text::estimate_tokens(req.text_bytes()) as u64;
            let list = req.openai_list(&req.model, &vectors, prompt);
            Ok((serde_json::to_vec(&list).unwrap_or_default(), Usage { prompt, ..Usage::default() }))
        }
        Dialect::Anthropic => {
            let msg = format!("`{}` is an Anthropic model; Anthropic has no embeddings API", t.name);
            Err((ApiError::bad_request(msg, Some("model")), true))
        }
    }
}
