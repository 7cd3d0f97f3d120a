// Small geometry helpers on lon/lat GeoJSON: bounding boxes and label points.
import type { Geometry, Position } from './api/client'

export type Bbox = [number, number, number, number]

function positions(g: Geometry): Position[] {
  switch (g.type) {
    case 'Point':
      return [g.coordinates]
    case 'MultiPoint':
    case 'LineString':
      return g.coordinates
    case 'MultiLineString':
    case 'Polygon':
      return g.coordinates.flat()
    case 'MultiPolygon':
      return g.coordinates.flat(2)
  }
}

export function bbox(g: Geometry | null | undefined): Bbox | null {
  if (!g) return null
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity]
  for (const p of positions(g)) {
    const [x = NaN, y = NaN] = p
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue
    w = Math.min(w, x)
    s = Math.min(s, y)
    e = Math.max(e, x)
    n = Math.max(n, y)
  }
  return Number.isFinite(w) ? [w, s, e, n] : null
}

export function unionBbox(boxes: (Bbox | null)[]): Bbox | null {
  let out: Bbox | null = null
  for (const b of boxes) {
    if (!b) continue
    out = out
      ? [Math.min(out[0], b[0]), Math.min(out[1], b[1]), Math.max(out[2], b[2]), Math.max(out[3], b[3])]
      : [...b]
  }
  return out
}

function ringContains(ring: Position[], x: number, y: number): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi = 0, yi = 0] = ring[i] ?? []
    const [xj = 0, yj = 0] = ring[j] ?? []
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

function polygonContains(rings: Position[][], x: number, y: number): boolean {
  const [outer, ...holes] = rings
  return !!outer && ringContains(outer, x, y) && !holes.some((h) => ringContains(h, x, y))
}

function segDist2(px: number, py: number, a: Position, b: Position): number {
  const [ax = 0, ay = 0] = a
  const [bx = 0, by = 0] = b
  let dx = bx - ax
  let dy = by - ay
  let x = ax
  let y = ay
  if (dx !== 0 || dy !== 0) {
    const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    x += dx * t
    y += dy * t
  }
  dx = px - x
  dy = py - y
  return dx * dx + dy * dy
}

function edgeDist2(rings: Position[][], x: number, y: number): number {
  let best = Infinity
  for (const r of rings)
    for (let i = 1; i < r.length; i++) best = Math.min(best, segDist2(x, y, r[i - 1]!, r[i]!))
  return best
}

/// A point well inside a polygon (an approximate pole of inaccessibility of its largest part,
/// by grid search with one refinement), for labels and for tests that hover a unit.
export function labelPoint(g: Geometry | null | undefined): [number, number] | null {
  if (!g) return null
  if (g.type === 'Point') return [g.coordinates[0] ?? 0, g.coordinates[1] ?? 0]
  if (g.type !== 'Polygon' && g.type !== 'MultiPolygon') {
    const b = bbox(g)
    return b ? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] : null
  }
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates
  // The part with the largest bounding box stands for the unit.
  let best: Position[][] | undefined
  let bestArea = -1
  for (const p of polys) {
    const b = bbox({ type: 'Polygon', coordinates: p })
    const a = b ? (b[2] - b[0]) * (b[3] - b[1]) : 0
    if (a > bestArea) {
      bestArea = a
      best = p
    }
  }
  if (!best) return null
  const b = bbox({ type: 'Polygon', coordinates: best })
  if (!b) return null
  let [w, s, e, n] = b
  let found: [number, number] | null = null
  let foundD = -1
  for (let pass = 0; pass < 2; pass++) {
    const steps = 24
    const dx = (e - w) / steps
    const dy = (n - s) / steps
    for (let i = 0; i <= steps; i++)
      for (let j = 0; j <= steps; j++) {
        const x = w + dx * i
        const y = s + dy * j
        if (!polygonContains(best, x, y)) continue
        const d = edgeDist2(best, x, y)
        if (d > foundD) {
          foundD = d
          found = [x, y]
        }
      }
    if (!found) break
    // Refine around the best cell.
    ;[w, s, e, n] = [found[0] - dx, found[1] - dy, found[0] + dx, found[1] + dy]
  }
  return found ?? [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]
}
