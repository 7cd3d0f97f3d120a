//! The generated part of the community database: population by age band, grids, GB 50180
//! facilities, and the thematic records (epidemic cases, special populations, supplies,
//! deliveries, resident reports). All of it is generated and marked so.

use chrono::{Duration, NaiveDate};
use gengxin_model::{Feature, GENERATED, vocab};
use geo::Centroid;
use geo_types::Coord;
use rand::Rng;
use rand::seq::SliceRandom;

use crate::admin::{Community, Role, centre_of, largest_remainder};
use crate::land::Land;
use crate::partition::{relax, voronoi_cells, weighted_sites};
use crate::real::short_name;
use crate::{Ctx, rng_for};

/// National 2020 census age structure (NBS Bulletin No. 5): 0–14 17.95%, 15–59 63.35%,
/// 60–64 5.20% (60+ 18.70% less 65+ 13.50%), 65+ 13.50%.
const AGE_SHARES: [f64; 4] = [17.95, 63.35, 5.20, 13.50];
/// Wuhan 2020: 2.47 persons per family household.
const PERSONS_PER_HOUSEHOLD: f64 = 2.47;
/// Residents per grid (网格): a grid covers roughly 300–500 households.
const HOUSEHOLDS_PER_GRID: f64 = 400.0;

pub fn households(c: &Community) -> i64 {
    (c.pop as f64 / PERSONS_PER_HOUSEHOLD).round() as i64
}

/// A random point of the community's built-up land: a parcel centroid, or the community centre.
fn spot(rng: &mut impl Rng, c: &Community, land: &Land) -> Coord {
    land.parcels
        .choose(rng)
        .and_then(|p| p.geom.centroid())
        .map_or_else(|| centre_of(&c.unit.geom), |p| p.0)
}

pub fn population(ctx: &Ctx, c: &Community) -> Feature {
    let mut rng = rng_for(ctx.seed, &format!("age-{}", c.unit.div.code));
    // Older where the housing is old (old towns), younger in urban villages (migrant workers).
    let old = match c.role {
        Role::OldTown => rng.gen_range(1.15..1.5),
        Role::UrbanVillage => rng.gen_range(0.6..0.85),
        Role::Ordinary => rng.gen_range(0.8..1.25),
    };
    let w = [
        AGE_SHARES[0] * rng.gen_range(0.85..1.15),
        AGE_SHARES[1],
        AGE_SHARES[2] * old,
        AGE_SHARES[3] * old,
    ];
    let bands = largest_remainder(c.pop, &w);
    let code = &c.unit.div.code;
    ctx.feature(&format!("pop-{code}-2020"), GENERATED)
        .set("community_code", code.as_str())
        .set("year", 2020_i64)
        .set("total", c.pop)
        .set("age_0_14", bands[0])
        .set("age_15_59", bands[1])
        .set("age_60_64", bands[2])
        .set("age_65_plus", bands[3])
        .set("households", households(c))
        .set(
            "method",
            "generated: district total from the 2020 census (real), split over communities and age bands (national 2020 shares) by a seeded model",
        )
}

pub fn grids(ctx: &Ctx, c: &Community) -> Vec<Feature> {
    let code = &c.unit.div.code;
    let mut rng = rng_for(ctx.seed, &format!("grid-{code}"));
    let hh = households(c);
    let n = ((hh as f64 / HOUSEHOLDS_PER_GRID).ceil() as usize).clamp(1, 15);
    let sites = relax(
        &c.unit.geom,
        weighted_sites(&c.unit.geom, n, &mut rng, |_| 1.0),
        1,
    );
    let cells = voronoi_cells(&c.unit.geom, &sites);
    let areas: Vec<f64> = cells.iter().map(geo::Area::unsigned_area).collect();
    let shares = largest_remainder(hh, &areas);
    cells
        .into_iter()
        .zip(shares)
        .enumerate()
        .filter(|(_, (g, _))| !g.0.is_empty())
        .map(|(i, (g, h))| {
            let grid_code = format!("{code}{:03}", i + 1);
            ctx.feature(&grid_code, GENERATED)
                .with_geometry(ctx.lonlat(&g))
                .set("code", grid_code.as_str())
                .set(
                    "name",
                    format!("{}第{}网格", c.unit.div.name, crate::land::cn_num(i + 1)),
                )
                .set("community_code", code.as_str())
                .set("households", h)
        })
        .collect()
}

