//! Plain spreadsheets in memory: the bulk-reporting template (written) and its filled copy
//! (read back as rows of text). One sheet, a header row, text cells.

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::IoError;

/// The most an uploaded workbook may inflate to.
const MAX_INFLATED: u64 = 64 << 20;
/// The most rows read from one upload.
pub const MAX_ROWS: usize = 10_000;

/// A workbook of one sheet: `header`, then `rows`; every cell is text.
pub fn write(
    sheet_name: &str,
    header: &[String],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, IoError> {
    let err =
        |e: rust_xlsxwriter::XlsxError| IoError::Usage(format!("cannot write the workbook: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .set_name(sheet_name.chars().take(31).collect::<String>())
        .map_err(err)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (j, h) in header.iter().enumerate() {
        sheet
            .write_string_with_format(0, j as u16, h, &bold)
            .map_err(err)?;
        sheet.set_column_width(j as u16, 18).map_err(err)?;
    }
    for (i, row) in rows.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            // Cells from data never become formulas.
            sheet
                .write_string(i as u32 + 1, j as u16, crate::export::escape_formula(cell))
                .map_err(err)?;
        }
    }
    book.save_to_buffer().map_err(err)
}

/// The rows of the first sheet as text (the header row first); empty rows skipped. Refuses a
/// workbook that is not one, inflates beyond 64 MiB, or has more than [`MAX_ROWS`] rows.
pub fn read(name: &str, bytes: &[u8]) -> Result<Vec<Vec<String>>, IoError> {
    let bad = |m: String| IoError::File {
        file: name.to_owned(),
        message: m,
    };
    let mut z = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable .xlsx workbook: {e}")))?;
    let mut total = 0u64;
    for i in 0..z.len() {
        let e = z
            .by_index(i)
            .map_err(|e| bad(format!("not a readable .xlsx workbook: {e}")))?;
        total += e.size();
    }
    if total > MAX_INFLATED {
        return Err(bad(format!(
            "the workbook inflates to {total} bytes, more than {MAX_INFLATED}"
        )));
    }
    let mut book = calamine::Xlsx::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable .xlsx workbook: {e}")))?;
    let first = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| bad("the workbook has no sheet".into()))?;
    let range = book
        .worksheet_range(&first)
        .map_err(|e| bad(format!("sheet {first:?}: {e}")))?;
    let rows: Vec<Vec<String>> = range
        .rows()
        .filter(|r| r.iter().any(|c| *c != Data::Empty))
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        format!("{}", *f as i64)
                    }
                    other => other.to_string().trim().to_owned(),
                })
                .collect()
        })
        .collect();
    if rows.len() > MAX_ROWS + 1 {
        return Err(bad(format!("more than {MAX_ROWS} rows")));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_sheet_reads_back_and_garbage_is_refused() {
        let header = vec![
            "项目ID [project_id]".to_owned(),
            "总体进度(%) [progress_pct]".to_owned(),
        ];
        let rows = vec![
            vec!["prj-1".to_owned(), "45".to_owned()],
            vec!["=cmd".to_owned(), String::new()],
        ];
        let bytes = write("填报", &header, &rows).unwrap();
        let back = read("t.xlsx", &bytes).unwrap();
        assert_eq!(back[0], header);
        assert_eq!(back[1], rows[0]);
        assert_eq!(back[2][0], "'=cmd");
        assert!(read("t.xlsx", b"not a zip").is_err());
    }
}
