//! The per-request context the phases share, and the two ways a request ends: `Served` (an
//! answer reached the client) or `Reject` (an error the client is still to be told).

use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_routing::TargetId;

use switchyard_guard::keys::{ClientKey, Reservation};
use switchyard_routing::{Decision, Route};
use switchyard_wire::render::RenderedAnswer;
use switchyard_wire::{ApiError, Dialect, RequestView, Usage};

use crate::downstream::{Outcome, Tags};
use crate::pipeline::ledger::Ledger;
use crate::runtime::core::{RequestId, Worker};
use crate::runtime::live::Live;

/// Route name reported when the client named a model.
pub const DIRECT_ROUTE: &str = "direct";

/// One chat request on its way through the phases. It lives on the connection task's stack;
/// the `Ledger` allocates only when the decision log is on.
pub struct Exchange<'a> {
    /// This worker.
    pub w: &'a Worker,
    /// The configuration the request started with (kept to the end, across reloads).
    pub live: &'a Live,
    /// `x-switchyard-request-id`.
    pub request_id: RequestId,
    /// When the request (head and body) was read.
    pub ready: Instant,
    /// The client's dialect.
    pub dialect: Dialect,
    /// Whether the client connection may stay open after the reply.
    pub keep: Outcome,
    /// The client key, once admitted.
    pub client_key: Option<&'a ClientKey>,
    /// The routing decision, once made.
    pub decision: Option<Decision>,
    /// Every call made to a target.
    pub ledger: Ledger,
    /// The client key sent routing headers it is not allowed, and they were ignored.
    pub routing_headers_ignored: bool,
    /// What the request holds of its key's budget and tokens per minute until it ends
    /// (released on drop, so on every path).
    pub reservation: Option<Reservation>,
    /// `x-switchyard-cache`: `miss` once a caching route missed (a hit ends as `ServedBy::Cache`).
    pub cache_tag: Option<&'static str>,
}

impl<'a> Exchange<'a> {
    /// A request read at `ready` from a client of `dialect`.
    pub fn begin(w: &'a Worker, live: &'a Live, dialect: Dialect, keep: Outcome, ready: Instant) -> Exchange<'a> {
        Exchange {
            w,
            live,
            request_id: w.request_id(),
            ready,
            dialect,
            keep,
            client_key: None,
            decision: None,
            ledger: Ledger::new(w.shared.decision_log().is_some()),
            reservation: None,
            routing_headers_ignored: false,
            cache_tag: None,
        }
    }

    /// The client key's name, for records.
    pub fn key_name(&self) -> Option<&'a str> {
        self.client_key.map(|k| k.name.as_str())
    }

    /// The route decided on, if the request named one.
    pub fn route(&self) -> Option<&'a Route> {
        let routes = &self.live.table.routes;
        self.decision.as_ref().and_then(|d| d.route).map(|r| &routes[r])
    }

    /// The route's name, or `direct`.
    pub fn route_name(&self) -> &'a str {
        self.route().map_or(DIRECT_ROUTE, |r| r.name.as_str())
    }

    /// The reply's tags: the request id, and once a target is known its model, provider and route.
    /// The name answers report as their model when `server.report_model = "requested"`: the
    /// model or route the client asked for.
    pub fn reported_model<'v>(&self, view: &'v RequestView) -> Option<&'v str> {
        (self.live.server.report_model == switchyard_config::ReportModel::Requested).then_some(view.model.as_str())
    }

    pub fn tags(&self, target: Option<TargetId>) -> Tags<'_> {
        let table = &self.live.table;
        let t = target.map(|i| &table.targets[i]);
        Tags {
            request_id: &self.request_id,
            model: t.map(|t| t.name.as_str()),
            provider: t.map(|t| table.providers[t.provider].name.as_str()),
            route: t.map(|_| self.route_name()),
            dialect: self.dialect,
            cache: self.cache_tag,
            upstream_model: t
                .filter(|_| self.live.server.report_model == switchyard_config::ReportModel::Requested)
                .map(|t| t.upstream_model.as_str()),
        }
    }
}

/// Who gave the answer that was served.
pub enum ServedBy {
    /// A target, relayed as it answered.
    Upstream {
        /// The gateway's own time (request ready to upstream write, head parsed to client write),
        /// for first attempts only: a retried request's first leg holds upstream waits.
        own_time: Option<Duration>,
        /// Upstream write to response head.
        upstream_latency: Duration,
    },
    /// A cascade's passing answer or a vote's winner (usage and cost summed over every call).
    Ensemble,
    /// The response cache.
    Cache {
        /// The stored answer.
        hit: Arc<RenderedAnswer>,
        /// Set when a near-duplicate's answer was served (semantic cache).
        similarity: Option<f32>,
    },
}

/// An answer that reached the client.
pub struct Served {
    /// Whether the connection stays open.
    pub outcome: Outcome,
    /// The target that answered (or whose stored answer was served).
    pub target: TargetId,
    /// The status the client got.
    pub status: u16,
    /// Tokens, when reported.
    pub usage: Option<Usage>,
    /// Cost when several calls were summed; else computed from `usage`.
    pub cost: Option<f64>,
    /// Who answered.
    pub by: ServedBy,
}

/// An error the client is still to be told, and how far the request got.
#[derive(Debug)]
pub struct Reject {
    /// What the client is told.
    pub error: ApiError,
    /// The target whose failure this is (None: refused before any target was tried).
    pub target: Option<TargetId>,
    /// The body was read, so the record names the requested model.
    pub model_known: bool,
}

impl Reject {
    /// Refused before the body was read (key, body).
    pub fn refused(error: ApiError) -> Reject {
        Reject { error, target: None, model_known: false }
    }

    /// Refused once the requested model was known (limits, unknown model or tier).
    pub fn refused_for_model(error: ApiError) -> Reject {
        Reject { error, target: None, model_known: true }
    }

    /// `target` failed and no other answered.
    pub fn failed(error: ApiError, target: TargetId) -> Reject {
        Reject { error, target: Some(target), model_known: true }
    }
}