struct FacilityPlan {
    category: &'static str,
    name: String,
    at: Coord,
    capacity: Option<i64>,
}

fn capacity(rng: &mut impl Rng, category: &str) -> Option<i64> {
    Some(match category {
        "kindergarten" => rng.gen_range(6..=12) * 30,
        "nursery" => rng.gen_range(3..=6) * 20,
        "primary_school" => rng.gen_range(24..=48) * 45,
        "middle_school" => rng.gen_range(24..=36) * 50,
        "hospital" => rng.gen_range(3..=15) * 100,
        "nursing_home" => rng.gen_range(8..=30) * 10,
        "elderly_day_care" => rng.gen_range(20..=60),
        _ => return None,
    })
}

fn facility_name(category: &str, prefix: &str, k: usize) -> String {
    let zh = vocab::find(vocab::FACILITY_CATEGORIES, category)
        .expect("known category")
        .zh;
    let base = match category {
        "food_market" => "菜市场",
        "outdoor_fitness" => "健身广场",
        "small_sports_ground" => "社区运动场",
        "medium_sports_ground" => "运动中心",
        "large_sports_ground" => "体育中心",
        "bus_stop" => "公交站",
        "rail_station" => "地铁站",
        "middle_school" => "中学",
        "primary_school" => "小学",
        "community_health_station" => "社区卫生服务站",
        "park" => "公园",
        _ => zh,
    };
    if k > 1 {
        format!("{prefix}{base}（{k}）")
    } else {
        format!("{prefix}{base}")
    }
}

/// Community-level facilities (5- and 10-minute tiers). Some are missing on purpose, as in a
/// real city: the life-circle evaluation has gaps to find.
pub fn community_facilities(ctx: &Ctx, c: &Community, land: &Land) -> Vec<Feature> {
    let code = &c.unit.div.code;
    let mut rng = rng_for(ctx.seed, &format!("fac-{code}"));
    let urban = c.unit.kind == "residents_committee" || c.role == Role::UrbanVillage;
    let p = |u: f64, v: f64| if urban { u } else { v };
    let per_pop = |per: f64| (c.pop as f64 / per).round().max(1.0) as usize;
    let plan: Vec<(&'static str, f64, usize)> = vec![
        // (category, probability of having any, how many if so)
        ("community_service_station", p(0.95, 0.6), 1),
        (
            "kindergarten",
            p(0.85, 0.4),
            if urban { per_pop(7000.0) } else { 1 },
        ),
        ("nursery", p(0.4, 0.05), 1),
        ("community_health_station", p(0.7, 0.5), 1),
        ("culture_station", p(0.8, 0.4), 1),
        ("elderly_day_care", p(0.6, 0.2), 1),
        ("small_sports_ground", p(0.6, 0.2), 1),
        ("outdoor_fitness", p(0.85, 0.5), 1),
        ("community_canteen", p(0.4, 0.05), 1),
        (
            "convenience_store",
            1.0,
            if urban {
                rng.gen_range(2..=5)
            } else {
                rng.gen_range(1..=2)
            },
        ),
        (
            "public_toilet",
            p(0.9, 0.6),
            if urban { rng.gen_range(1..=3) } else { 1 },
        ),
        ("waste_collection", 0.95, 1),
        (
            "bus_stop",
            p(0.95, 0.6),
            if urban { rng.gen_range(2..=4) } else { 1 },
        ),
        ("food_market", p(0.55, 0.2), 1),
        (
            "primary_school",
            p(0.6, 0.25),
            if urban { per_pop(12000.0) } else { 1 },
        ),
        ("medium_sports_ground", p(0.25, 0.05), 1),
    ];
    let prefix = short_name(&c.unit.div.name).to_owned();
    let mut out = Vec::new();
    for (category, prob, count) in plan {
        if !rng.gen_bool(prob) {
            continue;
        }
        for k in 1..=count {
            let at = spot(&mut rng, c, land);
            let cap = capacity(&mut rng, category);
            out.push(FacilityPlan {
                category,
                name: facility_name(category, &prefix, k),
                at,
                capacity: cap,
            });
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, f)| {
            facility_feature(
                ctx,
                &mut rng,
                &format!("fac-{code}-{:03}", i + 1),
                f,
                &c.district,
                Some(code),
            )
        })
        .collect()
}

