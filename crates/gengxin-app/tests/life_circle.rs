//! The life-circle evaluation on a real GeoPackage store, on a small town whose every walking
//! distance is worked out by hand below.

use chrono::{TimeZone, Utc};
use gengxin_engine::crs::GaussKruger;
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::{Query, Store};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon, coord};

const COMMUNITY: &str = "420102001001";

struct Town {
    gk: GaussKruger,
    origin: Coord,
}

impl Town {
    /// Local metres (x east, y north from the town's corner) to lon/lat.
    fn lonlat(&self, x: f64, y: f64) -> Coord {
        self.gk
            .unproject(coord! { x: self.origin.x + x, y: self.origin.y + y })
    }
    fn line(&self, pts: &[(f64, f64)]) -> Geometry {
        LineString::from(
            pts.iter()
                .map(|&(x, y)| self.lonlat(x, y))
                .collect::<Vec<_>>(),
        )
        .into()
    }
    fn square(&self, cx: f64, cy: f64, half: f64) -> Geometry {
        let ring = [
            (cx - half, cy - half),
            (cx + half, cy - half),
            (cx + half, cy + half),
            (cx - half, cy + half),
            (cx - half, cy - half),
        ];
        MultiPolygon(vec![Polygon::new(
            LineString::from(
                ring.iter()
                    .map(|&(x, y)| self.lonlat(x, y))
                    .collect::<Vec<_>>(),
            ),
            vec![],
        )])
        .into()
    }
    fn point(&self, x: f64, y: f64) -> Geometry {
        geo_types::Point(self.lonlat(x, y)).into()
    }
}

fn feature(id: &str) -> Feature {
    Feature::new(
        id,
        GENERATED,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    )
}

fn facility(t: &Town, id: &str, category: &str, tier: &str, x: f64, y: f64) -> Feature {
    feature(id)
        .with_geometry(t.point(x, y))
        .set("name", id)
        .set("category", category)
        .set("tier", tier)
}

fn building(t: &Town, id: &str, parcel: &str, use_: &str, floors: i64, x: f64, y: f64) -> Feature {
    feature(id)
        .with_geometry(t.square(x, y, 5.0))
        .set("parcel_id", parcel)
        .set("use", use_)
        .set("floors", floors)
        .set("footprint_m2", 100.0)
        .set("community_code", COMMUNITY)
        .set("district_code", "420102")
}

fn rule(id: &str, category: &str, tier: &str, radius: f64) -> Feature {
    feature(id)
        .set("category", category)
        .set("tier", tier)
        .set("radius_m", radius)
        .set("obligation", "required")
        .set("clause", "test")
        .set("enabled", true)
}

fn population(id: &str, year: i64, total: i64) -> Feature {
    feature(id)
        .set("community_code", COMMUNITY)
        .set("year", year)
        .set("total", total)
        .set("age_0_14", 0)
        .set("age_15_59", total)
        .set("age_60_64", 0)
        .set("age_65_plus", 0)
}

