//! Every comparison and logical operator, in CQL2-Text and CQL2-JSON, matching and not matching.

mod common;

use common::*;
use gengxin_model::Value;
use serde_json::json;

fn prop(name: &str) -> serde_json::Value {
    json!({ "property": name })
}

fn op(o: &str, args: serde_json::Value) -> serde_json::Value {
    json!({ "op": o, "args": args })
}

#[test]
fn comparisons_on_integers() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "floors = 12",
        op("=", json!([prop("floors"), 12])),
        &["b1"],
    );
    // b3 has no floors: a comparison with null is false, also for <>.
    check(
        l,
        &fs,
        "floors <> 12",
        op("<>", json!([prop("floors"), 12])),
        &["b2", "b4"],
    );
    check(
        l,
        &fs,
        "floors < 6",
        op("<", json!([prop("floors"), 6])),
        &["b2"],
    );
    check(
        l,
        &fs,
        "floors > 3",
        op(">", json!([prop("floors"), 3])),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "floors <= 6",
        op("<=", json!([prop("floors"), 6])),
        &["b2", "b4"],
    );
    check(
        l,
        &fs,
        "floors >= 6",
        op(">=", json!([prop("floors"), 6])),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "floors >= 100",
        op(">=", json!([prop("floors"), 100])),
        &[],
    );
    // A literal on the left.
    check(
        l,
        &fs,
        "3 < floors",
        op("<", json!([3, prop("floors")])),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "floors > -1",
        op(">", json!([prop("floors"), -1])),
        &["b1", "b2", "b4"],
    );
}

#[test]
fn integers_and_reals_compare_numerically() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "floors > 5.5",
        op(">", json!([prop("floors"), 5.5])),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "floors = 3.0",
        op("=", json!([prop("floors"), 3.0])),
        &["b2"],
    );
    check(
        l,
        &fs,
        "height_m = 18",
        op("=", json!([prop("height_m"), 18])),
        &["b4"],
    );
    check(
        l,
        &fs,
        "height_m >= 20",
        op(">=", json!([prop("height_m"), 20])),
        &["b1", "b3"],
    );
    check(
        l,
        &fs,
        "height_m < 1e1",
        op("<", json!([prop("height_m"), 10.0])),
        &["b2"],
    );
    // Two properties: height (real) against floors (integer); b3 has no floors.
    check(
        l,
        &fs,
        "height_m > floors",
        op(">", json!([prop("height_m"), prop("floors")])),
        &["b1", "b2", "b4"],
    );
    check(
        l,
        &fs,
        "height_m < floors",
        op("<", json!([prop("height_m"), prop("floors")])),
        &[],
    );
}

