//! Routing decisions: each strategy alone on a short prompt, a 1 KB prompt and a 32 KB
//! conversation, the layered `auto` route, and the balancer's pick.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_bench::{SHORT, chat_body, conversation_32k, prompt_1k};
use switchyard_config::Config;
use switchyard_routing::health::HealthRegistry;
use switchyard_routing::{DecideScratch, RouteTable};
use switchyard_wire::RequestView;

const CONFIG: &str = r#"
[providers.p]
base_url = "http://127.0.0.1:1/v1"
[models.a]
provider = "p"
model = "gpt-4o-mini"
[models.b]
provider = "p"
model = "gemini-2.0-flash"
[models.c]
provider = "p"
model = "gpt-4o"

[routes.rules]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
[[routes.rules.rules]]
min_tokens = 100000
tier = "strong"
[[routes.rules.rules]]
has_tools = true
tier = "strong"
[[routes.rules.rules]]
keywords = ["prove", "theorem", "derivation"]
tier = "strong"
[[routes.rules.rules]]
regex = "(?i)^translate"
tier = "weak"

[routes.rules_complexity]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
[[routes.rules_complexity.rules]]
keywords = ["prove", "theorem", "derivation"]
tier = "strong"
[[routes.rules_complexity.rules]]
regex = "(?i)^translate"
tier = "weak"
[routes.rules_complexity.complexity]

[routes.semantic]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
[routes.semantic.semantic]
floor = 0.99
intents = [
  { name = "smalltalk", tier = "weak", examples = ["hi", "hello there", "how are you", "thanks"] },
  { name = "legal", tier = "strong", examples = ["review this contract", "is this clause enforceable", "draft an NDA"] },
  { name = "code", tier = "strong", examples = ["fix this bug", "write a function that", "why does this code panic"] },
  { name = "support", tier = "weak", examples = ["reset my password", "where is my order", "cancel my subscription"] },
]

[routes.learned]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
[routes.learned.learned]
weights = "models/learned-router.bin"

[routes.balancer]
tiers = [{ name = "all", models = ["a", "b", "c"] }]
balance = "latency"
"#;

/// The demo's `auto` route shape with sentence embeddings: intents, then complexity and the
/// learned router blended.
const EMBEDDED: &str = r#"
[routes.semantic_embedded]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
[routes.semantic_embedded.semantic]
floor = 0.99
intents = [
  { name = "smalltalk", tier = "weak", examples = ["hi", "hello there", "how are you", "thanks"] },
  { name = "legal", tier = "strong", examples = ["review this contract", "is this clause enforceable", "draft an NDA"] },
  { name = "code", tier = "strong", examples = ["fix this bug", "write a function that", "why does this code panic"] },
  { name = "support", tier = "weak", examples = ["reset my password", "where is my order", "cancel my subscription"] },
]
[routes.auto]
tiers = [{ name = "weak", models = ["a", "b"] }, { name = "strong", models = ["c"] }]
thresholds = [0.5]
[routes.auto.semantic]
floor = 0.99
intents = [
  { name = "smalltalk", tier = "weak", examples = ["hi", "hello there", "how are you?", "thanks!", "good morning", "what's up"] },
  { name = "legal", tier = "strong", examples = ["review this contract clause for liability", "is this agreement enforceable", "draft an indemnification clause"] },
]
[routes.auto.complexity]
blend = 1.0
[routes.auto.learned]
weights = "models/learned-router-embed.bin"
blend = 1.0
"#;

fn table() -> RouteTable {
    table_of(CONFIG)
}

fn table_of(text: &str) -> RouteTable {
    let cfg = Config::parse(text, &|_| None).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    RouteTable::compile(&cfg, &|n| std::fs::read(root.join(n)).map_err(|e| e.to_string()), &HealthRegistry::default())
        .unwrap()
}

fn strategies(c: &mut Criterion) {
    let t = table();
    let inputs =
        [("short", chat_body("", SHORT, 0)), ("1kb", chat_body("", &prompt_1k(), 0)), ("32kb", conversation_32k(""))];
    for route in ["rules", "rules_complexity", "semantic", "learned"] {
        let mut g = c.benchmark_group(format!("decide/{route}"));
        for (name, body) in &inputs {
            let mut v = RequestView::parse(body.as_bytes(), &mut switchyard_wire::JsonScratch::default()).unwrap();
            v.model = route.to_string();
            let mut s = DecideScratch::new(1);
            g.bench_function(*name, |b| b.iter(|| t.decide(black_box(&v), &|_| None, &mut s, 0).unwrap()));
        }
        g.finish();
    }
}

