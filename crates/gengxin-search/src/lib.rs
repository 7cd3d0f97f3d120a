//! Fuzzy search over the names and codes of every object (module 1, 信息检索), on tantivy.
//!
//! A name is indexed three ways: as Chinese character unigrams and bigrams (so any part of a
//! name matches, and a name with one wrong character still shares most of its n-grams with the
//! right one), as full pinyin and as pinyin initials (`hongshan` and `hsq` both find 洪山区,
//! matched as prefixes and, for full pinyin, with one typo allowed). Codes match by prefix. Hits
//! are ranked by BM25 with exact names and code prefixes first, and can be filtered by type
//! (layer) and district.
//!
//! The index lives in memory and knows nothing of stores: callers give it [`Doc`]s and replace
//! them when data changes.

use pinyin::ToPinyin;
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RegexQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, NgramTokenizer, TextAnalyzer, TokenStream};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// One searchable object.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The layer it belongs to (`admin_units`, `renewal_objects`, …): the hit's type.
    pub layer: String,
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    /// The 6-digit code of its district, for filtering.
    pub district: Option<String>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub layer: String,
    pub id: String,
    pub name: String,
    pub code: Option<String>,
    pub district: Option<String>,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

struct Fields {
    key: Field,
    layer: Field,
    id: Field,
    name: Field,
    exact: Field,
    code: Field,
    code_raw: Field,
    pinyin: Field,
    initials: Field,
    district: Field,
    name_len: Field,
}

/// The in-memory index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: std::sync::Mutex<IndexWriter>,
    f: Fields,
}

const CJK: &str = "cjk_ngram";
/// Writer memory (tantivy's minimum is 15 MB per thread).
const WRITER_BYTES: usize = 50_000_000;

/// Full pinyin and initials of a name: Chinese characters by their most common reading, ASCII
/// letters and digits as they are (lower case), everything else dropped.
pub fn pinyin_of(name: &str) -> (String, String) {
    let (mut full, mut initials) = (String::new(), String::new());
    for (c, p) in name.chars().zip(name.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
            }
            None if c.is_ascii_alphanumeric() => {
                full.push(c.to_ascii_lowercase());
                initials.push(c.to_ascii_lowercase());
            }
            None => {}
        }
    }
    (full, initials)
}

