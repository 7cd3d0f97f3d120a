// CQL2 text from the query builder's rows: properties quoted when they clash with a keyword,
// text literals quoted with '' escaping, dates as DATE('…'), and the spatial condition (the view's
// box, a distance from a point, a drawn polygon). Also maps a server error position (byte offset
// or line/column) back to an index in the text.
import type { Queryable } from './api/client'

export type Op = '=' | '<>' | '<' | '>' | '<=' | '>=' | 'BETWEEN' | 'IN' | 'LIKE' | 'IS NULL' | 'IS NOT NULL'

/// One condition row of the builder.
export interface Condition {
  /// A stable key for v-for.
  key: number
  property: string
  op: Op
  /// The value (or the lower bound of BETWEEN); a number from a number input.
  value: string | number
  /// The upper bound of BETWEEN.
  value2: string | number
  /// The values of IN.
  values: string[]
}

export type Kind = 'text' | 'enum' | 'number' | 'integer' | 'date' | 'datetime' | 'boolean'

export function kindOf(q: Queryable | undefined): Kind {
  if (!q) return 'text'
  if (q.enum?.length) return 'enum'
  if (q.type === 'integer') return 'integer'
  if (q.type === 'number') return 'number'
  if (q.type === 'boolean') return 'boolean'
  if (q.format === 'date') return 'date'
  if (q.format === 'date-time') return 'datetime'
  return 'text'
}

/// The operators that make sense for a property's kind, in the order they are offered.
export function opsFor(kind: Kind): Op[] {
  switch (kind) {
    case 'enum':
      return ['=', '<>', 'IN', 'IS NULL', 'IS NOT NULL']
    case 'boolean':
      return ['=', 'IS NULL', 'IS NOT NULL']
    case 'text':
      return ['=', '<>', 'LIKE', 'IN', '<', '>', '<=', '>=', 'IS NULL', 'IS NOT NULL']
    default:
      return ['=', '<>', '<', '>', '<=', '>=', 'BETWEEN', 'IN', 'IS NULL', 'IS NOT NULL']
  }
}

/// How an operator is shown (≠ ≤ ≥ for the symbols CQL2 spells <> <= >=).
export const OP_SYMBOL: Record<Op, string> = {
  '=': '=',
  '<>': '≠',
  '<': '<',
  '>': '>',
  '<=': '≤',
  '>=': '≥',
  BETWEEN: 'BETWEEN',
  IN: 'IN',
  LIKE: 'LIKE',
  'IS NULL': 'IS NULL',
  'IS NOT NULL': 'IS NOT NULL',
}

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'LIKE', 'IN', 'BETWEEN', 'IS', 'NULL', 'TRUE', 'FALSE'])

/// A property name, double-quoted when it is not a bare identifier or is a keyword.
export function propertyName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_:.]*$/.test(name) && !KEYWORDS.has(name.toUpperCase())) return name
  return `"${name.replace(/"/g, '""')}"`
}

/// A text literal: single quotes, a quote inside doubled.
export function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

/// A value of a property's kind as a CQL2 literal, or null when it is not one.
export function literal(kind: Kind, input: string | number): string | null {
  // <input type="number" v-model> gives numbers.
  const raw = String(input ?? '')
  const v = raw.trim()
  if (v === '') return null
  switch (kind) {
    case 'number':
    case 'integer': {
      const n = Number(v)
      if (!Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n))) return null
      return String(n)
    }
    case 'boolean':
      return v === 'true' ? 'TRUE' : v === 'false' ? 'FALSE' : null
    case 'date':
      return /^\d{4}-\d{2}-\d{2}$/.test(v) ? `DATE(${quote(v)})` : null
    case 'datetime': {
      // <input type="datetime-local"> gives local time without a zone.
      const d = new Date(v)
      return Number.isNaN(d.getTime()) ? null : `TIMESTAMP(${quote(d.toISOString().replace(/\.000Z$/, 'Z'))})`
    }
    default:
      return quote(raw)
  }
}