#[test]
fn comparisons_on_text_and_builtins() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "name = '武汉大厦'",
        op("=", json!([prop("name"), "武汉大厦"])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "name < 'Block_B'",
        op("<", json!([prop("name"), "Block_B"])),
        &["b2"],
    );
    check(
        l,
        &fs,
        "\"use\" = 'office'",
        op("=", json!([prop("use"), "office"])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "id = 'b2'",
        op("=", json!([prop("id"), "b2"])),
        &["b2"],
    );
    check(
        l,
        &fs,
        "provenance <> 'generated'",
        op("<>", json!([prop("provenance"), "generated"])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "version >= 2",
        op(">=", json!([prop("version"), 2])),
        &["b3"],
    );
    check(
        l,
        &fs,
        "created_at >= TIMESTAMP('2024-03-01T00:00:00Z')",
        op(
            ">=",
            json!([prop("created_at"), {"timestamp": "2024-03-01T00:00:00Z"}]),
        ),
        &["b3", "b4"],
    );
    // The same instant written in +08:00.
    check(
        l,
        &fs,
        "updated_at = TIMESTAMP('2024-06-01T16:00:00+08:00')",
        op(
            "=",
            json!([prop("updated_at"), {"timestamp": "2024-06-01T16:00:00+08:00"}]),
        ),
        &["b1"],
    );
    check(
        l,
        &fs,
        "updated_at > '2024-05-01T00:00:00Z'",
        op(">", json!([prop("updated_at"), "2024-05-01T00:00:00Z"])),
        &["b1"],
    );
}

#[test]
fn like_with_wildcards_and_escapes() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "name LIKE 'Block%'",
        op("like", json!([prop("name"), "Block%"])),
        &["b2", "b4"],
    );
    check(
        l,
        &fs,
        "name LIKE 'Block__'",
        op("like", json!([prop("name"), "Block__"])),
        &["b4"],
    );
    check(
        l,
        &fs,
        r"name LIKE 'Block\_A\%1'",
        op("like", json!([prop("name"), r"Block\_A\%1"])),
        &["b2"],
    );
    // An escaped % only matches a literal percent sign.
    check(
        l,
        &fs,
        r"name LIKE '%\%%'",
        op("like", json!([prop("name"), r"%\%%"])),
        &["b2"],
    );
    check(
        l,
        &fs,
        r"name LIKE 'Block\_B'",
        op("like", json!([prop("name"), r"Block\_B"])),
        &["b4"],
    );
    check(
        l,
        &fs,
        r"name LIKE 'Block\__'",
        op("like", json!([prop("name"), r"Block\__"])),
        &["b4"],
    );
    // Case-sensitive.
    check(
        l,
        &fs,
        "name LIKE 'block%'",
        op("like", json!([prop("name"), "block%"])),
        &[],
    );
    check(
        l,
        &fs,
        "name LIKE '武汉%'",
        op("like", json!([prop("name"), "武汉%"])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "name LIKE '_汉__'",
        op("like", json!([prop("name"), "_汉__"])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "id like 'b_'",
        op("like", json!([prop("id"), "b_"])),
        &["b1", "b2", "b3", "b4"],
    );
}

#[test]
fn not_like_negates_including_nulls() {
    let (l, fs) = (buildings_layer(), buildings());
    // b3's name is null: LIKE is false, so NOT LIKE is true (documented two-valued logic).
    let j = op("not", json!([op("like", json!([prop("name"), "Block%"]))]));
    check(l, &fs, "name NOT LIKE 'Block%'", j.clone(), &["b1", "b3"]);
    check(l, &fs, "NOT name LIKE 'Block%'", j, &["b1", "b3"]);
    check(
        l,
        &fs,
        "name NOT LIKE '%' AND name IS NOT NULL",
        op(
            "and",
            json!([
                op("not", json!([op("like", json!([prop("name"), "%"]))])),
                op("not", json!([op("isNull", json!([prop("name")]))]))
            ]),
        ),
        &[],
    );
}

#[test]
fn in_and_not_in() {
    let (l, fs) = (buildings_layer(), buildings());
    let j = op("in", json!([prop("use"), ["office", "mixed"]]));
    check(
        l,
        &fs,
        "use IN ('office', 'mixed')",
        j.clone(),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "use NOT IN ('office', 'mixed')",
        op("not", json!([j])),
        &["b2", "b3"],
    );
    check(
        l,
        &fs,
        "floors IN (3, 6)",
        op("in", json!([prop("floors"), [3, 6]])),
        &["b2", "b4"],
    );
    check(
        l,
        &fs,
        "height_m in (9, 18.0)",
        op("in", json!([prop("height_m"), [9, 18.0]])),
        &["b2", "b4"],
    );
    // A value outside the code list is accepted and matches nothing.
    check(
        l,
        &fs,
        "use IN ('castle')",
        op("in", json!([prop("use"), ["castle"]])),
        &[],
    );
    check(
        l,
        &fs,
        "use = 'castle'",
        op("=", json!([prop("use"), "castle"])),
        &[],
    );
}

#[test]
fn between_and_not_between() {
    let (l, fs) = (buildings_layer(), buildings());
    let j = op("between", json!([prop("year_built"), 1990, 2005]));
    check(
        l,
        &fs,
        "year_built BETWEEN 1990 AND 2005",
        j.clone(),
        &["b1", "b4"],
    );
    check(
        l,
        &fs,
        "year_built NOT BETWEEN 1990 AND 2005",
        op("not", json!([j])),
        &["b2", "b3"],
    );
    // Inclusive at both ends, integers against reals.
    check(
        l,
        &fs,
        "height_m BETWEEN 9 AND 18",
        op("between", json!([prop("height_m"), 9, 18])),
        &["b2", "b4"],
    );
    check(
        l,
        &fs,
        "floors BETWEEN 7 AND 5",
        op("between", json!([prop("floors"), 7, 5])),
        &[],
    );
    check(
        l,
        &fs,
        "name BETWEEN 'Block' AND 'Block_Z'",
        op("between", json!([prop("name"), "Block", "Block_Z"])),
        &["b2", "b4"],
    );
}

#[test]
fn is_null_and_is_not_null() {
    let (l, fs) = (buildings_layer(), buildings());
    let j = op("isNull", json!([prop("name")]));
    check(l, &fs, "name IS NULL", j.clone(), &["b3"]);
    check(
        l,
        &fs,
        "name IS NOT NULL",
        op("not", json!([j])),
        &["b1", "b2", "b4"],
    );
    check(
        l,
        &fs,
        "floors is null",
        op("isNull", json!([prop("floors")])),
        &["b3"],
    );
    check(
        l,
        &fs,
        "geom IS NULL",
        op("isNull", json!([prop("geom")])),
        &["b4"],
    );
    check(
        l,
        &fs,
        "geometry IS NOT NULL",
        op("not", json!([op("isNull", json!([prop("geometry")]))])),
        &["b1", "b2", "b3"],
    );
    check(l, &fs, "id IS NULL", op("isNull", json!([prop("id")])), &[]);
}

#[test]
fn and_or_not() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "floors > 3 AND use = 'office'",
        op(
            "and",
            json!([
                op(">", json!([prop("floors"), 3])),
                op("=", json!([prop("use"), "office"]))
            ]),
        ),
        &["b1"],
    );
    check(
        l,
        &fs,
        "floors = 3 OR use = 'office'",
        op(
            "or",
            json!([
                op("=", json!([prop("floors"), 3])),
                op("=", json!([prop("use"), "office"]))
            ]),
        ),
        &["b1", "b2"],
    );
    // b3 has no floors: the comparison is false and NOT makes it true.
    check(
        l,
        &fs,
        "NOT floors = 3",
        op("not", json!([op("=", json!([prop("floors"), 3]))])),
        &["b1", "b3", "b4"],
    );
    check(
        l,
        &fs,
        "NOT NOT floors = 3",
        op(
            "not",
            json!([op("not", json!([op("=", json!([prop("floors"), 3]))]))]),
        ),
        &["b2"],
    );
    check(
        l,
        &fs,
        "floors > 1 AND floors < 10 AND height_m > 10",
        op(
            "and",
            json!([
                op(">", json!([prop("floors"), 1])),
                op("<", json!([prop("floors"), 10])),
                op(">", json!([prop("height_m"), 10]))
            ]),
        ),
        &["b4"],
    );
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let (l, fs) = (buildings_layer(), buildings());
    let a = op("=", json!([prop("use"), "residential"]));
    let b = op("=", json!([prop("use"), "office"]));
    let c = op(">", json!([prop("floors"), 20]));
    // a OR b AND c = a OR (b AND c)
    check(
        l,
        &fs,
        "use = 'residential' OR use = 'office' AND floors > 20",
        op(
            "or",
            json!([a.clone(), op("and", json!([b.clone(), c.clone()]))]),
        ),
        &["b2"],
    );
    check(
        l,
        &fs,
        "(use = 'residential' OR use = 'office') AND floors > 20",
        op(
            "and",
            json!([op("or", json!([a.clone(), b.clone()])), c.clone()]),
        ),
        &[],
    );
    // b AND c OR a = (b AND c) OR a
    check(
        l,
        &fs,
        "use = 'office' and floors > 20 or use = 'residential'",
        op("or", json!([op("and", json!([b.clone(), c])), a])),
        &["b2"],
    );
    // NOT binds tighter than AND: (NOT b) AND floors > 3.
    check(
        l,
        &fs,
        "NOT use = 'office' AND floors > 3",
        op(
            "and",
            json!([op("not", json!([b])), op(">", json!([prop("floors"), 3]))]),
        ),
        &["b4"],
    );
    check(
        l,
        &fs,
        "((((floors = 3))))",
        op("=", json!([prop("floors"), 3])),
        &["b2"],
    );
}

