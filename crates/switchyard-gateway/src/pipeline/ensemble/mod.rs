//! Cascade and consensus routes: whole answers fetched from one tier after another (cascade)
//! or from several models at once (consensus), judged, and one of them sent to the client.

pub mod fetch;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use switchyard_routing::TargetId;

use serde_json::Value;
use switchyard_routing::Route;
use switchyard_routing::cascade::{Escalation, judge_prompt, judge_verdict};
use switchyard_routing::consensus::{judge_pick, judge_prompt as judge_pick_prompt, vote};
use switchyard_wire::ApiError;
use switchyard_wire::{Completion, Usage};

use crate::downstream::ClientConn;
use switchyard_wire::RequestView;
use switchyard_wire::render::Shape;

use crate::downstream::Buffers;
use crate::io::until;
use crate::observe::meters::REASONS;
use crate::pipeline::cache::{CacheUse, store};
use crate::pipeline::ensemble::fetch::{Fetched, fetch_completion, join_all};
use crate::pipeline::exchange::{Exchange, Reject, Served, ServedBy};
use crate::pipeline::ledger::{Attempt, AttemptOutcome};
use crate::relay::deliver::send_completion;
use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::upstream::request::ResponsesCall;

/// A cascade or vote that produced no answer: the last error, the target it came from, and
/// every call made.
pub struct Unanswered {
    /// What the client is told.
    pub error: ApiError,
    /// The target of the last error.
    pub target: TargetId,
    /// Every call made.
    pub attempts: Vec<Attempt>,
}

/// The outcome of a strategy.
pub struct Answer {
    /// The answer sent (usage: the sum over every call made).
    pub completion: Completion,
    /// Target that gave it.
    pub target: TargetId,
    /// Targets whose answers agreed (consensus), in config order.
    pub agreed: Vec<TargetId>,
    /// Each call: target and outcome.
    pub tried: Vec<Attempt>,
    /// Cost of every call, USD.
    pub cost: f64,
}

/// What a strategy needs of the request.
pub struct Ask<'a> {
    /// The worker.
    pub w: &'a Worker,
    /// The live configuration.
    pub live: &'a Live,
    /// The route.
    pub route: &'a Route,
    /// The request in OpenAI shape.
    pub hub: &'a Value,
    /// The last user turn (for the judge).
    pub question: &'a str,
    /// When the request was read.
    pub ready: Instant,
}

/// What a strategy's calls have cost so far: every call, summed usage and cost.
#[derive(Default)]
struct Spent {
    tried: Vec<Attempt>,
    total: Usage,
    cost: f64,
}

impl Spent {
    /// Counts a call to `ti` that answered with `u`, recorded as `outcome`.
    fn answered(&mut self, ask: &Ask<'_>, ti: TargetId, u: &Usage, outcome: AttemptOutcome) {
        self.total.add(u);
        let t = &ask.live.table.targets[ti];
        self.cost += crate::pipeline::account(&ask.live.table, Some(ask.route.baseline), t, u);
        self.tried.push(Attempt::new(ti, outcome));
    }

    /// The answer sent: `completion` from `target`, carrying the usage of every call.
    fn answer(self, mut completion: Completion, target: TargetId, agreed: Vec<TargetId>) -> Answer {
        completion.usage = self.total;
        Answer { completion, target, agreed, tried: self.tried, cost: self.cost }
    }
}

/// Cascade: each tier's best target (balancer order, falling back within the tier) answers in
/// whole; an answer that fails a check climbs to the next tier; the last tier's answer is sent
/// whatever it is.
pub async fn cascade(ask: Ask<'_>) -> Result<Answer, Unanswered> {
    let route = ask.route;
    let counters = ask.w.shared.strategies.of(&route.name);
    counters.requests.fetch_add(1, Relaxed);
    let deadline = ask.ready + Duration::from_millis(route.retry.budget_ms);
    let mut spent = Spent::default();
    let mut last_err: Option<(ApiError, TargetId)> = None;
    let tiers = route.tiers.len();
    for (tier_i, tier) in route.tiers.iter().enumerate() {
        let last_tier = tier_i + 1 == tiers;
        let Some((ti, fetched)) = tier_answer(&ask, &tier.targets, deadline, &mut spent, &mut last_err).await else {
            if !last_tier {
                counters.escalations[7].fetch_add(1, Relaxed);
            }
            continue;
        };
        spent.total.add(&fetched.completion.usage);
        let t = &ask.live.table.targets[ti];
        spent.cost += crate::pipeline::account(&ask.live.table, Some(route.baseline), t, &fetched.completion.usage);
        // A tool call is structured output for the client's code, not prose: text checks do
        // not apply to it.
        let checked = last_tier || !fetched.completion.tool_calls.is_empty();
        let verdict = if checked { Ok(()) } else { check(&ask, &fetched, deadline, &mut spent).await };
        match verdict {
            Ok(()) => {
                spent.tried.push(Attempt::new(ti, AttemptOutcome::Answered));
                counters.answered_by_tier[tier_i.min(7)].fetch_add(1, Relaxed);
                counters.held_us.fetch_add(ask.ready.elapsed().as_micros() as u64, Relaxed);
                return Ok(spent.answer(fetched.completion, ti, Vec::new()));
            }
            Err(e) => {
                let i = REASONS.iter().position(|r| *r == e.as_str()).unwrap_or(7);
                counters.escalations[i].fetch_add(1, Relaxed);
                spent.tried.push(Attempt::new(ti, AttemptOutcome::Escalated(e.as_str())));
            }
        }
    }
    let (error, target) = last_err
        .unwrap_or_else(|| (ApiError::status(502, "no tier of the cascade answered"), route.tiers[0].targets[0]));
    Err(Unanswered { error, target, attempts: spent.tried })
}

