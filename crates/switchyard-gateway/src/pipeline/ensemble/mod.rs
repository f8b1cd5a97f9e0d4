//! Cascade and consensus routes: whole answers fetched from one tier after another (cascade)
//! or from several models at once (consensus), judged, and one of them sent to the client.

pub mod fetch;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_routing::Route;
use switchyard_routing::cascade::{Escalation, judge_prompt, judge_verdict};
use switchyard_routing::consensus::{judge_pick, judge_prompt as judge_pick_prompt, vote};
use switchyard_wire::ApiError;
use switchyard_wire::{Completion, Usage};

use monoio::net::TcpStream;
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

/// A cascade or vote that produced no answer: the last error, the target it came from, and
/// every call made.
pub struct Unanswered {
    /// What the client is told.
    pub error: ApiError,
    /// The target of the last error.
    pub target: usize,
    /// Every call made.
    pub attempts: Vec<Attempt>,
}

/// The outcome of a strategy.
pub struct Answer {
    /// The answer sent (usage: the sum over every call made).
    pub completion: Completion,
    /// Target that gave it.
    pub target: usize,
    /// Targets whose answers agreed (consensus), in config order.
    pub agreed: Vec<usize>,
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

fn charge(ask: &Ask<'_>, ti: usize, u: &Usage) -> f64 {
    let t = &ask.live.table.targets[ti];
    crate::pipeline::account(&ask.live.table, Some(ask.route.baseline), t, u)
}

/// Cascade: each tier's best target (balancer order, falling back within the tier) answers in
/// whole; an answer that fails a check climbs to the next tier; the last tier's answer is sent
/// whatever it is.
pub async fn cascade(ask: Ask<'_>) -> Result<Answer, Unanswered> {
    let route = ask.route;
    let checks = route.cascade.as_ref().expect("a cascade route");
    let counters = ask.w.shared.strategies.of(&route.name);
    counters.requests.fetch_add(1, Relaxed);
    let deadline = ask.ready + Duration::from_millis(route.retry.budget_ms);
    let table = &ask.live.table;
    let mut tried = Vec::new();
    let mut total = Usage::default();
    let mut cost = 0.0;
    let mut last_err: Option<(ApiError, usize)> = None;
    let tiers = route.tiers.len();
    for (tier_i, tier) in route.tiers.iter().enumerate() {
        let last_tier = tier_i + 1 == tiers;
        let mut order = switchyard_routing::Plan::new();
        {
            let mut scratch = ask.w.decide_scratch.borrow_mut();
            switchyard_routing::balancer::order(
                route.balance,
                &tier.targets,
                &table.targets,
                ask.w.shared.now_ms(),
                &mut scratch.rng,
                &mut order,
            );
        }
        let mut got: Option<(usize, Fetched)> = None;
        for &ti in &order {
            match fetch_completion(ask.w, ask.live, ti, ask.hub, checks.min_avg_logprob.is_some(), deadline).await {
                Ok(f) => {
                    got = Some((ti, f));
                    break;
                }
                Err(e) => {
                    tried.push(Attempt::new(ti, AttemptOutcome::Failed));
                    last_err = Some((e, ti));
                }
            }
        }
        let Some((ti, fetched)) = got else {
            if !last_tier {
                counters.escalations[7].fetch_add(1, Relaxed);
            }
            continue;
        };
        total.add(&fetched.completion.usage);
        cost += charge(&ask, ti, &fetched.completion.usage);
        // A tool call is structured output for the client's code, not prose: text checks do
        // not apply to it.
        let verdict = if last_tier || !fetched.completion.tool_calls.is_empty() {
            Ok(())
        } else {
            let c = &fetched.completion;
            match checks.check(&c.text, c.finish.openai(), fetched.avg_logprob) {
                Err(e) => Err(e),
                Ok(()) => match &checks.judge {
                    None => Ok(()),
                    Some((judge, template)) => {
                        let prompt = judge_prompt(template, ask.question, &c.text);
                        let hub =
                            serde_json::json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": 8});
                        match fetch_completion(ask.w, ask.live, *judge, &hub, false, deadline).await {
                            Ok(j) => {
                                total.add(&j.completion.usage);
                                cost += charge(&ask, *judge, &j.completion.usage);
                                tried.push(Attempt::new(*judge, AttemptOutcome::Judge));
                                if judge_verdict(&j.completion.text) == Some(true) {
                                    Ok(())
                                } else {
                                    Err(Escalation::Judge)
                                }
                            }
                            // A judge that cannot answer cannot vouch for the answer.
                            Err(_) => Err(Escalation::Judge),
                        }
                    }
                },
            }
        };
        match verdict {
            Ok(()) => {
                tried.push(Attempt::new(ti, AttemptOutcome::Answered));
                counters.answered_by_tier[tier_i.min(7)].fetch_add(1, Relaxed);
                counters.held_us.fetch_add(ask.ready.elapsed().as_micros() as u64, Relaxed);
                let mut completion = fetched.completion;
                completion.usage = total;
                return Ok(Answer { completion, target: ti, agreed: Vec::new(), tried, cost });
            }
            Err(e) => {
                let i = REASONS.iter().position(|r| *r == e.as_str()).unwrap_or(7);
                counters.escalations[i].fetch_add(1, Relaxed);
                tried.push(Attempt::new(ti, AttemptOutcome::Escalated(e.as_str())));
            }
        }
    }
    let (e, ti) = last_err
        .unwrap_or_else(|| (ApiError::status(502, "no tier of the cascade answered"), route.tiers[0].targets[0]));
    Err(Unanswered { error: e, target: ti, attempts: tried })
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
    let replies = join_all(calls).await;
    let mut tried = Vec::new();
    let mut total = Usage::default();
    let mut cost = 0.0;
    let mut answers = Vec::with_capacity(replies.len());
    let mut last_err = None;
    for (k, r) in replies.iter().enumerate() {
        let ti = c.targets[k];
        match r {
            Ok(f) => {
                total.add(&f.completion.usage);
                cost += charge(&ask, ti, &f.completion.usage);
                answers.push(c.extractor.extract(&f.completion.text));
                tried.push(Attempt::new(ti, AttemptOutcome::Answered));
            }
            Err(e) => {
                answers.push(None);
                counters.missing.fetch_add(1, Relaxed);
                tried.push(Attempt::new(
                    ti,
                    if e.status == 504 { AttemptOutcome::Timeout } else { AttemptOutcome::Failed },
                ));
                last_err = Some((e.clone(), ti));
            }
        }
    }
    let Some(v) = vote(&answers, c.tie_break) else {
        let (e, ti) =
            last_err.unwrap_or_else(|| (ApiError::status(502, "no model gave an answer to vote on"), c.targets[0]));
        return Err(Unanswered { error: e, target: ti, attempts: tried });
    };
    // The reply sent: the judge's pick when there is a judge (and it answers), else the
    // tie-break model's if it is among the winners, else the first winner.
    let judged = match c.judge {
        Some(judge) => {
            let ok: Vec<usize> = (0..replies.len()).filter(|&k| replies[k].is_ok()).collect();
            let texts: Vec<&str> =
                ok.iter().map(|&k| replies[k].as_ref().map(|f| f.completion.text.as_str()).unwrap_or("")).collect();
            let prompt = judge_pick_prompt(ask.question, &texts);
            let hub = serde_json::json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": 8});
            let until = ask.ready + Duration::from_millis(route.retry.budget_ms);
            match fetch_completion(ask.w, ask.live, judge, &hub, false, until).await {
                Ok(j) => {
                    total.add(&j.completion.usage);
                    cost += charge(&ask, judge, &j.completion.usage);
                    tried.push(Attempt::new(judge, AttemptOutcome::Judge));
                    judge_pick(&j.completion.text, ok.len()).map(|i| ok[i])
                }
                Err(_) => {
                    tried.push(Attempt::new(judge, AttemptOutcome::Failed));
                    None
                }
            }
        }
        None => None,
    };
    let pick = match judged {
        Some(k) => k,
        None => {
            if v.tie {
                counters.ties.fetch_add(1, Relaxed);
            }
            c.tie_break.filter(|t| v.agreeing.contains(t)).unwrap_or(v.agreeing[0])
        }
    };
    // Who agreed with the reply sent (the same extracted answer).
    let agreeing: Vec<usize> = match &answers[pick] {
        Some(a) => (0..answers.len()).filter(|&k| answers[k].as_ref() == Some(a)).collect(),
        None => vec![pick],
    };
    let mut replies = replies;
    let mut completion = replies.swap_remove(pick).map(|f| f.completion).expect("winners answered");
    completion.usage = total;
    let agreed = agreeing.iter().map(|&k| c.targets[k]).collect();
    Ok(Answer { completion, target: c.targets[pick], agreed, tried, cost })
}

/// Delivers what a cascade or a vote came to: the chosen answer, stored and charged before it
/// is sent (so an identical request right after finds it and the key's limits already count
/// it), or the last error for `finish` to answer.
pub async fn deliver(
    x: &mut Exchange<'_>,
    view: &RequestView,
    client: &mut TcpStream,
    b: &mut Buffers,
    cache: Option<CacheUse>,
    answered: Result<Answer, Unanswered>,
) -> Result<Served, Reject> {
    let a = match answered {
        Ok(a) => a,
        Err(u) => {
            x.ledger.extend(u.attempts);
            return Err(Reject::failed(u.error, u.target));
        }
    };
    x.ledger.extend(a.tried);
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
    let outcome = send_completion(client, b, &tags, extra, x.keep, shape, &a.completion).await;
    Ok(Served {
        outcome,
        target: a.target,
        status: 200,
        usage: Some(usage),
        cost: Some(a.cost),
        by: ServedBy::Ensemble,
    })
}