async fn town(store: &dyn Store) -> Town {
    let gk = GaussKruger::wuhan();
    let t = Town {
        origin: gk.project(coord! { x: 114.30, y: 30.58 }),
        gk,
    };
    // A 400 × 200 m grid of streets 100 m apart, drawn as whole lines that cross without
    // shared vertices (as many road layers are).
    let mut roads = Vec::new();
    for (i, y) in [0.0, 100.0, 200.0].into_iter().enumerate() {
        roads.push(
            feature(&format!("road-h{i}"))
                .with_geometry(t.line(&[(0.0, y), (400.0, y)]))
                .set("class", "branch"),
        );
    }
    for (i, x) in [0.0, 100.0, 200.0, 300.0, 400.0].into_iter().enumerate() {
        roads.push(
            feature(&format!("road-v{i}"))
                .with_geometry(t.line(&[(x, 0.0), (x, 200.0)]))
                .set("class", "branch"),
        );
    }
    let parcels = ["P1", "P2"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            feature(id)
                .with_geometry(t.square(50.0 + 200.0 * i as f64, 100.0, 40.0))
                .set("code", *id)
                .set("land_use", "0701")
                .set("area_m2", 6400.0)
                .set("district_code", "420102")
                .set("community_code", COMMUNITY)
        })
        .collect();
    let community = feature(COMMUNITY)
        .with_geometry(t.square(200.0, 100.0, 250.0))
        .set("code", COMMUNITY)
        .set("name", "测试社区")
        .set("level", "community")
        .set("kind", "residents_committee");
    store
        .insert(vec![
            (LayerId::Roads, roads),
            (LayerId::Parcels, parcels),
            (LayerId::AdminUnits, vec![community]),
            (
                LayerId::Buildings,
                vec![
                    // Homes: A (500 residents: two floors), B and C (250 each).
                    building(&t, "A", "P1", "residential", 2, 50.0, 10.0),
                    building(&t, "B", "P2", "residential", 1, 350.0, 190.0),
                    building(&t, "C", "P2", "residential", 1, 150.0, 110.0),
                    // Shops house nobody.
                    building(&t, "D", "P2", "commercial", 3, 250.0, 50.0),
                ],
            ),
            (
                LayerId::Population,
                vec![
                    population("pop-2019", 2019, 400),
                    population("pop-2020", 2020, 1000),
                ],
            ),
            (
                LayerId::Facilities,
                vec![
                    facility(&t, "K1", "kindergarten", "5min", 5.0, 50.0),
                    facility(&t, "S1", "primary_school", "10min", 405.0, 95.0),
                ],
            ),
            (
                LayerId::LifeCircleRules,
                vec![
                    rule("r1", "kindergarten", "5min", 300.0),
                    rule("r2", "primary_school", "10min", 500.0),
                    rule("r3", "middle_school", "15min", 1000.0),
                ],
            ),
        ])
        .await
        .unwrap();
    t
}

fn num(f: &Feature, k: &str) -> f64 {
    f.get(k)
        .as_f64()
        .unwrap_or_else(|| panic!("{k} of {}", f.id))
}

