//! Lists the faces of a font file and renders one glyph range, timing it.
//!
//! `cargo run --release --example render -- FONT_FILE [FACE_NAME] [RANGE] [OUT.pbf]`

use std::{path::PathBuf, time::Instant};

use gengxin_fonts::{Font, faces, parse_range};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .ok_or("usage: render FONT_FILE [FACE_NAME] [RANGE] [OUT]")?,
    );
    for (index, name) in faces(&path)? {
        println!("face {index}: {name}");
    }
    let font = match args.next() {
        Some(name) if !name.is_empty() => Font::find(&path, &name)?,
        _ => Font::open(&path, 0)?,
    };
    let (start, end) = parse_range(&args.next().unwrap_or_else(|| "27392-27647".into()))?;
    let began = Instant::now();
    let pbf = font.glyphs(&font.name(), start, end)?;
    println!(
        "{} (face {}), range {start}-{end}: {} bytes in {:.1} ms",
        font.name(),
        font.index(),
        pbf.len(),
        began.elapsed().as_secs_f64() * 1000.0
    );
    if let Some(out) = args.next() {
        std::fs::write(out, &pbf)?;
    }
    Ok(())
}
