//! Hostile input: injection attempts, oversized and deeply nested filters. Every one must be
//! refused with an error (never a panic or a stack overflow), of the right kind and at the right
//! place; the limits say which limit and its value.

mod common;

use common::*;
use gengxin_query::{ErrorKind, Lang, Limits, QueryError, parse, parse_with_limits};
use serde_json::{Value, json};

/// Limits with room for big inputs, to reach the other limits.
fn roomy() -> Limits {
    Limits {
        max_input_bytes: 64 << 20,
        ..Limits::default()
    }
}

fn text_roomy(q: &str) -> QueryError {
    parse_with_limits(q, Lang::Text, buildings_layer(), &roomy()).unwrap_err()
}

#[test]
fn sql_injection_attempts_are_refused_where_they_start() {
    let l = buildings_layer();
    let cases: [(&str, ErrorKind, usize, &str); 9] = [
        (
            "'; DROP TABLE renewal_parcels; --",
            ErrorKind::Syntax,
            0,
            "unterminated",
        ),
        (
            "name = 'a' OR 1=1",
            ErrorKind::Semantic,
            14,
            "needs a property on at least one side",
        ),
        ("1=1", ErrorKind::Semantic, 0, "compares two literals"),
        (
            "name = 'x'; DELETE FROM x",
            ErrorKind::Syntax,
            10,
            "unexpected ';'",
        ),
        (
            "name = \"x\"",
            ErrorKind::Semantic,
            7,
            "unknown property `x`",
        ),
        (
            "floors = 1 UNION SELECT * FROM gengxin.meta",
            ErrorKind::Syntax,
            11,
            "found `UNION`",
        ),
        (
            "pg_sleep(10)",
            ErrorKind::Semantic,
            0,
            "unknown function `pg_sleep`",
        ),
        ("name = 'x' --", ErrorKind::Syntax, 11, "SQL comments"),
        (
            "name = 'x' OR ''=''",
            ErrorKind::Semantic,
            14,
            "compares two literals",
        ),
    ];
    for (q, kind, offset, words) in cases {
        let e = text_err(q, l);
        assert_err(&e, kind, &[words]);
        assert_eq!(e.position.map(|p| p.0), Some(offset), "{q}: {e:?}");
    }
    let e = text_err("name = \"x\"", l);
    assert!(e.message.contains("single quotes"), "{e}");
    for q in [
        "name = 'x' /* comment */",
        "name = 'x' # comment",
        "floors = 1 AND sleep(5)",
        "floors = (SELECT 1)",
        "name = 'a' || 'b'",
        "floors = 1 + 1",
        "floors = 0x10",
        "name = $$x$$",
        "name = `x`",
        "floors = 1 AND id = 'a' AND \"id\"\"; DROP\" = 'b'",
        "S_INTERSECTS(geom, POINT(114.3 30.55)); SELECT 1",
    ] {
        let e = text_err(q, l);
        assert!(
            matches!(e.kind, ErrorKind::Syntax | ErrorKind::Semantic),
            "{q}: {e:?}"
        );
        assert!(e.position.is_some(), "{q}");
    }
}

#[test]
fn a_huge_in_list_is_refused() {
    let items = (0..100_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let q = format!("floors IN ({items})");
    let e = parse(&q, Lang::Text, buildings_layer()).unwrap_err();
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["16384 bytes", "max_input_bytes"],
    );
    assert_eq!(e.position, None);
    let e = text_roomy(&q);
    assert_err(&e, ErrorKind::TooExpensive, &["1000 values", "max_in_list"]);
    // At the 1001st value.
    let offset = q.find(", 1000,").unwrap() + 2;
    assert_eq!(e.position.map(|p| p.0), Some(offset));
    let list: Vec<i64> = (0..100_000).collect();
    let j = json!({"op": "in", "args": [{"property": "floors"}, list]});
    let e = json_value_err(&j);
    assert_err(&e, ErrorKind::TooExpensive, &["max_in_list"]);
    assert_eq!(e.pointer, "/args/1/1000");
}

#[test]
fn deep_parentheses_fail_at_depth_21() {
    let q = "(".repeat(100_000) + "floors=1" + &")".repeat(100_000);
    let e = parse(&q, Lang::Text, buildings_layer()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooExpensive);
    let e = text_roomy(&q);
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["more than 20 levels", "max_depth"],
    );
    assert_eq!(e.position, Some((20, 1, 21)));
    // 20 levels are fine.
    let ok = "(".repeat(20) + "floors=1" + &")".repeat(20);
    assert!(parse(&ok, Lang::Text, buildings_layer()).is_ok());
}