impl SearchIndex {
    /// An index of these documents.
    pub fn new(docs: impl IntoIterator<Item = Doc>) -> Result<SearchIndex, SearchError> {
        let mut b = Schema::builder();
        let text = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(CJK)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored();
        let f = Fields {
            key: b.add_text_field("key", STRING),
            layer: b.add_text_field("layer", STRING | STORED),
            id: b.add_text_field("id", STORED),
            name: b.add_text_field("name", text),
            exact: b.add_text_field("exact", STRING),
            code: b.add_text_field("code", STRING),
            code_raw: b.add_text_field("code_raw", STORED),
            pinyin: b.add_text_field("pinyin", STRING),
            initials: b.add_text_field("initials", STRING),
            district: b.add_text_field("district", STRING | STORED),
            name_len: b.add_u64_field("name_len", FAST),
        };
        let index = Index::create_in_ram(b.build());
        index.tokenizers().register(
            CJK,
            TextAnalyzer::builder(NgramTokenizer::new(1, 2, false).expect("valid n-gram sizes"))
                .filter(LowerCaser)
                .build(),
        );
        let writer = index.writer(WRITER_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let s = SearchIndex {
            index,
            reader,
            writer: std::sync::Mutex::new(writer),
            f,
        };
        s.replace(&[], docs)?;
        Ok(s)
    }

    fn key(layer: &str, id: &str) -> String {
        format!("{layer}\u{1f}{id}")
    }

    /// Removes the documents of these `(layer, id)`s and adds `docs`, in one commit; readers
    /// see the old or the new state, never half of it.
    pub fn replace(
        &self,
        remove: &[(String, String)],
        docs: impl IntoIterator<Item = Doc>,
    ) -> Result<(), SearchError> {
        let f = &self.f;
        let mut w = self.writer.lock().expect("search writer lock");
        for (layer, id) in remove {
            w.delete_term(Term::from_field_text(f.key, &Self::key(layer, id)));
        }
        for d in docs {
            let mut doc = TantivyDocument::default();
            doc.add_text(f.key, Self::key(&d.layer, &d.id));
            // Re-adding an object replaces it.
            w.delete_term(Term::from_field_text(f.key, &Self::key(&d.layer, &d.id)));
            doc.add_text(f.layer, &d.layer);
            doc.add_text(f.id, &d.id);
            doc.add_text(f.name, &d.name);
            doc.add_text(f.exact, d.name.to_lowercase());
            doc.add_u64(f.name_len, d.name.chars().count() as u64);
            let (full, initials) = pinyin_of(&d.name);
            doc.add_text(f.pinyin, full);
            doc.add_text(f.initials, initials);
            if let Some(c) = &d.code {
                doc.add_text(f.code, c.to_lowercase());
                doc.add_text(f.code_raw, c);
            }
            if let Some(dc) = &d.district {
                doc.add_text(f.district, dc);
            }
            w.add_document(doc)?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The best `limit` hits for `q`, optionally only of one layer and one district.
    pub fn search(
        &self,
        q: &str,
        layer: Option<&str>,
        district: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Hit>, SearchError> {
        let f = &self.f;
        let q = q.trim().to_lowercase();
        if q.is_empty() || limit == 0 {
            return Ok(vec![]);
        }
        let boost = |q: Box<dyn Query>, b: f32| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(BoostQuery::new(q, b)))
        };
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let ascii = q.is_ascii();
        // Character n-grams of a Chinese query against the names'. Latin letters make poor
        // n-grams (every name has an "a"): an ASCII query is matched as pinyin, code or a
        // substring of the name instead.
        let mut analyzer = self.index.tokenizers().get(CJK).expect("registered");
        let mut stream = analyzer.token_stream(if ascii { "" } else { &q });
        while let Some(t) = stream.next() {
            let term = Term::from_field_text(f.name, &t.text);
            // Bigrams say more than single characters.
            let weight = if t.text.chars().count() > 1 { 2.0 } else { 1.0 };
            should.push(boost(
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                weight,
            ));
        }
        should.push(boost(
            Box::new(TermQuery::new(
                Term::from_field_text(f.exact, &q),
                IndexRecordOption::Basic,
            )),
            20.0,
        ));
        let prefix = format!("{}.*", regex_escape(&q));
        if ascii {
            let inside = format!(".*{}.*", regex_escape(&q));
            should.push(boost(
                Box::new(RegexQuery::from_pattern(&inside, f.exact)?),
                4.0,
            ));
        }
        if q.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            should.push(boost(
                Box::new(RegexQuery::from_pattern(&prefix, f.code)?),
                8.0,
            ));
        }
        if q.chars().all(|c| c.is_ascii_lowercase()) {
            should.push(boost(
                Box::new(RegexQuery::from_pattern(&prefix, f.pinyin)?),
                6.0,
            ));
            should.push(boost(
                Box::new(RegexQuery::from_pattern(&prefix, f.initials)?),
                5.0,
            ));
            if q.len() >= 4 {
                should.push(boost(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.pinyin, &q),
                        1,
                        true,
                    )),
                    3.0,
                ));
            }
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        for (field, v) in [(f.layer, layer), (f.district, district)] {
            if let Some(v) = v {
                must.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_text(field, v),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        }
        let searcher = self.reader.searcher();
        // Prefix and fuzzy matches score alike; among equal scores the shorter name (洪山区
        // before 洪山街街道) is the likelier target: ranked by (score, shorter name).
        let ranked = TopDocs::with_limit(limit).tweak_score(|segment: &tantivy::SegmentReader| {
            let len = segment.fast_fields().u64("name_len").ok();
            move |doc: tantivy::DocId, score: tantivy::Score| {
                let n = len.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
                (score, std::cmp::Reverse(n))
            }
        });
        let top = searcher.search(&BooleanQuery::new(must), &ranked)?;
        let mut hits = Vec::with_capacity(top.len());
        for ((score, _), addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            hits.push(Hit {
                layer: text(f.layer).unwrap_or_default(),
                id: text(f.id).unwrap_or_default(),
                name: text(f.name).unwrap_or_default(),
                code: text(f.code_raw),
                district: text(f.district),
                score,
            });
        }
        Ok(hits)
    }

