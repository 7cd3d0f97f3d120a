//! The one-click summary of a place — the city, a district, street or community, a renewal
//! object or a parcel: what lies inside it, counted and measured.
//!
//! The caller chooses what lies inside (by administrative code for units, by links and
//! geometry for renewal objects and parcels; see [`in_unit`]); this module only aggregates.

use std::collections::BTreeMap;

use gengxin_model::{Feature, Value};

use crate::progress::ProjectStatus;

/// The features inside the place, per layer.
#[derive(Default)]
pub struct Inside<'a> {
    pub renewal_objects: Vec<&'a Feature>,
    pub parcels: Vec<&'a Feature>,
    pub buildings: Vec<&'a Feature>,
    pub facilities: Vec<&'a Feature>,
    pub grids: Vec<&'a Feature>,
    /// Rows of the population layer (any years; the latest year is counted).
    pub population: Vec<&'a Feature>,
    /// Projects with their state at the summary's date.
    pub projects: Vec<(&'a Feature, ProjectStatus)>,
}

/// Count and area of one class.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassStat {
    pub code: String,
    pub count: usize,
    pub area_m2: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BuildingStat {
    pub count: usize,
    pub footprint_m2: f64,
    /// Footprint × floors, for buildings with both.
    pub floor_area_m2: f64,
    /// Buildings built before 2000 (年代久远, a renewal indicator).
    pub before_2000: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PopulationStat {
    pub year: i64,
    pub communities: usize,
    pub total: i64,
    pub age_60_plus: i64,
    pub age_65_plus: i64,
    pub households: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectStat {
    pub count: usize,
    /// Count per stage (code), at the summary's date.
    pub by_stage: Vec<(String, usize)>,
    /// Mean progress of the projects that report one.
    pub mean_progress_pct: Option<f64>,
    pub investment_total_wan: f64,
    pub investment_done_wan: f64,
    /// Projects with an overdue milestone.
    pub lagging: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub renewal_by_kind: Vec<ClassStat>,
    pub land_use: Vec<ClassStat>,
    pub buildings: BuildingStat,
    pub facilities_by_category: Vec<ClassStat>,
    pub grids: usize,
    pub population: Option<PopulationStat>,
    pub projects: ProjectStat,
}

/// The administrative-code prefix of a unit: 4 digits for a city (`420100` → `4201`), 6 for a
/// district, 9 for a street, 12 for a community.
pub fn unit_prefix<'a>(code: &'a str, level: &str) -> &'a str {
    let n = match level {
        "city" => 4,
        "district" => 6,
        "street" => 9,
        _ => 12,
    };
    &code[..n.min(code.len())]
}

/// Whether a feature lies in the unit with this code prefix, by its most specific code field
/// (`community_code`, else `street_code`, else `district_code`). A feature known only at a
/// coarser level than the unit's is not counted.
pub fn in_unit(f: &Feature, prefix: &str) -> bool {
    ["community_code", "street_code", "district_code"]
        .iter()
        .find_map(|k| f.get(k).as_str().filter(|s| !s.is_empty()))
        .is_some_and(|code| code.len() >= prefix.len() && code.starts_with(prefix))
}

fn real(f: &Feature, k: &str) -> f64 {
    f.get(k).as_f64().unwrap_or(0.0)
}

fn classes<'a>(
    fs: impl Iterator<Item = &'a Feature>,
    key: &str,
    area: impl Fn(&Feature) -> f64,
) -> Vec<ClassStat> {
    let mut m: BTreeMap<String, ClassStat> = BTreeMap::new();
    for f in fs {
        let code = match f.get(key) {
            Value::Text(t) => t.clone(),
            _ => String::new(),
        };
        let e = m.entry(code.clone()).or_insert_with(|| ClassStat {
            code,
            ..ClassStat::default()
        });
        e.count += 1;
        e.area_m2 += area(f);
    }
    let mut v: Vec<ClassStat> = m.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    v
}

