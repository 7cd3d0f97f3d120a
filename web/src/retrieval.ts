// The retrieval module (信息检索): the query builder's state, its results and the saved
// queries, the shape drawn on the map for a spatial condition, and the results overlay the map
// draws (hover and selection kept in step between the lists and the map).
import { computed, reactive, shallowRef, watch } from 'vue'
import * as api from './api/client'
import type { ErrorAt, Feature, Geometry, OgcCollection, Queryable, SavedQuery } from './api/client'
import { ApiFailure } from './api/client'
import { auth, isUnauthenticated, sessionLost } from './auth'
import { bbox, unionBbox } from './geo'
import { buildFilter, errorIndex, spatialText, type Condition, type Spatial } from './cql2'
import { fitTo, pick, state } from './store'

/// One row of a result list, and its feature on the map.
export interface ResultItem {
  /// Unique among the drawn results: `layer/id`.
  key: string
  /// What a click opens.
  layer: string
  id: string
  feature: Feature
}

export interface ResultGroup {
  layer: string
  title: string
  numberMatched: number
  offset: number
  limit: number
  /// The CQL2 text that selects the group (for paging and exports).
  filter: string
  bbox: string | null
  /// Paged through /ogc (the query builder); spatial answers are one page.
  pageable: boolean
  items: ResultItem[]
}

export const PAGE = 50
/// Features per layer asked of a spatial query.
export const SPATIAL_LIMIT = 200

// --- Drawing on the map ---------------------------------------------------------------------

export type DrawMode = 'none' | 'point' | 'polygon'

export const draw = reactive({
  mode: 'none' as DrawMode,
  /// Vertices of the polygon being drawn.
  vertices: [] as [number, number][],
  /// The picked point (for a distance condition).
  point: null as [number, number] | null,
  /// The finished polygon (open ring).
  polygon: null as [number, number][] | null,
})

export function startDraw(mode: DrawMode) {
  draw.mode = mode
  draw.vertices = []
}

export function finishPolygon() {
  if (draw.mode !== 'polygon') return
  if (draw.vertices.length >= 3) draw.polygon = [...draw.vertices]
  draw.vertices = []
  draw.mode = 'none'
}

/// Takes the map's current view as the spatial condition's box.
export function useView() {
  query.viewBox = state.view ? [...state.view] : null
}

export function cancelDraw() {
  draw.mode = 'none'
  draw.vertices = []
}

// --- The query builder ----------------------------------------------------------------------

export type SpatialKind = Spatial['kind']

let rowKey = 0
export function newRow(property = ''): Condition {
  return { key: ++rowKey, property, op: '=', value: '', value2: '', values: [] }
}

export const query = reactive({
  mode: 'filter' as 'filter' | 'spatial',
  collections: [] as OgcCollection[],
  collectionsError: '',
  collection: '',
  props: {} as Record<string, Queryable>,
  propsLoading: false,
  propsError: '',
  rows: [] as Condition[],
  join: 'AND' as 'AND' | 'OR',
  spatial: 'none' as SpatialKind,
  /// The map's view when "current view" was chosen (the text does not follow every pan).
  viewBox: null as [number, number, number, number] | null,
  distance: 500,
  /// The CQL2 text that runs: generated from the rows until the user edits it.
  text: '',
  edited: false,
  /// A bbox parameter (from a saved query).
  bbox: null as string | null,
  /// Layers of a spatial query and how they relate to the shape.
  spatialLayers: ['parcels'] as string[],
  relation: 'intersects' as 'intersects' | 'within',
  running: false,
  error: null as null | { message: string; code: string; at: ErrorAt | null; index: number | null; text: string },
  groups: [] as ResultGroup[],
  /// Set once a query has run (an empty answer says 无结果).
  ran: false,
  saved: [] as SavedQuery[],
  savedLoaded: false,
  savedError: '',
})

/// The spatial condition from the builder's choice and what was drawn.
export const spatialCondition = computed<Spatial>(() => {
  switch (query.spatial) {
    case 'view':
      return query.viewBox ? { kind: 'view', box: query.viewBox } : { kind: 'none' }
    case 'distance':
      return draw.point ? { kind: 'distance', point: draw.point, meters: Number(query.distance) || 0 } : { kind: 'none' }
    case 'polygon':
      return draw.polygon ? { kind: 'polygon', ring: draw.polygon } : { kind: 'none' }
    default:
      return { kind: 'none' }
  }
})

export const generated = computed(() => buildFilter(query.rows, query.props, query.join, spatialCondition.value))

watch(generated, (g) => {
  if (!query.edited) query.text = g
})

export function regenerate() {
  query.edited = false
  query.text = generated.value
  query.error = null
}

export async function loadCollections() {
  if (query.collections.length) return
  try {
    query.collections = await api.ogcCollections()
    query.collectionsError = ''
    if (!query.collection) await setCollection(query.collections.some((c) => c.id === 'parcels') ? 'parcels' : (query.collections[0]?.id ?? ''))
  } catch (e) {
    query.collectionsError = e instanceof Error ? e.message : String(e)
  }
}