    /// How many objects are indexed.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The query text as a literal inside a regular expression.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(layer: &str, id: &str, name: &str, code: Option<&str>) -> Doc {
        Doc {
            layer: layer.into(),
            id: id.into(),
            name: name.into(),
            code: code.map(Into::into),
            district: code.map(|c| c[..6.min(c.len())].to_owned()),
        }
    }

    fn index() -> SearchIndex {
        SearchIndex::new([
            doc("admin_units", "420111", "洪山区", Some("420111")),
            doc("admin_units", "420102", "江岸区", Some("420102")),
            doc("admin_units", "420103", "江汉区", Some("420103")),
            doc("admin_units", "420104", "硚口区", Some("420104")),
            doc(
                "admin_units",
                "420102001",
                "汉口火车站街道",
                Some("420102001"),
            ),
            doc("renewal_objects", "ro-1", "洪山村城中村", Some("420111")),
            doc(
                "projects",
                "p-1",
                "汉口老城区更新项目",
                Some("GX2021-420102-0001"),
            ),
            doc("facilities", "f-1", "Wuhan Library 武汉图书馆", None),
        ])
        .unwrap()
    }

    fn first(ix: &SearchIndex, q: &str) -> String {
        ix.search(q, None, None, 5)
            .unwrap()
            .first()
            .map(|h| h.name.clone())
            .unwrap_or_default()
    }

    #[test]
    fn chinese_pinyin_initials_typos_and_codes_find_the_right_object() {
        let ix = index();
        assert_eq!(ix.len(), 8);
        assert_eq!(first(&ix, "洪山区"), "洪山区", "exact name first");
        assert_eq!(first(&ix, "硚口"), "硚口区", "part of a name");
        assert_eq!(first(&ix, "洪三区"), "洪山区", "one wrong character");
        assert_eq!(first(&ix, "hongshan"), "洪山区", "full pinyin prefix");
        assert_eq!(
            first(&ix, "hongshen"),
            "洪山区",
            "full pinyin with one typo"
        );
        assert_eq!(first(&ix, "hkhczjd"), "汉口火车站街道", "initials");
        let hks: Vec<String> = ix
            .search("hk", None, None, 5)
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert!(
            hks.contains(&"汉口火车站街道".to_owned())
                && hks.contains(&"汉口老城区更新项目".to_owned()),
            "{hks:?}"
        );
        assert_eq!(first(&ix, "4201020"), "汉口火车站街道", "code prefix");
        assert_eq!(
            first(&ix, "gx2021-4201"),
            "汉口老城区更新项目",
            "project code prefix"
        );
        let gx = ix.search("gx2021", None, None, 1).unwrap();
        assert_eq!(
            gx[0].code.as_deref(),
            Some("GX2021-420102-0001"),
            "codes keep their case"
        );
        assert_eq!(first(&ix, "library"), "Wuhan Library 武汉图书馆");
        assert!(ix.search("zzzz", None, None, 5).unwrap().is_empty());
        assert!(ix.search("  ", None, None, 5).unwrap().is_empty());
        // Regular-expression characters are literals.
        assert!(ix.search(".*", None, None, 5).unwrap().is_empty());
    }

    #[test]
    fn filters_and_replacement() {
        let ix = index();
        let only = ix.search("洪山", Some("renewal_objects"), None, 5).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].id, "ro-1");
        let in_district = ix.search("区", None, Some("420102"), 10).unwrap();
        assert!(
            in_district
                .iter()
                .all(|h| h.district.as_deref() == Some("420102"))
        );
        assert!(!in_district.is_empty());
        // A renamed object is found by its new name only; a removed one not at all.
        ix.replace(
            &[("admin_units".into(), "420104".into())],
            [doc("admin_units", "420111", "洪山新区", Some("420111"))],
        )
        .unwrap();
        assert_eq!(ix.len(), 7);
        assert_eq!(first(&ix, "洪山新区"), "洪山新区");
        let gone = ix.search("硚口", None, None, 5).unwrap();
        assert!(gone.iter().all(|h| h.id != "420104"), "{gone:?}");
        assert_eq!(
            ix.search("洪山", Some("admin_units"), None, 5)
                .unwrap()
                .len(),
            1
        );
    }
}
