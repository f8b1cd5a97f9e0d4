//! The admit and decide phases: the client key, the body (request view and client shape),
//! the key's limits for the requested model, then the routing decision. No I/O. A refusal is
//! returned as a `Reject` and answered by `finish`, like every other ending.

use serde_json::Value;
use switchyard_guard::keys::ClientKey;
use switchyard_http::head::HeaderRef;
use switchyard_routing::{Decision, RouteTable, TargetId};
use switchyard_wire::json::top_level_value_span;
use switchyard_wire::{ApiError, Dialect, JsonScratch, RequestView, request as translate_request};

use crate::pipeline::exchange::{Exchange, Reject};
use crate::upstream::request::{Beta, ClientBody};

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
    /// The path's query asked for Anthropic's beta endpoint (`?beta=true`).
    pub beta_query: bool,
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
    shed_above_memory_ceiling(x)?;
    x.client_key = req.key.clone().map_err(Reject::refused)?;
    if let Some(k) = x.client_key {
        // Only this key may rate the request (feedback checks the seal).
        x.request_id = x.request_id.sealed(&w.shared.id_seal, &k.name);
    }
    // Attempt outcomes and prompt hashes only feed the decision log.
    let logging = w.shared.decision_log().is_some();
    // Only routes and the decision log read the prompt's text: a named model skips copying it.
    let texts = |model: &str| logging || live.table.is_route(model);
    // The scratch borrow ends with this statement: never held across an await.
    let mut body = if req.dialect == Dialect::Responses {
        let who = (x.key_name().unwrap_or(""), &*x.request_id);
        let json = &mut w.json_scratch.borrow_mut();
        super::responses::client_body(&w.shared, req.body, who, scratch, json, view, &texts)
    } else {
        client_view(req.body, req.dialect, scratch, &mut w.json_scratch.borrow_mut(), view, &texts)
    }
    .map_err(Reject::refused)?;
    if req.dialect == Dialect::Anthropic {
        let header = switchyard_http::header_value(req.headers.buf, req.headers.fields, "anthropic-beta");
        body.beta = Beta { header, query: req.beta_query };
    }
    if let Some(k) = x.client_key {
        k.admit(&view.model, w.shared.key_now()).map_err(Reject::refused_for_model)?;
    }
    // Routing headers choose the model, and so the price: only keys allowed them (or an open
    // gateway) are heard; what another key sent is noted for the decision log.
    let honoured = x.client_key.is_none_or(|k| k.routing_headers);
    let ignored = std::cell::Cell::new(false);
    let header = |n: &str| {
        let v = req.headers.get(n);
        if honoured {
            return v;
        }
        ignored.set(ignored.get() | v.is_some());
        None
    };
    let mut decide_scratch = w.decide_scratch.borrow_mut();
    let decided = live.table.decide(view, &header, &mut decide_scratch, w.shared.ms_at(x.ready));
    x.routing_headers_ignored = ignored.get();
    let decision = decided.map_err(Reject::refused_for_model)?;
    let decision = restrict_to_key(x.client_key, &live.table, decision)?;
    if let Some(k) = x.client_key.filter(|k| k.has_limits()) {
        // The whole body's bytes / 4: above the provider's prompt count for text, since the
        // JSON around the text counts too (an image's base64 is reserved as text).
        let prompt = switchyard_wire::text::estimate_tokens(req.body.len()) as u64;
        let (tokens, nusd) =
            most_cost(&live.table, &decision, prompt, view.max_tokens, live.server.reserve_output_tokens);
        x.reservation = Some(k.reserve(tokens, nusd, w.shared.key_now()).map_err(Reject::refused_for_model)?);
    }
    x.decision = Some(decision);
    Ok(body)
}

