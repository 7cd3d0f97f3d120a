//! The administrative tree of the demo: the real district outlines (overlaps between the
//! generalised outlines removed), generated street and community boundaries that partition them,
//! and the real 2020 census population spread over communities.

use geo::orient::Direction;
use geo::{BooleanOps, Centroid, Densify, Euclidean, Orient, unary_union};
use geo_types::{Coord, MultiPolygon};
use rayon::prelude::*;

use crate::partition::{relax, voronoi_cells, weighted_sites};
use crate::real::{Division, RealData, community_kind, street_kind};
use crate::{Ctx, rng_for};
use rand::Rng;

/// How central a district is; drives density, land use and building age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The old core on both banks: 江岸, 江汉, 硚口, 汉阳, 武昌.
    Core,
    /// 青山, 洪山.
    Inner,
    /// The six outer districts.
    Outer,
}

pub fn zone_of(district: &str) -> Zone {
    match district {
        "420102" | "420103" | "420104" | "420105" | "420106" => Zone::Core,
        "420107" | "420111" => Zone::Inner,
        _ => Zone::Outer,
    }
}

/// What a community is for the renewal database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ordinary,
    /// One of the 156 城中村.
    UrbanVillage,
    /// Holds an old-town (旧城) area around its core.
    OldTown,
}

pub struct Unit {
    pub div: Division,
    pub kind: &'static str,
    /// Gauss–Krüger metres.
    pub geom: MultiPolygon<f64>,
}

pub struct Community {
    pub unit: Unit,
    pub district: String,
    pub zone: Zone,
    pub pop: i64,
    /// Distance of the centroid from the city centre, km.
    pub dist_km: f64,
    pub role: Role,
}

pub struct Admin {
    pub city: MultiPolygon<f64>,
    pub districts: Vec<Unit>,
    pub streets: Vec<Unit>,
    pub communities: Vec<Community>,
}

pub const URBAN_VILLAGES: usize = 156;
pub const OLD_TOWN_COMMUNITIES: usize = 120;

pub fn build(ctx: &Ctx, real: &RealData) -> Admin {
    // District outlines in metres; each loses what earlier districts already cover, so that the
    // generalised outlines partition the city without overlap. Edges are densified first (in
    // degrees, so the extra vertices lie on the real outline): a long straight edge in one CRS
    // is a curve in the other, and short edges keep that difference far below a centimetre.
    let mut districts: Vec<Unit> = Vec::new();
    for (div, outline) in &real.districts {
        let mut g = ctx.gk.project_geometry(&Euclidean.densify(outline, 0.002));
        for d in &districts {
            g = g.difference(&d.geom);
        }
        districts.push(Unit {
            div: div.clone(),
            kind: "district",
            geom: g,
        });
    }
    // unary_union reads every ring with the winding of the first: orient them all alike.
    let oriented: Vec<MultiPolygon<f64>> = districts
        .iter()
        .map(|d| d.geom.orient(Direction::Default))
        .collect();
    let city = unary_union(&oriented);

    let streets: Vec<Unit> = districts
        .par_iter()
        .flat_map_iter(|d| {
            split(ctx, d, &real.streets, |c| {
                0.08 + (-ctx.dist_km(c) / 5.0).exp()
            })
            .into_iter()
            .map(|(div, geom)| Unit {
                kind: street_kind(&div.name),
                div,
                geom,
            })
            .collect::<Vec<_>>()
        })
        .collect();

    let mut communities: Vec<Community> = streets
        .par_iter()
        .flat_map_iter(|s| {
            let district = s.div.parent.clone();
            split(ctx, s, &real.communities, |c| {
                0.3 + (-ctx.dist_km(c) / 4.0).exp()
            })
            .into_iter()
            .map(|(div, geom)| Community {
                dist_km: geom.centroid().map_or(99.0, |c| ctx.dist_km(c.0)),
                unit: Unit {
                    kind: community_kind(&div.name),
                    div,
                    geom,
                },
                district: district.clone(),
                zone: zone_of(&district),
                pop: 0,
                role: Role::Ordinary,
            })
            .collect::<Vec<_>>()
        })
        .collect();

    assign_roles(ctx, &mut communities);
    spread_population(ctx, real, &mut communities);
    Admin {
        city,
        districts,
        streets,
        communities,
    }
}