/// One row as CQL2, or null while it is incomplete.
export function conditionText(c: Condition, q: Queryable | undefined): string | null {
  if (!c.property) return null
  const kind = kindOf(q)
  const p = propertyName(c.property)
  switch (c.op) {
    case 'IS NULL':
    case 'IS NOT NULL':
      return `${p} ${c.op}`
    case 'BETWEEN': {
      const a = literal(kind, c.value)
      const b = literal(kind, c.value2)
      return a && b ? `${p} BETWEEN ${a} AND ${b}` : null
    }
    case 'IN': {
      const raw = kind === 'enum' ? c.values : splitList(String(c.value))
      const vals = raw.map((v) => literal(kind, v)).filter((v): v is string => v !== null)
      return vals.length ? `${p} IN (${vals.join(', ')})` : null
    }
    case 'LIKE': {
      const v = String(c.value ?? '')
      if (v === '') return null
      // Without a wildcard, "contains".
      const pattern = /[%_]/.test(v) ? v : `%${v}%`
      return `${p} LIKE ${quote(pattern)}`
    }
    default: {
      const v = literal(kind, c.value)
      return v ? `${p} ${c.op} ${v}` : null
    }
  }
}

/// Values typed for IN: separated by commas (also the Chinese ones) or new lines.
export function splitList(s: string): string[] {
  return s
    .split(/[,，、\n]/)
    .map((x) => x.trim())
    .filter((x) => x !== '')
}

/// The spatial condition.
export type Spatial =
  | { kind: 'none' }
  | { kind: 'view'; box: [number, number, number, number] }
  | { kind: 'distance'; point: [number, number]; meters: number }
  | { kind: 'polygon'; ring: [number, number][] }

const fix = (n: number) => String(Math.round(n * 1e6) / 1e6)

export function spatialText(s: Spatial): string | null {
  switch (s.kind) {
    case 'view': {
      const [w, so, e, n] = s.box
      return `S_INTERSECTS(geom, BBOX(${fix(w)}, ${fix(so)}, ${fix(e)}, ${fix(n)}))`
    }
    case 'distance':
      if (!(s.meters >= 0)) return null
      return `S_DWITHIN(geom, POINT(${fix(s.point[0])} ${fix(s.point[1])}), ${s.meters}, meters)`
    case 'polygon': {
      if (s.ring.length < 3) return null
      const ring = [...s.ring, s.ring[0]!]
      return `S_INTERSECTS(geom, POLYGON((${ring.map(([x, y]) => `${fix(x)} ${fix(y)}`).join(', ')})))`
    }
    default:
      return null
  }
}

/// The whole filter: the rows joined by AND or OR, then the spatial condition ANDed.
export function buildFilter(
  rows: Condition[],
  props: Record<string, Queryable>,
  join: 'AND' | 'OR',
  spatial: Spatial,
): string {
  const parts = rows.map((r) => conditionText(r, props[r.property])).filter((x): x is string => x !== null)
  const sp = spatialText(spatial)
  let text = parts.join(` ${join} `)
  if (sp) {
    if (parts.length > 1 && join === 'OR') text = `(${text})`
    text = text ? `${text} AND ${sp}` : sp
  }
  return text
}

/// The index in `text` (UTF-16) of a server error position: the byte offset when given, else
/// the 1-based line and column (columns count characters).
export function errorIndex(text: string, at: { offset?: number; line?: number; column?: number }): number | null {
  if (typeof at.offset === 'number') {
    const enc = new TextEncoder()
    let bytes = 0
    let i = 0
    for (const ch of text) {
      if (bytes >= at.offset) return i
      bytes += enc.encode(ch).length
      i += ch.length
    }
    return text.length
  }
  if (typeof at.line === 'number' && typeof at.column === 'number') {
    const lines = text.split('\n')
    let i = 0
    for (let l = 0; l < at.line - 1 && l < lines.length; l++) i += lines[l]!.length + 1
    const chars = Array.from(lines[at.line - 1] ?? '')
    return i + chars.slice(0, at.column - 1).join('').length
  }
  return null
}

/// The end of the token starting at `i` (for selecting it).
export function tokenEnd(text: string, i: number): number {
  let j = i
  while (j < text.length && !/\s/.test(text[j]!)) j++
  return Math.max(j, Math.min(text.length, i + 1))
}
