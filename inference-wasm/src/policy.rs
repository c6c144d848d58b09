//! The risk policy: the one place a probability becomes Yes/No and HIGH/MEDIUM/LOW.

use bincode::{Decode, Encode};

/// Decision rules stored in the artifact and set at train time.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct RiskPolicy {
    /// "Yes" when p > threshold.
    pub threshold: f64,
    /// HIGH when p ≥ high.
    pub high: f64,
    /// MEDIUM when medium ≤ p < high; LOW below.
    pub medium: f64,
    /// Decimals of the displayed (rounded) probability.
    pub decimals: u8,
}

impl Default for RiskPolicy {
    /// The seed service's rules.
    fn default() -> Self {
        RiskPolicy { threshold: 0.5, high: 0.7, medium: 0.4, decimals: 3 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Risk {
    High,
    Medium,
    Low,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::High => "HIGH",
            Risk::Medium => "MEDIUM",
            Risk::Low => "LOW",
        }
    }
}

/// What the policy says about one probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Unrounded probability (for analytics and parity checks).
    pub raw: f64,
    /// Probability rounded to the policy's decimals (what users see).
    pub rounded: f64,
    pub churn: bool,
    pub risk: Risk,
}

impl Decision {
    pub fn prediction(&self) -> &'static str {
        if self.churn {
            "Yes"
        } else {
            "No"
        }
    }
}

/// Exact powers of ten (all representable in f64), so rounding never depends on a libm `pow`.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

impl RiskPolicy {
    /// Checks the rules make sense: 0 ≤ medium ≤ high ≤ 1, 0 ≤ threshold ≤ 1, decimals ≤ 15.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        // (Messages carry no float: printing one would add ~20 KB to the wasm build; the CLI
        // shows the flags' values itself.)
        if !unit(self.threshold) {
            return Err("the threshold is not in [0, 1]".to_string());
        }
        if !(unit(self.medium) && unit(self.high) && self.medium <= self.high) {
            return Err("risk bands need 0 <= medium <= high <= 1".to_string());
        }
        if self.decimals as usize >= POW10.len() {
            return Err(format!("{} decimals (at most 15)", self.decimals));
        }
        Ok(())
    }

    pub fn decide(&self, p: f64) -> Decision {
        let risk = if p >= self.high {
            Risk::High
        } else if p >= self.medium {
            Risk::Medium
        } else {
            Risk::Low
        };
        Decision { raw: p, rounded: self.round(p), churn: p > self.threshold, risk }
    }

    /// Rounds half away from zero at the policy's decimals.
    pub fn round(&self, p: f64) -> f64 {
        let f = POW10[(self.decimals as usize).min(POW10.len() - 1)];
        (p * f).round() / f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_the_seed_rules() {
        let p = RiskPolicy::default();
        // Yes only strictly above 0.5; bands are inclusive at their lower edge.
        assert_eq!(p.decide(0.5).prediction(), "No");
        assert_eq!(p.decide(0.500_000_000_000_000_1).prediction(), "Yes");
        assert_eq!(p.decide(0.7).risk, Risk::High);
        assert_eq!(p.decide(0.699_999_999).risk, Risk::Medium);
        assert_eq!(p.decide(0.4).risk, Risk::Medium);
        assert_eq!(p.decide(0.399_999_999).risk, Risk::Low);
        assert_eq!(p.decide(0.0).risk, Risk::Low);
        assert_eq!(p.decide(1.0).risk, Risk::High);
    }

    #[test]
    fn rounding_shows_three_decimals() {
        let p = RiskPolicy::default();
        assert_eq!(p.round(0.123_456), 0.123);
        assert_eq!(p.round(0.9995), 1.0); // 999.5 rounds away from zero
        assert_eq!(p.round(0.0004), 0.0);
        assert_eq!(RiskPolicy { decimals: 1, ..p.clone() }.round(0.25), 0.3);
    }

    #[test]
    fn nonsense_policies_are_refused() {
        let p = RiskPolicy::default();
        assert!(p.validate().is_ok());
        assert!(RiskPolicy { medium: 0.8, ..p.clone() }.validate().is_err());
        assert!(RiskPolicy { threshold: 1.5, ..p.clone() }.validate().is_err());
        assert!(RiskPolicy { high: f64::NAN, ..p.clone() }.validate().is_err());
        assert!(RiskPolicy { decimals: 16, ..p }.validate().is_err());
    }
}