/// The first whole answer among a tier's targets, in balancer order.
async fn tier_answer(
    ask: &Ask<'_>,
    targets: &[TargetId],
    deadline: Instant,
    spent: &mut Spent,
    last_err: &mut Option<(ApiError, TargetId)>,
) -> Option<(TargetId, Fetched)> {
    let logprobs = ask.route.cascade.as_ref().is_some_and(|c| c.min_avg_logprob.is_some());
    let mut order = switchyard_routing::Plan::new();
    {
        let mut scratch = ask.w.decide_scratch.borrow_mut();
        let table = &ask.live.table.targets;
        let now = ask.w.shared.now_ms();
        switchyard_routing::balancer::order(ask.route.balance, targets, table, now, &mut scratch.rng, &mut order);
    }
    for &ti in &order {
        match fetch_completion(ask.w, ask.live, ti, ask.hub, logprobs, deadline).await {
            Ok(f) => return Some((ti, f)),
            Err(e) => {
                spent.tried.push(Attempt::new(ti, AttemptOutcome::Failed));
                *last_err = Some((e, ti));
            }
        }
    }
    None
}

/// A cascade step's checks, then its judge when one is configured.
async fn check(ask: &Ask<'_>, fetched: &Fetched, deadline: Instant, spent: &mut Spent) -> Result<(), Escalation> {
    let checks = ask.route.cascade.as_ref().expect("a cascade route");
    let c = &fetched.completion;
    checks.check(&c.text, c.finish.openai(), fetched.avg_logprob)?;
    let Some((judge, template)) = &checks.judge else { return Ok(()) };
    let prompt = judge_prompt(template, ask.question, &c.text);
    let hub = serde_json::json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": 8});
    match fetch_completion(ask.w, ask.live, *judge, &hub, false, deadline).await {
        Ok(j) => {
            spent.answered(ask, *judge, &j.completion.usage, AttemptOutcome::Judge);
            if judge_verdict(&j.completion.text) == Some(true) { Ok(()) } else { Err(Escalation::Judge) }
        }
        // A judge that cannot answer cannot vouch for the answer.
        Err(_) => Err(Escalation::Judge),
    }
}

