//! `switchyard train-router`: fits the learned router on routing-data and reports its
//! quality on a held-out fifth before writing weights fitted on everything.

use std::path::Path;
use std::sync::Arc;

use switchyard_embed::StaticModel;
use switchyard_routing::training::{Item, TrainSettings, cross_validate, evaluate, fit, is_held_out, parse_item};

/// RouteLLM's best published router per benchmark (APGR), for comparison in the report.
const PUBLISHED_BEST: [(&str, f64, &str); 3] = [
    ("gsm8k", 0.622, "causal LLM"),
    ("mmlu", 0.603, "similarity-weighted ranking"),
    ("mt_bench", 0.802, "matrix factorisation"),
];

fn load(dir: &Path) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    for f in ["mmlu.jsonl", "gsm8k.jsonl", "mt_bench.jsonl"] {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            items.push(parse_item(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?);
        }
    }
    Ok(items)
}

/// The embedding table at `path` and the `vocab.txt` beside it.
fn load_embeddings(path: &str) -> Result<Arc<StaticModel>, String> {
    let table = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let vocab_path = Path::new(path).with_file_name("vocab.txt");
    let vocab =
        std::fs::read_to_string(&vocab_path).map_err(|e| format!("cannot read {}: {e}", vocab_path.display()))?;
    StaticModel::load(&table, &vocab).map(Arc::new).map_err(|e| format!("{path}: {e}"))
}

/// Prints the repeated k-fold cross-validated APGR per benchmark.
fn report_cv(
    items: &[Item],
    s: TrainSettings,
    embedder: Option<&Arc<StaticModel>>,
    k: usize,
    repeats: usize,
) -> Result<(), String> {
    let features = if embedder.is_some() { "words + embedding" } else { "words" };
    println!("{repeats} × {k}-fold cross-validation over all {} prompts, {features} ({s:?})", items.len());
    println!("| benchmark | folds | mean APGR | sd | range | RouteLLM best APGR |");
    println!("|---|---|---|---|---|---|");
    for r in cross_validate(items, s, embedder, k, repeats) {
        let best = PUBLISHED_BEST.iter().find(|p| p.0 == r.benchmark).map_or(String::new(), |p| format!("{:.3}", p.1));
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3}–{:.3} | {best} |",
            r.benchmark, r.folds, r.mean, r.sd, r.range.0, r.range.1
        );
    }
    Ok(())
}

/// Runs the command with its arguments.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut data = None;
    let mut out = None;
    let mut s = TrainSettings::default();
    let mut cv: Option<(usize, usize)> = None;
    let mut embeddings = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = Some(v()?),
            "--out" => out = Some(v()?),
            "--bits" => s.bits = v()?.parse().map_err(|_| "--bits: not a number")?,
            "--alpha" => s.alpha = v()?.parse().map_err(|_| "--alpha: not a number")?,
            "--iterations" => s.iterations = v()?.parse().map_err(|_| "--iterations: not a number")?,
            "--embeddings" => embeddings = Some(v()?),
            "--dense-scale" => s.dense_scale = v()?.parse().map_err(|_| "--dense-scale: not a number")?,
            "--cv" => {
                let k: usize = v()?.parse().map_err(|_| "--cv: not a number")?;
                if k < 2 {
                    return Err("--cv: at least 2 folds".into());
                }
                cv = Some((k, cv.map_or(1, |c| c.1)));
            }
            "--repeats" => {
                let r: usize = v()?.parse().map_err(|_| "--repeats: not a number")?;
                cv = Some((cv.map_or(5, |c| c.0), r.max(1)));
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let data = data.ok_or("--data DIR is required (the routing-data folder)")?;
    let items = load(Path::new(&data))?;
    let embedder = embeddings.as_deref().map(load_embeddings).transpose()?;
    let embedder = embedder.as_ref();
    if let Some((k, repeats)) = cv {
        return report_cv(&items, s, embedder, k, repeats);
    }
    let (held, train): (Vec<Item>, Vec<Item>) = items.iter().cloned().partition(is_held_out);
    println!("training on {} prompts, evaluating on {} held out ({s:?})", train.len(), held.len());
    let model = fit(&train, s, embedder);
    println!("| benchmark | held-out prompts | APGR | CPT(50%) | RouteLLM best APGR |");
    println!("|---|---|---|---|---|");
    for (b, n, apgr, cpt) in evaluate(&model, &held) {
        let best = PUBLISHED_BEST.iter().find(|p| p.0 == b).map_or(String::new(), |p| format!("{:.3} ({})", p.1, p.2));
        println!("| {b} | {n} | {apgr:.3} | {:.1} % | {best} |", cpt * 100.0);
    }
    if let Some(out) = out {
        let full = fit(&items, s, embedder);
        std::fs::write(&out, full.to_bytes()).map_err(|e| format!("cannot write {out}: {e}"))?;
        println!("wrote {out}: fitted on all {} prompts", items.len());
    }
    Ok(())
}
