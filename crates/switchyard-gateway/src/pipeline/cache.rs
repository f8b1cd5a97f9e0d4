//! The response cache as the proxy uses it: which requests may be looked up or stored, their
//! keys, and what is kept per answer.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use switchyard_cache::cache::{canonical_key, semantic_parts};
use switchyard_cache::semantic_cache::PromptVector;
use switchyard_routing::Route;

use switchyard_wire::Completion;
use switchyard_wire::render::RenderedAnswer;

use crate::pipeline::admit::ChatRequest;
use crate::pipeline::exchange::Exchange;
use crate::runtime::core::Worker;
use crate::runtime::live::Shared;
use crate::upstream::request::ClientBody;

/// What the cache may do for one request.
pub struct CacheUse {
    /// The request's canonical key.
    pub key: Vec<u8>,
    /// Serve a stored answer (off with `cache-control: no-cache`).
    pub lookup: bool,
    /// Store the fresh answer (off with `cache-control: no-store`).
    pub store: bool,
    /// How long a stored answer lives, ms.
    pub ttl_ms: u64,
    /// For the semantic cache: the request's context hash and its last user turn's vector.
    pub semantic: Option<(u64, PromptVector)>,
}

/// Prompts the semantic index keeps (each up to 1 KB of text: a vector of at most ~16 KB).
pub const SEMANTIC_ENTRIES: usize = 4096;

/// The cache use of a request to `route`; `body` is the request in OpenAI shape.
pub fn cache_use(
    route: &Route,
    scope: &str,
    body: &[u8],
    cache_control: Option<&str>,
    scratch: &mut Vec<u8>,
) -> Option<CacheUse> {
    let cfg = route.cache.as_ref()?;
    let cc = cache_control.unwrap_or("").to_ascii_lowercase();
    let no_store = cc.contains("no-store");
    let lookup = !no_store && !cc.contains("no-cache");
    if !lookup && no_store {
        return None;
    }
    let key = canonical_key(scope, body, cfg.max_temperature, scratch).ok()?;
    Some(CacheUse { key, lookup, store: !no_store, ttl_ms: cfg.ttl_ms, semantic: None })
}

/// A stored answer for `u` (when it may look up): the exact one, else (semantic cache) the one
/// of the most similar earlier prompt, with that similarity. Whenever the request will go
/// upstream, `u.semantic` is filled for storing; an exact hit never pays for it.
pub fn lookup(
    w: &Worker,
    u: &mut CacheUse,
    route: &Route,
    scope: &str,
    body: &[u8],
    scratch: &mut Vec<u8>,
) -> Option<(Arc<RenderedAnswer>, Option<f32>)> {
    let now = w.shared.now_ms();
    if u.lookup
        && let Some(hit) = w.shared.cache.get(&u.key, now)
    {
        return Some((hit, None));
    }
    let cfg = route.cache.as_ref()?;
    let threshold = cfg.similarity? as f32;
    let embedder = w.live().table.embedder.clone();
    u.semantic =
        semantic_parts(scope, body, cfg.max_temperature, scratch).ok().flatten().and_then(|(context, text)| {
            let vector = match &embedder {
                Some(m) => PromptVector::embedded(m, &text, &mut w.embed_scratch.borrow_mut()),
                None => PromptVector::of(&text),
            };
            Some((context, vector?))
        });
    if !u.lookup {
        return None;
    }
    let (context, vector) = u.semantic.as_ref()?;
    let (key, similarity) = w.shared.semantic.nearest(*context, vector, threshold, now)?;
    let hit = w.shared.cache.get(&key, now)?;
    w.shared.semantic_hits.fetch_add(1, Relaxed);
    Some((hit, Some(similarity)))
}

/// Stores `c` for `u` (only complete answers: a cut stream never gets here), and in fleet mode
/// with `share_cache` queues it for the other processes.
pub fn store(w: &Worker, u: CacheUse, c: Completion, model: &str, provider: &str) {
    if !u.store {
        return;
    }
    let now = w.shared.now_ms();
    let expires = now + u.ttl_ms;
    if let Some(fleet) = w.shared.fleet.as_ref().filter(|f| f.share.is_some()) {
        let unix_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        fleet.share_entry(crate::runtime::fleet::SharedEntry {
            key: u.key.clone(),
            completion: c.clone(),
            model: model.to_string(),
            provider: provider.to_string(),
            expires_unix_ms: unix_now as u64 + u.ttl_ms,
        });
    }
    if let Some((context, vector)) = u.semantic {
        w.shared.semantic.insert(context, vector, u.key.clone(), expires, now);
    }
    insert(&w.shared, u.key, c, model, provider, expires);
}

/// Puts an answer into the in-memory cache until `expires` (ms on `Shared::now_ms`'s clock).
pub fn insert(shared: &Shared, key: Vec<u8>, c: Completion, model: &str, provider: &str, expires: u64) {
    let content =
        c.text.len() + c.tool_calls.iter().map(|t| t.arguments.len() + t.name.len() + t.id.len()).sum::<usize>();
    // The answer, plus room reserved for its renderings (made later, on first use, so the
    // bound must count them now): two JSON bodies (~content + 400 B) and three SSE streams
    // (one ~200 B event per 64 B of text: ~3 × content + 1.2 KB).
    let rendered = 2 * (content + 400) + 3 * (3 * content + 1200);
    let size = content + c.id.len() + c.model.len() + model.len() + provider.len() + 128 + rendered;
    let answer = RenderedAnswer::new(c, model.to_string(), provider.to_string());
    shared.cache.insert(key, answer, size, expires);
}

/// A stored answer found for a request, and the similarity when a near-duplicate's answer is
/// served (semantic cache).
pub type Hit = (Arc<RenderedAnswer>, Option<f32>);

/// The cache phase: for a route that caches, builds the request's cache use and looks it up.
/// Keys are built from the OpenAI-shaped request (serialised only for cached routes), so both
/// client dialects share entries. A miss tags the reply `x-switchyard-cache: miss`.
pub fn consult(
    x: &mut Exchange<'_>,
    req: &ChatRequest<'_>,
    body: &ClientBody<'_>,
    scratch: &mut Vec<u8>,
) -> (Option<CacheUse>, Option<Hit>) {
    let Some(route) = x.route().filter(|r| r.cache.is_some()) else { return (None, None) };
    let hub_bytes = body.hub.as_ref().map(|h| serde_json::to_vec(h).unwrap_or_default());
    let key_body = hub_bytes.as_deref().unwrap_or(body.raw);
    // Entries are the client key's own (unless shared), and are kept apart by the tier the
    // request was decided to: a routing header that picks another tier picks another entry.
    let tenant = if x.live.cache_shared { "*" } else { x.key_name().unwrap_or("") };
    let tier = x.decision.as_ref().and_then(|d| d.tier).map_or(-1, |t| t as i64);
    let scope = format!("{}|key={tenant}|tier={tier}", route.cache_scope);
    let mut cache = cache_use(route, &scope, key_body, req.headers.get("cache-control").as_deref(), scratch);
    let hit = cache.as_mut().and_then(|u| lookup(x.w, u, route, &scope, key_body, scratch));
    if hit.is_none() {
        x.cache_tag = Some("miss");
    }
    (cache, hit)
}
