//! CQL2-Text: a hand-written lexer and recursive-descent parser.
//!
//! ```text
//! filter    = or EOF
//! or        = and { OR and }
//! and       = not { AND not }
//! not       = NOT not | primary                       (depth + 1 per NOT)
//! primary   = "(" or ")" | predicate                  (depth + 1 per parenthesis)
//! predicate = S_xxx "(" sarg "," sarg [ "," number [ "," unit ] ] ")"
//!           | operand ( cmp operand
//!                     | [NOT] LIKE operand
//!                     | [NOT] IN "(" operand { "," operand } ")"
//!                     | [NOT] BETWEEN operand AND operand
//!                     | IS [NOT] NULL )
//! operand   = property | 'text' | number | TRUE | FALSE | DATE('…') | TIMESTAMP('…') | geometry
//! geometry  = POINT | LINESTRING | POLYGON | MULTIPOINT | MULTILINESTRING | MULTIPOLYGON (WKT)
//!           | BBOX "(" n "," n "," n "," n [ "," n "," n ] ")" | ENVELOPE (same)
//! ```
//!
//! Tokens are read lazily, so the first error in reading order is the one reported. Only
//! parentheses and `NOT` recurse, and both check the depth before recursing.

use std::collections::VecDeque;

use gengxin_model::Layer;
use geo_types::{
    Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};

use crate::geom::{self, SpatialArg};
use crate::plan::{self, Budget, CmpOp, Node, Problem, Raw, Side, SpatialOp};
use crate::{Limits, QueryError};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Int(i64),
    Real(f64),
    LParen,
    RParen,
    Comma,
    Cmp(CmpOp),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
}

const KEYWORDS: [&str; 10] = [
    "AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE",
];

const GEOMETRIES: [&str; 9] = [
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
    "BBOX",
    "ENVELOPE",
];

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

fn is_keyword(s: &str) -> bool {
    KEYWORDS.iter().any(|k| s.eq_ignore_ascii_case(k))
}

fn is_geometry(s: &str) -> bool {
    GEOMETRIES.iter().any(|k| s.eq_ignore_ascii_case(k))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) if is_keyword(s) => format!("the keyword {}", s.to_ascii_uppercase()),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Quoted(s) => format!("the property name \"{s}\""),
        Tok::Str(s) => format!("the text {}", plan::quote(s)),
        Tok::Int(i) => format!("the number {i}"),
        Tok::Real(r) => format!("the number {r}"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Cmp(op) => format!("'{}'", op.symbol()),
        Tok::Eof => "the end of the filter".into(),
    }
}

/// Byte offset → (offset, 1-based line, 1-based column in characters).
pub(crate) fn position(src: &str, offset: usize) -> (usize, usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = 1 + before[line_start..].chars().count();
    (offset, line, column)
}

pub(crate) fn parse(src: &str, layer: &'static Layer, limits: &Limits) -> Result<Node, QueryError> {
    let mut p = Parser {
        src,
        pos: 0,
        ahead: VecDeque::new(),
        layer,
        budget: Budget::new(limits),
    };
    p.filter()
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    ahead: VecDeque<Token>,
    layer: &'static Layer,
    budget: Budget<'a>,
}

type R<T> = Result<T, QueryError>;

impl<'a> Parser<'a> {
    fn err(&self, at: usize, p: Problem) -> QueryError {
        QueryError {
            kind: p.kind,
            message: p.message,
            pointer: String::new(),
            position: Some(position(self.src, at)),
        }
    }

    fn syntax(&self, at: usize, message: impl Into<String>) -> QueryError {
        self.err(at, Problem::syntax(message))
    }

    fn at(&self, at: usize) -> String {
        let (_, line, column) = position(self.src, at);
        format!("line {line}, column {column}")
    }

    // --- tokens -------------------------------------------------------------------------------

    fn peek(&mut self) -> R<Token> {
        self.peek_nth(0)
    }

    fn peek_nth(&mut self, n: usize) -> R<Token> {
        while self.ahead.len() <= n {
            let t = self.lex()?;
            self.ahead.push_back(t);
        }
        Ok(self.ahead[n].clone())
    }