/// Above `server.max_memory_bytes` of resident memory a new request is answered 503 with
/// `retry-after`, before it holds anything more: requests in flight finish, and the gateway
/// serves again once memory falls (the sample is at most 100 ms old).
fn shed_above_memory_ceiling(x: &Exchange<'_>) -> Result<(), Reject> {
    let Some(ceiling) = x.live.server.max_memory_bytes else { return Ok(()) };
    let resident = x.w.shared.resident_bytes.load(std::sync::atomic::Ordering::Relaxed);
    if resident <= ceiling {
        return Ok(());
    }
    x.w.shared.shed_for_memory.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut e = ApiError::status(503, "the gateway is over its memory ceiling; retry shortly");
    e.retry_after_s = Some(1);
    Err(Reject::refused(e))
}

/// The most a decided request can use, in tokens and nano-USD: the `prompt` estimate plus each
/// target's output cap (`max_tokens`, held to the model's `max_output_tokens`; without
/// `max_tokens`, that cap or else `server.reserve_output_tokens`) at the dearest target that
/// could answer. A cascade may call every tier (and its judge each time), a vote every member
/// and its judge.
fn most_cost(table: &RouteTable, d: &Decision, prompt: u64, max_tokens: Option<u64>, default_out: u64) -> (u64, u64) {
    let out = |t: TargetId| {
        let cap = table.targets[t].max_output_tokens;
        match (max_tokens, cap) {
            (Some(m), Some(c)) => m.min(c),
            (Some(m), None) => m,
            (None, c) => c.unwrap_or(default_out),
        }
    };
    // Prices are USD per million tokens: tokens × price / 1e6 USD = tokens × price × 1e3 nUSD.
    let cost = |t: TargetId| {
        let target = &table.targets[t];
        (prompt as f64 * target.input_price + out(t) as f64 * target.output_price) * 1e3
    };
    let dearest = |ts: &[TargetId]| ts.iter().map(|&t| cost(t)).fold(0.0, f64::max);
    let most_tokens = |ts: &[TargetId]| ts.iter().map(|&t| prompt + out(t)).max().unwrap_or(prompt);
    let route = d.route.map(|r| &table.routes[r]);
    let (tokens, nusd) = match route {
        Some(r) if r.cascade.is_some() => {
            let judge = r.cascade.as_ref().and_then(|c| c.judge.as_ref()).map(|(j, _)| *j);
            let judged = |ts: &[TargetId]| {
                let j = judge.map_or((0, 0.0), |j| (most_tokens(&[j]), cost(j)));
                (most_tokens(ts) + j.0, dearest(ts) + j.1)
            };
            r.tiers.iter().map(|t| judged(&t.targets)).fold((0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        }
        Some(r) if r.consensus.is_some() => {
            let c = r.consensus.as_ref().expect("a consensus route");
            let members = c.targets.iter().map(|&t| (most_tokens(&[t]), cost(t)));
            let judge = c.judge.map(|j| (most_tokens(&[j]), cost(j)));
            members.chain(judge).fold((0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        }
        _ => (most_tokens(&d.plan), dearest(&d.plan)),
    };
    (tokens, nusd.ceil() as u64)
}

/// Keeps only the targets the client key may reach: one its allow-list names, or one of the
/// requested route's own targets when the list names the route. Fallbacks, tier picks and
/// their model-level fallbacks all go through here, so a key limited to one model never gets
/// another model's answer.
fn restrict_to_key(key: Option<&ClientKey>, table: &RouteTable, mut d: Decision) -> Result<Decision, Reject> {
    let Some(key) = key.filter(|k| k.is_restricted()) else { return Ok(d) };
    let route = d.route.map(|r| &table.routes[r]).filter(|r| key.may_use(&r.name));
    d.plan.retain(|t| key.may_use(&table.targets[*t].name) || route.is_some_and(|r| r.reaches(*t)));
    if d.plan.is_empty() {
        let e = ApiError::status(403, "This API key may not use any model this request could be sent to.");
        return Err(Reject::refused_for_model(e));
    }
    Ok(d)
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
            Ok(ClientBody { dialect, raw: body, hub: Some(hub), beta: Default::default(), responses: None })
        }
        _ => {
            view.parse_from_if(body, json_scratch, texts)?;
            Ok(ClientBody { dialect, raw: body, hub: None, beta: Default::default(), responses: None })
        }
    }
}
