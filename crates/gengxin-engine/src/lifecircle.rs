//! The GB 50180-2018 life-circle evaluation: for every home, the walking distance to the nearest
//! facility of each category a rule names; for any group of homes (a residential parcel, a
//! community), the share of residents within each rule's service radius, a coverage score per
//! tier and the gaps.
//!
//! The rules (category, tier, radius, whether the standard requires it, the clause) are data
//! from an editable table; nothing here knows the standard's numbers.

use std::collections::BTreeMap;

use crate::access;
use crate::network::{Location, Network};

/// One line of the rule table: a facility category every home of a tier should reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub category: String,
    /// `5min`, `10min`, `15min` (scored) or another tier (reported only).
    pub tier: String,
    pub radius_m: f64,
    /// ▲ in the standard (scored); △ (reported only) when false.
    pub required: bool,
    pub clause: String,
}

/// Tiers that get a score, in display order.
pub const SCORED_TIERS: [&str; 3] = ["5min", "10min", "15min"];

/// Distances are looked for up to this far beyond the largest radius, so that a report can say
/// how far the nearest one is when it is out of reach.
const LOOK_BEYOND_M: f64 = 1000.0;

/// The walking distance from each home to the nearest facility of each rule's category:
/// `homes × rules`, `NaN` when none is within the rule's radius plus 1 km or the home is not on
/// the network.
pub fn distances(
    net: &Network,
    rules: &[Rule],
    facilities: &[(String, Option<Location>)],
    homes: &[Option<Location>],
) -> Vec<f64> {
    let mut by_category: BTreeMap<&str, f64> = BTreeMap::new();
    for r in rules {
        let m = by_category.entry(&r.category).or_insert(0.0);
        *m = m.max(r.radius_m + LOOK_BEYOND_M);
    }
    let per_category: BTreeMap<&str, Vec<f64>> = by_category
        .into_iter()
        .map(|(c, max)| {
            let targets: Vec<Option<Location>> = facilities
                .iter()
                .filter(|f| f.0 == c)
                .map(|f| f.1)
                .collect();
            (c, access::nearest(net, &targets, homes, 1, max).distance)
        })
        .collect();
    let mut out = vec![f64::NAN; homes.len() * rules.len()];
    for (j, r) in rules.iter().enumerate() {
        let d = &per_category[r.category.as_str()];
        for h in 0..homes.len() {
            out[h * rules.len() + j] = d[h];
        }
    }
    out
}

/// How one rule fares for a group of homes.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// Residents within the radius.
    pub covered: f64,
    /// `covered / residents` (1 for a group without residents).
    pub share: f64,
    /// The residents-weighted median distance to the nearest one, if at least half reach one.
    pub median_m: Option<f64>,
}

/// A tier's score: the residents-weighted mean share over its required rules, 0–100.
#[derive(Debug, Clone, PartialEq)]
pub struct TierScore {
    pub tier: &'static str,
    pub score: f64,
    pub required: usize,
    /// Required rules reached by at least half of the residents.
    pub met: usize,
}

/// The evaluation of a group of homes.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub residents: f64,
    pub homes: usize,
    /// Homes not on the network (too far from any road).
    pub unplaced: usize,
    /// One per rule, in rule order.
    pub coverage: Vec<Coverage>,
    pub tiers: Vec<TierScore>,
    /// Required rules that fewer than half of the residents reach.
    pub missing: Vec<usize>,
    /// Required rules some residents do not reach, with the share they are of all residents,
    /// worst first.
    pub gaps: Vec<(usize, f64)>,
}

