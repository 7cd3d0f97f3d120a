//! Integration tests against Debian's `fonts-noto-cjk` (Noto Sans CJK 2.004).
//!
//! The font is required: `apt-get install -y fonts-noto-cjk`, or point
//! `GENGXIN_TEST_CJK_FONT` at a copy of `NotoSansCJK-Regular.ttc`.

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use gengxin_fonts::{
    Font, FontError, faces, faces_from_bytes, parse_range,
    proto::{Glyph, Glyphs},
};
use prost::Message as _;

const SC: &str = "Noto Sans CJK SC";
const SC_FULL: &str = "Noto Sans CJK SC Regular";

fn font_path() -> PathBuf {
    let path = std::env::var_os("GENGXIN_TEST_CJK_FONT")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc".into());
    assert!(
        path.is_file(),
        "{} is missing: install Debian's fonts-noto-cjk (apt-get install -y fonts-noto-cjk) \
         or set GENGXIN_TEST_CJK_FONT",
        path.display()
    );
    path
}

fn sc_font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| Font::find(&font_path(), SC).expect("Noto Sans CJK SC face"))
}

/// Renders and decodes a range, checking the envelope.
fn decode_range(font: &Font, fontstack: &str, start: u32) -> Vec<Glyph> {
    let pbf = font.glyphs(fontstack, start, start + 255).unwrap();
    let mut msg = Glyphs::decode(pbf.as_slice()).expect("valid glyphs PBF");
    assert_eq!(msg.stacks.len(), 1);
    let stack = msg.stacks.pop().unwrap();
    assert_eq!(stack.name, fontstack);
    assert_eq!(stack.range, format!("{start}-{}", start + 255));
    let ids: Vec<u32> = stack.glyphs.iter().map(|g| g.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids sorted and unique");
    assert!(ids.iter().all(|id| (start..=start + 255).contains(id)));
    stack.glyphs
}

fn glyph(glyphs: &[Glyph], c: char) -> &Glyph {
    glyphs
        .iter()
        .find(|g| g.id == u32::from(c))
        .unwrap_or_else(|| panic!("{c:?} missing"))
}

/// Checks bitmap size and that the SDF has both a clear inside and outside.
fn assert_inked(g: &Glyph) {
    let bitmap = g.bitmap.as_ref().expect("bitmap");
    assert_eq!(
        bitmap.len(),
        ((g.width + 6) * (g.height + 6)) as usize,
        "U+{:04X}",
        g.id
    );
    let inside = bitmap.iter().filter(|&&v| v > 192).count();
    let outside = bitmap.iter().filter(|&&v| v < 64).count();
    assert!(
        inside > 0 && outside > 0,
        "U+{:04X}: {inside} in, {outside} out",
        g.id
    );
    // The 3 px border is outside the ink box, so its corners are far outside the glyph.
    assert!(bitmap[0] < 64 && bitmap[bitmap.len() - 1] < 64);
}

#[test]
fn faces_and_find() {
    let path = font_path();
    let list = faces(&path).unwrap();
    assert_eq!(list.len(), 10, "{list:?}");
    let sc: Vec<_> = list.iter().filter(|(_, n)| n == SC_FULL).collect();
    assert_eq!(sc.len(), 1, "{list:?}");
    let sc_index = sc[0].0;
    assert_eq!(sc_index, 2, "SC is the third face of Debian's collection");
    assert!(
        list.iter()
            .any(|(_, n)| n == "Noto Sans Mono CJK SC Regular")
    );

    let font = sc_font();
    assert_eq!(font.index(), sc_index);
    assert_eq!(font.name(), SC_FULL);
    assert_eq!(font.family(), SC);
    assert_eq!(font.style(), "Regular");
    // Full name and case-insensitive lookups find the same face; Mono is not confused with it.
    assert_eq!(
        Font::find(&path, "noto sans cjk sc regular")
            .unwrap()
            .index(),
        sc_index
    );
    assert_ne!(
        Font::find(&path, "Noto Sans Mono CJK SC").unwrap().index(),
        sc_index
    );
    // Opening by index agrees with find.
    assert_eq!(Font::open(&path, sc_index).unwrap().name(), SC_FULL);
    assert_eq!(
        Font::open(&path, 0).unwrap().name(),
        "Noto Sans CJK JP Regular"
    );

    match Font::find(&path, "Noto Sans CJK XX") {
        Err(FontError::FaceNotFound { available, .. }) => {
            assert!(available.iter().any(|n| n == SC_FULL))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cjk_range_wu() {
    let font = sc_font();
    let (start, end) = parse_range("27392-27647").unwrap();
    assert_eq!((start, end), (0x6B00, 0x6BFF));
    let glyphs = decode_range(font, "Noto Sans CJK SC Regular", start);
    // Every code point of this CJK Unified Ideographs block is in the font.
    assert_eq!(glyphs.len(), 256);
    let wu = glyph(&glyphs, '武');
    assert_inked(wu);
    assert_eq!(wu.advance, 24);
    assert!((18..=25).contains(&wu.width) && (18..=25).contains(&wu.height));
    assert!((0..=3).contains(&wu.left));
    // Ascender 1160/1000 em -> 28 px; the ideograph top is ~0.88 em above the baseline.
    assert!((-10..=-5).contains(&wu.top), "top {}", wu.top);
    for g in &glyphs {
        assert_inked(g);
        assert_eq!(g.advance, 24, "U+{:04X}", g.id);
    }
}

#[test]
fn cjk_range_han_and_fontstack_name() {
    let glyphs = decode_range(sc_font(), "Custom Stack,Fallback", 0x6C00);
    let han = glyph(&glyphs, '汉');
    assert_inked(han);
    assert_eq!(han.advance, 24);
}

#[test]
fn latin_range() {
    let glyphs = decode_range(sc_font(), SC_FULL, 0);
    let a = glyph(&glyphs, 'A');
    assert_inked(a);
    assert!((10..=18).contains(&a.advance), "advance {}", a.advance);
    assert!(a.width < 20);
    let lower = glyph(&glyphs, 'g');
    assert_inked(lower);
    // A descender reaches below the baseline: top - height < -ascender.
    assert!(lower.top - (lower.height as i32) < -28);

    let space = glyph(&glyphs, ' ');
    assert_eq!(space.bitmap, None);
    assert_eq!((space.width, space.height), (0, 0));
    assert!(
        (3..=12).contains(&space.advance),
        "advance {}",
        space.advance
    );
    // Control characters are not in the font.
    assert!(glyphs.iter().all(|g| g.id >= 0x20));
}

/// Exact metrics of `pbf_font_tools` (FreeType 2.12.1, unhinted) for Noto Sans CJK SC
/// 2.004, produced with the reference generator in `fonts-dev/refcheck`:
/// (code point, width, height, left, top, advance).
const FREETYPE_REFERENCE: &[(char, u32, u32, i32, i32, u32)] = &[
    ('武', 23, 23, 1, -7, 24),
    ('汉', 23, 22, 1, -8, 24),
    ('A', 15, 18, 0, -10, 14),
    ('a', 11, 15, 1, -14, 13),
    ('g', 13, 20, 1, -14, 13),
    (' ', 0, 0, 0, -28, 5),
    ('\u{3000}', 0, 0, 0, -28, 24),
    ('。', 8, 8, 1, -22, 24),
];

/// Metrics of fontnik 0.7.7 (sdf-glyph-foundry, tighter ink boxes) for the same glyphs.
const FONTNIK_REFERENCE: &[(char, u32, u32, i32, i32, u32)] = &[
    ('武', 22, 22, 1, -8, 24),
    ('汉', 22, 22, 1, -8, 24),
    ('A', 15, 18, 0, -10, 14),
    ('a', 11, 13, 1, -15, 13),
    ('g', 12, 19, 1, -15, 13),
    (' ', 0, 0, 0, -28, 5),
    ('\u{3000}', 0, 0, 0, -28, 24),
    ('。', 7, 7, 1, -22, 24),
];

fn metrics_of(c: char) -> (u32, u32, i32, i32, u32) {
    let start = u32::from(c) & !0xFF;
    let glyphs = decode_range(sc_font(), SC_FULL, start);
    let g = glyph(&glyphs, c);
    (g.width, g.height, g.left, g.top, g.advance)
}

#[test]
fn metrics_match_freetype_reference() {
    for &(c, w, h, l, t, adv) in FREETYPE_REFERENCE {
        assert_eq!(metrics_of(c), (w, h, l, t, adv), "{c:?}");
    }
}

#[test]
fn metrics_close_to_fontnik() {
    for &(c, w, h, l, t, adv) in FONTNIK_REFERENCE {
        let (w2, h2, l2, t2, adv2) = metrics_of(c);
        assert_eq!(adv2, adv, "{c:?} advance");
        assert!(w2.abs_diff(w) <= 2 && h2.abs_diff(h) <= 2, "{c:?} size");
        assert!(l2.abs_diff(l) <= 1 && t2.abs_diff(t) <= 1, "{c:?} position");
    }
}

#[test]
fn sdf_close_to_freetype_reference() {
    // The SDF pbf_font_tools computes from FreeType's bitmap of '武' (same size, 29 x 29).
    let reference = include_bytes!("fixtures/freetype_sdf_U+6B66.bin");
    let glyphs = decode_range(sc_font(), SC_FULL, 0x6B00);
    let ours = glyph(&glyphs, '武').bitmap.as_ref().unwrap();
    assert_eq!(ours.len(), reference.len());
    let diffs: Vec<u8> = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    let large = diffs.iter().filter(|&&d| d > 16).count();
    assert!(mean < 1.5, "mean |diff| {mean}");
    assert!(
        large * 100 < diffs.len(),
        "{large} pixels differ by more than 16"
    );
}

#[test]
fn missing_range_gives_empty_stack() {
    for start in [0xE000, 0xF_0000, 0x10_FF00] {
        let glyphs = decode_range(sc_font(), SC_FULL, start);
        assert!(glyphs.is_empty(), "U+{start:04X}: {} glyphs", glyphs.len());
    }
}

#[test]
fn bad_ranges() {
    assert!(matches!(parse_range("1-256"), Err(FontError::BadRange(s)) if s == "1-256"));
    let err = sc_font().glyphs(SC_FULL, 1, 256).unwrap_err();
    assert!(matches!(err, FontError::BadRange(_)), "{err:?}");
    assert!(err.to_string().contains("1-256"));
    assert!(matches!(
        sc_font().glyphs(SC_FULL, 0x11_0000, 0x11_00FF),
        Err(FontError::BadRange(_))
    ));
}

#[test]
fn bad_files() {
    let dir = std::env::temp_dir().join(format!("gengxin-fonts-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("missing.ttf");
    let err = Font::open(&missing, 0).unwrap_err();
    assert!(
        matches!(err, FontError::NotFound { ref path } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.ttf"));
    assert!(matches!(faces(&missing), Err(FontError::NotFound { .. })));

    let garbage = dir.join("garbage.ttf");
    std::fs::write(&garbage, b"this is not a font, just some text\n".repeat(50)).unwrap();
    let err = Font::open(&garbage, 0).unwrap_err();
    assert!(matches!(err, FontError::NotAFont(_)), "{err:?}");
    assert!(matches!(
        Font::find(&garbage, SC),
        Err(FontError::NotAFont(_))
    ));

    let empty = dir.join("empty.otf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(Font::open(&empty, 0), Err(FontError::NotAFont(_))));

    // A truncated font (valid header, tables cut off).
    let bytes = std::fs::read(font_path()).unwrap();
    let truncated = bytes[..200].to_vec();
    assert!(matches!(
        Font::from_bytes(truncated, 0),
        Err(FontError::NotAFont(_))
    ));
    // A directory is not readable as a file.
    assert!(matches!(Font::open(&dir, 0), Err(FontError::Io { .. })));

    assert!(matches!(
        Font::from_bytes(bytes.clone(), 10),
        Err(FontError::FaceIndexOutOfRange {
            index: 10,
            count: 10
        })
    ));
    assert_eq!(faces_from_bytes(&bytes).unwrap().len(), 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shared_across_threads() {
    let font = Arc::new(Font::find(&font_path(), SC).unwrap());
    let starts = [0x4E00, 0x6B00, 0x6C00, 0];
    let handles: Vec<_> = starts
        .iter()
        .map(|&start| {
            let font = Arc::clone(&font);
            std::thread::spawn(move || font.glyphs(SC_FULL, start, start + 255).unwrap())
        })
        .collect();
    for (handle, start) in handles.into_iter().zip(starts) {
        let threaded = handle.join().unwrap();
        assert_eq!(threaded, font.glyphs(SC_FULL, start, start + 255).unwrap());
    }
}
