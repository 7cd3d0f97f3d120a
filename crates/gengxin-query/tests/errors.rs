//! Errors are precise: the right kind, a message that says what is wrong and what is accepted, and
//! where (byte offset, line and column for text; a JSON Pointer for JSON).

mod common;

use common::*;
use gengxin_query::{ErrorKind, Lang};
use serde_json::json;

#[test]
fn text_syntax_errors_point_at_the_offending_token() {
    let l = buildings_layer();
    let e = text_err("name = 'x' AND", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected an expression after AND", "end of the filter"],
    );
    assert_eq!(e.position, Some((14, 1, 15)));

    let e = text_err("floors >> 3", l);
    assert_err(&e, ErrorKind::Syntax, &["after >", "found '>'"]);
    assert_eq!(e.position, Some((8, 1, 9)));

    let e = text_err("name = 'abc", l);
    assert_err(&e, ErrorKind::Syntax, &["unterminated", "line 1, column 8"]);
    assert_eq!(e.position, Some((7, 1, 8)));

    let e = text_err("floors", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected a comparison", "after floors"],
    );
    assert_eq!(e.position, Some((6, 1, 7)));

    let e = text_err("floors =", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected a property or a literal after ="],
    );

    let e = text_err("(floors = 3", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected ')' to close the '(' at line 1, column 1"],
    );
    assert_eq!(e.position, Some((11, 1, 12)));

    let e = text_err("floors = 3)", l);
    assert_err(&e, ErrorKind::Syntax, &["unbalanced ')'"]);
    assert_eq!(e.position, Some((10, 1, 11)));

    let e = text_err("floors = 3 floors = 4", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected AND, OR or the end of the filter, found `floors`"],
    );
    assert_eq!(e.position, Some((11, 1, 12)));

    let e = text_err("floors != 3", l);
    assert_err(&e, ErrorKind::Syntax, &["<>"]);
    assert_eq!(e.position, Some((7, 1, 8)));

    let e = text_err("name NOT = 'x'", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected LIKE, IN or BETWEEN after NOT"],
    );
    assert_eq!(e.position, Some((9, 1, 10)));

    let e = text_err("floors IN ()", l);
    assert_err(&e, ErrorKind::Syntax, &["at least one value"]);
    let e = text_err("floors IN 1, 2", l);
    assert_err(&e, ErrorKind::Syntax, &["expected '(' after IN"]);
    let e = text_err("floors BETWEEN 1 OR 2", l);
    assert_err(&e, ErrorKind::Syntax, &["expected AND between the bounds"]);
    let e = text_err("floors IS 3", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected NULL or NOT NULL after IS"],
    );
    let e = text_err("AND = 1", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected a condition", "keyword AND"],
    );
    assert_eq!(e.position, Some((0, 1, 1)));
    let e = text_err("floors = 1 AND OR floors = 2", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected an expression after AND, found the keyword OR"],
    );
    let e = text_err("floors = 3e", l);
    assert_err(&e, ErrorKind::Syntax, &["exponent"]);
    let e = text_err("floors = 12abc", l);
    assert_err(&e, ErrorKind::Syntax, &["malformed number"]);
}

#[test]
fn text_positions_count_lines_and_characters() {
    let l = buildings_layer();
    let e = text_err("floors = 3\nAND name = 5", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["`name` is text", "the number 5", "single quotes"],
    );
    assert_eq!(e.position, Some((22, 2, 12)));
    // Columns count characters, offsets count bytes.
    let e = text_err("name = '武汉' AND colour = 1", l);
    assert_err(&e, ErrorKind::Semantic, &["unknown property `colour`"]);
    assert_eq!(e.position, Some((20, 1, 17)));
}

