//! Generated parcels, buildings, the street grid and renewal objects of one community.
//!
//! Each community gets a built-up core sized by its population (land per resident depends on the
//! zone and kind), laid out as a rotated grid of blocks; each block holds one parcel set back
//! from the roads, and each parcel holds buildings laid out by its land use and age. Urban
//! villages are dense self-built housing; old-town areas and old compounds are old low-rise
//! housing; old factories are pre-2000 industrial parcels. Everything is in Gauss–Krüger metres.

use geo::orient::Direction;
use geo::{Area, BooleanOps, BoundingRect, Contains, Orient, unary_union};
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon, Rect};
use rand::Rng;

use crate::admin::{Community, Role, Zone, centre_of};
use crate::real::short_name;
use crate::{Ctx, rng_for};

pub struct Parcel {
    pub id: String,
    pub code: String,
    pub land_use: &'static str,
    pub geom: MultiPolygon<f64>,
    pub area: f64,
    pub year: i32,
    pub far: f64,
    pub density: f64,
    pub green_ratio: f64,
    pub planned_use: &'static str,
    pub planned_far: f64,
    pub object: Option<String>,
}

pub struct Building {
    pub id: String,
    pub parcel: String,
    pub geom: Polygon<f64>,
    pub floors: i64,
    pub height: f64,
    pub year: i32,
    pub structure: &'static str,
    pub use_: &'static str,
    pub footprint: f64,
}

pub struct Road {
    pub id: String,
    pub name: String,
    pub class: &'static str,
    pub width: f64,
    pub geom: MultiLineString<f64>,
}

pub struct Object {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub geom: MultiPolygon<f64>,
    pub parcels: Vec<String>,
    pub build_year: i32,
}

#[derive(Default)]
pub struct Land {
    pub parcels: Vec<Parcel>,
    pub buildings: Vec<Building>,
    pub roads: Vec<Road>,
    pub objects: Vec<Object>,
}

const SETBACK: f64 = 8.0;

/// A rotated local frame: (u, v) metres around `origin`.
struct Frame {
    origin: Coord,
    cos: f64,
    sin: f64,
}

impl Frame {
    fn to_gk(&self, u: f64, v: f64) -> Coord {
        Coord {
            x: self.origin.x + u * self.cos - v * self.sin,
            y: self.origin.y + u * self.sin + v * self.cos,
        }
    }
    fn rect(&self, u0: f64, v0: f64, u1: f64, v1: f64) -> Polygon<f64> {
        let ring = vec![
            self.to_gk(u0, v0),
            self.to_gk(u1, v0),
            self.to_gk(u1, v1),
            self.to_gk(u0, v1),
            self.to_gk(u0, v0),
        ];
        Polygon::new(LineString::from(ring), vec![])
    }
}