/// Consensus: every model at once on this core; replies still missing at the timeout are left
/// out; the majority of the extracted answers wins (ties: the tie-break model's answer), or,
/// with a judge, the answer the judge picks (the vote decides if the judge cannot).
pub async fn consensus(ask: Ask<'_>) -> Result<Answer, Unanswered> {
    let route = ask.route;
    let c = route.consensus.as_ref().expect("a consensus route");
    let counters = ask.w.shared.strategies.of(&route.name);
    counters.requests.fetch_add(1, Relaxed);
    let deadline = ask.ready + Duration::from_millis(c.timeout_ms.min(route.retry.budget_ms));
    let calls = c
        .targets
        .iter()
        .map(|&ti| {
            let fut = fetch_completion(ask.w, ask.live, ti, ask.hub, false, deadline);
            Box::pin(async move {
                match until(deadline, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(ApiError::status(504, "no reply before the consensus timeout")),
                }
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = Result<Fetched, ApiError>> + '_>>
        })
        .collect();
    let mut replies = join_all(calls).await;
    let mut spent = Spent::default();
    let mut answers = Vec::with_capacity(replies.len());
    let mut last_err = None;
    for (k, r) in replies.iter().enumerate() {
        let ti = c.targets[k];
        match r {
            Ok(f) => {
                spent.answered(&ask, ti, &f.completion.usage, AttemptOutcome::Answered);
                // An answer that calls tools is voted on by its calls, not its text.
                let answer = switchyard_wire::completion::tool_signature(&f.completion.tool_calls)
                    .or_else(|| c.extractor.extract(&f.completion.text));
                answers.push(answer);
            }
            Err(e) => {
                answers.push(None);
                counters.missing.fetch_add(1, Relaxed);
                let outcome = if e.status == 504 { AttemptOutcome::Timeout } else { AttemptOutcome::Failed };
                spent.tried.push(Attempt::new(ti, outcome));
                last_err = Some((e.clone(), ti));
            }
        }
    }
    let Some(v) = vote(&answers, c.tie_break) else {
        // Every member that answered gave nothing the extractor could read: the route cannot
        // vote on this request, which is not an upstream failure.
        let unreadable = || {
            let e = ApiError::bad_request(
                "this consensus route could not vote: no member's answer held what its extractor looks for",
                None,
            );
            (e, c.targets[0])
        };
        let (error, target) = last_err.filter(|_| replies.iter().all(|r| r.is_err())).unwrap_or_else(unreadable);
        return Err(Unanswered { error, target, attempts: spent.tried });
    };
    // The reply sent: the judge's pick when there is a judge (and it answers), else the
    // tie-break model's if it is among the winners, else the first winner.
    let judged = match c.judge {
        Some(judge) => judge_replies(&ask, judge, &replies, &mut spent).await,
        None => None,
    };
    let pick = judged.unwrap_or_else(|| {
        if v.tie {
            counters.ties.fetch_add(1, Relaxed);
        }
        c.tie_break.filter(|t| v.agreeing.contains(t)).unwrap_or(v.agreeing[0])
    });
    // Who agreed with the reply sent (the same extracted answer).
    let agreeing: Vec<usize> = match &answers[pick] {
        Some(a) => (0..answers.len()).filter(|&k| answers[k].as_ref() == Some(a)).collect(),
        None => vec![pick],
    };
    let completion = replies.swap_remove(pick).map(|f| f.completion).expect("winners answered");
    let agreed = agreeing.iter().map(|&k| c.targets[k]).collect();
    Ok(spent.answer(completion, c.targets[pick], agreed))
}

/// The reply a consensus judge picks among those that answered (index into `replies`).
async fn judge_replies(
    ask: &Ask<'_>,
    judge: TargetId,
    replies: &[Result<Fetched, ApiError>],
    spent: &mut Spent,
) -> Option<usize> {
    let ok: Vec<usize> = (0..replies.len()).filter(|&k| replies[k].is_ok()).collect();
    let texts: Vec<&str> =
        ok.iter().map(|&k| replies[k].as_ref().map(|f| f.completion.text.as_str()).unwrap_or("")).collect();
    let prompt = judge_pick_prompt(ask.question, &texts);
    let hub = serde_json::json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": 8});
    let until = ask.ready + Duration::from_millis(ask.route.retry.budget_ms);
    match fetch_completion(ask.w, ask.live, judge, &hub, false, until).await {
        Ok(j) => {
            spent.answered(ask, judge, &j.completion.usage, AttemptOutcome::Judge);
            judge_pick(&j.completion.text, ok.len()).map(|i| ok[i])
        }
        Err(_) => {
            spent.tried.push(Attempt::new(judge, AttemptOutcome::Failed));
            None
        }
    }
}

/// Delivers what a cascade or a vote came to: the chosen answer, stored and charged before it
/// is sent (so an identical request right after finds it and the key's limits already count
/// it), or the last error for `finish` to answer.
pub async fn deliver(
    x: &mut Exchange<'_>,
    view: &RequestView,
    client: &mut ClientConn,
    b: &mut Buffers,
    (cache, call): (Option<CacheUse>, Option<&ResponsesCall>),
    answered: Result<Answer, Unanswered>,
) -> Result<Served, Reject> {
    let mut a = match answered {
        Ok(a) => a,
        Err(u) => {
            x.ledger.extend(u.attempts);
            return Err(Reject::failed(u.error, u.target));
        }
    };
    x.ledger.extend(a.tried);
    if let Some(m) = x.reported_model(view) {
        a.completion.model = m.to_string();
    }
    let table = &x.live.table;
    let t = &table.targets[a.target];
    let provider = &table.providers[t.provider].name;
    let agreed: String = a.agreed.iter().map(|&i| table.targets[i].name.as_str()).collect::<Vec<_>>().join(",");
    let extra: &[(&str, &str)] = if a.agreed.is_empty() { &[] } else { &[("x-switchyard-consensus", agreed.as_str())] };
    b.first_write.set(None);
    if let Some(c) = cache {
        store(x.w, c, a.completion.clone(), &t.name, provider);
    }
    let usage = a.completion.usage;
    if let Some(k) = x.client_key {
        k.charge(usage.total(), a.cost, x.w.shared.key_now());
    }
    let shape = Shape { dialect: x.dialect, stream: view.stream, include_usage: view.include_usage };
    let tags = x.tags(Some(a.target));
    if let Some(call) = call {
        crate::pipeline::responses::remember(&x.w.shared, call, x.key_name().unwrap_or(""), &a.completion, None);
    }
    let outcome = send_completion(client, b, &tags, extra, x.keep, (shape, call.map(|c| &c.meta)), &a.completion).await;
    Ok(Served {
        outcome,
        target: a.target,
        status: 200,
        usage: Some(usage),
        cost: Some(a.cost),
        by: ServedBy::Ensemble,
    })
}