pub fn summarize(inside: &Inside) -> Summary {
    let mut buildings = BuildingStat::default();
    for b in &inside.buildings {
        buildings.count += 1;
        let fp = real(b, "footprint_m2");
        buildings.footprint_m2 += fp;
        if let Some(floors) = b.get("floors").as_i64() {
            buildings.floor_area_m2 += fp * floors as f64;
        }
        if b.get("year_built").as_i64().is_some_and(|y| y < 2000) {
            buildings.before_2000 += 1;
        }
    }
    let latest = inside
        .population
        .iter()
        .filter_map(|p| p.get("year").as_i64())
        .max();
    let population = latest.map(|year| {
        let mut s = PopulationStat {
            year,
            ..PopulationStat::default()
        };
        for p in inside
            .population
            .iter()
            .filter(|p| p.get("year").as_i64() == Some(year))
        {
            let n = |k| p.get(k).as_i64().unwrap_or(0);
            s.communities += 1;
            s.total += n("total");
            s.age_60_plus += n("age_60_64") + n("age_65_plus");
            s.age_65_plus += n("age_65_plus");
            s.households += n("households");
        }
        s
    });
    let mut projects = ProjectStat::default();
    let mut stages: BTreeMap<String, usize> = BTreeMap::new();
    let mut progress = Vec::new();
    for (p, st) in &inside.projects {
        projects.count += 1;
        *stages.entry(st.stage.clone()).or_default() += 1;
        progress.extend(st.progress_pct);
        projects.investment_total_wan += real(p, "investment_total_wan");
        projects.investment_done_wan += st.investment_done_wan.unwrap_or(0.0);
        if st.lag_days > 0 {
            projects.lagging += 1;
        }
    }
    projects.by_stage = stages.into_iter().collect();
    projects.mean_progress_pct =
        (!progress.is_empty()).then(|| progress.iter().sum::<f64>() / progress.len() as f64);
    Summary {
        renewal_by_kind: classes(inside.renewal_objects.iter().copied(), "kind", |f| {
            real(f, "area_m2")
        }),
        land_use: classes(inside.parcels.iter().copied(), "land_use", |f| {
            real(f, "area_m2")
        }),
        buildings,
        facilities_by_category: classes(inside.facilities.iter().copied(), "category", |_| 0.0),
        grids: inside.grids.len(),
        population,
        projects,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn f(id: &str) -> Feature {
        Feature::new(id, "test", Utc::now())
    }

    #[test]
    fn units_contain_what_their_codes_say() {
        let c = f("b")
            .set("district_code", "420111")
            .set("community_code", "420111001002");
        assert!(in_unit(&c, unit_prefix("420100", "city")));
        assert!(in_unit(&c, unit_prefix("420111", "district")));
        assert!(in_unit(&c, unit_prefix("420111001", "street")));
        assert!(in_unit(&c, "420111001002"));
        assert!(!in_unit(&c, "420111001003"));
        assert!(!in_unit(&c, unit_prefix("420102", "district")));
        // Known only by district: not counted in a street.
        let d = f("r").set("district_code", "420111");
        assert!(in_unit(&d, "420111"));
        assert!(!in_unit(&d, "420111001"));
    }

    #[test]
    fn sums_and_classes() {
        let parcels = [
            f("p1").set("land_use", "07").set("area_m2", 100.0),
            f("p2").set("land_use", "07").set("area_m2", 50.0),
            f("p3").set("land_use", "1001").set("area_m2", 30.0),
        ];
        let buildings = [
            f("b1")
                .set("footprint_m2", 100.0)
                .set("floors", 6i64)
                .set("year_built", 1990i64),
            f("b2").set("footprint_m2", 50.0),
        ];
        let pop = [
            f("x1").set("year", 2019i64).set("total", 999i64),
            f("x2")
                .set("year", 2020i64)
                .set("total", 1000i64)
                .set("age_65_plus", 100i64)
                .set("age_60_64", 50i64),
            f("x3")
                .set("year", 2020i64)
                .set("total", 500i64)
                .set("age_65_plus", 10i64),
        ];
        let inside = Inside {
            parcels: parcels.iter().collect(),
            buildings: buildings.iter().collect(),
            population: pop.iter().collect(),
            ..Inside::default()
        };
        let s = summarize(&inside);
        assert_eq!(s.land_use.len(), 2);
        assert_eq!(
            (
                s.land_use[0].code.as_str(),
                s.land_use[0].count,
                s.land_use[0].area_m2
            ),
            ("07", 2, 150.0)
        );
        assert_eq!(s.buildings.count, 2);
        assert_eq!(s.buildings.footprint_m2, 150.0);
        assert_eq!(s.buildings.floor_area_m2, 600.0);
        assert_eq!(s.buildings.before_2000, 1);
        let p = s.population.unwrap();
        assert_eq!(
            (p.year, p.communities, p.total, p.age_60_plus, p.age_65_plus),
            (2020, 2, 1500, 160, 110)
        );
    }
}
