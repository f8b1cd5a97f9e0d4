//! The attempts a request made, typed: what the decision log records per call.

use switchyard_config::RetryOn;
use switchyard_routing::TargetId;
use switchyard_routing::health::Failure;

/// How one call to a target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It answered (the answer went to the client, or was judged).
    Answered,
    /// 429.
    RateLimited,
    /// A 5xx status.
    ServerError,
    /// No response head within the deadline.
    Timeout,
    /// The connection could not be made.
    ConnectError,
    /// Another failure before the response head.
    UpstreamError,
    /// The target's dialect cannot express the request (e.g. `n > 1` for Anthropic).
    Untranslatable,
    /// The answer was broken (stalled, cut, not JSON) before anything reached the client.
    InvalidAnswer,
    /// A cascade step or a consensus member failed.
    Failed,
    /// A judge's call.
    Judge,
    /// A cascade step's answer failed a check and the request climbed a tier; the check is
    /// `Escalation::as_str` (one of `observe::meters::REASONS`).
    Escalated(&'static str),
}

impl AttemptOutcome {
    /// The decision log's label.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Answered => "answered",
            AttemptOutcome::RateLimited => "429",
            AttemptOutcome::ServerError => "5xx",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::ConnectError => "connect_error",
            AttemptOutcome::UpstreamError => "upstream_error",
            AttemptOutcome::Untranslatable => "untranslatable",
            AttemptOutcome::InvalidAnswer => "invalid_answer",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Judge => "judge",
            AttemptOutcome::Escalated(reason) => match reason {
                "min_length" => "escalated:min_length",
                "regex" => "escalated:regex",
                "json" => "escalated:json",
                "finish_reason" => "escalated:finish_reason",
                "refusal" => "escalated:refusal",
                "logprob" => "escalated:logprob",
                "judge" => "escalated:judge",
                _ => "escalated:failed",
            },
        }
    }

    /// The outcome of a failure before the response head, and the retry class it belongs to.
    pub fn before_head(f: Failure) -> (AttemptOutcome, RetryOn) {
        match f {
            Failure::Timeout => (AttemptOutcome::Timeout, RetryOn::Timeout),
            Failure::Connect => (AttemptOutcome::ConnectError, RetryOn::Connect),
            _ => (AttemptOutcome::UpstreamError, RetryOn::ServerError),
        }
    }

    /// The outcome of a response head with `status`.
    pub fn of_status(status: u16) -> AttemptOutcome {
        match status {
            429 => AttemptOutcome::RateLimited,
            500..=599 => AttemptOutcome::ServerError,
            _ => AttemptOutcome::Answered,
        }
    }
}

/// One call: the target (an index into the route table's targets) and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The target called.
    pub target: TargetId,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

impl Attempt {
    /// A call to `target` that ended with `outcome`.
    pub fn new(target: TargetId, outcome: AttemptOutcome) -> Attempt {
        Attempt { target, outcome }
    }
}

/// The attempts of one request, kept only when a decision log will read them: without one,
/// recording allocates nothing.
#[derive(Debug, Default)]
pub struct Ledger {
    keep: bool,
    attempts: Vec<Attempt>,
}

impl Ledger {
    /// A ledger that keeps its attempts when `keep` (a decision log is configured).
    pub fn new(keep: bool) -> Ledger {
        Ledger { keep, attempts: Vec::new() }
    }

    /// Records a call.
    pub fn record(&mut self, target: TargetId, outcome: AttemptOutcome) {
        if self.keep {
            self.attempts.push(Attempt::new(target, outcome));
        }
    }

    /// Records the calls a cascade or a vote made.
    pub fn extend(&mut self, attempts: Vec<Attempt>) {
        if self.keep {
            self.attempts.extend(attempts);
        }
    }

    /// The calls so far, in order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_when_kept() {
        let mut off = Ledger::new(false);
        off.record(TargetId(1), AttemptOutcome::Answered);
        assert!(off.attempts().is_empty());
        let mut on = Ledger::new(true);
        on.record(TargetId(1), AttemptOutcome::Timeout);
        on.extend(vec![Attempt::new(TargetId(2), AttemptOutcome::Escalated("min_length"))]);
        let labels: Vec<_> = on.attempts().iter().map(|a| (a.target.0, a.outcome.as_str())).collect();
        assert_eq!(labels, [(1, "timeout"), (2, "escalated:min_length")]);
    }

    #[test]
    fn statuses_and_failures_map_to_outcomes_and_retry_classes() {
        assert_eq!(AttemptOutcome::of_status(429).as_str(), "429");
        assert_eq!(AttemptOutcome::of_status(503).as_str(), "5xx");
        assert_eq!(AttemptOutcome::of_status(400).as_str(), "answered");
        assert_eq!(AttemptOutcome::before_head(Failure::Connect), (AttemptOutcome::ConnectError, RetryOn::Connect));
        assert_eq!(AttemptOutcome::before_head(Failure::Timeout), (AttemptOutcome::Timeout, RetryOn::Timeout));
    }
}
