//! Router evaluation as in the RouteLLM paper: PGR over the strong-call share, its area
//! (APGR) and the cost to reach a given PGR (CPT); plus threshold calibration.

/// One evaluated prompt: the router's score and each model's quality on it.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Router score (higher = send to strong).
    pub score: f32,
    /// Weak model quality (1/0, or a judge score).
    pub weak: f32,
    /// Strong model quality.
    pub strong: f32,
}

/// APGR and CPT(`pgr_target`) of a router on `items`; None when strong and weak tie overall.
pub fn apgr_cpt(items: &[Scored], pgr_target: f64) -> Option<(f64, f64)> {
    let n = items.len();
    if n == 0 {
        return None;
    }
    let weak_mean = items.iter().map(|i| f64::from(i.weak)).sum::<f64>() / n as f64;
    let strong_mean = items.iter().map(|i| f64::from(i.strong)).sum::<f64>() / n as f64;
    if (strong_mean - weak_mean).abs() < 1e-12 {
        return None;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| items[b].score.total_cmp(&items[a].score));
    // perf(c) after sending the top k to strong, for k = 0..=n.
    let mut total: f64 = items.iter().map(|i| f64::from(i.weak)).sum();
    let mut pgr = Vec::with_capacity(n + 1);
    pgr.push((total / n as f64 - weak_mean) / (strong_mean - weak_mean));
    for &i in &order {
        total += f64::from(items[i].strong - items[i].weak);
        pgr.push((total / n as f64 - weak_mean) / (strong_mean - weak_mean));
    }
    let area = pgr.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / n as f64;
    let cpt = pgr.iter().position(|&p| p >= pgr_target).map_or(1.0, |k| k as f64 / n as f64);
    Some((area, cpt))
}

/// The score threshold that sends about `strong_fraction` of `scores` to the strong tier
/// (a prompt goes strong when its score is at least the threshold).
pub fn calibrate(scores: &mut [f32], strong_fraction: f64) -> f32 {
    if scores.is_empty() {
        return 0.5;
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let k = ((scores.len() as f64) * strong_fraction.clamp(0.0, 1.0)).round() as usize;
    if k == 0 {
        return f32::INFINITY;
    }
    // Midway between the last score sent strong and the first kept weak.
    let last_strong = scores[k - 1];
    match scores.get(k) {
        Some(&next) => (last_strong + next) / 2.0,
        None => f32::NEG_INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(scores_gains: &[(f32, f32, f32)]) -> Vec<Scored> {
        scores_gains.iter().map(|&(score, weak, strong)| Scored { score, weak, strong }).collect()
    }

    #[test]
    fn perfect_router_beats_random_and_reverse() {
        // Two prompts where strong helps, two where it does not.
        let perfect = items(&[(0.9, 0.0, 1.0), (0.8, 0.0, 1.0), (0.2, 1.0, 1.0), (0.1, 1.0, 1.0)]);
        let (a, cpt) = apgr_cpt(&perfect, 0.5).unwrap();
        let reverse = items(&[(0.1, 0.0, 1.0), (0.2, 0.0, 1.0), (0.8, 1.0, 1.0), (0.9, 1.0, 1.0)]);
        let (b, cpt_b) = apgr_cpt(&reverse, 0.5).unwrap();
        // With four prompts even a perfect router's area is 0.75 (PGR 0, .5, 1, 1, 1).
        assert!((a - 0.75).abs() < 1e-9, "{a}");
        assert!((b - 0.25).abs() < 1e-9, "{b}");
        assert_eq!(cpt, 0.25);
        assert_eq!(cpt_b, 0.75);
        let tie = items(&[(0.5, 1.0, 1.0)]);
        assert!(apgr_cpt(&tie, 0.5).is_none());
    }

    #[test]
    fn calibration_hits_the_fraction() {
        let mut s: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let t = calibrate(&mut s, 0.3);
        let above = s.iter().filter(|&&x| x >= t).count();
        assert_eq!(above, 30);
        assert_eq!(calibrate(&mut s, 0.0), f32::INFINITY);
        assert!(s.iter().all(|&x| x >= calibrate(&mut s.clone(), 1.0)));
    }
}