/// Street- and district-level facilities (15-minute tier and city level).
pub fn street_facilities(
    ctx: &Ctx,
    street_code: &str,
    street_name: &str,
    members: &[(&Community, &Land)],
    inner: bool,
) -> Vec<Feature> {
    let mut rng = rng_for(ctx.seed, &format!("fac-{street_code}"));
    if members.is_empty() {
        return vec![];
    }
    let pop: i64 = members.iter().map(|(c, _)| c.pop).sum();
    let prefix = short_name(street_name).to_owned();
    let plan: Vec<(&'static str, f64, usize)> = vec![
        ("community_health_center", 0.95, 1),
        (
            "middle_school",
            0.9,
            ((pop as f64 / 40_000.0).round() as usize).max(1),
        ),
        ("culture_center", 0.8, 1),
        ("community_service_center", 0.9, 1),
        ("police_station", 0.9, 1),
        ("large_sports_ground", 0.5, 1),
        ("nursing_home", 0.7, 1),
        ("park", if inner { 0.7 } else { 0.3 }, 1),
        (
            "rail_station",
            if inner { 0.75 } else { 0.15 },
            if inner { rng.gen_range(1..=2) } else { 1 },
        ),
    ];
    let district = members[0].0.district.clone();
    let mut out = Vec::new();
    for (category, prob, count) in plan {
        if !rng.gen_bool(prob) {
            continue;
        }
        for k in 1..=count {
            let (c, land) = members[rng.gen_range(0..members.len())];
            let at = spot(&mut rng, c, land);
            let cap = capacity(&mut rng, category);
            let plan = FacilityPlan {
                category,
                name: facility_name(category, &prefix, k),
                at,
                capacity: cap,
            };
            let id = format!("fac-{street_code}-{:03}", out.len() + 1);
            out.push(facility_feature(
                ctx,
                &mut rng,
                &id,
                plan,
                &district,
                Some(&c.unit.div.code),
            ));
        }
    }
    out
}

pub fn hospitals(
    ctx: &Ctx,
    district_code: &str,
    district_name: &str,
    members: &[(&Community, &Land)],
    n: usize,
) -> Vec<Feature> {
    let mut rng = rng_for(ctx.seed, &format!("hospital-{district_code}"));
    let prefix = district_name.trim_end_matches('区');
    (1..=n)
        .filter(|_| !members.is_empty())
        .map(|k| {
            let (c, land) = members[rng.gen_range(0..members.len())];
            let at = spot(&mut rng, c, land);
            let plan = FacilityPlan {
                category: "hospital",
                name: format!("{prefix}区第{}人民医院", crate::land::cn_num(k)),
                at,
                capacity: capacity(&mut rng, "hospital"),
            };
            facility_feature(
                ctx,
                &mut rng,
                &format!("fac-{district_code}-h{k:02}"),
                plan,
                district_code,
                Some(&c.unit.div.code),
            )
        })
        .collect()
}

fn facility_feature(
    ctx: &Ctx,
    rng: &mut impl Rng,
    id: &str,
    f: FacilityPlan,
    district: &str,
    community: Option<&str>,
) -> Feature {
    let at = Coord {
        x: f.at.x + rng.gen_range(-6.0..6.0),
        y: f.at.y + rng.gen_range(-6.0..6.0),
    };
    ctx.feature(id, GENERATED)
        .with_geometry(ctx.point(at))
        .set("name", f.name)
        .set("category", f.category)
        .set(
            "tier",
            vocab::facility_tier(f.category).expect("known category"),
        )
        .set("capacity", f.capacity)
        .set("floor_area_m2", (rng.gen_range(80.0..3000.0_f64)).round())
        .set("district_code", district)
        .set("community_code", community)
}

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
const GIVEN: &str = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华玉兰志强春梅海燕小红德明国庆丽娟文斌红梅雪梅凤英桂兰淑珍金凤振华永红";

fn person_name(rng: &mut impl Rng) -> String {
    let s: Vec<char> = SURNAMES.chars().collect();
    let g: Vec<char> = GIVEN.chars().collect();
    let mut name = s[rng.gen_range(0..s.len())].to_string();
    for _ in 0..rng.gen_range(1..=2) {
        name.push(g[rng.gen_range(0..g.len())]);
    }
    name
}

fn date_between(rng: &mut impl Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    from + Duration::days(rng.gen_range(0..=(to - from).num_days()))
}

/// Residential building centroids of a community, with ids.
fn homes(land: &Land) -> Vec<(&str, Coord)> {
    land.buildings
        .iter()
        .filter(|b| b.use_ == "residential")
        .filter_map(|b| b.geom.centroid().map(|c| (b.id.as_str(), c.0)))
        .collect()
}