export function collectionInfo(id: string): OgcCollection | undefined {
  return query.collections.find((c) => c.id === id)
}

let propsSeq = 0
export async function setCollection(id: string, keepText = false) {
  if (query.collection !== id) {
    query.collection = id
    query.rows = []
    query.bbox = null
    if (!keepText) regenerate()
  }
  if (!collectionInfo(id)?.geometryType) query.spatial = 'none'
  const seq = ++propsSeq
  query.propsLoading = true
  query.propsError = ''
  try {
    const props = await api.queryables(id)
    if (seq !== propsSeq) return
    query.props = props
  } catch (e) {
    if (seq === propsSeq) {
      query.props = {}
      query.propsError = e instanceof Error ? e.message : String(e)
    }
  } finally {
    if (seq === propsSeq) query.propsLoading = false
  }
}

function failureOf(e: unknown, text: string) {
  if (e instanceof ApiFailure) {
    const at = e.at && e.at.parameter === 'filter' ? e.at : null
    return { message: e.message, code: e.code, at, index: at ? errorIndex(text, at) : null, text }
  }
  return { message: e instanceof Error ? e.message : String(e), code: '', at: null, index: null, text }
}

let runSeq = 0
let runAbort: AbortController | null = null

/// Runs the builder's CQL2 text over its collection: the page at `offset`.
export async function runFilter(offset = 0) {
  const collection = query.collection
  if (!collection) return
  const text = query.text.trim()
  const seq = ++runSeq
  runAbort?.abort()
  const ctl = new AbortController()
  runAbort = ctl
  query.running = true
  query.error = null
  try {
    const page = await api.items(
      collection,
      { filter: text, bbox: query.bbox ?? undefined, limit: PAGE, offset },
      ctl.signal,
    )
    if (seq !== runSeq) return
    query.groups = [
      {
        layer: collection,
        title: collectionInfo(collection)?.title ?? collection,
        numberMatched: page.numberMatched,
        offset,
        limit: PAGE,
        filter: text,
        bbox: query.bbox,
        pageable: true,
        items: page.features.map((f) => item(collection, f)),
      },
    ]
    query.ran = true
    marks.selected = null
    marks.hover = null
    results.value = query.groups.flatMap((g) => g.items)
    if (offset === 0) fitResults()
  } catch (e) {
    if (seq !== runSeq || (e instanceof DOMException && e.name === 'AbortError')) return
    query.error = failureOf(e, query.text)
  } finally {
    if (seq === runSeq) query.running = false
  }
}

/// Coordinates as the CQL2 text writes them (6 decimals, ~0.1 m), so that the spatial query,
/// its export and its text select the same features.
const r6 = (n: number) => Math.round(n * 1e6) / 1e6

/// The drawn shape as a GeoJSON geometry for `/api/spatial`, with its buffer.
function spatialShape(): { geometry: Geometry; buffer: number } | null {
  const s = spatialCondition.value
  switch (s.kind) {
    case 'view': {
      const [w, so, e, n] = s.box.map(r6) as [number, number, number, number]
      return {
        geometry: { type: 'Polygon', coordinates: [[[w, so], [e, so], [e, n], [w, n], [w, so]]] },
        buffer: 0,
      }
    }
    case 'distance':
      return { geometry: { type: 'Point', coordinates: s.point.map(r6) }, buffer: s.meters }
    case 'polygon': {
      const ring = s.ring.map((p) => p.map(r6))
      return { geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]!]] }, buffer: 0 }
    }
    default:
      return null
  }
}

/// The CQL2 text equivalent to the spatial query (for exports and paging through /ogc).
function spatialFilter(): string {
  const s = spatialCondition.value
  const text = spatialText(s) ?? ''
  return query.relation === 'within' && s.kind !== 'distance' ? text.replace(/^S_INTERSECTS/, 'S_WITHIN') : text
}