#[test]
fn deep_not_chains_fail_at_depth_21() {
    let q = "NOT ".repeat(100_000) + "floors=1";
    let e = text_roomy(&q);
    assert_err(&e, ErrorKind::TooExpensive, &["max_depth"]);
    assert_eq!(e.position, Some((80, 1, 81)));
    // 20 levels are fine: an even number of NOTs is the condition itself.
    let ok = "NOT ".repeat(20) + "floors=3";
    let f = parse(&ok, Lang::Text, buildings_layer()).unwrap();
    assert_eq!(ids(&f, &buildings()), ["b2"]);
}

/// `{"op":"not","args":[` … nested `depth` times around a comparison.
fn nested_not_json(depth: usize) -> String {
    "{\"op\":\"not\",\"args\":[".repeat(depth)
        + "{\"op\":\"=\",\"args\":[{\"property\":\"floors\"},1]}"
        + &"]}".repeat(depth)
}

#[test]
fn deeply_nested_json_is_refused_not_a_crash() {
    let s = nested_not_json(10_000);
    let e = parse(&s, Lang::Json, buildings_layer()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooExpensive);
    let e = parse_with_limits(&s, Lang::Json, buildings_layer(), &roomy()).unwrap_err();
    assert_err(&e, ErrorKind::TooExpensive, &["max_depth"]);
    assert!(e.pointer.starts_with("/args/0/args/0/args/0"), "{e:?}");
    // Plain nested arrays, too (deeper than serde_json's own limit of 128).
    let s = "[".repeat(10_000) + &"]".repeat(10_000);
    let e = parse(&s, Lang::Json, buildings_layer()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooExpensive);
    // Just beyond max_depth: refused by the expression depth check, with the exact pointer.
    let e = parse(&nested_not_json(21), Lang::Json, buildings_layer()).unwrap_err();
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["more than 20 levels", "max_depth"],
    );
    assert_eq!(e.pointer, "/args/0".repeat(21));
    assert!(parse(&nested_not_json(20), Lang::Json, buildings_layer()).is_ok());
}

#[test]
fn a_deep_decoded_json_value_is_refused_without_recursion() {
    let mut v = json!({"op": "=", "args": [{"property": "floors"}, 1]});
    for _ in 0..1000 {
        v = json!({"op": "not", "args": [v]});
    }
    let e = json_value_err(&v);
    assert_err(&e, ErrorKind::TooExpensive, &["max_depth"]);
    assert_eq!(e.pointer, "/args/0".repeat(21));
}

/// For values too big for the default `max_input_bytes` as strings.
fn json_value_err(v: &Value) -> QueryError {
    let e = gengxin_query::parse_json_value(v, buildings_layer()).unwrap_err();
    assert_eq!(e.position, None);
    e
}

#[test]
fn too_many_nodes_are_refused() {
    let term = json!({"op": "=", "args": [{"property": "floors"}, 1]});
    let v = json!({"op": "and", "args": vec![term; 10_000]});
    let e = json_value_err(&v);
    assert_err(&e, ErrorKind::TooExpensive, &["more than 256", "max_nodes"]);
    assert_eq!(e.pointer, "/args/128");
    let q = vec!["floors = 1"; 1000].join(" AND ");
    let e = text_err(&q, buildings_layer());
    assert_err(&e, ErrorKind::TooExpensive, &["max_nodes"]);
    // The 129th term: 128 terms and 128 ANDs make 256 nodes.
    assert_eq!(e.position.map(|p| p.0), Some(128 * "floors = 1 AND ".len()));
}

#[test]
fn a_long_like_pattern_is_refused() {
    let q = format!("name LIKE '{}'", "%a".repeat(5_000));
    let e = text_err(&q, buildings_layer());
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["10000 characters", "256", "max_like_pattern"],
    );
    assert_eq!(e.position, Some((10, 1, 11)));
    let j = json!({"op": "like", "args": [{"property": "name"}, "x".repeat(10_000)]});
    let e = json_err(&j, buildings_layer());
    assert_err(&e, ErrorKind::TooExpensive, &["max_like_pattern"]);
    assert_eq!(e.pointer, "/args/1");
    // 256 characters are fine, and evaluate quickly even when pathological.
    let q = format!("name LIKE '{}b'", "%a".repeat(127));
    let f = text(&q, buildings_layer());
    let long = gengxin_model::Feature::new("x", "generated", at("2024-01-01T00:00:00Z"))
        .set("name", "a".repeat(50_000));
    assert!(!f.matches(&long));
}

