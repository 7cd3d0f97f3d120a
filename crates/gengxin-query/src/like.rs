//! LIKE patterns: `%` (any run of characters), `_` (one character), `\` escapes the next character.
//!
//! Matching is the greedy wildcard algorithm that, on a mismatch, only backs up to the most recent
//! `%` and lets it absorb one more character. That is correct for `%`/`_` patterns (an earlier `%`
//! never needs to absorb more once a later `%` has matched) and takes at most
//! O(text × pattern) steps — no exponential backtracking on patterns like `%a%a%a%…b`.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(char),
    One,
    Many,
}

/// A compiled LIKE pattern (case-sensitive).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern(Vec<Tok>);

impl Pattern {
    /// Compiles a pattern; `Err` (a message) when it ends with a lone escape character.
    pub fn compile(p: &str) -> Result<Pattern, String> {
        let mut out = Vec::with_capacity(p.len());
        let mut chars = p.chars();
        while let Some(c) = chars.next() {
            let t = match c {
                '%' => Tok::Many,
                '_' => Tok::One,
                '\\' => match chars.next() {
                    Some(e) => Tok::Char(e),
                    None => {
                        return Err(
                            "the LIKE pattern ends with the escape character \\; write \\\\ for a backslash, \\% for a percent sign, \\_ for an underscore"
                                .into(),
                        );
                    }
                },
                c => Tok::Char(c),
            };
            // `%%` is `%`.
            if t == Tok::Many && out.last() == Some(&Tok::Many) {
                continue;
            }
            out.push(t);
        }
        Ok(Pattern(out))
    }

    pub fn matches(&self, s: &str) -> bool {
        let p = &self.0;
        let (mut pi, mut si) = (0usize, 0usize);
        // After the last `%` seen: the pattern index after it and where in `s` it stopped absorbing.
        let mut star: Option<(usize, usize)> = None;
        loop {
            if let Some(c) = s[si..].chars().next() {
                match p.get(pi) {
                    Some(Tok::Many) => {
                        pi += 1;
                        star = Some((pi, si));
                        continue;
                    }
                    Some(Tok::One) => {
                        pi += 1;
                        si += c.len_utf8();
                        continue;
                    }
                    Some(Tok::Char(x)) if *x == c => {
                        pi += 1;
                        si += c.len_utf8();
                        continue;
                    }
                    _ => {}
                }
                match star {
                    Some((sp, ss)) => {
                        let next = ss + s[ss..].chars().next().expect("ss < si <= len").len_utf8();
                        star = Some((sp, next));
                        pi = sp;
                        si = next;
                    }
                    None => return false,
                }
            } else {
                return p[pi..].iter().all(|t| *t == Tok::Many);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::compile(p).unwrap().matches(s)
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abc", "Abc"));
        assert!(m("a%", "abcd"));
        assert!(m("%d", "abcd"));
        assert!(m("%", ""));
        assert!(!m("_", ""));
        assert!(m("a_c", "abc"));
        assert!(!m("a_c", "ac"));
        assert!(m("%b%d", "abcd"));
        assert!(m("%bc%", "abcd"));
        assert!(!m("%bd%", "abcd"));
        assert!(m("a%b%c", "aXbYbZc"));
        assert!(m("%ab", "aab"));
        assert!(m("100\\%", "100%"));
        assert!(!m("100\\%", "1000"));
        assert!(m("a\\_b", "a_b"));
        assert!(!m("a\\_b", "axb"));
        assert!(m("a\\\\b", "a\\b"));
        assert!(m("武汉%", "武汉市"));
        assert!(m("_汉_", "武汉市"));
        assert!(!m("__", "武汉市"));
        assert!(m("%%x", "yx"));
        assert!(Pattern::compile("abc\\").is_err());
    }

    #[test]
    fn pathological_patterns_are_quick() {
        let pattern = "%a".repeat(128) + "b";
        let text = "a".repeat(100_000);
        assert!(!m(&pattern, &text));
        assert!(m(&pattern, &(text + "b")));
    }

    #[test]
    fn agrees_with_a_reference_matcher() {
        // Exhaustive over a small alphabet against a plain recursive matcher.
        fn reference(p: &[Tok], s: &[char]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some((Tok::Many, rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
                Some((Tok::One, rest)) => !s.is_empty() && reference(rest, &s[1..]),
                Some((Tok::Char(c), rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
            }
        }
        let alphabet = ['a', 'b', '%', '_'];
        let mut patterns = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for p in &patterns {
                for c in alphabet {
                    next.push(format!("{p}{c}"));
                }
            }
            patterns.extend(next);
        }
        patterns.sort();
        patterns.dedup();
        let mut texts = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for t in &texts {
                for c in ['a', 'b'] {
                    next.push(format!("{t}{c}"));
                }
            }
            texts.extend(next);
        }
        texts.sort();
        texts.dedup();
        for p in &patterns {
            let compiled = Pattern::compile(p).unwrap();
            for t in &texts {
                let chars: Vec<char> = t.chars().collect();
                assert_eq!(
                    compiled.matches(t),
                    reference(&compiled.0, &chars),
                    "pattern {p:?} text {t:?}"
                );
            }
        }
    }
}