/// Runs a spatial query over the chosen layers: `/api/at` for a bare point, else `/api/spatial`.
export async function runSpatial() {
  const shape = spatialShape()
  const layers = query.spatialLayers.filter((l) => collectionInfo(l)?.geometryType)
  if (!shape || !layers.length) return
  const seq = ++runSeq
  runAbort?.abort()
  const ctl = new AbortController()
  runAbort = ctl
  query.running = true
  query.error = null
  try {
    const point = shape.geometry.type === 'Point' && shape.buffer === 0
    const answer = point
      ? await api.at(shape.geometry.coordinates[0] as number, shape.geometry.coordinates[1] as number, {
          layers,
          toleranceM: 15,
          geometry: true,
          signal: ctl.signal,
        })
      : await api.spatial(
          {
            layers,
            geometry: shape.geometry,
            buffer_m: shape.buffer || undefined,
            relation: shape.buffer ? 'intersects' : query.relation,
            limit: SPATIAL_LIMIT,
          },
          ctl.signal,
        )
    if (seq !== runSeq) return
    const filter = spatialFilter()
    query.groups = answer.results.map((r) => ({
      layer: r.layer,
      title: r.title,
      numberMatched: r.numberMatched,
      offset: 0,
      limit: r.features.length,
      filter: point ? '' : filter,
      bbox: null,
      pageable: false,
      items: r.features.map((f) => item(r.layer, f)),
    }))
    query.ran = true
    marks.selected = null
    marks.hover = null
    results.value = query.groups.flatMap((g) => g.items)
    fitResults()
  } catch (e) {
    if (seq !== runSeq || (e instanceof DOMException && e.name === 'AbortError')) return
    query.error = failureOf(e, '')
  } finally {
    if (seq === runSeq) query.running = false
  }
}

export function clearResults() {
  runSeq++
  runAbort?.abort()
  query.running = false
  query.groups = []
  query.ran = false
  query.error = null
  results.value = []
  marks.selected = null
}

function item(layer: string, f: Feature): ResultItem {
  return { key: `${layer}/${f.id}`, layer, id: f.id, feature: f }
}

function fitResults() {
  const box = unionBbox(results.value.map((r) => bbox(r.feature.geometry)))
  if (box) fitTo(box)
}

let savedSeq = 0

/// The signed-in user's saved queries (none for the public).
export async function loadSaved() {
  const my = ++savedSeq
  if (!auth.user) {
    forgetSaved()
    return
  }
  try {
    const list = await api.savedQueries()
    if (my !== savedSeq) return
    query.saved = list
    query.savedError = ''
  } catch (e) {
    if (my !== savedSeq) return
    query.saved = []
    if (isUnauthenticated(e)) {
      query.savedError = ''
      sessionLost()
    } else query.savedError = e instanceof Error ? e.message : String(e)
  } finally {
    if (my === savedSeq) query.savedLoaded = true
  }
}

/// Forgets the saved queries (signed out, or another user signed in).
export function forgetSaved() {
  savedSeq++
  query.saved = []
  query.savedLoaded = false
  query.savedError = ''
}

/// Saves the builder's query; a refused filter comes back as the builder's error.
export async function saveCurrent(name: string, note: string): Promise<boolean> {
  try {
    await api.saveQuery({
      name,
      collection: query.collection,
      filter: query.text.trim() || undefined,
      filter_lang: 'cql2-text',
      bbox: query.bbox ?? undefined,
      note: note.trim() || undefined,
    })
    await loadSaved()
    return true
  } catch (e) {
    query.error = failureOf(e, query.text)
    if (isUnauthenticated(e)) sessionLost()
    return false
  }
}

export async function deleteSaved(id: string) {
  try {
    await api.deleteSavedQuery(id)
    query.saved = query.saved.filter((s) => s.id !== id)
  } catch (e) {
    if (isUnauthenticated(e)) sessionLost()
    else query.savedError = e instanceof Error ? e.message : String(e)
  }
}

/// Puts a saved query into the builder (as typed text) and runs it.
export async function runSaved(s: SavedQuery) {
  query.mode = 'filter'
  await setCollection(s.collection, true)
  query.rows = []
  query.edited = true
  query.text = s.filter ?? ''
  query.bbox = s.bbox
  await runFilter(0)
}

// --- Results on the map ---------------------------------------------------------------------

/// The features of the query tab's results.
export const results = shallowRef<ResultItem[]>([])
/// The renewal objects of the projects listed by the progress tab (keyed by project).
export const progressItems = shallowRef<ResultItem[]>([])

/// Which list the map draws when neither tab is open: the one used last.
const lastOwner = { value: 'query' as 'query' | 'progress' }
export const overlayItems = computed<ResultItem[]>(() => {
  if (state.tab === 'query') lastOwner.value = 'query'
  if (state.tab === 'progress') lastOwner.value = 'progress'
  return lastOwner.value === 'progress' ? progressItems.value : results.value
})

/// The row under the pointer and the row chosen (from the list or on the map).
export const marks = reactive({
  hover: null as string | null,
  selected: null as string | null,
  /// Bumped when the map chooses a row, so the list scrolls to it.
  nonce: 0,
})

/// A row was clicked: mark it, fit the map to its feature and open its detail.
export async function chooseItem(it: ResultItem, open: { layer: string; id: string } = it) {
  marks.selected = it.key
  pick(open.layer, open.id)
  let g = it.feature.geometry
  if (!g && it.layer !== 'projects') {
    try {
      g = (await api.feature(it.layer, it.id)).geometry
    } catch {
      g = null
    }
  }
  const box = bbox(g)
  if (box) fitTo(box)
}

/// A result feature was clicked on the map.
export function chooseOnMap(key: string) {
  marks.selected = key
  marks.nonce++
}