    fn next(&mut self) -> R<Token> {
        match self.ahead.pop_front() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    fn lex(&mut self) -> R<Token> {
        let s = self.src;
        while let Some(c) = s[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
        let start = self.pos;
        let Some(c) = s[start..].chars().next() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
            });
        };
        let next_byte = s.as_bytes().get(start + 1).copied();
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' => (Tok::Cmp(CmpOp::Eq), 1),
            '<' => match next_byte {
                Some(b'=') => (Tok::Cmp(CmpOp::Le), 2),
                Some(b'>') => (Tok::Cmp(CmpOp::Ne), 2),
                _ => (Tok::Cmp(CmpOp::Lt), 1),
            },
            '>' => match next_byte {
                Some(b'=') => (Tok::Cmp(CmpOp::Ge), 2),
                _ => (Tok::Cmp(CmpOp::Gt), 1),
            },
            '!' => {
                return Err(self.syntax(
                    start,
                    "unexpected '!': CQL2 writes 'not equal' as <> and negation as NOT",
                ));
            }
            '\'' => return self.string(start),
            '"' => return self.quoted(start),
            '0'..='9' | '.' | '-' => return self.number(start),
            'A'..='Z' | 'a'..='z' | '_' => {
                let len = s[start..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.'))
                    .count();
                (Tok::Ident(s[start..start + len].to_owned()), len)
            }
            ';' => {
                return Err(self.syntax(
                    start,
                    "unexpected ';': a filter is a single CQL2 expression, not a list of statements",
                ));
            }
            c if c.is_control() => {
                return Err(self.syntax(
                    start,
                    format!("unexpected control character U+{:04X}", c as u32),
                ));
            }
            c => {
                let hint = if c.is_alphabetic() {
                    "; property names are ASCII letters, digits and _ — quote other names with double quotes, text with single quotes"
                } else {
                    ""
                };
                return Err(self.syntax(start, format!("unexpected character '{c}'{hint}")));
            }
        };
        self.pos = start + len;
        Ok(Token { tok, start })
    }

    fn string(&mut self, start: usize) -> R<Token> {
        let s = self.src;
        let mut i = start + 1;
        let mut out = String::new();
        loop {
            let Some(c) = s[i..].chars().next() else {
                return Err(self.syntax(
                    start,
                    format!(
                        "unterminated text: the quote at {} is never closed (write '' for a quote inside text)",
                        self.at(start)
                    ),
                ));
            };
            if c == '\'' {
                if s[i + 1..].starts_with('\'') {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return Ok(Token {
                    tok: Tok::Str(out),
                    start,
                });
            }
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                return Err(self.syntax(i, format!("control character U+{:04X} in text", c as u32)));
            }
            out.push(c);
            i += c.len_utf8();
        }
    }

    fn quoted(&mut self, start: usize) -> R<Token> {
        let s = self.src;
        let mut i = start + 1;
        let mut out = String::new();
        loop {
            let Some(c) = s[i..].chars().next() else {
                return Err(self.syntax(
                    start,
                    format!(
                        "unterminated property name: the double quote at {} is never closed",
                        self.at(start)
                    ),
                ));
            };
            if c == '"' {
                if s[i + 1..].starts_with('"') {
                    out.push('"');
                    i += 2;
                    continue;
                }
                if out.is_empty() {
                    return Err(self.syntax(start, "empty property name \"\""));
                }
                self.pos = i + 1;
                return Ok(Token {
                    tok: Tok::Quoted(out),
                    start,
                });
            }
            if c.is_control() {
                return Err(self.syntax(
                    i,
                    format!("control character U+{:04X} in a property name", c as u32),
                ));
            }
            out.push(c);
            i += c.len_utf8();
        }
    }

    fn number(&mut self, start: usize) -> R<Token> {
        let b = self.src.as_bytes();
        let digits = |mut i: usize| {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            i
        };
        let mut i = start;
        if b[i] == b'-' {
            i += 1;
        }
        let int_end = digits(i);
        let mut n_digits = int_end - i;
        let mut real = false;
        i = int_end;
        if i < b.len() && b[i] == b'.' {
            real = true;
            let frac_end = digits(i + 1);
            n_digits += frac_end - (i + 1);
            i = frac_end;
        }
        if n_digits == 0 {
            let msg = if b[start] == b'-' && b.get(start + 1) == Some(&b'-') {
                "unexpected '--': SQL comments are not part of CQL2".to_owned()
            } else {
                format!(
                    "unexpected '{}': expected a number such as -3, 2.5 or 1e3",
                    b[start] as char
                )
            };
            return Err(self.syntax(start, msg));
        }
        if i < b.len() && matches!(b[i], b'e' | b'E') {
            let mut j = i + 1;
            if j < b.len() && matches!(b[j], b'+' | b'-') {
                j += 1;
            }
            let exp_end = digits(j);
            if exp_end == j {
                return Err(self.syntax(start, "malformed number: the exponent has no digits"));
            }
            real = true;
            i = exp_end;
        }
        if i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.')) {
            return Err(self.syntax(
                start,
                format!(
                    "malformed number {:?}: expected a number such as -3, 2.5 or 1e3",
                    &self.src[start..=i]
                ),
            ));
        }
        let text = &self.src[start..i];
        self.pos = i;
        if !real && let Ok(v) = text.parse::<i64>() {
            return Ok(Token {
                tok: Tok::Int(v),
                start,
            });
        }
        let v: f64 = text
            .parse()
            .map_err(|_| self.syntax(start, format!("malformed number {text:?}")))?;
        if !v.is_finite() {
            return Err(self.err(
                start,
                Problem::semantic(format!("the number {text} is out of range")),
            ));
        }
        Ok(Token {
            tok: Tok::Real(v),
            start,
        })
    }

    // --- budget -------------------------------------------------------------------------------

    fn node_at(&mut self, at: usize) -> R<()> {
        self.budget.node().map_err(|p| self.err(at, p))
    }

    fn enter_at(&mut self, at: usize) -> R<()> {
        self.budget.enter().map_err(|p| self.err(at, p))
    }

    // --- grammar ------------------------------------------------------------------------------

    fn filter(&mut self) -> R<Node> {
        if self.src.trim().is_empty() {
            return Err(self.syntax(
                0,
                "the filter is empty; write a condition such as floors > 3",
            ));
        }
        let node = self.or_expr("")?;
        let t = self.next()?;
        match t.tok {
            Tok::Eof => Ok(node),
            Tok::RParen => Err(self.syntax(t.start, "unbalanced ')': there is no '(' to close")),
            other => Err(self.syntax(
                t.start,
                format!(
                    "expected AND, OR or the end of the filter, found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn or_expr(&mut self, after: &str) -> R<Node> {
        let mut items = vec![self.and_expr(after)?];
        loop {
            let t = self.peek()?;
            if !is_kw(&t.tok, "OR") {
                break;
            }
            self.next()?;
            self.node_at(t.start)?;
            items.push(self.and_expr("OR")?);
        }
        Ok(Node::or(items))
    }

    fn and_expr(&mut self, after: &str) -> R<Node> {
        let mut items = vec![self.not_expr(after)?];
        loop {
            let t = self.peek()?;
            if !is_kw(&t.tok, "AND") {
                break;
            }
            self.next()?;
            self.node_at(t.start)?;
            items.push(self.not_expr("AND")?);
        }
        Ok(Node::and(items))
    }

    fn not_expr(&mut self, after: &str) -> R<Node> {
        let t = self.peek()?;
        if is_kw(&t.tok, "NOT") {
            self.next()?;
            self.node_at(t.start)?;
            self.enter_at(t.start)?;
            let inner = self.not_expr("NOT");
            self.budget.leave();
            return Ok(Node::Not(Box::new(inner?)));
        }
        self.primary(after)
    }

    fn expected_expression(&self, after: &str, t: &Token) -> QueryError {
        let found = describe(&t.tok);
        if after.is_empty() {
            self.syntax(
                t.start,
                format!("expected a condition such as floors > 3, found {found}"),
            )
        } else {
            self.syntax(
                t.start,
                format!("expected an expression after {after}, found {found}"),
            )
        }
    }

    fn primary(&mut self, after: &str) -> R<Node> {
        let t = self.peek()?;
        match &t.tok {
            Tok::LParen => {
                self.next()?;
                self.enter_at(t.start)?;
                let inner = self.or_expr("(")?;
                let close = self.next()?;
                if close.tok != Tok::RParen {
                    return Err(self.syntax(
                        close.start,
                        format!(
                            "expected ')' to close the '(' at {}, found {}",
                            self.at(t.start),
                            describe(&close.tok)
                        ),
                    ));
                }
                self.budget.leave();
                Ok(inner)
            }
            Tok::Eof | Tok::RParen | Tok::Comma | Tok::Cmp(_) => {
                Err(self.expected_expression(after, &t))
            }
            Tok::Ident(s)
                if is_keyword(s)
                    && !s.eq_ignore_ascii_case("TRUE")
                    && !s.eq_ignore_ascii_case("FALSE") =>
            {
                Err(self.expected_expression(after, &t))
            }
            _ => self.predicate(),
        }
    }

    fn predicate(&mut self) -> R<Node> {
        let t = self.peek()?;
        if let Tok::Ident(name) = &t.tok
            && let Some(op) = SpatialOp::from_name(name)
            && self.peek_nth(1)?.tok == Tok::LParen
        {
            return self.spatial(op);
        }
        self.node_at(t.start)?;
        let (lhs, lstart) = self.operand("")?;
        let t = self.next()?;
        let side = |side: Side, right: &[usize]| match side {
            Side::Left => lstart,
            Side::Right(i) => right.get(i).copied().unwrap_or(lstart),
        };
        match &t.tok {
            Tok::Cmp(op) => {
                let (rhs, rstart) = self.operand(op.symbol())?;
                plan::comparison(lhs, *op, rhs).map_err(|(p, s)| self.err(side(s, &[rstart]), p))
            }
            Tok::Ident(k) if k.eq_ignore_ascii_case("NOT") => {
                let t2 = self.next()?;
                let node = match &t2.tok {
                    Tok::Ident(k) if k.eq_ignore_ascii_case("LIKE") => self.like(lhs, lstart)?,
                    Tok::Ident(k) if k.eq_ignore_ascii_case("IN") => self.in_list(lhs, lstart)?,
                    Tok::Ident(k) if k.eq_ignore_ascii_case("BETWEEN") => {
                        self.between(lhs, lstart)?
                    }
                    other => {
                        return Err(self.syntax(
                            t2.start,
                            format!(
                                "expected LIKE, IN or BETWEEN after NOT, found {}",
                                describe(other)
                            ),
                        ));
                    }
                };
                Ok(Node::Not(Box::new(node)))
            }
            Tok::Ident(k) if k.eq_ignore_ascii_case("LIKE") => self.like(lhs, lstart),
            Tok::Ident(k) if k.eq_ignore_ascii_case("IN") => self.in_list(lhs, lstart),
            Tok::Ident(k) if k.eq_ignore_ascii_case("BETWEEN") => self.between(lhs, lstart),
            Tok::Ident(k) if k.eq_ignore_ascii_case("IS") => {
                let mut t2 = self.next()?;
                let negated = is_kw(&t2.tok, "NOT");
                if negated {
                    t2 = self.next()?;
                }
                if !is_kw(&t2.tok, "NULL") {
                    return Err(self.syntax(
                        t2.start,
                        format!(
                            "expected {}NULL after IS, found {}",
                            if negated { "" } else { "NULL or NOT " },
                            describe(&t2.tok)
                        ),
                    ));
                }
                let node = plan::is_null(lhs).map_err(|(p, _)| self.err(lstart, p))?;
                Ok(if negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                })
            }
            other => Err(self.syntax(
                t.start,
                format!(
                    "expected a comparison (=, <>, <, >, <=, >=), LIKE, IN, BETWEEN or IS NULL after {}, found {}",
                    self.snippet(lstart, t.start),
                    describe(other)
                ),
            )),
        }
    }

    /// The source text between two offsets, shortened, for messages.
    fn snippet(&self, from: usize, to: usize) -> String {
        let s = self.src[from..to].trim();
        let short: String = s.chars().take(40).collect();
        if short.len() < s.len() {
            format!("{short}…")
        } else {
            short
        }
    }

    fn like(&mut self, lhs: Raw, lstart: usize) -> R<Node> {
        let (pattern, pstart) = self.operand("LIKE")?;
        plan::like(lhs, pattern, self.budget.limits)
            .map_err(|(p, s)| self.err(if s == Side::Left { lstart } else { pstart }, p))
    }

    fn in_list(&mut self, lhs: Raw, lstart: usize) -> R<Node> {
        let open = self.next()?;
        if open.tok != Tok::LParen {
            return Err(self.syntax(
                open.start,
                format!(
                    "expected '(' after IN, e.g. IN ('a', 'b'), found {}",
                    describe(&open.tok)
                ),
            ));
        }
        if let Token {
            tok: Tok::RParen,
            start,
        } = self.peek()?
        {
            return Err(self.syntax(start, "an IN list needs at least one value"));
        }
        let mut items = Vec::new();
        let mut starts = Vec::new();
        loop {
            let (raw, at) = self.operand(if items.is_empty() {
                "IN ("
            } else {
                "',' in the IN list"
            })?;
            items.push(raw);
            starts.push(at);
            self.budget
                .in_list(items.len())
                .map_err(|p| self.err(at, p))?;
            let t = self.next()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                other => {
                    return Err(self.syntax(
                        t.start,
                        format!(
                            "expected ',' or ')' in the IN list, found {}",
                            describe(&other)
                        ),
                    ));
                }
            }
        }
        plan::in_list(lhs, items).map_err(|(p, s)| {
            let at = match s {
                Side::Left => lstart,
                Side::Right(i) => starts[i],
            };
            self.err(at, p)
        })
    }

    fn between(&mut self, lhs: Raw, lstart: usize) -> R<Node> {
        let (low, lo_at) = self.operand("BETWEEN")?;
        let t = self.next()?;
        if !is_kw(&t.tok, "AND") {
            return Err(self.syntax(
                t.start,
                format!(
                    "expected AND between the bounds of BETWEEN, found {}",
                    describe(&t.tok)
                ),
            ));
        }
        let (high, hi_at) = self.operand("AND")?;
        plan::between(lhs, low, high).map_err(|(p, s)| {
            let at = match s {
                Side::Left => lstart,
                Side::Right(1) => lo_at,
                Side::Right(_) => hi_at,
            };
            self.err(at, p)
        })
    }

    /// A property or literal. `after` names what came before, for messages.
    fn operand(&mut self, after: &str) -> R<(Raw, usize)> {
        let t = self.next()?;
        let at = t.start;
        let expected = |s: &Self, found: &Tok| {
            let ctx = if after.is_empty() {
                String::new()
            } else {
                format!(" after {after}")
            };
            s.syntax(
                at,
                format!(
                    "expected a property or a literal{ctx}, found {}",
                    describe(found)
                ),
            )
        };
        let raw = match t.tok {
            Tok::Str(s) => Raw::Text(s),
            Tok::Int(i) => Raw::Int(i),
            Tok::Real(r) => Raw::Real(r),
            Tok::Quoted(name) => Raw::Prop(plan::resolve(self.layer, &name).map_err(|mut p| {
                p.message.push_str(
                    "; note that double quotes delimit property names: write text in single quotes",
                );
                self.err(at, p)
            })?),
            Tok::Ident(ref name) => {
                if name.eq_ignore_ascii_case("TRUE") {
                    Raw::Bool(true)
                } else if name.eq_ignore_ascii_case("FALSE") {
                    Raw::Bool(false)
                } else if is_geometry(name) || self.peek()?.tok == Tok::LParen {
                    self.ahead.push_front(t.clone());
                    self.function()?
                } else if ["nan", "inf", "infinity", "-inf"]
                    .contains(&name.to_ascii_lowercase().as_str())
                {
                    return Err(self.err(
                        at,
                        Problem::semantic(format!(
                            "{name} is not a finite number; numbers in filters are finite"
                        )),
                    ));
                } else if is_keyword(name) {
                    return Err(expected(self, &t.tok));
                } else {
                    Raw::Prop(plan::resolve(self.layer, name).map_err(|p| self.err(at, p))?)
                }
            }
            other => return Err(expected(self, &other)),
        };
        Ok((raw, at))
    }

    /// `NAME(` …: a temporal or geometry literal; anything else is an unknown function.
    fn function(&mut self) -> R<Raw> {
        let t = self.peek()?;
        let Tok::Ident(name) = &t.tok else {
            unreachable!("called on an identifier")
        };
        let upper = name.to_ascii_uppercase();
        if is_geometry(&upper) {
            self.geometry()?;
            return Ok(Raw::Geom);
        }
        if SpatialOp::from_name(&upper).is_some() {
            return Err(self.err(
                t.start,
                Problem::semantic(format!(
                    "{upper} is a condition, not a value; write it on its own, e.g. {upper}(geom, POINT(114.3 30.55))"
                )),
            ));
        }
        if upper != "DATE" && upper != "TIMESTAMP" {
            return Err(self.err(
                t.start,
                Problem::semantic(format!(
                    "unknown function `{name}`; the functions are S_INTERSECTS, S_WITHIN, S_CONTAINS, S_DISJOINT, S_DWITHIN, \
                     DATE('YYYY-MM-DD'), TIMESTAMP('…'), BBOX(…) and the WKT geometries POINT … MULTIPOLYGON"
                )),
            ));
        }
        self.next()?;
        self.next()?; // '('
        let s = self.next()?;
        let Tok::Str(text) = &s.tok else {
            return Err(self.syntax(
                s.start,
                format!(
                    "{upper} takes text in single quotes, e.g. {upper}('{}'), found {}",
                    if upper == "DATE" {
                        "2024-01-31"
                    } else {
                        "2024-01-31T08:00:00Z"
                    },
                    describe(&s.tok)
                ),
            ));
        };
        let raw = if upper == "DATE" {
            plan::parse_date(text).map(Raw::Date).ok_or_else(|| {
                self.err(
                    s.start,
                    Problem::semantic(format!(
                        "{} is not a date: write DATE('YYYY-MM-DD'), e.g. DATE('2024-01-31')",
                        plan::quote(text)
                    )),
                )
            })?
        } else {
            plan::parse_timestamp(text)
                .map(Raw::Timestamp)
                .ok_or_else(|| {
                    self.err(
                        s.start,
                        Problem::semantic(format!(
                            "{} is not an RFC 3339 timestamp: write e.g. TIMESTAMP('2024-01-31T08:00:00Z')",
                            plan::quote(text)
                        )),
                    )
                })?
        };
        self.expect_close(&upper)?;
        Ok(raw)
    }

    fn expect_open(&mut self, what: &str) -> R<usize> {
        let t = self.next()?;
        if t.tok != Tok::LParen {
            return Err(self.syntax(
                t.start,
                format!("expected '(' after {what}, found {}", describe(&t.tok)),
            ));
        }
        Ok(t.start)
    }

    fn expect_close(&mut self, what: &str) -> R<()> {
        let t = self.next()?;
        if t.tok != Tok::RParen {
            return Err(self.syntax(
                t.start,
                format!("expected ')' to close {what}(, found {}", describe(&t.tok)),
            ));
        }
        Ok(())
    }

    /// After an item of a list in `what`: `true` on ',' (more follow), `false` on ')'.
    fn comma_or_close(&mut self, what: &str) -> R<bool> {
        let t = self.next()?;
        match t.tok {
            Tok::Comma => Ok(true),
            Tok::RParen => Ok(false),
            other => Err(self.syntax(
                t.start,
                format!("expected ',' or ')' in {what}, found {}", describe(&other)),
            )),
        }
    }

    fn number_token(&mut self, what: &str) -> R<(f64, usize)> {
        let t = self.next()?;
        match t.tok {
            Tok::Int(i) => Ok((i as f64, t.start)),
            Tok::Real(r) => Ok((r, t.start)),
            other => Err(self.syntax(
                t.start,
                format!("expected a number in {what}, found {}", describe(&other)),
            )),
        }
    }

    // --- spatial ------------------------------------------------------------------------------

    fn spatial(&mut self, op: SpatialOp) -> R<Node> {
        let t = self.next()?;
        let Tok::Ident(name) = &t.tok else {
            unreachable!("checked by the caller")
        };
        let name = name.to_ascii_uppercase();
        self.node_at(t.start)?;
        self.next()?; // '(' checked by the caller
        let (a, a_at) = self.spatial_arg(&name)?;
        let c = self.next()?;
        if c.tok != Tok::Comma {
            return Err(self.syntax(
                c.start,
                format!(
                    "expected ',' after the first argument of {name}, found {}",
                    describe(&c.tok)
                ),
            ));
        }
        let (b, b_at) = self.spatial_arg(&name)?;
        let mut distance = 0.0;
        if op == SpatialOp::DWithin {
            let c = self.next()?;
            if c.tok != Tok::Comma {
                return Err(self.syntax(
                    c.start,
                    format!(
                        "S_DWITHIN takes a distance: S_DWITHIN(geom, POINT(114.3 30.55), 500, meters); found {}",
                        describe(&c.tok)
                    ),
                ));
            }
            let d = self.next()?;
            let value = match &d.tok {
                Tok::Int(i) => *i as f64,
                Tok::Real(r) => *r,
                Tok::Ident(s)
                    if ["nan", "inf", "infinity"].contains(&s.to_ascii_lowercase().as_str()) =>
                {
                    f64::NAN
                }
                other => {
                    return Err(self.syntax(
                        d.start,
                        format!(
                            "expected the S_DWITHIN distance (a number of metres), found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            let mut factor = 1.0;
            if self.peek()?.tok == Tok::Comma {
                self.next()?;
                let u = self.next()?;
                let unit = match &u.tok {
                    Tok::Ident(s) | Tok::Str(s) => s.clone(),
                    other => {
                        return Err(self.syntax(
                            u.start,
                            format!(
                                "expected the distance unit (meters or kilometers), found {}",
                                describe(other)
                            ),
                        ));
                    }
                };
                factor = geom::unit_factor(&unit).map_err(|p| self.err(u.start, p))?;
            }
            distance = geom::check_distance(value * factor, self.budget.limits)
                .map_err(|p| self.err(d.start, p))?;
        }
        self.expect_close(&name)?;
        geom::spatial_node(op, a, b, distance)
            .map_err(|(p, s)| self.err(if s == Side::Left { a_at } else { b_at }, p))
    }

    fn spatial_arg(&mut self, func: &str) -> R<(SpatialArg, usize)> {
        let t = self.peek()?;
        let at = t.start;
        let expected = |found: &str| {
            format!(
                "expected the geometry property `geom` or a geometry literal (POINT(114.3 30.55), POLYGON((…)), BBOX(…)) in {func}, found {found}"
            )
        };
        match &t.tok {
            Tok::Ident(name) if is_geometry(name) => Ok((SpatialArg::Lit(self.geometry()?), at)),
            Tok::Ident(name) if !is_keyword(name) && self.peek_nth(1)?.tok == Tok::LParen => {
                // DATE(…), TIMESTAMP(…) or an unknown function.
                let raw = self.function()?;
                Err(self.err(at, Problem::semantic(expected(&raw.describe()))))
            }
            Tok::Ident(name) | Tok::Quoted(name)
                if !(matches!(t.tok, Tok::Ident(_)) && is_keyword(name)) =>
            {
                self.next()?;
                plan::resolve(self.layer, name)
                    .and_then(plan::geometry_property)
                    .map_err(|p| self.err(at, p))?;
                Ok((SpatialArg::Geom, at))
            }
            other => Err(self.syntax(at, expected(&describe(other)))),
        }
    }

    /// A WKT geometry or BBOX/ENVELOPE literal.
    fn geometry(&mut self) -> R<Geometry<f64>> {
        let t = self.next()?;
        let Tok::Ident(name) = &t.tok else {
            unreachable!("called on a geometry keyword")
        };
        let name = name.to_ascii_uppercase();
        let start = t.start;
        if name == "BBOX" || name == "ENVELOPE" {
            self.expect_open(&name)?;
            let mut nums = Vec::new();
            loop {
                let (v, at) = self.number_token(&name)?;
                nums.push(v);
                if nums.len() > 6 {
                    return Err(self.err(
                        at,
                        Problem::semantic(format!(
                            "{name} takes 4 numbers (minx, miny, maxx, maxy) or 6 (with elevations)"
                        )),
                    ));
                }
                if !self.comma_or_close(&name)? {
                    break;
                }
            }
            for _ in 0..2 {
                self.budget.coord().map_err(|p| self.err(start, p))?;
            }
            return geom::bbox(&nums).map_err(|p| self.err(start, p));
        }
        if name == "GEOMETRYCOLLECTION" {
            return Err(self.err(
                start,
                Problem::semantic(
                    "GEOMETRYCOLLECTION literals are not supported; use a MULTI… geometry, or several predicates joined with OR",
                ),
            ));
        }
        let t = self.peek()?;
        if let Tok::Ident(tag) = &t.tok {
            let tag = tag.to_ascii_uppercase();
            if tag == "EMPTY" {
                return Err(self.err(
                    t.start,
                    Problem::semantic("empty geometries are not supported"),
                ));
            }
            if tag == "Z" || tag == "M" || tag == "ZM" {
                self.next()?;
            }
        }
        Ok(match name.as_str() {
            "POINT" => {
                self.expect_open("POINT")?;
                let c = self.coord()?;
                self.expect_close("POINT")?;
                Point(c).into()
            }
            "LINESTRING" => LineString(self.line()?).into(),
            "POLYGON" => self.polygon()?.into(),
            "MULTIPOINT" => {
                self.expect_open("MULTIPOINT")?;
                let mut points = Vec::new();
                loop {
                    if self.peek()?.tok == Tok::LParen {
                        self.next()?;
                        points.push(Point(self.coord()?));
                        self.expect_close("the point")?;
                    } else {
                        points.push(Point(self.coord()?));
                    }
                    if !self.comma_or_close("MULTIPOINT")? {
                        break;
                    }
                }
                MultiPoint(points).into()
            }
            "MULTILINESTRING" => {
                self.expect_open("MULTILINESTRING")?;
                let mut lines = Vec::new();
                loop {
                    lines.push(LineString(self.line()?));
                    if !self.comma_or_close("MULTILINESTRING")? {
                        break;
                    }
                }
                MultiLineString(lines).into()
            }
            "MULTIPOLYGON" => {
                self.expect_open("MULTIPOLYGON")?;
                let mut polygons = Vec::new();
                loop {
                    polygons.push(self.polygon()?);
                    if !self.comma_or_close("MULTIPOLYGON")? {
                        break;
                    }
                }
                MultiPolygon(polygons).into()
            }
            _ => unreachable!("is_geometry lists these"),
        })
    }

    /// `x y [z [m]]`.
    fn coord(&mut self) -> R<Coord<f64>> {
        let (x, at) = self.number_token("a coordinate")?;
        let (y, _) = self.number_token("a coordinate (x y)")?;
        for _ in 0..2 {
            if matches!(self.peek()?.tok, Tok::Int(_) | Tok::Real(_)) {
                self.next()?;
            }
        }
        self.budget.coord().map_err(|p| self.err(at, p))?;
        geom::check_coord(x, y).map_err(|p| self.err(at, p))
    }

    /// `(x y, x y, …)`, returning the points and where the list starts.
    fn coords(&mut self, what: &str) -> R<(Vec<Coord<f64>>, usize)> {
        let open = self.expect_open(what)?;
        let mut out = Vec::new();
        loop {
            out.push(self.coord()?);
            if !self.comma_or_close(what)? {
                break;
            }
        }
        Ok((out, open))
    }

    fn line(&mut self) -> R<Vec<Coord<f64>>> {
        let (pts, at) = self.coords("LINESTRING")?;
        geom::check_line(&pts).map_err(|p| self.err(at, p))?;
        Ok(pts)
    }

    fn polygon(&mut self) -> R<Polygon<f64>> {
        self.expect_open("POLYGON")?;
        let mut rings = Vec::new();
        loop {
            let (pts, at) = self.coords("a polygon ring")?;
            geom::check_ring(&pts).map_err(|p| self.err(at, p))?;
            rings.push(LineString(pts));
            if !self.comma_or_close("POLYGON")? {
                break;
            }
        }
        let exterior = rings.remove(0);
        Ok(Polygon::new(exterior, rings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position("abc", 0), (0, 1, 1));
        assert_eq!(position("a\nbc", 3), (3, 2, 2));
        assert_eq!(position("名称 = 1", 7), (7, 1, 4));
        assert_eq!(position("abc", 99), (3, 1, 4));
    }
}