pub fn pick<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut x = rng.gen_range(0.0..total);
    for &(t, w) in items {
        if x < w {
            return t;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

pub fn cn_num(n: usize) -> String {
    const D: [&str; 11] = [
        "〇", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    match n {
        0..=10 => D[n].to_owned(),
        11..=19 => format!("十{}", D[n - 10]),
        20..=99 => format!(
            "{}十{}",
            D[n / 10],
            if n.is_multiple_of(10) { "" } else { D[n % 10] }
        ),
        _ => n.to_string(),
    }
}

fn land_use(rng: &mut impl Rng, c: &Community) -> &'static str {
    let industrial_district = matches!(
        c.district.as_str(),
        "420107" | "420112" | "420113" | "420114" | "420104"
    );
    match (c.role, c.unit.kind) {
        (Role::UrbanVillage, _) => pick(
            rng,
            &[("0703", 88.0), ("1001", 6.0), ("0901", 4.0), ("2301", 2.0)],
        ),
        (_, "village") | (_, "other") => pick(
            rng,
            &[
                ("0703", 74.0),
                ("1001", 8.0),
                ("2301", 12.0),
                ("0804", 2.0),
                ("0901", 3.0),
                ("1101", 1.0),
            ],
        ),
        _ => {
            let ind = if industrial_district { 12.0 } else { 3.0 };
            pick(
                rng,
                &[
                    ("0701", 55.0),
                    ("0901", 9.0),
                    ("0902", if c.zone == Zone::Core { 6.0 } else { 2.0 }),
                    ("0804", 5.0),
                    ("0806", 1.5),
                    ("0803", 1.5),
                    ("0801", 2.5),
                    ("0807", 1.0),
                    ("0805", 1.0),
                    ("1401", 7.0),
                    ("1402", 1.0),
                    ("1403", 1.0),
                    ("1001", ind),
                    ("1101", ind / 3.0),
                    ("2301", 2.0),
                ],
            )
        }
    }
}

fn vintage(rng: &mut impl Rng, c: &Community, lu: &str) -> i32 {
    let (lo, hi) = match (c.role, lu, c.zone) {
        (Role::UrbanVillage, ..) => (1982, 2016),
        (_, "0703", _) => (1978, 2022),
        (_, "1001", Zone::Core | Zone::Inner) => (1956, 2008),
        (_, _, Zone::Core) => (1958, 2023),
        (_, _, Zone::Inner) => (1975, 2024),
        (_, _, Zone::Outer) => (1990, 2025),
    };
    // Two draws averaged: a triangular spread around the middle.
    (rng.gen_range(lo..=hi) + rng.gen_range(lo..=hi)) / 2
}

/// Buildings of one parcel as local rectangles (u0, v0, u1, v1, floors) in [0, s]².
fn layout(
    rng: &mut impl Rng,
    lu: &str,
    year: i32,
    s: f64,
    dense: bool,
) -> Vec<(f64, f64, f64, f64, i64)> {
    use rand::SeedableRng;
    let mut out = Vec::new();
    let mut r1 = rand_chacha::ChaCha8Rng::seed_from_u64(rng.r#gen());
    let mut r2 = rand_chacha::ChaCha8Rng::seed_from_u64(rng.r#gen());
    let mut grid =
        |w: f64, d: f64, gap_u: f64, gap_v: f64, keep: f64, floors: &mut dyn FnMut() -> i64| {
            let margin = 4.0;
            let mut v = margin;
            while v + d <= s - margin {
                let mut u = margin;
                while u + w <= s - margin {
                    if r1.gen_bool(keep) {
                        out.push((u, v, u + w, v + d, floors()));
                    }
                    u += w + gap_u;
                }
                v += d + gap_v;
            }
        };
    match lu {
        "0701" if year < 1980 => grid(36.0, 11.0, 8.0, 14.0, 0.9, &mut || r2.gen_range(3..=5)),
        "0701" if year < 2000 => grid(48.0, 12.0, 10.0, 16.0, 0.95, &mut || r2.gen_range(5..=7)),
        "0701" if year < 2010 => grid(40.0, 15.0, 14.0, 26.0, 0.95, &mut || r2.gen_range(8..=18)),
        "0701" => grid(20.0, 20.0, 24.0, 34.0, 0.95, &mut || r2.gen_range(18..=33)),
        "0703" if dense => grid(10.0, 12.0, 2.5, 3.0, 0.88, &mut || r2.gen_range(4..=8)),
        "0703" => grid(11.0, 13.0, 9.0, 10.0, 0.65, &mut || r2.gen_range(2..=4)),
        "0901" => grid(38.0, 30.0, 16.0, 18.0, 0.9, &mut || {
            if r2.gen_bool(0.3) {
                r2.gen_range(15..=40)
            } else {
                r2.gen_range(2..=6)
            }
        }),
        "0902" => grid(30.0, 30.0, 26.0, 26.0, 0.8, &mut || r2.gen_range(12..=45)),
        "0804" => grid(50.0, 15.0, 14.0, 22.0, 0.7, &mut || r2.gen_range(3..=5)),
        "0806" => grid(55.0, 20.0, 14.0, 20.0, 0.7, &mut || r2.gen_range(5..=15)),
        "0801" | "0803" | "0807" => grid(40.0, 20.0, 16.0, 20.0, 0.6, &mut || r2.gen_range(3..=8)),
        "1001" => grid(70.0, 30.0, 14.0, 14.0, 0.8, &mut || r2.gen_range(1..=3)),
        "1101" => grid(90.0, 40.0, 14.0, 16.0, 0.8, &mut || r2.gen_range(1..=2)),
        "1401" | "1403" | "0805" if rng.gen_bool(0.4) => out.push((
            s / 2.0 - 8.0,
            s / 2.0 - 6.0,
            s / 2.0 + 8.0,
            s / 2.0 + 6.0,
            1,
        )),
        _ => {}
    }
    out
}

fn structure(year: i32, floors: i64, lu: &str) -> &'static str {
    match (lu, year, floors) {
        ("1001" | "1101", y, _) if y >= 1995 => "steel",
        (_, y, f) if y < 1980 && f <= 3 => "brick_wood",
        (_, y, f) if f <= 7 && (y < 2000 || lu == "0703") => "brick_concrete",
        _ => "reinforced_concrete",
    }
}

fn building_use(lu: &str) -> &'static str {
    match lu {
        "0701" | "0703" => "residential",
        "0901" => "commercial",
        "0902" => "office",
        "1001" => "industrial",
        "1101" => "warehouse",
        _ => "public",
    }
}

fn planned(
    rng: &mut impl Rng,
    kind: Option<&str>,
    lu: &'static str,
    far: f64,
) -> (&'static str, f64) {
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    match kind {
        Some("urban_village") => (
            pick(rng, &[("0701", 70.0), ("0901", 20.0), ("1401", 10.0)]),
            round2(rng.gen_range(2.5..4.0)),
        ),
        Some("old_factory") => (
            pick(rng, &[("0902", 40.0), ("0701", 40.0), ("1401", 20.0)]),
            round2(rng.gen_range(2.0..3.5)),
        ),
        Some("old_town") => (lu, round2(far + rng.gen_range(0.2..0.6))),
        _ => (lu, round2(far * rng.gen_range(1.0..1.3))),
    }
}

/// Generates the land of one community.
pub fn generate(ctx: &Ctx, c: &Community) -> Land {
    let code = &c.unit.div.code;
    let mut rng = rng_for(ctx.seed, &format!("land-{code}"));
    let (block, per_capita) = match (c.role, c.unit.kind, c.zone) {
        (Role::UrbanVillage, ..) => (110.0, 30.0),
        (_, "residents_committee", Zone::Core) => (130.0, 26.0),
        (_, "residents_committee", Zone::Inner) => (130.0, 34.0),
        (_, "residents_committee", Zone::Outer) => (140.0, 42.0),
        _ => (150.0, 70.0),
    };
    let area = c.unit.geom.unsigned_area();
    let built = (c.pop as f64 * per_capita).min(area * 0.8);
    let r = (built / std::f64::consts::PI).sqrt().max(block * 0.6);
    let angle: f64 = rng.gen_range(-0.35..0.35);
    let frame = Frame {
        origin: centre_of(&c.unit.geom),
        cos: angle.cos(),
        sin: angle.sin(),
    };
    let k = (r / block).ceil() as i32 + 1;
    let s = block - 2.0 * SETBACK;
    let short = short_name(&c.unit.div.name).to_owned();

    // Cells ordered from the centre outwards, so old-town areas take the innermost ones.
    let mut cells: Vec<(i32, i32)> = (-k..=k)
        .flat_map(|j| (-k..=k).map(move |i| (i, j)))
        .collect();
    cells.retain(|&(i, j)| ((i as f64 * block).hypot(j as f64 * block)) <= r);
    cells.sort_by_key(|&(i, j)| (i.abs() + j.abs(), j, i));

    let mut land = Land::default();
    let mut old_town: Vec<usize> = Vec::new();
    // Each kept parcel's cell centre and whether it was clipped: renewal objects are unions of
    // whole blocks (parcel plus its half of the roads), built only for the parcels they take.
    let mut kept: Vec<(f64, f64, bool)> = Vec::new();
    let full_area = s * s;
    // Parcels are the set-back squares of the cells, clipped to the community; slivers (under
    // 30% of a full parcel) are dropped, but every community keeps at least its largest parcel.
    let mut sites: Vec<(f64, f64, MultiPolygon<f64>, bool)> = Vec::new();
    let mut largest: Option<(f64, f64, MultiPolygon<f64>, bool)> = None;
    for (i, j) in cells {
        let (cu, cv) = (i as f64 * block, j as f64 * block);
        let square = frame.rect(cu - s / 2.0, cv - s / 2.0, cu + s / 2.0, cv + s / 2.0);
        let clipped = !c.unit.geom.contains(&square);
        let geom = if clipped {
            c.unit.geom.intersection(&square)
        } else {
            MultiPolygon(vec![square])
        };
        let a = geom.unsigned_area();
        if a >= 0.3 * full_area {
            sites.push((cu, cv, geom, clipped));
        } else if a > 0.0 && largest.as_ref().is_none_or(|l| l.2.unsigned_area() < a) {
            largest = Some((cu, cv, geom, clipped));
        }
    }
    if sites.is_empty() {
        sites.extend(largest);
    }
    for (cu, cv, geom, clipped) in sites {
        let parcel_area = geom.unsigned_area();
        let n = land.parcels.len() + 1;
        let id = format!("parcel-{code}-{n:03}");
        let mut lu = land_use(&mut rng, c);
        let mut year = vintage(&mut rng, c, lu);
        let is_old_town = c.role == Role::OldTown && old_town.len() < 7;
        if is_old_town {
            lu = "0701";
            year = rng.gen_range(1930..=1985);
            old_town.push(land.parcels.len());
        }
        let dense = c.role == Role::UrbanVillage;
        let mut floor_area = 0.0;
        let mut footprint = 0.0;
        for (u0, v0, u1, v1, floors) in layout(&mut rng, lu, year, s, dense) {
            let (ox, oy) = (cu - s / 2.0, cv - s / 2.0);
            let poly = frame.rect(ox + u0, oy + v0, ox + u1, oy + v1);
            if clipped && !geom.contains(&poly) {
                continue;
            }
            let centre = frame.to_gk(ox + (u0 + u1) / 2.0, oy + (v0 + v1) / 2.0);
            if ctx.osm_area.is_some_and(|a: Rect<f64>| a.contains(&centre)) {
                continue;
            }
            let fp = (u1 - u0) * (v1 - v0);
            let b_year = (year + rng.gen_range(-2..=2)).min(2025);
            let storey = match building_use(lu) {
                "industrial" | "warehouse" => 6.0,
                "commercial" | "office" => 3.8,
                _ => 3.0,
            };
            footprint += fp;
            floor_area += fp * floors as f64;
            land.buildings.push(Building {
                id: format!("bldg-{code}-{:04}", land.buildings.len() + 1),
                parcel: id.clone(),
                geom: poly,
                floors,
                height: ((floors as f64 * storey + rng.gen_range(0.0..2.0)) * 10.0).round() / 10.0,
                year: b_year,
                structure: structure(b_year, floors, lu),
                use_: building_use(lu),
                footprint: fp,
            });
        }
        let green_ratio = match lu {
            "1401" => rng.gen_range(0.65..0.85),
            "1403" | "1402" => rng.gen_range(0.3..0.6),
            "0703" | "1001" | "1101" => rng.gen_range(0.03..0.15),
            _ => rng.gen_range(0.15..0.38),
        };
        let round = |x: f64, d: f64| (x * d).round() / d;
        let far = round(floor_area / parcel_area, 100.0);
        land.parcels.push(Parcel {
            code: format!("{}-{}-{n:03}", &code[..6], &code[6..]),
            id,
            land_use: lu,
            area: round(parcel_area, 10.0),
            geom,
            year,
            far,
            density: round(footprint / parcel_area, 1000.0),
            green_ratio: round(green_ratio, 1000.0),
            planned_use: lu,
            planned_far: far,
            object: None,
        });
        kept.push((cu, cv, clipped));
    }
    let block_of = |m: usize| {
        let (cu, cv, clipped) = kept[m];
        let square = frame.rect(
            cu - block / 2.0,
            cv - block / 2.0,
            cu + block / 2.0,
            cv + block / 2.0,
        );
        if clipped {
            c.unit.geom.intersection(&square)
        } else {
            MultiPolygon(vec![square])
        }
    };

    // Renewal objects.
    let add_object =
        |land: &mut Land, id: String, name: String, kind: &'static str, members: Vec<usize>| {
            // unary_union reads every ring with the winding of the first: orient them alike.
            let blocks: Vec<MultiPolygon<f64>> = members
                .iter()
                .map(|&m| block_of(m).orient(Direction::Default))
                .collect();
            let geom = unary_union(&blocks);
            let mut years: Vec<i32> = members.iter().map(|&m| land.parcels[m].year).collect();
            years.sort();
            for &m in &members {
                land.parcels[m].object = Some(id.clone());
            }
            land.objects.push(Object {
                parcels: members
                    .iter()
                    .map(|&m| land.parcels[m].id.clone())
                    .collect(),
                id,
                name,
                kind,
                geom,
                build_year: years.get(years.len() / 2).copied().unwrap_or(1990),
            });
        };
    if c.role == Role::UrbanVillage && !land.parcels.is_empty() {
        let name = if short.ends_with('村') {
            short.clone()
        } else {
            format!("{short}村")
        };
        let all = (0..land.parcels.len()).collect();
        add_object(
            &mut land,
            format!("ro-uv-{code}"),
            name,
            "urban_village",
            all,
        );
    }
    if !old_town.is_empty() {
        add_object(
            &mut land,
            format!("ro-ot-{code}"),
            format!("{short}片区"),
            "old_town",
            old_town.clone(),
        );
    }
    const ESTATES: [&str; 12] = [
        "幸福", "和平", "建设", "工人", "电力", "铁路", "纺织", "机械", "航运", "邮电", "卫生",
        "商业",
    ];
    for m in 0..land.parcels.len() {
        let p = &land.parcels[m];
        if p.object.is_some() {
            continue;
        }
        let central = c.zone != Zone::Outer || matches!(c.district.as_str(), "420112" | "420113");
        if p.land_use == "1001" && p.year < 2000 && central && rng.gen_bool(0.6) {
            let n = land.objects.len() + 1;
            let name = format!(
                "{short}{}厂旧址",
                ["机械", "纺织", "化工", "钢铁", "食品", "印刷", "仪表"][rng.gen_range(0..7)]
            );
            add_object(
                &mut land,
                format!("ro-of-{code}-{n}"),
                name,
                "old_factory",
                vec![m],
            );
        } else if p.land_use == "0701" && p.year < 2000 && rng.gen_bool(0.12) {
            let n = land.objects.len() + 1;
            let name = format!("{short}{}小区", ESTATES[rng.gen_range(0..ESTATES.len())]);
            add_object(
                &mut land,
                format!("ro-oc-{code}-{n}"),
                name,
                "old_compound",
                vec![m],
            );
        }
    }
    let kinds: std::collections::HashMap<String, &'static str> = land
        .objects
        .iter()
        .map(|o| (o.id.clone(), o.kind))
        .collect();
    for p in &mut land.parcels {
        let kind = p.object.as_ref().map(|o| kinds[o]);
        let (u, f) = planned(&mut rng, kind, p.land_use, p.far);
        p.planned_use = u;
        p.planned_far = f;
    }

    // The street grid between the blocks, clipped to the community.
    let reach = r + block / 2.0;
    for (dir, label) in [(0, "横"), (1, "纵")] {
        let mut n = 0;
        for j in -k - 1..=k {
            let off = (j as f64 + 0.5) * block;
            if off.abs() >= reach {
                continue;
            }
            let half = (reach * reach - off * off).sqrt();
            let (a, b) = if dir == 0 {
                ((-half, off), (half, off))
            } else {
                ((off, -half), (off, half))
            };
            let line = LineString::from(vec![frame.to_gk(a.0, a.1), frame.to_gk(b.0, b.1)]);
            let clipped = c.unit.geom.clip(&MultiLineString(vec![line]), false);
            if clipped.0.is_empty() || clipped.bounding_rect().is_none() {
                continue;
            }
            n += 1;
            let secondary = j.rem_euclid(4) == 0;
            land.roads.push(Road {
                id: format!("road-{code}-{}{n:02}", ["h", "v"][dir]),
                name: format!("{short}{label}{}路", cn_num(n)),
                class: if secondary { "secondary" } else { "branch" },
                width: if secondary { 24.0 } else { 12.0 },
                geom: clipped,
            });
        }
    }
    land
}

/// A district's arterial roads: the shortest tree joining its communities' centres (Prim's
/// algorithm on straight lines), so that the communities' street grids, which it crosses, make
/// one walking network.
pub fn arterials(district_code: &str, district_name: &str, centres: &[Coord]) -> Vec<Road> {
    let n = centres.len();
    if n < 2 {
        return Vec::new();
    }
    let d = |a: usize, b: usize| (centres[a].x - centres[b].x).hypot(centres[a].y - centres[b].y);
    let mut in_tree = vec![false; n];
    let mut best: Vec<(f64, usize)> = (0..n).map(|i| (d(0, i), 0)).collect();
    in_tree[0] = true;
    let short = short_name(district_name).trim_end_matches('区').to_owned();
    let mut roads = Vec::with_capacity(n - 1);
    for k in 1..n {
        let next = (0..n)
            .filter(|&i| !in_tree[i])
            .min_by(|&a, &b| best[a].0.total_cmp(&best[b].0))
            .expect("a vertex outside the tree");
        in_tree[next] = true;
        let from = best[next].1;
        roads.push(Road {
            id: format!("road-{district_code}-a{k:03}"),
            name: format!("{short}{}号干道", cn_num(k)),
            class: "arterial",
            width: 36.0,
            geom: MultiLineString(vec![LineString::from(vec![centres[from], centres[next]])]),
        });
        for i in 0..n {
            if !in_tree[i] && d(next, i) < best[i].0 {
                best[i] = (d(next, i), next);
            }
        }
    }
    roads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numerals() {
        assert_eq!(cn_num(3), "三");
        assert_eq!(cn_num(10), "十");
        assert_eq!(cn_num(14), "十四");
        assert_eq!(cn_num(20), "二十");
        assert_eq!(cn_num(35), "三十五");
    }
}
