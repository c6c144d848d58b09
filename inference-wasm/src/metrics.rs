//! Evaluation metrics for a binary target, computed one way for every surface
//! (the trainer's model card, `churn evaluate`, the demo page).

use bincode::{Decode, Encode};

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Metrics {
    pub rows: u64,
    pub roc_auc: f64,
    /// Average precision (step-wise area under the precision-recall curve).
    pub pr_auc: f64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[cfg_attr(feature = "serde", serde(rename = "fn"))]
    pub fn_: u64,
}

#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Copy, Debug, PartialEq, Encode, Decode)]
pub struct RocPoint {
    pub fpr: f32,
    pub tpr: f32,
    /// Predict positive when p ≥ this.
    pub threshold: f32,
}

/// Probabilities are clipped to [EPS, 1 − EPS] for log loss (as scikit-learn does).
const LOG_LOSS_EPS: f64 = 1e-15;

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Indices sorted by descending probability (ties keep input order).
fn by_score_desc(p: &[f64]) -> Vec<usize> {
    crate::schema::order_by(p.len(), &|a, b| p[b].total_cmp(&p[a]))
}

impl Metrics {
    /// Metrics of probabilities `p` against labels `y` (true = churn); "Yes" when p > threshold.
    pub fn compute(p: &[f64], y: &[bool], threshold: f64) -> Metrics {
        assert_eq!(p.len(), y.len(), "one label per probability");
        let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
        let (mut brier, mut log_loss) = (0.0, 0.0);
        for (&pi, &yi) in p.iter().zip(y) {
            match (pi > threshold, yi) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, false) => tn += 1,
                (false, true) => fn_ += 1,
            }
            let t = if yi { 1.0 } else { 0.0 };
            brier += (pi - t) * (pi - t);
            let q = pi.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            log_loss -= if yi { q.ln() } else { (1.0 - q).ln() };
        }
        let n = p.len() as u64;
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        Metrics {
            rows: n,
            roc_auc: roc_auc(p, y),
            pr_auc: average_precision(p, y),
            accuracy: ratio(tp + tn, n),
            precision,
            recall,
            f1,
            brier: if n == 0 { 0.0 } else { brier / n as f64 },
            log_loss: if n == 0 { 0.0 } else { log_loss / n as f64 },
            tp,
            fp,
            tn,
            fn_,
        }
    }
}

/// Area under the ROC curve, with tied scores counted as half (the Mann-Whitney statistic).
/// NaN when only one class is present.
pub fn roc_auc(p: &[f64], y: &[bool]) -> f64 {
    let idx = by_score_desc(p);
    let pos = y.iter().filter(|&&b| b).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    // Walk groups of equal score: each negative in a group beats the positives above it,
    // and ties with the positives of its own group count one half.
    let (mut above_pos, mut area) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = p[idx[i]];
        let (mut gp, mut gn) = (0.0, 0.0);
        while i < idx.len() && p[idx[i]] == s {
            if y[idx[i]] {
                gp += 1.0
            } else {
                gn += 1.0
            }
            i += 1;
        }
        area += gn * (above_pos + gp / 2.0);
        above_pos += gp;
    }
    area / (pos * neg)
}

/// Average precision: Σ (R_k − R_{k−1}) · P_k over distinct score thresholds.
pub fn average_precision(p: &[f64], y: &[bool]) -> f64 {
    let idx = by_score_desc(p);
    let pos = y.iter().filter(|&&b| b).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut seen, mut prev_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = p[idx[i]];
        while i < idx.len() && p[idx[i]] == s {
            tp += if y[idx[i]] { 1.0 } else { 0.0 };
            seen += 1.0;
            i += 1;
        }
        let recall = tp / pos;
        ap += (recall - prev_recall) * (tp / seen);
        prev_recall = recall;
    }
    ap
}

/// ROC points at every distinct score, thinned to at most `max_points` (first and last kept).
pub fn roc_curve(p: &[f64], y: &[bool], max_points: usize) -> Vec<RocPoint> {
    let idx = by_score_desc(p);
    let pos = y.iter().filter(|&&b| b).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let mut pts = vec![RocPoint { fpr: 0.0, tpr: 0.0, threshold: f32::INFINITY }];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = p[idx[i]];
        while i < idx.len() && p[idx[i]] == s {
            if y[idx[i]] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        pts.push(RocPoint { fpr: (fp / neg) as f32, tpr: (tp / pos) as f32, threshold: s as f32 });
    }
    if pts.len() > max_points && max_points >= 2 {
        let last = pts.len() - 1;
        pts = (0..max_points).map(|k| pts[k * last / (max_points - 1)]).collect();
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // Pairs (pos, neg): (0.9,0.1) win, (0.9,0.8) win, (0.4,0.1) win, (0.4,0.8) loss → 3/4.
        let p = [0.9, 0.8, 0.4, 0.1];
        let y = [true, false, true, false];
        assert_eq!(roc_auc(&p, &y), 0.75);
        // A tie between a positive and a negative counts one half: (0.5,0.5) → 0.5 of 1 pair.
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), 0.5);
        assert!(roc_auc(&[0.5], &[true]).is_nan());
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: + (P=1, R=.5), − , + (P=2/3, R=1), − → AP = .5·1 + .5·2/3 = 5/6.
        let p = [0.9, 0.8, 0.4, 0.1];
        let y = [true, false, true, false];
        assert!((average_precision(&p, &y) - 5.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn confusion_and_scores_by_hand() {
        let p = [0.9, 0.8, 0.4, 0.1];
        let y = [true, false, true, false];
        let m = Metrics::compute(&p, &y, 0.5);
        // Yes for 0.9 (tp) and 0.8 (fp); No for 0.4 (fn) and 0.1 (tn).
        assert_eq!((m.tp, m.fp, m.tn, m.fn_), (1, 1, 1, 1));
        assert_eq!((m.accuracy, m.precision, m.recall, m.f1), (0.5, 0.5, 0.5, 0.5));
        // Brier: (.1² + .8² + .6² + .1²)/4 = (.01+.64+.36+.01)/4 = 0.255
        assert!((m.brier - 0.255).abs() < 1e-12);
        // Log loss: −(ln .9 + ln .2 + ln .4 + ln .9)/4
        let ll = -((0.9f64).ln() + (0.2f64).ln() + (0.4f64).ln() + (0.9f64).ln()) / 4.0;
        assert!((m.log_loss - ll).abs() < 1e-12);
    }

    #[test]
    fn roc_curve_goes_corner_to_corner() {
        let p = [0.9, 0.8, 0.4, 0.1];
        let y = [true, false, true, false];
        let c = roc_curve(&p, &y, 100);
        assert_eq!(c.len(), 5);
        assert_eq!((c[0].fpr, c[0].tpr), (0.0, 0.0));
        assert_eq!((c[4].fpr, c[4].tpr), (1.0, 1.0));
        assert_eq!(roc_curve(&p, &y, 3).len(), 3);
    }
}
