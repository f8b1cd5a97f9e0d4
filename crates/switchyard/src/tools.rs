//! Offline commands that share the server's routing code: `route` (dry run) and `calibrate`.

use std::io::{BufRead, Write};

use switchyard_routing::health::HealthRegistry;
use switchyard_routing::route::sample_view;
use switchyard_routing::{DecideScratch, RouteTable};
use switchyard_wire::json::quote;

use switchyard_gateway::Source;

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
        let json = switchyard_routing::describe::dry_run(&t, &line, f[1].as_deref(), &default_route, &mut scratch)
            .unwrap_or_else(|e| format!(r#"{{"error":{},"line":{}}}"#, quote(&e), n + 1));
        writeln!(out, "{json}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `switchyard calibrate --config FILE --route NAME --fraction X [--input FILE]`: the score
/// threshold that sends about X of the sample prompts to the route's strongest tier.
pub fn calibrate(args: &[String]) -> Result<(), String> {
    let f = flags(args, &["--config", "--route", "--fraction", "--input", "--log", "--target-negative"])?;
    if let Some(log) = &f[4] {
        let target: f64 = f[5].as_deref().unwrap_or("0.1").parse().map_err(|_| "--target-negative: not a number")?;
        return calibrate_log(log, target);
    }
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
    let threshold = switchyard_routing::eval::calibrate(&mut scores, fraction);
    let strong = scores.iter().filter(|&&s| s >= threshold).count();
    println!("# {n} prompts; {strong} ({:.1} %) score at or above the threshold", 100.0 * strong as f64 / n as f64);
    println!("# in [routes.{name}]:");
    println!("thresholds = [{threshold}]");
    Ok(())
}

/// Whether a feedback rating is negative: "down", or a number below the middle of its scale
/// (0–1 scale: < 0.5; 1–5 scale: < 3).
fn negative(rating: &serde_json::Value) -> Option<bool> {
    match rating {
        serde_json::Value::String(s) => Some(s == "down"),
        serde_json::Value::Number(n) => n.as_f64().map(|x| if x <= 1.0 { x < 0.5 } else { x < 3.0 }),
        _ => None,
    }
}

/// `switchyard calibrate --log FILE`: joins feedback to its requests and, per route, suggests
/// a threshold under which the cheap tier's answers stop drawing negative feedback.
pub fn calibrate_log(path: &str, target_negative: f64) -> Result<(), String> {
    use std::collections::{BTreeMap, HashMap};
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // request id -> (route, score, on a cheaper tier than the route's strongest)
    let mut requests: HashMap<String, (String, Option<f64>, bool)> = HashMap::new();
    let mut ratings: Vec<(String, bool)> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        let id = v["request_id"].as_str().unwrap_or_default().to_string();
        match v["type"].as_str() {
            Some("request") => {
                let cheap = match (v["tier_index"].as_u64(), v["tiers"].as_u64()) {
                    (Some(i), Some(n)) => i + 1 < n,
                    _ => false,
                };
                requests.insert(id, (v["route"].as_str().unwrap_or("-").to_string(), v["score"].as_f64(), cheap));
            }
            Some("feedback") => {
                if let Some(neg) = negative(&v["rating"]) {
                    ratings.push((id, neg));
                }
            }
            _ => {}
        }
    }
    // route -> rated (score, tier, negative)
    let mut by_route: BTreeMap<String, Vec<(Option<f64>, bool, bool)>> = BTreeMap::new();
    let mut unjoined = 0;
    for (id, neg) in &ratings {
        match requests.get(id) {
            Some((route, score, cheap)) => by_route.entry(route.clone()).or_default().push((*score, *cheap, *neg)),
            None => unjoined += 1,
        }
    }
    println!("# {} requests, {} ratings ({} without a matching request)", requests.len(), ratings.len(), unjoined);
    for (route, rated) in &by_route {
        let negatives = rated.iter().filter(|r| r.2).count();
        println!("route {route}: {} rated, {negatives} negative", rated.len());
        // Answers from below the route's strongest tier that a scorer placed there.
        let mut cheap: Vec<(f64, bool)> = rated.iter().filter(|r| r.1).filter_map(|r| r.0.map(|s| (s, r.2))).collect();
        if cheap.is_empty() {
            println!("  no scored cheap-tier answers were rated: nothing to suggest");
            continue;
        }
        cheap.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bad = cheap.iter().filter(|c| c.1).count();
        let share = bad as f64 / cheap.len() as f64;
        println!("  cheap tier: {} rated, {bad} negative ({:.1} %)", cheap.len(), share * 100.0);
        if share <= target_negative {
            println!("  within the {:.0} % target: keep the threshold", target_negative * 100.0);
            continue;
        }
        // The lowest cut below which the cheap tier's negative share meets the target; prompts
        // scoring at or above it would go to the stronger tier.
        let mut suggestion = None;
        for k in (1..=cheap.len()).rev() {
            let kept = &cheap[..k];
            let neg = kept.iter().filter(|c| c.1).count() as f64 / k as f64;
            if neg <= target_negative {
                suggestion = Some(if k < cheap.len() { (cheap[k - 1].0 + cheap[k].0) / 2.0 } else { cheap[k - 1].0 });
                break;
            }
        }
        match suggestion {
            Some(t) => println!("  suggest: lower the threshold to {t:.4} (thresholds = [{t:.4}] in [routes.{route}])"),
            None => println!("  every rated cheap answer was negative: send this route to the strong tier"),
        }
    }
    Ok(())
}

/// `switchyard keys new|hash`: makes client and admin keys for the config. The secret goes to
/// stdout once; only its hash belongs in the config file. `hash` reads stdin so the key never
/// sits in the shell history or the process list.
pub fn keys(args: &[String]) -> Result<(), String> {
    use switchyard_guard::keys::{format_key_hash, hash_key};
    match args.first().map(String::as_str) {
        Some("new") => {
            let mut raw = [0u8; 32];
            getrandom::getrandom(&mut raw).map_err(|e| format!("no randomness: {e}"))?;
            let key = switchyard_guard::keys::secret_from(&raw);
            println!("key:      {key}");
            println!("key_hash: {}", format_key_hash(&hash_key(key.as_bytes())));
            Ok(())
        }
        Some("hash") => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
            let key = line.trim();
            if key.is_empty() {
                return Err("keys hash: expected the key on stdin".into());
            }
            println!("{}", format_key_hash(&hash_key(key.as_bytes())));
            Ok(())
        }
        _ => Err("usage: switchyard keys new | switchyard keys hash  (key on stdin)".into()),
    }
}
