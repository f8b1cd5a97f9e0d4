//! What a compiled route does, in words, for the console's route table and `switchyard route`:
//! its layers in the order they decide, and the dry-run answer of one prompt.

use switchyard_wire::json::quote;

use crate::route::{DecideScratch, Route, sample_view};
use crate::strategy::Pick;
use crate::table::RouteTable;

/// One deciding layer of a route.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// `rule`, `intent`, `complexity` or `learned`.
    pub kind: &'static str,
    /// The rule's or intent's name (the strategy's for scorers).
    pub name: String,
    /// What it checks and where it sends a request.
    pub detail: String,
}

impl Route {
    /// The route's layers in the order they decide (a header pin comes before all of them).
    pub fn layers(&self, t: &RouteTable) -> Vec<Layer> {
        let target = |p: &Pick| match p {
            Pick::Tier(i) => format!("tier {}", self.tiers[*i].name),
            Pick::Model(m) => format!("model {}", t.targets[*m].name),
        };
        let mut out: Vec<Layer> = self
            .rules
            .iter()
            .map(|r| Layer {
                kind: "rule",
                name: r.name.clone(),
                detail: format!("{} → {}", r.conditions(), target(&r.pick)),
            })
            .collect();
        if let Some(s) = &self.semantic {
            out.extend(s.describe().into_iter().map(|(name, detail, pick)| Layer {
                kind: "intent",
                name,
                detail: format!("{detail} → {}", target(&pick)),
            }));
        }
        let cuts = self.thresholds.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ");
        if let Some(c) = &self.complexity {
            let detail = format!("heuristic score, blend {}; cut points [{cuts}]", c.blend);
            out.push(Layer { kind: "complexity", name: "complexity".into(), detail });
        }
        if let Some((m, blend)) = &self.learned {
            let inputs = if m.embedding_dims() > 0 { "words + sentence embedding" } else { "words" };
            let detail = format!("trained router on {inputs}, blend {blend}; cut points [{cuts}]");
            out.push(Layer { kind: "learned", name: "learned".into(), detail });
        }
        out
    }
}

/// Decides one `switchyard route` input line (an OpenAI chat body or `{"prompt": ".."}`) and
/// answers the JSON line the command prints: `route`, `model`, `provider`, `strategy`, `score`,
/// `tier`, `matched`, `similarity`. `route` overrides the body's model; `default_route` is used
/// for a bare prompt.
pub fn dry_run(
    t: &RouteTable,
    line: &str,
    route: Option<&str>,
    default_route: &str,
    scratch: &mut DecideScratch,
) -> Result<String, String> {
    let mut v = sample_view(line, default_route)?;
    if let Some(r) = route {
        v.model = r.to_string();
    }
    let d = t.decide(&v, &|_| None, scratch, 0).map_err(|e| e.message)?;
    let target = &t.targets[d.plan[0]];
    let route = d.route.map_or_else(|| "direct".to_string(), |r| t.routes[r].name.clone());
    let tier = match (d.route, d.tier) {
        (Some(r), Some(i)) => quote(&t.routes[r].tiers[i].name),
        _ => "null".into(),
    };
    Ok(format!(
        r#"{{"route":{},"model":{},"provider":{},"strategy":{},"score":{},"tier":{},"matched":{},"similarity":{}}}"#,
        quote(&route),
        quote(&target.name),
        quote(&t.providers[target.provider].name),
        quote(d.strategy.as_str()),
        d.score.map_or("null".into(), |s| format!("{s:.6}")),
        tier,
        d.matched.as_deref().map_or("null".into(), quote),
        d.similarity.map_or("null".into(), |s| format!("{s:.4}")),
    ))
}