/// Evaluates a group of homes: each is `(residents, placed, distances per rule)`.
pub fn report<'a>(
    rules: &[Rule],
    homes: impl IntoIterator<Item = (f64, bool, &'a [f64])>,
) -> Report {
    let mut residents = 0.0;
    let (mut count, mut unplaced) = (0, 0);
    let mut covered = vec![0.0; rules.len()];
    let mut reached: Vec<Vec<(f64, f64)>> = vec![Vec::new(); rules.len()];
    for (people, placed, d) in homes {
        count += 1;
        unplaced += usize::from(!placed);
        residents += people;
        for (j, r) in rules.iter().enumerate() {
            if d[j] <= r.radius_m {
                covered[j] += people;
            }
            if d[j].is_finite() {
                reached[j].push((d[j], people));
            }
        }
    }
    let coverage: Vec<Coverage> = (0..rules.len())
        .map(|j| {
            let mut r = std::mem::take(&mut reached[j]);
            r.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            let median_m = r
                .iter()
                .find(|(_, p)| {
                    acc += p;
                    residents > 0.0 && acc >= residents / 2.0
                })
                .map(|(d, _)| *d);
            Coverage {
                covered: covered[j],
                share: if residents > 0.0 {
                    covered[j] / residents
                } else {
                    1.0
                },
                median_m,
            }
        })
        .collect();
    let tiers = SCORED_TIERS
        .iter()
        .map(|&tier| {
            let idx: Vec<usize> = (0..rules.len())
                .filter(|&j| rules[j].required && rules[j].tier == tier)
                .collect();
            let score = if idx.is_empty() {
                100.0
            } else {
                100.0 * idx.iter().map(|&j| coverage[j].share).sum::<f64>() / idx.len() as f64
            };
            TierScore {
                tier,
                score,
                required: idx.len(),
                met: idx.iter().filter(|&&j| coverage[j].share >= 0.5).count(),
            }
        })
        .collect();
    let missing = (0..rules.len())
        .filter(|&j| rules[j].required && coverage[j].share < 0.5)
        .collect();
    let mut gaps: Vec<(usize, f64)> = (0..rules.len())
        .filter(|&j| rules[j].required && coverage[j].share < 1.0 - 1e-9)
        .map(|j| (j, 1.0 - coverage[j].share))
        .collect();
    gaps.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Report {
        residents,
        homes: count,
        unplaced,
        coverage,
        tiers,
        missing,
        gaps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::BuildOptions;
    use geo::{Coord, line_string};

    fn rule(category: &str, tier: &str, radius_m: f64, required: bool) -> Rule {
        Rule {
            category: category.into(),
            tier: tier.into(),
            radius_m,
            required,
            clause: "test".into(),
        }
    }

    #[test]
    fn homes_are_scored_against_each_rule() {
        // A 1 km street; a school at 0 m and a clinic at 1000 m.
        let (net, _) = Network::from_lines(
            &[line_string![(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0)]],
            BuildOptions::default(),
        );
        let s = net.snapper();
        let at = |x: f64| s.snap(Coord { x, y: 10.0 }, 100.0);
        let rules = vec![
            rule("school", "10min", 500.0, true),
            rule("clinic", "15min", 1000.0, true),
            rule("park", "5min", 300.0, true),
            rule("rail", "15min", 800.0, false),
        ];
        let facilities = vec![
            ("school".to_owned(), at(0.0)),
            ("clinic".to_owned(), at(1000.0)),
        ];
        // Homes at 100 m (30 people) and 700 m (10 people), 10 m off the street.
        let homes = vec![at(100.0), at(700.0)];
        let d = distances(&net, &rules, &facilities, &homes);
        assert!(
            (d[0] - 120.0).abs() < 1e-9 && (d[4] - 720.0).abs() < 1e-9,
            "{d:?}"
        );
        assert!((d[1] - 920.0).abs() < 1e-9, "{d:?}");
        assert!(d[2].is_nan() && d[3].is_nan());
        let r = report(&rules, [(30.0, true, &d[0..4]), (10.0, true, &d[4..8])]);
        assert_eq!(r.residents, 40.0);
        assert!((r.coverage[0].share - 0.75).abs() < 1e-12);
        assert_eq!(r.coverage[0].median_m, Some(120.0));
        assert!((r.coverage[1].share - 1.0).abs() < 1e-12);
        assert_eq!(r.coverage[2].share, 0.0);
        // 5 min: the park only (0); 10 min: the school (75); 15 min: the clinic (100).
        let scores: Vec<f64> = r.tiers.iter().map(|t| t.score).collect();
        assert_eq!(scores, vec![0.0, 75.0, 100.0]);
        assert_eq!(r.missing, vec![2]);
        assert_eq!(r.gaps.len(), 2);
        assert_eq!(r.gaps[0], (2, 1.0));
        assert!((r.gaps[1].1 - 0.25).abs() < 1e-12);
    }
}