#[test]
fn semantic_errors_name_the_problem_and_the_alternatives() {
    let l = buildings_layer();
    let e = text_err("colour = 'red'", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &[
            "unknown property `colour`",
            "layer `buildings`",
            "floors",
            "height_m",
            "geom",
            "created_at",
        ],
    );
    assert_eq!(e.position, Some((0, 1, 1)));
    let e = text_err("Floors = 1", l);
    assert_err(&e, ErrorKind::Semantic, &["did you mean `floors`"]);

    let e = text_err("floors = '3'", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["`floors` is an integer", "the text '3'", "without quotes"],
    );
    assert_eq!(e.position, Some((9, 1, 10)));
    let e = text_err("height_m > TRUE", l);
    assert_err(&e, ErrorKind::Semantic, &["`height_m` is a number"]);
    let e = text_err("floors LIKE '1%'", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["LIKE works on text properties", "`floors` is an integer"],
    );
    let e = text_err("name LIKE 5", l);
    assert_err(&e, ErrorKind::Semantic, &["LIKE pattern must be text"]);
    let e = text_err(r"name LIKE 'abc\'", l);
    assert_err(&e, ErrorKind::Semantic, &["escape character"]);
    let e = text_err("floors IN (1, 'two', 3)", l);
    assert_err(&e, ErrorKind::Semantic, &["the text 'two'"]);
    assert_eq!(e.position, Some((14, 1, 15)));
    let e = text_err("name = floors", l);
    assert_err(&e, ErrorKind::Semantic, &["cannot be compared"]);
    let e = text_err("geom = 3", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["`geom` is the geometry", "S_INTERSECTS"],
    );
    let e = text_err("name = POINT(114.3 30.55)", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["geometry literal can only be an argument"],
    );
    assert_eq!(e.position, Some((7, 1, 8)));
    let e = text_err("S_INTERSECTS(floors, POINT(114.3 30.55))", l);
    assert_err(&e, ErrorKind::Semantic, &["`floors` is an integer"]);
    assert_eq!(e.position, Some((13, 1, 14)));
    let e = text_err("S_INTERSECTS(geom, geom)", l);
    assert_err(&e, ErrorKind::Semantic, &["found `geom` twice"]);
    let e = text_err("S_INTERSECTS(POINT(1 1), POINT(1 1))", l);
    assert_err(&e, ErrorKind::Semantic, &["two literals"]);
    let e = text_err("S_INTERSECTS(geom, 'POINT(1 1)')", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["expected the geometry property `geom` or a geometry literal"],
    );
    let e = text_err("S_INTERSECTS(geom, DATE('2024-01-01'))", l);
    assert_err(&e, ErrorKind::Semantic, &["the date 2024-01-01"]);
    let e = text_err("S_INTERSECTS(geom, POINT(30.55 114.3))", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["outside the lon/lat range", "longitude first"],
    );
    let e = text_err("S_INTERSECTS(geom, BBOX(114.32, 30.54, 114.29, 30.57))", l);
    assert_err(&e, ErrorKind::Semantic, &["min <= max"]);
    let e = text_err("S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32))", l);
    assert_err(&e, ErrorKind::Semantic, &["4 numbers"]);
    let e = text_err("S_INTERSECTS(geom, POINT EMPTY)", l);
    assert_err(&e, ErrorKind::Semantic, &["empty geometries"]);
    let e = text_err("S_INTERSECTS(geom, GEOMETRYCOLLECTION(POINT(1 1)))", l);
    assert_err(&e, ErrorKind::Semantic, &["GEOMETRYCOLLECTION"]);
    let e = text_err("S_INTERSECTS(geom, LINESTRING(114.3 30.55))", l);
    assert_err(&e, ErrorKind::Semantic, &["at least 2"]);
    let e = text_err("S_DWITHIN(geom, POINT(114.3 30.55))", l);
    assert_err(&e, ErrorKind::Syntax, &["S_DWITHIN takes a distance"]);
    let e = text_err("S_DWITHIN(geom, POINT(114.3 30.55), 10, furlongs)", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["unknown distance unit", "meters"],
    );
    assert_eq!(e.position, Some((40, 1, 41)));
    let e = text_err("S_DWITHIN(geom, POINT(-74 40.7), 10)", l);
    assert_err(&e, ErrorKind::Semantic, &["Gauss–Krüger"]);
    let e = text_err("S_INTERSECTS(geom, POINT(114.3 30.55)) = TRUE", l);
    assert_err(&e, ErrorKind::Syntax, &["expected AND, OR or the end"]);
    let e = text_err("floors = S_INTERSECTS(geom, POINT(114.3 30.55))", l);
    assert_err(&e, ErrorKind::Semantic, &["is a condition, not a value"]);
    let e = text_err("TRUE", l);
    assert_err(&e, ErrorKind::Syntax, &["expected a comparison"]);
}

#[test]
fn polygon_rings_must_be_closed_with_four_points() {
    let l = buildings_layer();
    let e = text_err("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1)))", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["ring has 3 point(s)", "at least 4"],
    );
    assert_eq!(e.position, Some((27, 1, 28)));
    let e = text_err("S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 1)))", l);
    assert_err(&e, ErrorKind::Semantic, &["not closed", "(0 0)", "(0 1)"]);
    // The hole is the bad ring.
    let e = text_err(
        "S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2)))",
        l,
    );
    assert_err(&e, ErrorKind::Semantic, &["at least 4"]);
    assert_eq!(e.position, Some((49, 1, 50)));
    let j = json!({"op": "s_intersects", "args": [{"property": "geom"},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}]});
    let e = json_err(&j, l);
    assert_err(&e, ErrorKind::Semantic, &["at least 4"]);
    assert_eq!(e.pointer, "/args/1/coordinates/0");
    let j = json!({"op": "s_within", "args": [{"property": "geom"},
    {"type": "MultiPolygon", "coordinates": [
        [[[0, 0], [1, 0], [1, 1], [0, 0]]],
        [[[2, 2], [3, 2], [3, 3], [2, 3]]]
    ]}]});
    let e = json_err(&j, l);
    assert_err(&e, ErrorKind::Semantic, &["not closed"]);
    assert_eq!(e.pointer, "/args/1/coordinates/1/0");
}