/// Sentence embeddings: the intents route and the layered `auto` route with them, and the
/// embedding alone; then per-call p50/p99 over 20,000 calls each (criterion reports means).
fn embedded(c: &mut Criterion) {
    // A top-level key goes before the first table.
    let t = table_of(&format!("embeddings = \"models/embeddings/minilm-static-256.bin\"\n{CONFIG}{EMBEDDED}"));
    let model = t.embedder.clone().unwrap();
    let inputs =
        [("short", chat_body("", SHORT, 0)), ("1kb", chat_body("", &prompt_1k(), 0)), ("32kb", conversation_32k(""))];
    for route in ["semantic_embedded", "auto"] {
        let mut g = c.benchmark_group(format!("decide/{route}"));
        for (name, body) in &inputs {
            let mut v = RequestView::parse(body.as_bytes(), &mut switchyard_wire::JsonScratch::default()).unwrap();
            v.model = route.to_string();
            let mut s = DecideScratch::new(1);
            g.bench_function(*name, |b| b.iter(|| t.decide(black_box(&v), &|_| None, &mut s, 0).unwrap()));
        }
        g.finish();
    }
    let text = prompt_1k();
    let mut scratch = switchyard_embed::EmbedScratch::default();
    let mut out = vec![0f32; model.dims()];
    c.bench_function("parts/embed_1kb", |b| b.iter(|| model.embed(black_box(&text), &mut scratch, &mut out)));
    c.bench_function("parts/embed_tokenize_1kb", |b| b.iter(|| model.token_ids(black_box(&text), &mut scratch).len()));
    let quantiles = |name: &str, f: &mut dyn FnMut()| {
        let mut ns: Vec<u64> = (0..20_000)
            .map(|_| {
                let t0 = std::time::Instant::now();
                f();
                t0.elapsed().as_nanos() as u64
            })
            .collect();
        ns.sort_unstable();
        println!("{name}: p50 {:.2} µs, p99 {:.2} µs", ns[10_000] as f64 / 1e3, ns[19_800] as f64 / 1e3);
    };
    quantiles("per call embed_1kb", &mut || {
        black_box(model.embed(black_box(&text), &mut scratch, &mut out));
    });
    let mut v = RequestView::parse(chat_body("", &prompt_1k(), 0).as_bytes(), &mut Default::default()).unwrap();
    v.model = "auto".into();
    let mut s = DecideScratch::new(1);
    quantiles("per call decide/auto 1kb (embeddings)", &mut || {
        black_box(t.decide(black_box(&v), &|_| None, &mut s, 0).unwrap());
    });
    println!("embedding table: {} bytes held", model.table_bytes());
}

fn balancer(c: &mut Criterion) {
    let t = table();
    let v = RequestView::from_prompt("balancer", SHORT);
    for (i, tg) in t.targets.iter().enumerate() {
        tg.health.begin();
        tg.health.success(1000 * (i as u64 + 1));
    }
    let mut s = DecideScratch::new(1);
    c.bench_function("decide/balancer_p2c_3_targets", |b| {
        b.iter(|| t.decide(black_box(&v), &|_| None, &mut s, 0).unwrap())
    });
    // A request that names a model (the load test's): the model and its fallbacks, no route.
    let direct = RequestView::from_prompt("a", SHORT);
    c.bench_function("decide/direct_model", |b| b.iter(|| t.decide(black_box(&direct), &|_| None, &mut s, 0).unwrap()));
}

fn parts(c: &mut Criterion) {
    let v = RequestView::from_prompt("x", &prompt_1k());
    let mut sig = switchyard_routing::strategy::Signals::default();
    c.bench_function("parts/signals_1kb", |b| b.iter(|| sig.fill(black_box(&v.last_user))));
    sig.fill(&v.last_user);
    c.bench_function("parts/complexity_features_1kb", |b| {
        b.iter(|| switchyard_routing::strategy::complexity::features(black_box(&v), &sig))
    });
}

criterion_group!(benches, strategies, embedded, balancer, parts);
criterion_main!(benches);