#[tokio::test]
async fn the_town_is_evaluated_as_worked_out_by_hand_and_reruns_write_only_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = gengxin_store::create_or_open(dir.path().join("t.gpkg").to_str().unwrap())
        .await
        .unwrap();
    let t = town(&*store).await;
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();

    let out = gengxin_app::evaluation::life_circle(&*store, at)
        .await
        .unwrap();
    assert_eq!(out.rules_seeded, 0, "the store's own rules are kept");
    assert_eq!(
        (out.homes, out.unplaced_homes, out.residents),
        (3, 0, 1000.0)
    );
    assert_eq!((out.parcels, out.communities), (2, 1));
    assert_eq!(
        (out.inserted, out.updated, out.deleted, out.unchanged),
        (3, 0, 0, 0)
    );
    // The crossing streets were joined: one network of 15 junctions, less the four corners,
    // whose two streets merge into one edge.
    assert_eq!((out.network_components, out.network_nodes), (1, 11));

    // Walks (street offsets plus 10 m from each home and 5 m to each facility):
    //   kindergarten K1 (0,50): A 50+50+15 = 115, B 350+150+15 = 515, C 150+50+15 = 215
    //   school S1 (400,95):     A 350+95+15 = 460, B 50+105+15 = 170, C 250+5+15 = 270
    // Within 300 m of a kindergarten: A and C (750 of 1000); all within 500 m of the school;
    // no middle school at all.
    let all = |l| store.query(l, Query::default());
    let com = all(LayerId::LifeCircleCommunities).await.unwrap();
    let c = &com[0];
    assert_eq!(c.id, format!("lc-{COMMUNITY}"));
    assert_eq!(c.get("name").as_str(), Some("测试社区"));
    assert_eq!(num(c, "residents"), 1000.0);
    assert_eq!(
        (
            num(c, "score_5min"),
            num(c, "score_10min"),
            num(c, "score_15min")
        ),
        (75.0, 100.0, 0.0)
    );
    assert_eq!(c.get("missing").as_str(), Some("middle_school"));
    assert_eq!(
        c.get("gaps").as_str(),
        Some(
            "十五分钟生活圈：100% 的居民步行 1000 米内没有初中；五分钟生活圈：25% 的居民步行 300 米内没有幼儿园"
        )
    );
    let nearest: serde_json::Value =
        serde_json::from_str(c.get("nearest_m").as_str().unwrap()).unwrap();
    // Residents-weighted medians: to a kindergarten A's 115 m already holds half the
    // residents; to the school B (170 m, 250) and C (270 m, 250) reach half at C.
    assert_eq!(nearest["5min:kindergarten"], 115.0);
    assert_eq!(nearest["10min:primary_school"], 270.0);
    assert!(nearest["15min:middle_school"].is_null());

    let parcels = all(LayerId::LifeCircleParcels).await.unwrap();
    let p = |id: &str| parcels.iter().find(|f| f.id == format!("lc-{id}")).unwrap();
    assert_eq!(num(p("P1"), "score_5min"), 100.0);
    assert_eq!(num(p("P2"), "score_5min"), 50.0);
    assert_eq!(num(p("P2"), "residents"), 500.0);
    assert_eq!(p("P1").get("name").as_str(), Some("P1"));
    assert!(p("P1").geometry.is_some());

    // Nothing changed: nothing is written.
    let again = gengxin_app::evaluation::life_circle(&*store, at)
        .await
        .unwrap();
    assert_eq!(
        (
            again.inserted,
            again.updated,
            again.deleted,
            again.unchanged
        ),
        (0, 0, 0, 3)
    );

    // A second kindergarten by B: P2 and the community change, P1 does not.
    store
        .insert(vec![(
            LayerId::Facilities,
            vec![facility(&t, "K2", "kindergarten", "5min", 345.0, 205.0)],
        )])
        .await
        .unwrap();
    let later = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let third = gengxin_app::evaluation::life_circle(&*store, later)
        .await
        .unwrap();
    assert_eq!(
        (
            third.inserted,
            third.updated,
            third.deleted,
            third.unchanged
        ),
        (0, 2, 0, 1)
    );
    let parcels = all(LayerId::LifeCircleParcels).await.unwrap();
    let p = |id: &str| parcels.iter().find(|f| f.id == format!("lc-{id}")).unwrap();
    assert_eq!(num(p("P2"), "score_5min"), 100.0);
    assert_eq!(p("P2").version, 2);
    assert_eq!(p("P1").version, 1, "an unchanged row is not rewritten");
    assert_eq!(
        p("P1").get("evaluated_at").as_str(),
        Some(gengxin_model::timestamp(&at).as_str())
    );

    // A disabled rule leaves the evaluation; a rule table with none enabled is refused and
    // nothing is written.
    let mut rules = all(LayerId::LifeCircleRules).await.unwrap();
    for r in &mut rules {
        *r = r.clone().set("enabled", false);
    }
    store
        .update(vec![(LayerId::LifeCircleRules, rules)])
        .await
        .unwrap();
    let before = gengxin_store::canonical_hash(&*store).await.unwrap();
    let err = gengxin_app::evaluation::life_circle(&*store, later)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no enabled rule"), "{err}");
    assert_eq!(
        gengxin_store::canonical_hash(&*store).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn an_empty_rule_table_is_seeded_with_the_standard_and_no_roads_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = gengxin_store::create_or_open(dir.path().join("e.gpkg").to_str().unwrap())
        .await
        .unwrap();
    let err = gengxin_app::evaluation::life_circle(&*store, Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("roads layer is empty"), "{err}");
    let rules = store
        .query(LayerId::LifeCircleRules, Query::default())
        .await
        .unwrap();
    assert_eq!(rules.len(), 15);
    let (parsed, version) = gengxin_app::evaluation::rules_of(&rules).unwrap();
    assert_eq!(parsed.iter().filter(|r| r.required).count(), 12);
    assert!(version.starts_with("15-"), "{version}");
    let kg = parsed
        .iter()
        .find(|r| r.category == "kindergarten")
        .unwrap();
    assert_eq!((kg.tier.as_str(), kg.radius_m), ("5min", 300.0));
    assert!(kg.clause.contains("GB 50180-2018"));
    // Geometry helpers used above are exact enough for metre arithmetic.
    let t = Town {
        gk: GaussKruger::wuhan(),
        origin: coord! { x: 500000.0, y: 3380000.0 },
    };
    let back = t.gk.project(t.lonlat(123.0, 45.0));
    assert!((back.x - 500123.0).abs() < 1e-6 && (back.y - 3380045.0).abs() < 1e-6);
}