#[test]
fn keywords_are_case_insensitive_and_whitespace_is_free() {
    let (l, fs) = (buildings_layer(), buildings());
    let f = text("floors\u{3000}>=\t6\nand \"use\" not in ('x')", l);
    assert_eq!(ids(&f, &fs), ["b1", "b4"]);
    let f = text("floors BeTwEeN 1 aNd 4 Or name iS nUlL", l);
    assert_eq!(ids(&f, &fs), ["b2", "b3"]);
}

#[test]
fn dates_compare_with_date_literals_and_strings() {
    let (l, fs) = (projects_layer(), projects());
    check(
        l,
        &fs,
        "start_date = DATE('2024-01-31')",
        op("=", json!([prop("start_date"), {"date": "2024-01-31"}])),
        &["p2"],
    );
    check(
        l,
        &fs,
        "start_date = '2024-01-31'",
        op("=", json!([prop("start_date"), "2024-01-31"])),
        &["p2"],
    );
    check(
        l,
        &fs,
        "start_date < DATE('2023-01-01')",
        op("<", json!([prop("start_date"), {"date": "2023-01-01"}])),
        &["p3"],
    );
    check(
        l,
        &fs,
        "start_date BETWEEN DATE('2023-01-01') AND '2024-01-31'",
        op(
            "between",
            json!([prop("start_date"), {"date": "2023-01-01"}, "2024-01-31"]),
        ),
        &["p1", "p2"],
    );
    check(
        l,
        &fs,
        "actual_end_date IS NULL",
        op("isNull", json!([prop("actual_end_date")])),
        &["p1", "p3"],
    );
    check(
        l,
        &fs,
        "actual_end_date < planned_end_date",
        op(
            "<",
            json!([prop("actual_end_date"), prop("planned_end_date")]),
        ),
        &["p2"],
    );
    check(
        l,
        &fs,
        "start_date IN (DATE('2022-07-15'), '2023-03-01')",
        op(
            "in",
            json!([prop("start_date"), [{"date": "2022-07-15"}, "2023-03-01"]]),
        ),
        &["p1", "p3"],
    );
    check(
        l,
        &fs,
        "progress_pct >= 45.5 AND stage IN ('construction', 'completed') AND plan_year < 2024",
        op(
            "and",
            json!([
                op(">=", json!([prop("progress_pct"), 45.5])),
                op("in", json!([prop("stage"), ["construction", "completed"]])),
                op("<", json!([prop("plan_year"), 2024]))
            ]),
        ),
        &["p1"],
    );
    check(
        l,
        &fs,
        "updated_at BETWEEN TIMESTAMP('2024-01-01T00:00:00Z') AND TIMESTAMP('2024-06-01T16:00:00+08:00')",
        op(
            "between",
            json!([prop("updated_at"), {"timestamp": "2024-01-01T00:00:00Z"}, {"timestamp": "2024-06-01T16:00:00+08:00"}]),
        ),
        &["p1"],
    );
}