#[test]
fn a_polygon_with_too_many_coordinates_is_refused() {
    let n = 200_000;
    let ring: Vec<String> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            format!(
                "{:.6} {:.6}",
                114.3 + 0.01 * a.cos(),
                30.55 + 0.01 * a.sin()
            )
        })
        .collect();
    let q = format!(
        "S_INTERSECTS(geom, POLYGON(({}, {})))",
        ring.join(", "),
        ring[0]
    );
    let e = parse(&q, Lang::Text, buildings_layer()).unwrap_err();
    assert_err(&e, ErrorKind::TooExpensive, &["max_input_bytes"]);
    let e = text_roomy(&q);
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["10000 coordinates", "max_geometry_coords"],
    );
    let at = "S_INTERSECTS(geom, POLYGON((".len()
        + ring[..10_000].iter().map(|c| c.len() + 2).sum::<usize>();
    assert_eq!(e.position.map(|p| p.0), Some(at));
    let coords: Vec<[f64; 2]> = (0..=n)
        .map(|i| {
            let a = (i % n) as f64 / n as f64 * std::f64::consts::TAU;
            [114.3 + 0.01 * a.cos(), 30.55 + 0.01 * a.sin()]
        })
        .collect();
    let j = json!({"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Polygon", "coordinates": [coords]}]});
    let e = json_value_err(&j);
    assert_err(&e, ErrorKind::TooExpensive, &["max_geometry_coords"]);
    assert_eq!(e.pointer, "/args/1/coordinates/0/10000");
}

#[test]
fn a_megabyte_of_input_is_refused_before_parsing() {
    let q = format!("name = '{}'", "x".repeat(1 << 20));
    for lang in [Lang::Text, Lang::Json] {
        let e = parse(&q, lang, buildings_layer()).unwrap_err();
        let size = format!("{} bytes", q.len());
        assert_err(
            &e,
            ErrorKind::TooExpensive,
            &[&size, "16384", "max_input_bytes"],
        );
        assert_eq!(e.position, None);
        assert_eq!(e.pointer, "");
    }
}