#[test]
fn dates_and_timestamps_are_strict() {
    let l = projects_layer();
    let e = text_err("start_date = 5", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["`start_date` is a date", "DATE('2024-01-31')"],
    );
    let e = text_err("start_date = '2024-13-01'", l);
    assert_err(&e, ErrorKind::Semantic, &["not a date YYYY-MM-DD"]);
    let e = text_err("start_date = DATE('2024-02-30')", l);
    assert_err(&e, ErrorKind::Semantic, &["not a date"]);
    assert_eq!(e.position, Some((18, 1, 19)));
    let e = text_err("start_date = TIMESTAMP('2024-01-31T00:00:00Z')", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["`start_date` is a date", "the timestamp"],
    );
    let e = text_err("updated_at > DATE('2024-01-31')", l);
    assert_err(&e, ErrorKind::Semantic, &["`updated_at` is a timestamp"]);
    let e = text_err("updated_at > '2024-01-31 08:00'", l);
    assert_err(&e, ErrorKind::Semantic, &["not an RFC 3339 timestamp"]);
    let e = text_err("updated_at > TIMESTAMP(20240131)", l);
    assert_err(
        &e,
        ErrorKind::Syntax,
        &["TIMESTAMP takes text in single quotes"],
    );
    let e = text_err("start_date > planned_end_date OR stage > 1", l);
    assert_err(&e, ErrorKind::Semantic, &["`stage` is text"]);
    let e = text_err("S_INTERSECTS(geom, POINT(114.3 30.55))", l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["layer `projects` has no geometry"],
    );
    let r = reports_layer();
    let e = text_err("anonymous < TRUE", r);
    assert_err(&e, ErrorKind::Semantic, &["only be compared with = and <>"]);
    let e = text_err("anonymous BETWEEN FALSE AND TRUE", r);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["BETWEEN needs an ordered property"],
    );
    let j = json!({"op": "=", "args": [{"property": "start_date"}, {"date": "2024-02-30"}]});
    let e = json_err(&j, l);
    assert_err(&e, ErrorKind::Semantic, &["not a date"]);
    assert_eq!(e.pointer, "/args/1");
}