#[test]
fn timestamp_and_boolean_fields() {
    let (l, fs) = (reports_layer(), reports());
    // 17:00 in +08:00 is 09:00 UTC.
    check(
        l,
        &fs,
        "reported_at < TIMESTAMP('2024-03-01T17:00:00+08:00')",
        op(
            "<",
            json!([prop("reported_at"), {"timestamp": "2024-03-01T17:00:00+08:00"}]),
        ),
        &["r1"],
    );
    check(
        l,
        &fs,
        "reported_at = '2024-03-02T08:00:00+08:00'",
        op(
            "=",
            json!([prop("reported_at"), "2024-03-02T08:00:00+08:00"]),
        ),
        &["r2"],
    );
    check(
        l,
        &fs,
        "anonymous = TRUE",
        op("=", json!([prop("anonymous"), true])),
        &["r1"],
    );
    check(
        l,
        &fs,
        "anonymous <> true",
        op("<>", json!([prop("anonymous"), true])),
        &["r2"],
    );
    check(
        l,
        &fs,
        "FALSE = anonymous",
        op("=", json!([false, prop("anonymous")])),
        &["r2"],
    );
}

#[test]
fn equalities_are_the_top_level_and_terms() {
    let l = buildings_layer();
    let f = text(
        "use = 'office' AND floors = 12 AND height_m = 40 AND name LIKE 'a%' AND (year_built = 1 OR year_built = 2)",
        l,
    );
    assert_eq!(
        f.equalities(),
        vec![
            ("use", Value::Text("office".into())),
            ("floors", Value::Int(12)),
            ("height_m", Value::Real(40.0)),
        ]
    );
    assert_eq!(
        text("floors = 12.0", l).equalities(),
        vec![("floors", Value::Int(12))]
    );
    assert_eq!(
        text("12 = floors", l).equalities(),
        vec![("floors", Value::Int(12))]
    );
    assert!(text("floors = 12.5", l).equalities().is_empty());
    assert!(text("floors = 1 OR floors = 2", l).equalities().is_empty());
    assert!(text("NOT floors = 1", l).equalities().is_empty());
    assert!(text("floors <> 1", l).equalities().is_empty());
    assert!(text("height_m = floors", l).equalities().is_empty());
    assert_eq!(
        json(&op("=", json!([prop("id"), "b1"])), l).equalities(),
        vec![("id", Value::Text("b1".into()))]
    );
    let p = projects_layer();
    assert_eq!(
        text("start_date = DATE('2024-01-31') AND updated_at = TIMESTAMP('2024-06-01T16:00:00+08:00')", p)
            .equalities(),
        vec![
            ("start_date", Value::Text("2024-01-31".into())),
            ("updated_at", Value::Text("2024-06-01T08:00:00.000Z".into())),
        ]
    );
    let r = reports_layer();
    assert_eq!(
        text("anonymous = TRUE", r).equalities(),
        vec![("anonymous", Value::Bool(true))]
    );
}