/// Splits `parent` into one cell per child division (a relaxed Voronoi partition, sites denser
/// where `weight` is higher). Cell edges are densified to 100 m: neighbours that cut the same
/// long edge at different points must still agree on it after reprojection (see above).
fn split(
    ctx: &Ctx,
    parent: &Unit,
    all: &[Division],
    weight: impl Fn(Coord) -> f64,
) -> Vec<(Division, MultiPolygon<f64>)> {
    let divs: Vec<&Division> = all.iter().filter(|d| d.parent == parent.div.code).collect();
    let mut rng = rng_for(ctx.seed, &parent.div.code);
    let sites = weighted_sites(&parent.geom, divs.len(), &mut rng, weight);
    let cells = voronoi_cells(&parent.geom, &relax(&parent.geom, sites, 1));
    divs.into_iter()
        .cloned()
        .zip(cells.iter().map(|c| Euclidean.densify(c, 100.0)))
        .collect()
}

/// The 156 urban villages are the villages nearest the centre outside the outer districts' rural
/// parts; old-town areas sit in residents' committees of the old core.
fn assign_roles(ctx: &Ctx, cs: &mut [Community]) {
    let mut villages: Vec<usize> = (0..cs.len())
        .filter(|&i| cs[i].unit.kind == "village")
        .collect();
    villages.sort_by(|&a, &b| {
        cs[a]
            .dist_km
            .total_cmp(&cs[b].dist_km)
            .then(cs[a].unit.div.code.cmp(&cs[b].unit.div.code))
    });
    for &i in villages.iter().take(URBAN_VILLAGES) {
        cs[i].role = Role::UrbanVillage;
    }
    let mut core: Vec<usize> = (0..cs.len())
        .filter(|&i| cs[i].zone == Zone::Core && cs[i].unit.kind == "residents_committee")
        .collect();
    let mut rng = rng_for(ctx.seed, "old-town");
    for k in 0..OLD_TOWN_COMMUNITIES.min(core.len()) {
        let j = rng.gen_range(k..core.len());
        core.swap(k, j);
        cs[core[k]].role = Role::OldTown;
    }
}

/// Splits each district's census population over its communities: random weights (residents'
/// committees and urban villages hold more people than rural villages), then exact integer
/// shares by largest remainder, so each district sums to its census figure.
fn spread_population(ctx: &Ctx, real: &RealData, cs: &mut [Community]) {
    for (district, total) in &real.population {
        let idx: Vec<usize> = (0..cs.len())
            .filter(|&i| &cs[i].district == district)
            .collect();
        let mut rng = rng_for(ctx.seed, &format!("pop-{district}"));
        let weights: Vec<f64> = idx
            .iter()
            .map(|&i| {
                let base = match (cs[i].role, cs[i].unit.kind) {
                    (Role::UrbanVillage, _) => 3.0,
                    (_, "residents_committee") => 3.2,
                    (_, "village") => 0.9,
                    _ => 0.6,
                };
                base * rng.gen_range(0.55..1.6)
            })
            .collect();
        for (k, share) in largest_remainder(*total, &weights).into_iter().enumerate() {
            cs[idx[k]].pop = share;
        }
    }
}

/// Integer shares of `total` proportional to `weights`, summing exactly to `total`.
pub fn largest_remainder(total: i64, weights: &[f64]) -> Vec<i64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut out: Vec<i64> = exact.iter().map(|e| e.floor() as i64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let missing = total - out.iter().sum::<i64>();
    for &i in order.iter().cycle().take(missing.max(0) as usize) {
        out[i] += 1;
    }
    out
}

pub fn centre_of(g: &MultiPolygon<f64>) -> Coord {
    use geo::InteriorPoint;
    g.centroid()
        .filter(|c| geo::Contains::contains(g, c))
        .or_else(|| g.interior_point())
        .map_or(Coord { x: 0.0, y: 0.0 }, |p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_sums_exactly() {
        let s = largest_remainder(10, &[1.0, 1.0, 1.0]);
        assert_eq!(s.iter().sum::<i64>(), 10);
        assert_eq!(s, vec![4, 3, 3]);
        assert_eq!(largest_remainder(7, &[]), Vec::<i64>::new());
    }
}