#[test]
fn json_errors_carry_pointers_to_the_offending_element() {
    let l = buildings_layer();
    let j = json!({"op": "and", "args": [
        {"op": "=", "args": [{"property": "floors"}, {"property": "colour"}]},
        {"op": "=", "args": [{"property": "floors"}, 1]}
    ]});
    let e = json_err(&j, l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["unknown property `colour`", "floors"],
    );
    assert_eq!(e.pointer, "/args/0/args/1");

    let j = json!({"op": "or", "args": [
        {"op": "=", "args": [{"property": "floors"}, 1]},
        {"op": "not", "args": [{"op": "foo", "args": []}]}
    ]});
    let e = json_err(&j, l);
    assert_err(
        &e,
        ErrorKind::Semantic,
        &["unknown operator \"foo\"", "s_dwithin"],
    );
    assert_eq!(e.pointer, "/args/1/args/0/op");

    let cases = [
        (
            json!({"op": "=", "args": [{"property": "floors"}]}),
            ErrorKind::Syntax,
            "/args",
            "takes 2 arguments",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors"}, "3"]}),
            ErrorKind::Semantic,
            "/args/1",
            "is an integer",
        ),
        (
            json!({"op": "like", "args": [{"property": "name"}, 5]}),
            ErrorKind::Semantic,
            "/args/1",
            "LIKE pattern must be text",
        ),
        (
            json!({"op": "like", "args": [{"property": "floors"}, "1%"]}),
            ErrorKind::Semantic,
            "/args/0",
            "LIKE works on text",
        ),
        (
            json!({"op": "in", "args": [{"property": "floors"}, [1, "two", 3]]}),
            ErrorKind::Semantic,
            "/args/1/1",
            "the text 'two'",
        ),
        (
            json!({"op": "in", "args": [{"property": "floors"}, 1]}),
            ErrorKind::Syntax,
            "/args/1",
            "must be an array",
        ),
        (
            json!({"op": "in", "args": [{"property": "floors"}, []]}),
            ErrorKind::Syntax,
            "/args/1",
            "at least one value",
        ),
        (
            json!({"op": "between", "args": [{"property": "floors"}, 1, "x"]}),
            ErrorKind::Semantic,
            "/args/2",
            "the text 'x'",
        ),
        (
            json!({"op": "isNull", "args": [3]}),
            ErrorKind::Semantic,
            "/args/0",
            "needs a property",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors"}, 1], "sql": "DROP"}),
            ErrorKind::Syntax,
            "/sql",
            "unknown member",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors", "x": 1}, 1]}),
            ErrorKind::Syntax,
            "/args/0/x",
            "unknown member",
        ),
        (
            json!({"op": "=", "args": [{"property": 7}, 1]}),
            ErrorKind::Syntax,
            "/args/0/property",
            "must be a string",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors"}, {"op": "+", "args": [1, 2]}]}),
            ErrorKind::Semantic,
            "/args/1",
            "no arithmetic",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors"}, null]}),
            ErrorKind::Semantic,
            "/args/1",
            "isNull",
        ),
        (
            json!({"op": "=", "args": [{"property": "floors"}, [1]]}),
            ErrorKind::Semantic,
            "/args/1",
            "only allowed as the list",
        ),
        (
            json!({"op": 3, "args": []}),
            ErrorKind::Syntax,
            "/op",
            "must be a string",
        ),
        (
            json!({"op": "and", "args": {"a": 1}}),
            ErrorKind::Syntax,
            "/args",
            "must be an array",
        ),
        (
            json!({"op": "and", "args": [{"op": "=", "args": [{"property": "floors"}, 1]}]}),
            ErrorKind::Syntax,
            "/args",
            "at least 2",
        ),
        (json!({"op": "and"}), ErrorKind::Syntax, "", "no \"args\""),
        (
            json!({"args": []}),
            ErrorKind::Syntax,
            "",
            "\"op\" is missing",
        ),
        (
            json!({"property": "floors"}),
            ErrorKind::Semantic,
            "",
            "found a property or literal",
        ),
        (json!(true), ErrorKind::Semantic, "", "bare true or false"),
        (json!("floors = 3"), ErrorKind::Syntax, "", "found a string"),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [300, 30]}]}),
            ErrorKind::Semantic,
            "/args/1/coordinates",
            "outside the lon/lat range",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, {"type": "LineString", "coordinates": [[114.3, 30.5], [114.3, "x"]]}]}),
            ErrorKind::Syntax,
            "/args/1/coordinates/1/1",
            "expected a number",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Circle", "coordinates": [1, 2]}]}),
            ErrorKind::Semantic,
            "/args/1/type",
            "unknown geometry type",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, {"type": "GeometryCollection", "geometries": []}]}),
            ErrorKind::Syntax,
            "/args/1/geometries",
            "unknown member",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [1, 2, 3]}]}),
            ErrorKind::Semantic,
            "/args/1/bbox",
            "4 numbers",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "name"}, {"bbox": [1, 2, 3, 4]}]}),
            ErrorKind::Semantic,
            "/args/0",
            "`name` is text",
        ),
        (
            json!({"op": "s_intersects", "args": [{"property": "geom"}, "POINT(1 1)"]}),
            ErrorKind::Syntax,
            "/args/1",
            "found a string",
        ),
        (
            json!({"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [114.3, 30.55]}, 500, "furlongs"]}),
            ErrorKind::Semantic,
            "/args/3",
            "unknown distance unit",
        ),
        (
            json!({"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [114.3, 30.55]}, "500"]}),
            ErrorKind::Semantic,
            "/args/2",
            "number of metres",
        ),
        (
            json!({"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [114.3, 30.55]}]}),
            ErrorKind::Syntax,
            "/args",
            "takes 3 or 4 arguments",
        ),
        (
            json!({"op": "=", "args": [{"property": "created_at"}, {"timestamp": "yesterday"}]}),
            ErrorKind::Semantic,
            "/args/1",
            "not an RFC 3339 timestamp",
        ),
    ];
    for (j, kind, pointer, words) in cases {
        let e = json_err(&j, l);
        assert_err(&e, kind, &[words]);
        assert_eq!(e.pointer, pointer, "{j}: {e:?}");
    }
}

#[test]
fn malformed_json_is_a_syntax_error_with_serde_line_and_column() {
    let l = buildings_layer();
    for s in [
        "{\"op\": \"=\", \"args\": [",
        "{op: 1}",
        "[1, 2",
        "{\"op\": \"=\", \"args\": [{\"property\": \"floors\"}, NaN]}",
        "",
    ] {
        let e = gengxin_query::parse(s, Lang::Json, l).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax, "{s}: {e:?}");
        assert_eq!(e.pointer, "");
        assert_eq!(e.position, None);
        if !s.is_empty() {
            assert!(
                e.message.contains("not valid JSON") && e.message.contains("line 1 column"),
                "{e}"
            );
        }
    }
}
