// The API client. Shapes come from the server's OpenAPI document (`npm run gen` writes
// schema.d.ts from openapi.json); GeoJSON bodies, which the document declares as plain objects,
// are typed here.
import type { components, paths } from './schema'

type Schemas = components['schemas']

/// The JSON body of a GET answered with 200.
type Ok<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer B } } } }
}
  ? B
  : never

export type UnitItem = Schemas['UnitItem']
export type LayerInfo = Schemas['LayerInfo']
export type FieldInfo = Schemas['FieldInfo']
export type CodeInfo = Schemas['CodeInfo']

/// One entry of `GET /tiles` (the server's TileLayerInfo once the document lists it).
interface TileLayerInfoContract {
  layer: string
  title_zh: string
  title_en: string
  database: string
  geometry_type: string
  minzoom: number
  maxzoom: number
  tilejson: string
}
export type TileLayerInfo = Schemas extends { TileLayerInfo: infer T } ? T : TileLayerInfoContract

export type Scalar = string | number | boolean | null

export type Position = number[]
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'MultiLineString'; coordinates: Position[][] }
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }

export interface Feature {
  type: 'Feature'
  id: string
  geometry: Geometry | null
  properties: Record<string, Scalar> & {
    provenance?: string
    version?: number
  }
}

export interface FeatureCollection {
  type: 'FeatureCollection'
  numberReturned: number
  features: Feature[]
  next?: string
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    message: string,
  ) {
    super(message)
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(url, { headers: { Accept: 'application/json' }, signal })
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try {
      const body = (await res.json()) as { error?: { message?: string } }
      if (body.error?.message) message = body.error.message
    } catch {
      // Not the JSON error shape; keep the status line.
    }
    throw new ApiFailure(res.status, url, message)
  }
  return (await res.json()) as T
}

const enc = encodeURIComponent

export function unit(code: string, signal?: AbortSignal): Promise<Feature> {
  return getJson<Feature>(`/api/units/${enc(code)}`, signal)
}

export function unitChildren(code: string, signal?: AbortSignal): Promise<UnitItem[]> {
  return getJson<Ok<'/api/units/{code}/children'>>(`/api/units/${enc(code)}/children`, signal)
}

export function layers(signal?: AbortSignal): Promise<LayerInfo[]> {
  return getJson<Ok<'/api/layers'>>('/api/layers', signal)
}

export function tileLayers(signal?: AbortSignal): Promise<TileLayerInfo[]> {
  return getJson<TileLayerInfo[]>('/tiles', signal)
}

/// Features of a layer with equality filters (and optionally a bbox), following `next` links
/// up to `max` features.
export async function features(
  layer: string,
  filters: Record<string, string> = {},
  opts: { max?: number; bbox?: [number, number, number, number]; signal?: AbortSignal } = {},
): Promise<Feature[]> {
  const max = opts.max ?? 5000
  const q = new URLSearchParams(filters)
  if (opts.bbox) q.set('bbox', opts.bbox.join(','))
  q.set('limit', String(Math.min(max, 1000)))
  let url: string | undefined = `/api/layers/${enc(layer)}/features?${q}`
  const out: Feature[] = []
  while (url && out.length < max) {
    const page: FeatureCollection = await getJson<FeatureCollection>(url, opts.signal)
    out.push(...page.features)
    url = page.next
  }
  return out.slice(0, max)
}

export function feature(layer: string, id: string, signal?: AbortSignal): Promise<Feature> {
  return getJson<Feature>(`/api/layers/${enc(layer)}/features/${enc(id)}`, signal)
}

export function attachmentUrl(id: string): string {
  return `/api/attachments/${enc(id)}`
}
