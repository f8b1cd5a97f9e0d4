//! A chat request from either client dialect: decide, then try the plan's targets in order,
//! each in its own dialect, until one answers; only the final answer (or the last failure)
//! reaches the client. Same dialect on both sides is the fast path: the body is forwarded with
//! only `model` rewritten.

pub mod cache;
pub mod ensemble;
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use serde_json::Value;
use switchyard_config::{RetryConfig, RetryOn};
use switchyard_guard::keys::ClientKey;
use switchyard_http::head::HeaderRef;
use switchyard_http::write;
use switchyard_routing::balancer::next_random;
use switchyard_routing::health::Failure;
use switchyard_routing::{Decision, Provider, Target};
use switchyard_wire::json::top_level_value_span;
use switchyard_wire::view::rewrite_model;
use switchyard_wire::{ApiError, JsonScratch, RequestView};
use switchyard_wire::{Dialect, Usage, request as translate_request};

use crate::downstream::{Buffers, Outcome, Tags, send_error};
use crate::pipeline::ensemble::Ask;
use crate::pipeline::record::{Common, log_hit, log_rejected, log_request};
use crate::relay::Relay;
use crate::relay::deliver::{send_completion, send_rendered};
use crate::relay::passthrough::relay;
use crate::relay::translated::{RelaySpec, relay_events, relay_json, relay_whole};
use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::body::Timing;
use crate::upstream::send::{exchange, retry_after_ms};
use switchyard_wire::render::Shape;

/// Route name reported when the client named a model.
const DIRECT_ROUTE: &str = "direct";

/// The request's own header fields, for rules and tier headers.
pub struct ReqHeaders<'a> {
    /// The buffer the head was parsed from.
    pub buf: &'a [u8],
    /// Offsets of its fields.
    pub fields: &'a [HeaderRef],
}

impl ReqHeaders<'_> {
    fn get(&self, name: &str) -> Option<String> {
        switchyard_http::header_value(self.buf, self.fields, name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// The client's body, read once, in the forms the attempts need.
struct ClientBody<'a> {
    dialect: Dialect,
    raw: &'a [u8],
    /// The request in OpenAI shape (parsed lazily for OpenAI clients: only cross-dialect needs it).
    hub: Option<Value>,
}

impl ClientBody<'_> {
    fn hub(&mut self) -> Result<&Value, ApiError> {
        if self.hub.is_none() {
            let v = serde_json::from_slice(self.raw).map_err(|e| ApiError::bad_request(e.to_string(), None))?;
            self.hub = Some(v);
        }
        Ok(self.hub.as_ref().expect("just set"))
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

/// What admission hands on: the key, the body in the forms the attempts need, the decision.
struct Admitted<'a> {
    client_key: Option<&'a ClientKey>,
    body: ClientBody<'a>,
    decision: Decision,
}

/// Why admission refused a request, and what the decision log records of it.
struct Refusal<'a> {
    error: ApiError,
    key_name: Option<&'a str>,
    /// The request's model is known (the body was read) and goes into the record.
    model_known: bool,
}

/// The admit and decide phases: the client key, the body (view and client shape), the key's
/// limits for the requested model, then the routing decision. No I/O; every refusal comes
/// back as one `Refusal`, answered in one place by `chat`.
fn admit<'a>(
    w: &Worker,
    live: &'a Live,
    req: &ChatRequest<'a>,
    scratch: &mut Vec<u8>,
    view: &mut RequestView,
    ready: Instant,
) -> Result<Admitted<'a>, Refusal<'a>> {
    let refuse = |error, key_name, model_known| Refusal { error, key_name, model_known };
    let client_key = req.key.clone().map_err(|e| refuse(e, None, false))?;
    let key_name = client_key.map(|k| k.name.as_str());
    // Attempt outcomes and prompt hashes only feed the decision log.
    let logging = w.shared.decisions.is_some();
    // Only routes and the decision log read the prompt's text: a named model skips copying it.
    let texts = |model: &str| logging || live.table.is_route(model);
    // The scratch borrow ends with this statement: never held across an await.
    let body = client_view(req.body, req.dialect, scratch, &mut w.json_scratch.borrow_mut(), view, &texts)
        .map_err(|e| refuse(e, key_name, false))?;
    if let Some(k) = client_key {
        k.admit(&view.model, w.shared.key_now()).map_err(|e| refuse(e, key_name, true))?;
    }
    let mut decide_scratch = w.decide_scratch.borrow_mut();
    let decision = live
        .table
        .decide(view, &|n| req.headers.get(n), &mut decide_scratch, w.shared.ms_at(ready))
        .map_err(|e| refuse(e, key_name, true))?;
    Ok(Admitted { client_key, body, decision })
}

