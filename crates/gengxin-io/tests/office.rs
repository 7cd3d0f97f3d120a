//! Exports for people: CSV and xlsx as an office opens them in Excel (Chinese or English field
//! titles, code names, a UTF-8 byte order mark, a second sheet of codes), read back with the `csv`
//! and `calamine` readers; and the machine form (`Labels::Codes`) unchanged.

use calamine::{Data, Reader};
use gengxin_io::Format;
use gengxin_io::export::{Labels, Table, write, write_for};
use gengxin_model::{Feature, Layer};

fn projects() -> Table {
    let l = Layer::by_name("projects").unwrap();
    let f = Feature::new("proj-1", "test", chrono::Utc::now())
        .set("code", "WC-2026-001")
        .set("name", "粮道街老旧小区改造")
        .set("renewal_object_id", "ro-1")
        .set("district_code", "420106")
        .set("stage", "construction")
        .set("progress_pct", 42.5)
        .set("start_date", "2026-01-01")
        .set("planned_end_date", "2027-06-30")
        .set("parcel_ids", r#"["p1","p2"]"#);
    Table::of_layer(l, vec![f])
}

fn reports() -> Table {
    let l = Layer::by_name("resident_reports").unwrap();
    let f = Feature::new("rr-1", "test", chrono::Utc::now())
        .set("category", "advertising")
        .set("description", "违规张贴小广告")
        .set("status", "filed")
        .set("reported_at", "2026-09-23T03:16:00.000Z")
        .set("community_code", "420102002003")
        .set("anonymous", false);
    Table::of_layer(l, vec![f])
}

fn read_csv(path: &std::path::Path) -> (Vec<u8>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (bytes, rows)
}

fn col(rows: &[Vec<String>], heading: &str) -> String {
    let j = rows[0]
        .iter()
        .position(|h| h == heading)
        .unwrap_or_else(|| panic!("no column {heading:?} in {:?}", rows[0]));
    rows[1][j].clone()
}

#[test]
fn csv_for_people_has_chinese_titles_code_names_and_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    write_for(&projects(), Format::Csv, &path, Labels::Zh).unwrap();
    let (bytes, rows) = read_csv(&path);
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf", "UTF-8 byte order mark");
    assert_eq!(rows[0][0], "编号");
    assert_eq!(rows[0][1], "项目编号");
    assert!(rows[0].contains(&"关联地块".to_owned()), "{:?}", rows[0]);
    assert!(!rows[0].iter().any(|h| h.is_ascii()), "{:?}", rows[0]);
    assert_eq!(col(&rows, "当前阶段"), "建设实施");
    assert_eq!(col(&rows, "项目名称"), "粮道街老旧小区改造");
    assert_eq!(col(&rows, "总体进度(%)"), "42.5");

    write_for(&projects(), Format::Csv, &path, Labels::En).unwrap();
    let (_, rows) = read_csv(&path);
    assert_eq!(rows[0][0], "ID");
    assert_eq!(col(&rows, "Stage"), "construction");
    assert_eq!(col(&rows, "Planned end date"), "2027-06-30");
}

#[test]
fn csv_for_people_has_beijing_times_and_named_booleans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    write_for(&reports(), Format::Csv, &path, Labels::Zh).unwrap();
    let (_, rows) = read_csv(&path);
    assert_eq!(col(&rows, "反映时间"), "2026-09-23 11:16:00");
    assert_eq!(col(&rows, "类别"), "宣传广告");
    assert_eq!(col(&rows, "匿名"), "否");
    write(&reports(), Format::Csv, &path).unwrap();
    let (_, rows) = read_csv(&path);
    assert_eq!(col(&rows, "reported_at"), "2026-09-23T03:16:00.000Z");
    assert_eq!(col(&rows, "anonymous"), "false");
}

#[test]
fn csv_with_codes_keeps_field_names_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    write(&projects(), Format::Csv, &path).unwrap();
    let (bytes, rows) = read_csv(&path);
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf");
    assert_eq!(&rows[0][..3], ["id", "code", "name"]);
    assert_eq!(col(&rows, "stage"), "construction");
}

#[test]
fn xlsx_for_people_has_titles_names_and_a_sheet_of_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.xlsx");
    write_for(&projects(), Format::Xlsx, &path, Labels::Zh).unwrap();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["更新项目", "代码"]);
    let data = book.worksheet_range("更新项目").unwrap();
    let rows: Vec<Vec<String>> = data
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0][0], "编号");
    assert_eq!(col(&rows, "当前阶段"), "建设实施");
    // Numbers stay numbers.
    let j = rows[0].iter().position(|h| h == "总体进度(%)").unwrap();
    assert_eq!(data.rows().nth(1).unwrap()[j], Data::Float(42.5));

    let codes = book.worksheet_range("代码").unwrap();
    let rows: Vec<Vec<String>> = codes
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0], ["列", "字段", "代码", "名称"]);
    assert!(
        rows.iter()
            .any(|r| r == &["当前阶段", "stage", "construction", "建设实施"]),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r[0] == "项目名称" && r[1] == "name"));

    write_for(&projects(), Format::Xlsx, &path, Labels::En).unwrap();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["Renewal projects", "Codes"]);
    let codes = book.worksheet_range("Codes").unwrap();
    assert!(
        codes
            .rows()
            .any(|r| r[2] == "construction" && r[3] == "construction" && r[0] == "Stage")
    );
}

#[test]
fn xlsx_with_codes_is_one_sheet_of_field_names_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.xlsx");
    write(&projects(), Format::Xlsx, &path).unwrap();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["projects"]);
    let data = book.worksheet_range("projects").unwrap();
    let rows: Vec<Vec<String>> = data
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(col(&rows, "stage"), "construction");
}
