//! Test-set performance metrics, all in [0, 1]: accuracy, balanced accuracy (mean per-class recall)
//! and macro one-vs-rest ROC AUC, computed from softmax probabilities.

use std::fmt;

/// Which figure becomes the run's P.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Metric {
    #[default]
    Accuracy,
    /// Mean recall over the classes present in the test split.
    BalancedAccuracy,
    /// Mean one-vs-rest ROC AUC over the classes with both positives and negatives in the test split.
    MacroAuc,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::Accuracy, Metric::BalancedAccuracy, Metric::MacroAuc];

    /// The record's `metric` field.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "test accuracy",
            Metric::BalancedAccuracy => "test balanced accuracy",
            Metric::MacroAuc => "test macro AUC (one-vs-rest)",
        }
    }

    /// The command-line spelling.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced-accuracy",
            Metric::MacroAuc => "auc",
        }
    }

    pub fn parse(text: &str) -> Option<Metric> {
        match text.trim().to_ascii_lowercase().as_str() {
            "accuracy" | "acc" => Some(Metric::Accuracy),
            "balanced-accuracy" | "balanced_accuracy" | "bacc" => Some(Metric::BalancedAccuracy),
            "auc" | "macro-auc" | "macro_auc" => Some(Metric::MacroAuc),
            _ => None,
        }
    }

    /// The metric of `probs` (`n x classes`, row-major) against `labels`.
    pub fn compute(self, probs: &[f32], labels: &[u32], classes: usize) -> f64 {
        match self {
            Metric::Accuracy => accuracy(probs, labels, classes),
            Metric::BalancedAccuracy => balanced_accuracy(probs, labels, classes),
            Metric::MacroAuc => macro_auc(probs, labels, classes),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

pub fn accuracy(probs: &[f32], labels: &[u32], classes: usize) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(i, &l)| argmax(&probs[i * classes..(i + 1) * classes]) == l as usize)
        .count();
    correct as f64 / labels.len() as f64
}

pub fn balanced_accuracy(probs: &[f32], labels: &[u32], classes: usize) -> f64 {
    let mut total = vec![0usize; classes];
    let mut correct = vec![0usize; classes];
    for (i, &l) in labels.iter().enumerate() {
        total[l as usize] += 1;
        if argmax(&probs[i * classes..(i + 1) * classes]) == l as usize {
            correct[l as usize] += 1;
        }
    }
    let recalls: Vec<f64> =
        total.iter().zip(&correct).filter(|(t, _)| **t > 0).map(|(&t, &c)| c as f64 / t as f64).collect();
    if recalls.is_empty() { 0.0 } else { recalls.iter().sum::<f64>() / recalls.len() as f64 }
}

/// ROC AUC of `scores` for the positives, by the rank-sum (Mann-Whitney) formula with tied scores
/// sharing their average rank. `None` without both positives and negatives.
pub fn auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum += order[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * mean_rank;
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

pub fn macro_auc(probs: &[f32], labels: &[u32], classes: usize) -> f64 {
    let aucs: Vec<f64> = (0..classes)
        .filter_map(|c| {
            let scores: Vec<f32> = (0..labels.len()).map(|i| probs[i * classes + c]).collect();
            let positive: Vec<bool> = labels.iter().map(|&l| l as usize == c).collect();
            auc(&scores, &positive)
        })
        .collect();
    if aucs.is_empty() { 0.0 } else { aucs.iter().sum::<f64>() / aucs.len() as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_balanced_accuracy() {
        // 4 samples, 2 classes: labels 0 0 0 1; predictions 0 0 1 1.
        let probs = [0.9, 0.1, 0.8, 0.2, 0.4, 0.6, 0.3, 0.7];
        let labels = [0, 0, 0, 1];
        assert_eq!(accuracy(&probs, &labels, 2), 0.75);
        // recall 2/3 for class 0, 1 for class 1.
        assert!((balanced_accuracy(&probs, &labels, 2) - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn auc_by_ranks_with_ties() {
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(auc(&[0.1], &[true]), None);
    }

    #[test]
    fn macro_auc_skips_absent_classes_and_parses() {
        // 3 classes, class 2 absent from the labels: averaged over classes 0 and 1.
        let probs = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.6, 0.3, 0.1];
        let labels = [0, 1, 0];
        assert_eq!(macro_auc(&probs, &labels, 3), 1.0);
        for metric in Metric::ALL {
            assert_eq!(Metric::parse(metric.key()), Some(metric));
        }
        assert_eq!(Metric::parse("f1"), None);
    }
}