/// Handles `POST /v1/chat/completions` (OpenAI clients) and `POST /v1/messages` (Anthropic);
/// `view` is the connection's, refilled here (its strings keep their memory between requests).
pub async fn chat(
    w: &Worker,
    live: &Arc<Live>,
    client: &mut TcpStream,
    req: ChatRequest<'_>,
    keep: Outcome,
    b: &mut Buffers,
    view: &mut RequestView,
) -> Outcome {
    let ready = Instant::now();
    let request_id = w.request_id();
    let ChatRequest { body, dialect, .. } = req;
    let bare = Tags { request_id: &request_id, model: None, provider: None, route: None, dialect, cache: None };
    let admitted = admit(w, live, &req, &mut b.scratch, view, ready);
    let view = &*view;
    let Admitted { client_key, body: mut cb, decision } = match admitted {
        Ok(a) => a,
        Err(r) => {
            w.shared.stats.rejected.add(w.index, r.error.status);
            let model = r.model_known.then_some(view.model.as_str());
            log_rejected(w, &request_id, dialect, r.key_name, model, &r.error);
            return send_error(client, &mut b.out, &r.error, Some(&bare), keep).await;
        }
    };
    let headers = &req.headers;
    let key_name = client_key.map(|k| k.name.as_str());
    // Attempt outcomes only feed the decision log.
    let logging = w.shared.decisions.is_some();
    let table = &live.table;
    let route = decision.route.map(|r| &table.routes[r]);
    let route_name = route.map_or(DIRECT_ROUTE, |r| r.name.as_str());
    // Requests that name a model have no route: the defaults, built once (not a Vec per request).
    static DEFAULT_RETRY: std::sync::LazyLock<RetryConfig> = std::sync::LazyLock::new(RetryConfig::default);
    let retry = route.map_or(&*DEFAULT_RETRY, |r| &r.retry);
    let budget_end = ready + Duration::from_millis(retry.budget_ms);
    let attempts = decision.plan.len().min(retry.attempts as usize);
    let mut last_error: Option<(ApiError, usize)> = None;
    // No allocation for attempt outcomes without a decision log.
    let mut tried: Vec<(usize, &'static str)> = Vec::new();
    let common =
        Common { request_id: &request_id, key: key_name, dialect, view, decision: &decision, route: route_name, ready };
    let shape = Shape { dialect, stream: view.stream, include_usage: view.include_usage };
    let cached_route = route.filter(|r| r.cache.is_some());
    // Cache keys are built from the OpenAI-shaped request (serialised only for cached routes).
    let hub_bytes =
        cb.hub.as_ref().filter(|_| cached_route.is_some()).map(|h| serde_json::to_vec(h).unwrap_or_default());
    let key_body = hub_bytes.as_deref().unwrap_or(body);
    let mut cache = cached_route.and_then(|r| {
        crate::pipeline::cache::cache_use(r, key_body, headers.get("cache-control").as_deref(), &mut b.scratch)
    });
    let found = cache
        .as_mut()
        .zip(cached_route)
        .and_then(|(u, r)| crate::pipeline::cache::lookup(w, u, r, key_body, &mut b.scratch));
    if let Some((hit, similarity)) = found {
        let tags = Tags {
            request_id: &request_id,
            model: Some(&hit.model),
            provider: Some(&hit.provider),
            route: Some(route_name),
            dialect,
            cache: Some("hit"),
        };
        b.first_write.set(None);
        let sim = similarity.map(|s| format!("{s:.3}"));
        let extra: &[(&str, &str)] = match &sim {
            Some(s) => &[("x-switchyard-cache-similarity", s.as_str())],
            None => &[],
        };
        let outcome = send_rendered(client, b, &tags, extra, keep, shape.stream, hit.body(shape)).await;
        if let Some(first) = b.first_write.get() {
            w.shared.cache_hit_time[w.index].record(first.duration_since(ready).as_nanos() as u64);
        }
        log_hit(w, &common, &hit, similarity);
        return outcome;
    }
    let cache_tag = cached_route.map(|_| "miss");
    if let Some(r) = route
        && (r.cascade.is_some() || r.consensus.is_some())
    {
        let hub = match cb.hub() {
            Ok(h) => h,
            Err(e) => return send_error(client, &mut b.out, &e, Some(&bare), keep).await,
        };
        let ask = Ask { w, live, route: r, hub, question: &view.last_user, ready };
        // Boxed: these futures are the largest in the gateway (5 KB), and every connection's
        // task is sized for its largest path; these routes allocate per request anyway.
        let result = if r.cascade.is_some() {
            Box::pin(ensemble::cascade(ask)).await
        } else {
            Box::pin(ensemble::consensus(ask)).await
        };
        return match result {
            Ok(a) => {
                let t = &table.targets[a.target];
                let provider = &table.providers[t.provider].name;
                let agreed: String =
                    a.agreed.iter().map(|&i| table.targets[i].name.as_str()).collect::<Vec<_>>().join(",");
                let extra: &[(&str, &str)] =
                    if a.agreed.is_empty() { &[] } else { &[("x-switchyard-consensus", agreed.as_str())] };
                let tags = Tags {
                    request_id: &request_id,
                    model: Some(&t.name),
                    provider: Some(provider),
                    route: Some(route_name),
                    dialect,
                    cache: cache_tag,
                };
                b.first_write.set(None);
                // Stored and charged before it is sent, so an identical request right after
                // finds it and the key's limits already count it.
                if let Some(c) = cache {
                    crate::pipeline::cache::store(w, c, a.completion.clone(), &t.name, provider);
                }
                let u = a.completion.usage;
                if let Some(k) = client_key {
                    k.charge(u.total(), a.cost, w.shared.key_now());
                }
                let outcome = send_completion(client, b, &tags, extra, keep, shape, &a.completion).await;
                live.counts(decision.route, a.target).add(w.index, 200);
                let ttft = b.first_write.get().map(|f| f.duration_since(ready));
                if let Some(t) = ttft {
                    w.shared.stats.ttft[w.index].record(t.as_nanos() as u64);
                }
                log_request(w, table, &common, a.target, 200, &a.tried, ttft, Some(u), Some(a.cost), None);
                outcome
            }
            Err((e, ti, tried)) => {
                live.counts(decision.route, ti).add(w.index, e.status);
                log_request(w, table, &common, ti, e.status, &tried, None, None, None, Some(&e.message));
                send_error(client, &mut b.out, &e, Some(&Tags { cache: cache_tag, ..bare }), keep).await
            }
        };
    }
    // Taken by the first complete answer (retries never store twice).
    let cache = std::cell::RefCell::new(cache.filter(|u| u.store));
    for (n, &ti) in decision.plan.iter().take(attempts).enumerate() {
        // The first attempt starts when the request was ready (one clock read fewer).
        let now = if n == 0 { ready } else { Instant::now() };
        if now >= budget_end {
            break;
        }
        let target = &table.targets[ti];
        let p = &table.providers[target.provider];
        let up = p.dialect;
        let final_attempt = n + 1 == attempts;
        let key = p.pick_key(next_random(&mut w.decide_scratch.borrow_mut().rng));
        let mut req = std::mem::take(&mut b.up_req);
        let injected = match build_request(&mut req, p, up, key, target, view, &mut cb, &mut b.scratch) {
            Ok(i) => i,
            Err(e) => {
                // This target cannot express the request (e.g. `n > 1` for Anthropic): try the next.
                if logging {
                    tried.push((ti, "untranslatable"));
                }
                b.up_req = req;
                last_error = Some((e, ti));
                continue;
            }
        };
        let deadline = (now + Duration::from_millis(p.request_timeout_ms)).min(budget_end);
        target.health.begin();
        match exchange(w, live, p, req, (now, deadline), &mut b.up_resp, &mut b.up_headers).await {
            Err(e) => {
                let failure = e.failure();
                target.health.failure(failure, w.shared.now_ms());
                let class = match failure {
                    Failure::Timeout => RetryOn::Timeout,
                    Failure::Connect => RetryOn::Connect,
                    _ => RetryOn::ServerError,
                };
                if logging {
                    tried.push((
                        ti,
                        match class {
                            RetryOn::Timeout => "timeout",
                            RetryOn::Connect => "connect_error",
                            _ => "upstream_error",
                        },
                    ));
                }
                last_error = Some((e.to_api(&p.name), ti));
                if !retry.on.contains(&class) {
                    break;
                }
            }
            Ok((mut conn, head, req, sent)) => {
                let head_at = Instant::now();
                b.up_req = req;
                let failure = match head.status {
                    429 => {
                        Some((Failure::RateLimited(retry_after_ms(&b.up_resp, &b.up_headers)), RetryOn::RateLimited))
                    }
                    500..=599 => Some((Failure::ServerError, RetryOn::ServerError)),
                    _ => None,
                };
                if logging {
                    tried.push((
                        ti,
                        match head.status {
                            429 => "429",
                            500..=599 => "5xx",
                            _ => "answered",
                        },
                    ));
                }
                match failure {
                    Some((f, class)) => {
                        target.health.failure(f, w.shared.now_ms());
                        if !final_attempt && retry.on.contains(&class) {
                            // Nothing reached the client yet: drop this answer, try the next.
                            continue;
                        }
                    }
                    None => target.health.success(head_at.duration_since(now).as_micros() as u64),
                }
                let tags = Tags {
                    request_id: &request_id,
                    model: Some(&target.name),
                    provider: Some(&p.name),
                    route: Some(route_name),
                    dialect,
                    cache: cache_tag,
                };
                let store = |answer: switchyard_wire::Completion| {
                    if let Some(u) = cache.borrow_mut().take() {
                        crate::pipeline::cache::store(w, u, answer, &target.name, &p.name);
                    }
                };
                let charge = |u: Usage| {
                    let cost = account(table, route.map(|r| r.baseline), target, &u);
                    if let Some(k) = client_key {
                        k.charge(u.total(), cost, w.shared.key_now());
                    }
                };
                let x = RelaySpec {
                    client: dialect,
                    upstream: up,
                    include_usage: view.include_usage,
                    drop_usage_chunk: injected,
                    model: &target.upstream_model,
                    store: if cache.borrow().is_some() { Some(&store) } else { None },
                    account: Some(&charge),
                    relay_time: &w.shared.stream_relay_time[w.index],
                };
                let sse = (200..300).contains(&head.status) && is_event_stream(&b.up_resp, &b.up_headers);
                b.first_write.set(None);
                let ok = (200..300).contains(&head.status);
                let t = Timing { deadline, idle: Duration::from_millis(p.stream_idle_timeout_ms) };
                let r = Relay { client: &mut *client, up: &mut conn, head: &head, tags: &tags, keep, timing: t };
                let relayed = if sse {
                    relay_events(r, b, &x).await.map_err(|f| f.as_str())
                } else if up == dialect && ok {
                    relay_json(r, b, &x, &w.json_scratch).await
                } else if up == dialect {
                    // Errors pass through as they are.
                    let (o, reusable) = relay(r, b).await;
                    Ok((o, reusable, None))
                } else {
                    Ok(relay_whole(r, b, &x).await)
                };
                let (outcome, reusable, usage) = match relayed {
                    Ok(v) => v,
                    Err(reason) => {
                        // A broken answer (stalled, cut, not JSON) before anything reached the
                        // client: counts as a server error and falls back like a 5xx.
                        target.health.failure(Failure::ServerError, w.shared.now_ms());
                        if let Some(last) = tried.last_mut() {
                            last.1 = "invalid_answer";
                        }
                        last_error =
                            Some((ApiError::status(502, format!("upstream provider `{}`: {reason}", p.name)), ti));
                        if !final_attempt && retry.on.contains(&RetryOn::ServerError) {
                            continue;
                        }
                        break;
                    }
                };
                if reusable {
                    // A whole answer is written once it is read, so its first write is about
                    // when the connection went idle (never later: an early stamp only retires
                    // it sooner); a stream may have run long after its first write.
                    let since = match b.first_write.get() {
                        Some(t) if !view.stream => t,
                        _ => Instant::now(),
                    };
                    w.pool.put(&p.pool_key, conn, live.upstream.pool_max_idle, since);
                }
                // Own time: request ready → upstream write issued, upstream head parsed → client
                // write issued. Retried requests are left out: their first leg holds upstream waits.
                if let (0, Some(first)) = (n, b.first_write.get()) {
                    let own = sent.duration_since(ready) + first.duration_since(head_at);
                    w.shared.overhead[w.index].record(own.as_nanos() as u64);
                }
                live.counts(decision.route, ti).add(w.index, head.status);
                w.shared.stats.upstream_latency[w.index].record(head_at.duration_since(sent).as_nanos() as u64);
                if let Some(first) = b.first_write.get() {
                    w.shared.stats.ttft[w.index].record(first.duration_since(ready).as_nanos() as u64);
                }
                let ttft = b.first_write.get().map(|t| t.duration_since(ready));
                let broken = b.broken.take();
                log_request(w, table, &common, ti, head.status, &tried, ttft, usage, None, broken);
                return outcome;
            }
        }
    }
    let (e, ti) = last_error
        .unwrap_or_else(|| (ApiError::status(504, "retry budget exhausted before any attempt"), decision.plan[0]));
    live.counts(decision.route, ti).add(w.index, e.status);
    log_request(w, table, &common, ti, e.status, &tried, None, None, None, Some(&e.message));
    let target = &table.targets[ti];
    let tags = Tags {
        request_id: &request_id,
        model: Some(&target.name),
        provider: Some(&table.providers[target.provider].name),
        route: Some(route_name),
        dialect,
        cache: cache_tag,
    };
    send_error(client, &mut b.out, &e, Some(&tags), keep).await
}

/// Records tokens, cost and savings against the route's baseline model; returns the cost.
pub fn account(table: &switchyard_routing::RouteTable, baseline: Option<usize>, target: &Target, u: &Usage) -> f64 {
    let cost = u.cost(target.input_price, target.output_price);
    let base = baseline.map_or(target, |b| &table.targets[b]);
    let savings = u.cost(base.input_price, base.output_price) - cost;
    target.health.record_usage(u.prompt, u.completion, cost, savings);
    cost
}

fn is_event_stream(buf: &[u8], headers: &[HeaderRef]) -> bool {
    switchyard_http::header_value(buf, headers, "content-type").is_some_and(|v| v.starts_with(b"text/event-stream"))
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

/// Asks an OpenAI upstream for usage when the client did not (usage drives cost).
const INJECT_USAGE: &[u8] = br#""stream_options":{"include_usage":true},"#;

/// Writes the upstream request for `target` in its dialect. Returns whether the gateway asked
/// for `include_usage` on the client's behalf (its extra chunk must then be dropped).
#[allow(clippy::too_many_arguments)]
fn build_request(
    req: &mut Vec<u8>,
    p: &Provider,
    up: Dialect,
    key: &[u8],
    target: &Target,
    view: &RequestView,
    cb: &mut ClientBody<'_>,
    scratch: &mut Vec<u8>,
) -> Result<bool, ApiError> {
    req.clear();
    if up == cb.dialect
        && let Some(span) = &view.model_span
    {
        // Fast path: the client's bytes with the model spliced in, written straight after the
        // head (one copy of the body).
        let raw = cb.raw;
        let inject = up == Dialect::OpenAi && view.stream && top_level_value_span(raw, "stream_options").is_none();
        let len =
            raw.len() - span.len() + target.upstream_model_json.len() + if inject { INJECT_USAGE.len() } else { 0 };
        write_head(req, p, up, key, target, view.stream, len);
        let start = req.len();
        rewrite_model(raw, view, &target.upstream_model_json, req);
        if inject && let Some(brace) = req[start..].iter().position(|&c| c == b'{') {
            let at = start + brace + 1;
            req.splice(at..at, INJECT_USAGE.iter().copied());
        }
        return Ok(inject);
    }
    scratch.clear();
    let mut injected = false;
    if up == cb.dialect {
        // The model key was spelled with escapes: re-serialised by rewrite_model.
        rewrite_model(cb.raw, view, &target.upstream_model_json, scratch);
    } else {
        let mut body = upstream_body(up, cb.hub()?, &target.upstream_model)?;
        if up == Dialect::OpenAi && view.stream && !view.include_usage {
            body["stream_options"] = serde_json::json!({"include_usage": true});
            injected = true;
        }
        serde_json::to_writer(&mut *scratch, &body).map_err(|e| ApiError::status(500, e.to_string()))?;
    }
    write_head(req, p, up, key, target, view.stream, scratch.len());
    req.extend_from_slice(scratch);
    Ok(injected)
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
    }
    .map_err(|e| ApiError::bad_request(e.to_string(), None))
}

/// Request line and headers for `up`'s endpoint.
pub fn write_head(req: &mut Vec<u8>, p: &Provider, up: Dialect, key: &[u8], target: &Target, stream: bool, len: usize) {
    req.extend_from_slice(b"POST ");
    req.extend_from_slice(p.base_path.as_bytes());
    match up {
        Dialect::OpenAi => req.extend_from_slice(b"/chat/completions"),
        Dialect::Anthropic => req.extend_from_slice(b"/messages"),
        Dialect::Gemini => {
            req.extend_from_slice(b"/models/");
            req.extend_from_slice(target.upstream_model.as_bytes());
            req.extend_from_slice(if stream { b":streamGenerateContent?alt=sse" } else { b":generateContent" });
        }
    }
    req.extend_from_slice(b" HTTP/1.1\r\n");
    req.extend_from_slice(&p.fixed_headers);
    req.extend_from_slice(key);
    req.extend_from_slice(b"content-type: application/json\r\n");
    req.extend_from_slice(if stream { b"accept: text/event-stream\r\n" } else { b"accept: application/json\r\n" });
    write::content_length(req, len as u64);
    req.extend_from_slice(b"\r\n");
}