pub struct Thematic {
    pub special: Vec<Feature>,
    pub supplies: Vec<Feature>,
    pub deliveries: Vec<Feature>,
    pub reports: Vec<Feature>,
}

pub fn thematic(ctx: &Ctx, c: &Community, land: &Land) -> Thematic {
    let code = &c.unit.div.code;
    let mut rng = rng_for(ctx.seed, &format!("theme-{code}"));
    let homes = homes(land);
    let mut t = Thematic {
        special: vec![],
        supplies: vec![],
        deliveries: vec![],
        reports: vec![],
    };
    let kinds = [
        ("elderly_alone", 30.0),
        ("chronic", 30.0),
        ("disabled", 15.0),
        ("pregnant", 10.0),
        ("infant", 15.0),
    ];
    if !homes.is_empty() {
        for i in 0..rng.gen_range(3..=8) {
            let kind = crate::land::pick(&mut rng, &kinds);
            let (bid, at) = homes[rng.gen_range(0..homes.len())];
            let (birth, needs) = match kind {
                "elderly_alone" => (rng.gen_range(1930..=1955), "定期探视、送餐"),
                "chronic" => (rng.gen_range(1940..=1975), "慢病用药配送"),
                "disabled" => (rng.gen_range(1950..=2005), "出行协助"),
                "pregnant" => (rng.gen_range(1988..=2000), "产检接送"),
                _ => (rng.gen_range(2023..=2026), "婴幼儿用品"),
            };
            let phone = format!(
                "1{}{:09}",
                [3, 5, 7, 8, 9][rng.gen_range(0..5)],
                rng.gen_range(0..1_000_000_000u64)
            );
            let sex = if kind == "pregnant" || rng.gen_bool(0.5) {
                "female"
            } else {
                "male"
            };
            t.special.push(
                ctx.feature(&format!("sp-{code}-{:03}", i + 1), GENERATED)
                    .with_geometry(ctx.point(at))
                    .set("kind", kind)
                    .set("person_name", person_name(&mut rng))
                    .set("phone", phone)
                    .set("birth_year", birth as i64)
                    .set("sex", sex)
                    .set("needs", needs)
                    .set("building_id", bid)
                    .set("community_code", code.as_str()),
            );
        }
    }
    let scale = (c.pop as f64 / 1000.0).max(1.0);
    for (i, (item, unit, per_k)) in [
        ("医用口罩", "只", 400.0),
        ("消毒液", "升", 20.0),
        ("大米", "千克", 60.0),
        ("食用油", "升", 15.0),
        ("常用药品包", "份", 10.0),
        ("防护服", "套", 3.0),
    ]
    .into_iter()
    .enumerate()
    {
        let min = (per_k * scale).round();
        t.supplies.push(
            ctx.feature(&format!("sup-{code}-{}", i + 1), GENERATED)
                .set("community_code", code.as_str())
                .set("item", item)
                .set("unit", unit)
                .set("quantity", (min * rng.gen_range(0.5..2.0)).round())
                .set("min_quantity", min)
                .set("as_of", ctx.as_of.to_string()),
        );
    }
    for i in 0..rng.gen_range(0..=2) {
        let requested = date_between(
            &mut rng,
            NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"),
            ctx.as_of,
        );
        let status = ["requested", "dispatched", "delivered"][rng.gen_range(0..3)];
        let delivered = (status == "delivered")
            .then(|| (requested + Duration::days(rng.gen_range(0..3))).min(ctx.as_of));
        let item = ["大米", "食用油", "常用药品包", "医用口罩"][rng.gen_range(0..4)];
        t.deliveries.push(
            ctx.feature(&format!("dlv-{code}-{}", i + 1), GENERATED)
                .set("community_code", code.as_str())
                .set("item", item)
                .set("quantity", rng.gen_range(1..=50) as f64)
                .set("status", status)
                .set("requested_at", format!("{requested}T09:00:00.000Z"))
                .set(
                    "delivered_at",
                    delivered.map(|d| format!("{d}T15:00:00.000Z")),
                )
                .set(
                    "building_id",
                    homes.get(rng.gen_range(0..homes.len().max(1))).map(|h| h.0),
                ),
        );
    }
    let issues: [(&str, &[&str]); 6] = [
        (
            "city_appearance",
            &[
                "小区门口暴露垃圾未清运",
                "道路不洁，落叶堆积",
                "绿化带内杂物堆放",
            ],
        ),
        ("advertising", &["违规张贴小广告", "楼体广告牌破损"]),
        ("construction", &["夜间施工噪音扰民", "工地渣土车未覆盖"]),
        ("emergency", &["下水道井盖缺失", "路灯不亮存在安全隐患"]),
        ("street_order", &["占道经营", "共享单车乱停放", "违法搭建"]),
        ("other", &["楼道照明损坏", "电梯故障待维修"]),
    ];
    for i in 0..rng.gen_range(1..=5) {
        let (category, texts) = issues[rng.gen_range(0..issues.len())];
        let reported = date_between(
            &mut rng,
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            ctx.as_of,
        );
        let status = vocab::REPORT_STATUSES[rng.gen_range(0..vocab::REPORT_STATUSES.len())].code;
        let closed = (status == "closed")
            .then(|| (reported + Duration::days(rng.gen_range(1..20))).min(ctx.as_of));
        let at = spot(&mut rng, c, land);
        t.reports.push(
            ctx.feature(&format!("rr-{code}-{}", i + 1), GENERATED)
                .with_geometry(ctx.point(Coord {
                    x: at.x + rng.gen_range(-20.0..20.0),
                    y: at.y + rng.gen_range(-20.0..20.0),
                }))
                .set("category", category)
                .set("description", texts[rng.gen_range(0..texts.len())])
                .set("status", status)
                .set(
                    "reported_at",
                    format!(
                        "{reported}T{:02}:{:02}:00.000Z",
                        rng.gen_range(0..24),
                        rng.gen_range(0..60)
                    ),
                )
                .set("closed_at", closed.map(|d| format!("{d}T10:00:00.000Z")))
                .set("address", format!("{}附近", c.unit.div.name))
                .set("community_code", code.as_str())
                .set("anonymous", rng.gen_bool(0.3)),
        );
    }
    t
}