#[test]
fn distances_must_be_finite_positive_and_bounded() {
    let l = buildings_layer();
    let e = text_err("S_DWITHIN(geom, POINT(114 30), 1e12)", l);
    assert_err(
        &e,
        ErrorKind::TooExpensive,
        &["1000000000000 m", "50000 m", "max_distance_m"],
    );
    assert_eq!(e.position, Some((31, 1, 32)));
    let e = text_err("S_DWITHIN(geom, POINT(114 30), 60, kilometers)", l);
    assert_err(&e, ErrorKind::TooExpensive, &["60000 m", "max_distance_m"]);
    let e = text_err("S_DWITHIN(geom, POINT(114 30), -5)", l);
    assert_err(&e, ErrorKind::Semantic, &["0 or more"]);
    let e = text_err("S_DWITHIN(geom, POINT(114 30), NaN)", l);
    assert_err(&e, ErrorKind::Semantic, &["finite"]);
    let e = text_err("S_DWITHIN(geom, POINT(114 30), 1e400)", l);
    assert_err(&e, ErrorKind::Semantic, &["out of range"]);
    let j = json!({"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [114.0, 30.0]}, 1e12]});
    let e = json_err(&j, l);
    assert_err(&e, ErrorKind::TooExpensive, &["max_distance_m"]);
    assert_eq!(e.pointer, "/args/2");
    let j = json!({"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [114.0, 30.0]}, -1]});
    assert_eq!(json_err(&j, l).kind, ErrorKind::Semantic);
}

#[test]
fn non_finite_numbers_are_refused() {
    let l = buildings_layer();
    for q in [
        "floors = NaN",
        "height_m > inf",
        "height_m > Infinity",
        "height_m < -inf",
    ] {
        let e = text_err(q, l);
        assert!(
            matches!(e.kind, ErrorKind::Semantic | ErrorKind::Syntax),
            "{q}: {e:?}"
        );
    }
    let e = text_err("floors = NaN", l);
    assert_err(&e, ErrorKind::Semantic, &["not a finite number"]);
    let e = text_err("height_m = 1e999", l);
    assert_err(&e, ErrorKind::Semantic, &["out of range"]);
    assert_eq!(e.position, Some((11, 1, 12)));
    let e = text_err("S_INTERSECTS(geom, POINT(1e999 30))", l);
    assert_err(&e, ErrorKind::Semantic, &["out of range"]);
    // JSON has no NaN or infinity; serde_json refuses them, and out-of-range numbers.
    for s in [
        "{\"op\":\"=\",\"args\":[{\"property\":\"floors\"},NaN]}",
        "{\"op\":\"=\",\"args\":[{\"property\":\"floors\"},Infinity]}",
        "{\"op\":\"=\",\"args\":[{\"property\":\"floors\"},1e999]}",
    ] {
        let e = parse(s, Lang::Json, l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax, "{s}: {e:?}");
    }
}

#[test]
fn unknown_functions_empty_input_and_unbalanced_quotes() {
    let l = buildings_layer();
    let e = text_err("foo(1)", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["unknown function `foo`", "S_INTERSECTS"],
    );
    assert_eq!(e.position, Some((0, 1, 1)));
    let e = text_err("floors = foo(1)", l);
    assert_err(&e, ErrorKind::Semantic, &["unknown function `foo`"]);
    assert_eq!(e.position, Some((9, 1, 10)));
    let e = text_err("S_TOUCHES(geom, POINT(114.3 30.55))", l);
    assert_err(&e, ErrorKind::Semantic, &["unknown function `S_TOUCHES`"]);
    for q in ["", "   ", "\n\t"] {
        let e = text_err(q, l);
        assert_err(&e, ErrorKind::Syntax, &["empty"]);
        assert_eq!(e.position, Some((0, 1, 1)));
        let e = parse(q, Lang::Json, l).unwrap_err();
        assert_err(&e, ErrorKind::Syntax, &["empty"]);
    }
    let e = text_err("name = 'it''s", l);
    assert_err(&e, ErrorKind::Syntax, &["unterminated"]);
    assert_eq!(e.position, Some((7, 1, 8)));
    let e = text_err("\"name = 'x'", l);
    assert_err(&e, ErrorKind::Syntax, &["unterminated property name"]);
    assert_eq!(e.position, Some((0, 1, 1)));
    let e = text_err("name = 'x''", l);
    assert_err(&e, ErrorKind::Syntax, &["unterminated"]);
    let e = text_err("\"\" = 1", l);
    assert_err(&e, ErrorKind::Syntax, &["empty property name"]);
    // A quote inside text is written twice and is then fine.
    let f = text("name = 'it''s'", l);
    assert!(ids(&f, &buildings()).is_empty());
}

#[test]
fn control_characters_are_refused_where_they_are() {
    let l = buildings_layer();
    let e = text_err("name = 'a\u{0}b'", l);
    assert_err(&e, ErrorKind::Syntax, &["U+0000"]);
    assert_eq!(e.position, Some((9, 1, 10)));
    let e = text_err("floors\u{7} = 1", l);
    assert_err(&e, ErrorKind::Syntax, &["U+0007"]);
    assert_eq!(e.position, Some((6, 1, 7)));
    let e = text_err("\u{1b}[31mfloors = 1", l);
    assert_err(&e, ErrorKind::Syntax, &["U+001B"]);
    let e = text_err("floors = 1 \u{feff}", l);
    assert_eq!(e.kind, ErrorKind::Syntax);
    let e = text_err("名称 = 'x'", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["unexpected character '名'", "double quotes"],
    );
    // Non-ASCII whitespace (an ideographic space) is whitespace.
    assert!(parse("floors\u{3000}=\u{3000}3", Lang::Text, l).is_ok());
    // Inside JSON strings, control characters in a LIKE pattern or value are refused by JSON
    // itself when raw, and decoded ones simply match nothing.
    let e = parse(
        "{\"op\":\"=\",\"args\":[{\"property\":\"name\"},\"a\u{1}b\"]}",
        Lang::Json,
        l,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
}

#[test]
fn random_input_never_panics() {
    // A deterministic xorshift generator over CQL2 fragments and raw characters.
    let mut s = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let fragments = [
        "floors",
        "name",
        "geom",
        "start_date",
        "\"use\"",
        " AND ",
        " OR ",
        "NOT ",
        "(",
        ")",
        ",",
        "=",
        "<>",
        "<",
        ">=",
        " LIKE ",
        " IN ",
        " BETWEEN ",
        " IS ",
        "NULL",
        "'x'",
        "'%a_'",
        "3",
        "-2.5",
        "1e3",
        "TRUE",
        "DATE('2024-01-31')",
        "TIMESTAMP('2024-01-31T00:00:00Z')",
        "S_INTERSECTS(",
        "S_DWITHIN(",
        "S_WITHIN(",
        "POINT(114.3 30.55)",
        "POLYGON((",
        "BBOX(114, 30, 115, 31)",
        "114.3 30.55",
        "'",
        "\"",
        "\\",
        "%",
        "--",
        ";",
        "\u{0}",
        "武汉",
        " ",
        "meters",
    ];
    let valid = [
        "floors > 3 AND name LIKE 'B%'",
        "NOT (floors BETWEEN 1 AND 5) OR name IS NULL",
        "S_INTERSECTS(geom, POLYGON((114.29 30.54, 114.32 30.54, 114.32 30.57, 114.29 30.54)))",
        "S_DWITHIN(geom, POINT(114.3 30.55), 500, meters) AND floors IN (1, 2, 3)",
        "start_date >= DATE('2024-01-01') AND stage <> 'reserve'",
        "height_m > floors OR S_WITHIN(geom, BBOX(114, 30, 115, 31))",
    ];
    let layers = [buildings_layer(), projects_layer()];
    let features = buildings();
    let mut parsed = 0;
    for _ in 0..20_000 {
        let pick = |r: u64| fragments[(r % fragments.len() as u64) as usize];
        let q: String = if next() % 2 == 0 {
            // Fragments strung together: mostly garbage.
            let n = 1 + (next() % 12) as usize;
            (0..n).map(|_| pick(next())).collect()
        } else {
            // A valid filter with a fragment inserted or a character removed: often still valid.
            let mut q = valid[(next() % valid.len() as u64) as usize].to_string();
            for _ in 0..next() % 3 {
                let mut i = (next() % (q.len() as u64 + 1)) as usize;
                while !q.is_char_boundary(i) {
                    i -= 1;
                }
                if next() % 2 == 0 {
                    q.insert_str(i, pick(next()));
                } else if i < q.len() {
                    q.remove(i);
                }
            }
            q
        };
        for l in layers {
            if let Ok(f) = parse(&q, Lang::Text, l) {
                parsed += 1;
                for x in &features {
                    f.matches(x);
                }
                let _ = (f.envelope(), f.equalities(), f.properties());
            }
        }
        // Mutations of a valid JSON filter.
        let base = r#"{"op":"and","args":[{"op":"like","args":[{"property":"name"},"B%"]},{"op":"s_intersects","args":[{"property":"geom"},{"bbox":[114.29,30.54,114.32,30.57]}]}]}"#;
        let mut b = base.as_bytes().to_vec();
        for _ in 0..1 + next() % 3 {
            let i = (next() % b.len() as u64) as usize;
            match next() % 3 {
                0 => {
                    b.remove(i);
                }
                1 => b.insert(i, b"{}[],:\"0a-"[(next() % 10) as usize]),
                _ => b[i] = b"{}[],:\"0a-"[(next() % 10) as usize],
            }
        }
        if let Ok(s) = String::from_utf8(b)
            && let Ok(f) = parse(&s, Lang::Json, buildings_layer())
        {
            for x in &features {
                f.matches(x);
            }
        }
    }
    assert!(parsed > 2_000, "{parsed}");
}

/// The cost of testing one feature grows with the terms: each comparison 1, LIKE 4, a spatial
/// predicate at least 4 and `S_DWITHIN` 16 more (it projects); 100 ORed comparisons cost 100.
#[test]
fn a_filter_costs_what_its_terms_cost() {
    let l = buildings_layer();
    let cost = |q: &str| parse(q, Lang::Text, l).unwrap().cost();
    assert_eq!(cost("name = 'a'"), 1);
    assert_eq!(cost("name = 'a' AND NOT name = 'b'"), 2);
    assert_eq!(cost("name LIKE 'a%'"), 4);
    let ors: Vec<String> = (0..100).map(|i| format!("name = 'n{i}'")).collect();
    assert_eq!(cost(&ors.join(" OR ")), 100);
    assert_eq!(cost("S_INTERSECTS(geom, POINT(114.3 30.5))"), 4);
    assert_eq!(
        cost("S_DWITHIN(geom, POINT(114.3 30.5), 50000, meters)"),
        20
    );
}
