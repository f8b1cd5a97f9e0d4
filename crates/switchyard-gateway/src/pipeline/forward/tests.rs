//! The retry loop against a scripted upstream: which targets are tried, in what order, what the
//! ledger records and what the client is told.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use switchyard_config::{RetryConfig, RetryOn};
use switchyard_routing::TargetId;
use switchyard_wire::ApiError;

use super::*;
use crate::downstream::Outcome;

/// Answers each attempt with the next scripted result, and notes what it was asked.
struct Scripted {
    results: VecDeque<Tried>,
    calls: Vec<(u16, usize, bool)>,
    /// Time each attempt takes.
    takes: Duration,
}

impl Attempter for Scripted {
    async fn attempt(&mut self, target: TargetId, at: AttemptAt<'_>) -> Tried {
        self.calls.push((target.0, at.n, at.last));
        std::thread::sleep(self.takes);
        self.results.pop_front().expect("an attempt the script did not expect")
    }
}

fn served(target: u16, status: u16) -> Tried {
    let target = TargetId(target);
    let by = ServedBy::Ensemble;
    let s = Served { outcome: Outcome::KeepOpen, target, status, usage: None, cost: None, by };
    Tried::Served(s, AttemptOutcome::of_status(status))
}

fn failed(status: u16, outcome: AttemptOutcome, next: Next) -> Tried {
    Tried::Failed { error: ApiError::status(status, format!("failed {status}")), outcome, next }
}

fn retry(attempts: u32, on: &[RetryOn], budget_ms: u64) -> RetryConfig {
    RetryConfig { attempts, on: on.to_vec(), budget_ms }
}

fn run(script: Vec<Tried>, plan: &[u16], retry: &RetryConfig) -> (Result<Served, Reject>, Scripted, Ledger) {
    let mut s = Scripted { results: script.into(), calls: Vec::new(), takes: Duration::ZERO };
    let mut ledger = Ledger::new(true);
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().build().unwrap();
    let plan: Vec<TargetId> = plan.iter().map(|&t| TargetId(t)).collect();
    let r = rt.block_on(forward(&mut s, &plan, retry, Instant::now(), &mut ledger));
    (r, s, ledger)
}

fn labels(l: &Ledger) -> Vec<(u16, &'static str)> {
    l.attempts().iter().map(|a| (a.target.0, a.outcome.as_str())).collect()
}

const ALL: [RetryOn; 4] = [RetryOn::Connect, RetryOn::Timeout, RetryOn::ServerError, RetryOn::RateLimited];

#[test]
fn the_first_answer_ends_the_loop() {
    let (r, s, l) = run(vec![served(4, 200)], &[4, 5, 6], &retry(3, &ALL, 10_000));
    assert_eq!(r.unwrap().target, TargetId(4));
    assert_eq!(s.calls, [(4, 0, false)]);
    assert_eq!(labels(&l), [(4, "answered")]);
}

#[test]
fn failures_fall_back_in_plan_order_and_the_last_attempt_knows_it_is_last() {
    let script = vec![
        failed(502, AttemptOutcome::ConnectError, Next::If(RetryOn::Connect)),
        failed(400, AttemptOutcome::Untranslatable, Next::Always),
        served(3, 200),
    ];
    let (r, s, l) = run(script, &[1, 2, 3], &retry(3, &ALL, 10_000));
    assert_eq!(r.unwrap().target, TargetId(3));
    assert_eq!(s.calls, [(1, 0, false), (2, 1, false), (3, 2, true)]);
    assert_eq!(labels(&l), [(1, "connect_error"), (2, "untranslatable"), (3, "answered")]);
}

#[test]
fn a_failure_class_the_route_does_not_retry_stops_with_its_error() {
    let script = vec![failed(504, AttemptOutcome::Timeout, Next::If(RetryOn::Timeout))];
    let (r, s, _) = run(script, &[1, 2], &retry(3, &[RetryOn::Connect], 10_000));
    let e = r.err().unwrap();
    assert_eq!((e.error.status, e.target), (504, Some(TargetId(1))));
    assert_eq!(s.calls.len(), 1, "the second target is never called");
}

#[test]
fn an_untranslatable_target_is_skipped_even_without_retries() {
    let script = vec![failed(400, AttemptOutcome::Untranslatable, Next::Always), served(2, 200)];
    let (r, _, _) = run(script, &[1, 2], &retry(2, &[], 10_000));
    assert_eq!(r.unwrap().target, TargetId(2));
}

#[test]
fn the_attempt_count_caps_the_plan_and_the_last_error_is_the_answer() {
    let script = vec![
        failed(502, AttemptOutcome::UpstreamError, Next::If(RetryOn::ServerError)),
        failed(503, AttemptOutcome::InvalidAnswer, Next::If(RetryOn::ServerError)),
    ];
    let (r, s, l) = run(script, &[1, 2, 3, 4], &retry(2, &ALL, 10_000));
    let e = r.err().unwrap();
    assert_eq!((e.error.status, e.target), (503, Some(TargetId(2))));
    assert_eq!(s.calls, [(1, 0, false), (2, 1, true)]);
    assert_eq!(labels(&l), [(1, "upstream_error"), (2, "invalid_answer")]);
}

#[test]
fn the_budget_stops_retries_and_an_empty_budget_is_a_504() {
    let mut s = Scripted {
        results: vec![failed(502, AttemptOutcome::ConnectError, Next::If(RetryOn::Connect))].into(),
        calls: Vec::new(),
        takes: Duration::from_millis(30),
    };
    let mut ledger = Ledger::new(false);
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().build().unwrap();
    let r = rt.block_on(forward(&mut s, &[TargetId(1), TargetId(2)], &retry(2, &ALL, 20), Instant::now(), &mut ledger));
    assert_eq!(r.err().unwrap().error.status, 502, "the first attempt's error, not a budget error");
    assert_eq!(s.calls.len(), 1, "no second attempt after the budget ran out");
    assert!(ledger.attempts().is_empty(), "nothing kept without a decision log");

    let (r, s, _) = run(vec![], &[7], &retry(2, &ALL, 0));
    let e = r.err().unwrap();
    assert_eq!((e.error.status, e.target), (504, Some(TargetId(7))));
    assert!(s.calls.is_empty());
}

#[test]
fn retries_tells_an_attempt_whether_a_failure_would_be_retried() {
    let on = [RetryOn::RateLimited];
    let at = AttemptAt { n: 0, start: Instant::now(), budget_end: Instant::now(), last: false, retry_on: &on };
    assert!(at.retries(RetryOn::RateLimited));
    assert!(!at.retries(RetryOn::ServerError));
    assert!(!AttemptAt { last: true, ..at }.retries(RetryOn::RateLimited), "the last attempt relays its answer");
}