/// Epidemic cases clustered in a few communities (a fictional outbreak in autumn 2026).
pub fn epidemic(ctx: &Ctx, members: &[(&Community, &Land)]) -> Vec<Feature> {
    let mut rng = rng_for(ctx.seed, "epidemic");
    let with_homes: Vec<&(&Community, &Land)> = members
        .iter()
        .filter(|(_, l)| !homes(l).is_empty())
        .collect();
    let mut out = Vec::new();
    // Case numbers per community (a community can be drawn more than once).
    let mut seq: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let next_case = |seq: &mut std::collections::HashMap<String, usize>, code: &str| {
        let n = seq.entry(code.to_owned()).or_default();
        *n += 1;
        *n
    };
    for _ in 0..30.min(with_homes.len()) {
        let (c, land) = with_homes[rng.gen_range(0..with_homes.len())];
        let homes = homes(land);
        let code = &c.unit.div.code;
        let clusters: Vec<(&str, Coord)> = (0..rng.gen_range(1..=4))
            .map(|_| homes[rng.gen_range(0..homes.len())])
            .collect();
        for _ in 0..rng.gen_range(3..=25) {
            let (bid, at) = clusters[rng.gen_range(0..clusters.len())];
            let reported = date_between(
                &mut rng,
                NaiveDate::from_ymd_opt(2026, 9, 20).expect("date"),
                ctx.as_of,
            );
            let kind = crate::land::pick(
                &mut rng,
                &[
                    ("confirmed", 5.0),
                    ("suspected", 3.0),
                    ("close_contact", 2.0),
                ],
            );
            let old = (ctx.as_of - reported).num_days() > 21;
            let status = match (kind, old) {
                ("confirmed", false) => ["isolated", "hospitalised"][rng.gen_range(0..2)],
                ("confirmed", true) => "recovered",
                (_, false) => "isolated",
                (_, true) => "released",
            };
            out.push(
                ctx.feature(
                    &format!("case-{code}-{:03}", next_case(&mut seq, code)),
                    GENERATED,
                )
                .with_geometry(ctx.point(Coord {
                    x: at.x + rng.gen_range(-3.0..3.0),
                    y: at.y + rng.gen_range(-3.0..3.0),
                }))
                .set("case_kind", kind)
                .set("status", status)
                .set("reported_date", reported.to_string())
                .set("age", rng.gen_range(1..=92) as i64)
                .set("sex", ["female", "male"][rng.gen_range(0..2)])
                .set("building_id", bid)
                .set("community_code", code.as_str()),
            );
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}