#[test]
fn properties_lists_what_the_filter_reads() {
    let l = buildings_layer();
    let f = text(
        "floors > 3 AND (\"use\" = 'office' OR S_INTERSECTS(geom, POINT(114.3 30.55))) AND floors < 10 AND height_m > year_built",
        l,
    );
    assert_eq!(
        f.properties(),
        ["floors", "use", "geom", "height_m", "year_built"]
    );
    assert_eq!(text("geometry IS NULL", l).properties(), ["geom"]);
    assert_eq!(f.layer().name, "buildings");
}

#[test]
fn text_and_json_agree_on_a_mixed_filter() {
    let l = buildings_layer();
    let mut fs = buildings();
    // More buildings to make the comparison meaningful.
    for i in 0..40_i64 {
        let f =
            gengxin_model::Feature::new(format!("x{i}"), "generated", at("2024-01-01T00:00:00Z"))
                .with_geometry(square(114.29 + (i as f64) * 0.001, 30.55, 0.0002))
                .set("floors", i % 9)
                .set("height_m", (i as f64) * 1.5)
                .set("use", ["office", "mixed", "residential"][(i % 3) as usize]);
        fs.push(if i % 4 == 0 {
            f
        } else {
            f.set("name", format!("Block_{i}"))
        });
    }
    let q = "(floors BETWEEN 2 AND 6 OR name LIKE 'Block\\_1%') AND NOT \"use\" IN ('office') \
             AND S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57)) AND height_m <> 9";
    let j = json!({"op": "and", "args": [
        {"op": "or", "args": [
            {"op": "between", "args": [{"property": "floors"}, 2, 6]},
            {"op": "like", "args": [{"property": "name"}, "Block\\_1%"]}
        ]},
        {"op": "not", "args": [{"op": "in", "args": [{"property": "use"}, ["office"]]}]},
        {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [114.29, 30.54, 114.32, 30.57]}]},
        {"op": "<>", "args": [{"property": "height_m"}, 9]}
    ]});
    let t = ids(&text(q, l), &fs);
    let v = ids(&json(&j, l), &fs);
    assert_eq!(t, v);
    assert!(t.len() > 5 && t.len() < fs.len() / 2, "{t:?}");
    assert!(
        t.contains(&"x10".to_string()) && t.contains(&"x2".to_string()),
        "{t:?}"
    );
    // b2 has 9 m: excluded by the last term only.
    assert!(!t.contains(&"b2".to_string()), "{t:?}");
}
