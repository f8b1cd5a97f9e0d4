//! The tokenizer and the sentence vectors against the reference implementation's output
//! (`models/embeddings/reference.jsonl`: Hugging Face `tokenizers` ids and model2vec's
//! `StaticModel.encode`, for 3,000 varied strings).

use switchyard_embed::{EmbedScratch, StaticModel};

fn model() -> StaticModel {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/embeddings");
    let table = std::fs::read(dir.join("minilm-static-256.bin")).unwrap();
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    StaticModel::load(&table, &vocab).unwrap()
}

fn reference() -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/embeddings/reference.jsonl");
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn token_ids_match_the_reference_tokenizer() {
    let m = model();
    let mut s = EmbedScratch::default();
    let refs = reference();
    assert!(refs.len() >= 3000);
    let mut wrong = Vec::new();
    for r in &refs {
        let text = r["text"].as_str().unwrap();
        let want: Vec<u32> = r["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let got = m.token_ids(text, &mut s);
        if got != want.as_slice() {
            wrong.push(format!("{text:?}\n  got  {got:?}\n  want {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ; first:\n{}",
        wrong.len(),
        refs.len(),
        wrong[..wrong.len().min(8)].join("\n")
    );
}

#[test]
fn sentence_vectors_match_the_reference_encoder() {
    let m = model();
    let mut s = EmbedScratch::default();
    let mut out = vec![0f32; m.dims()];
    let mut worst = 0f32;
    for r in reference() {
        let text = r["text"].as_str().unwrap();
        let want: Vec<f32> = r["vec8"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        if !m.embed(text, &mut s, &mut out) {
            assert!(want.iter().all(|x| *x == 0.0), "{text:?}: no vector, reference {want:?}");
            continue;
        }
        for (a, b) in out.iter().zip(&want) {
            worst = worst.max((a - b).abs());
        }
    }
    // int8 rows: each dimension within a few thousandths of the f16 reference.
    assert!(worst < 0.01, "largest difference {worst}");
}
