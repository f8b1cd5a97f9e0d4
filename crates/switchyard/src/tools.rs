//! Offline commands that share the server's routing code: `route` (dry run) and `calibrate`.

use std::io::{BufRead, Write};

use switchyard_core::health::HealthRegistry;
use switchyard_core::json::quote;
use switchyard_core::route::sample_view;
use switchyard_core::{DecideScratch, RouteTable};

use crate::server::Source;

fn table(config: &str) -> Result<RouteTable, String> {
    let source = Source::File(config.into());
    let cfg = source.load()?;
    RouteTable::compile(&cfg, &|n| source.read_file(n), &HealthRegistry::default()).map_err(|e| e.to_string())
}

fn flags(args: &[String], names: &[&str]) -> Result<Vec<Option<String>>, String> {
    let mut out = vec![None; names.len()];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let i = names.iter().position(|n| n == a).ok_or_else(|| format!("unknown argument `{a}`"))?;
        out[i] = Some(it.next().cloned().ok_or_else(|| format!("{a} needs a value"))?);
    }
    Ok(out)
}

/// `switchyard route --config FILE [--route NAME]`: one decision per JSON line on stdin.
pub fn route(args: &[String]) -> Result<(), String> {
    let f = flags(args, &["--config", "--route"])?;
    let config = f[0].clone().ok_or("--config FILE is required")?;
    let t = table(&config)?;
    let default_route = f[1].clone().unwrap_or_else(|| "auto".into());
    let mut scratch = DecideScratch::new(1);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let result = sample_view(&line, &default_route).and_then(|mut v| {
            if let Some(r) = &f[1] {
                v.model = r.clone();
            }
            t.decide(&v, &|_| None, &mut scratch, 0).map_err(|e| e.message).map(|d| (v, d))
        });
        let json = match result {
            Ok((_, d)) => {
                let target = &t.targets[d.plan[0]];
                let route = d.route.map_or_else(|| "direct".to_string(), |r| t.routes[r].name.clone());
                let tier = match (d.route, d.tier) {
                    (Some(r), Some(i)) => quote(&t.routes[r].tiers[i].name),
                    _ => "null".into(),
                };
                format!(
                    r#"{{"route":{},"model":{},"provider":{},"strategy":{},"score":{},"tier":{},"matched":{}}}"#,
                    quote(&route),
                    quote(&target.name),
                    quote(&t.providers[target.provider].name),
                    quote(d.strategy.as_str()),
                    d.score.map_or("null".into(), |s| format!("{s:.6}")),
                    tier,
                    d.matched.as_deref().map_or("null".into(), quote),
                )
            }
            Err(e) => format!(r#"{{"error":{},"line":{}}}"#, quote(&e), n + 1),
        };
        writeln!(out, "{json}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `switchyard calibrate --config FILE --route NAME --fraction X [--input FILE]`: the score
/// threshold that sends about X of the sample prompts to the route's strongest tier.
pub fn calibrate(args: &[String]) -> Result<(), String> {
    let f = flags(args, &["--config", "--route", "--fraction", "--input"])?;
    let config = f[0].clone().ok_or("--config FILE is required")?;
    let name = f[1].clone().ok_or("--route NAME is required")?;
    let fraction: f64 =
        f[2].as_deref().ok_or("--fraction X is required")?.parse().map_err(|_| "--fraction: not a number")?;
    if !(0.0..=1.0).contains(&fraction) {
        return Err("--fraction must be within 0..=1".into());
    }
    let t = table(&config)?;
    let route = t.route(&name).ok_or_else(|| format!("no route `{name}` in {config}"))?;
    let text = match &f[3] {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))?,
        None => std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?,
    };
    let mut scratch = DecideScratch::new(1);
    let mut scores = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v = sample_view(line, &name).map_err(|e| format!("line {}: {e}", i + 1))?;
        let (s, _) =
            route.score(&v, &mut scratch).ok_or_else(|| format!("route `{name}` has no scorer to calibrate"))?;
        scores.push(s);
    }
    if scores.is_empty() {
        return Err("no prompts on the input".into());
    }
    let n = scores.len();
    let threshold = switchyard_core::eval::calibrate(&mut scores, fraction);
    let strong = scores.iter().filter(|&&s| s >= threshold).count();
    println!("# {n} prompts; {strong} ({:.1} %) score at or above the threshold", 100.0 * strong as f64 / n as f64);
    println!("# in [routes.{name}]:");
    println!("thresholds = [{threshold}]");
    Ok(())
}
