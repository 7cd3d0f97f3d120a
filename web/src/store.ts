// Application state: the catalogue, the administrative drill-down, the renewal-object path, the
// layer tree and the feature whose detail is open. Components read it; the map follows it.
import { computed, reactive, shallowRef } from 'vue'
import * as api from './api/client'
import type { Feature, LayerInfo, TileLayerInfo, UnitItem } from './api/client'
import { bbox, unionBbox, type Bbox } from './geo'
import { THEME_LAYERS } from './map/style'
import { codeLabel, lang } from './i18n'

export const CITY = '420100'

export interface Crumb {
  code: string
  name: string
  level: string
  parent: string
}

/// The sub-tabs of the side panel; each belongs to one module (shell/modules.ts).
export type Tab = 'admin' | 'renewal' | 'summary' | 'query' | 'progress' | 'lifecircle' | 'report' | 'manage'
export const TABS: Tab[] = ['admin', 'renewal', 'summary', 'query', 'progress', 'lifecircle', 'report', 'manage']

export interface Picked {
  layer: string
  id: string
}

export const state = reactive({
  catalogue: {} as Record<string, LayerInfo>,
  catalogueError: '' as string,
  tiles: null as TileLayerInfo[] | null,
  tilesError: false,
  /// City → … → current unit.
  path: [] as Crumb[],
  unit: null as Feature | null,
  children: [] as UnitItem[],
  childrenLoading: false,
  childrenError: '',
  tab: 'admin' as Tab,
  objects: [] as Feature[],
  objectsLoading: false,
  objectsError: '',
  object: null as Feature | null,
  parcels: [] as Feature[],
  parcelsLoading: false,
  picked: null as Picked | null,
  visible: new Set(THEME_LAYERS.filter((t) => t.defaultOn).map((t) => t.id)),
  /// Per tree entry: whether features drawn in view are generated ('all', 'some', 'none').
  generatedInView: {} as Record<string, 'all' | 'some' | 'none'>,
  /// Code → name of every administrative unit seen so far.
  names: {} as Record<string, string>,
  /// Set when the map should fit a box; the nonce makes the same box fit again.
  fit: null as { box: Bbox; nonce: number } | null,
  panelOpen: true,
  zoom: 0,
  /// The map's visible box, and its centre and zoom (for the URL).
  view: null as Bbox | null,
  center: null as [number, number] | null,
  /// Set when the map should jump to a centre and zoom (a view restored from the URL).
  jump: null as { center: [number, number]; zoom: number } | null,
})

/// Geometries for the map's overlays (not deep-reactive: large arrays).
export const districtFeatures = shallowRef<Feature[]>([])
export const childFeatures = shallowRef<Feature[]>([])

let nonce = 0
export function fitTo(box: Bbox | null) {
  if (box) state.fit = { box, nonce: ++nonce }
}

export const current = computed(() => state.path[state.path.length - 1] ?? null)

/// The Chinese or English name of a code of a layer's field.
export function codeName(layer: string, field: string, value: unknown): string {
  const f = state.catalogue[layer]?.fields.find((x) => x.name === field)
  const c = f?.codes?.find((x) => x.code === String(value))
  return c ? codeLabel(c) : String(value ?? '')
}

export function layerTitle(name: string): string {
  const l = state.catalogue[name]
  if (!l) return name
  return lang.value === 'zh' ? l.title_zh : l.title_en
}

export function isGenerated(f: { properties: Record<string, unknown> } | null | undefined): boolean {
  if (!f) return false
  const p = f.properties
  return p.provenance === 'generated' || p.generated === true
}

export async function loadCatalogue() {
  try {
    const list = await api.layers()
    state.catalogue = Object.fromEntries(list.map((l) => [l.name, l]))
    state.catalogueError = ''
  } catch (e) {
    state.catalogueError = String(e)
  }
}

export async function loadTiles(): Promise<TileLayerInfo[]> {
  try {
    state.tiles = await api.tileLayers()
    state.tilesError = false
  } catch {
    state.tiles = []
    state.tilesError = true
  }
  return state.tiles
}

export async function loadDistricts() {
  try {
    const fs = await api.features('admin_units', { parent_code: CITY }, { max: 100 })
    for (const f of fs) state.names[f.id] = String(f.properties.name ?? '')
    districtFeatures.value = fs
  } catch {
    // The drill-down list still works; only the district labels and hover are missing.
  }
}

const asked = new Set<string>()
/// Looks up the name of an administrative unit not seen yet (for attribute values).
export function ensureName(code: string) {
  if (state.names[code] || asked.has(code) || !/^\d{6,12}$/.test(code)) return
  asked.add(code)
  api
    .unit(code)
    .then((u) => (state.names[code] = String(u.properties.name ?? code)))
    .catch(() => undefined)
}

function crumbOf(f: Feature): Crumb {
  return {
    code: f.id,
    name: String(f.properties.name ?? f.id),
    level: String(f.properties.level ?? ''),
    parent: f.properties.parent_code ? String(f.properties.parent_code) : '',
  }
}

let selectSeq = 0

/// Makes `code` the current unit: its boundary is highlighted and fitted, its children listed.
/// `fit: 'outside'` fits only when the view is not already inside the unit (a click on the map
/// at street level selects the unit under the pointer without zooming out).
export async function selectUnit(code: string, opts: { fit?: boolean | 'outside' } = {}) {
  const seq = ++selectSeq
  state.childrenLoading = true
  state.childrenError = ''
  try {
    const [u, kids, kidFeatures] = await Promise.all([
      api.unit(code),
      api.unitChildren(code),
      api.features('admin_units', { parent_code: code }, { max: 2000 }).catch(() => [] as Feature[]),
    ])
    if (seq !== selectSeq) return
    // The path: known ancestors are reused, unknown ones asked for.
    const path: Crumb[] = [crumbOf(u)]
    let parent = path[0]!.parent
    while (parent && path.length < 8) {
      const code = parent
      const known = state.path.find((c) => c.code === code) ?? crumbOf(await api.unit(code))
      if (seq !== selectSeq) return
      path.unshift(known)
      parent = known.parent
    }
    state.path = dedupe(path)
    state.unit = u
    state.children = kids
    for (const k of kids) state.names[k.code] = k.name
    for (const c of state.path) state.names[c.code] = c.name
    childFeatures.value = kidFeatures
    state.object = null
    state.parcels = []
    // The children too: a unit's outline may be generalised more than its children's.
    const box = unionBbox([bbox(u.geometry), ...kidFeatures.map((f) => bbox(f.geometry))])
    const inside = (v: Bbox | null, b: Bbox | null) =>
      !!v && !!b && v[0] >= b[0] && v[1] >= b[1] && v[2] <= b[2] && v[3] <= b[3]
    if (opts.fit === true || opts.fit === undefined || (opts.fit === 'outside' && !inside(state.view, box))) fitTo(box)
    void loadObjects()
  } catch (e) {
    if (seq === selectSeq) state.childrenError = e instanceof Error ? e.message : String(e)
  } finally {
    if (seq === selectSeq) state.childrenLoading = false
  }
}

function dedupe(path: Crumb[]): Crumb[] {
  const seen = new Set<string>()
  return path.filter((c) => (seen.has(c.code) ? false : (seen.add(c.code), true)))
}

export function goUp() {
  if (state.object) {
    clearObject()
    return
  }
  const up = state.path[state.path.length - 2]
  if (up) void selectUnit(up.code)
}

/// The filter that selects renewal objects inside the current unit.
function objectFilter(): Record<string, string> | null {
  const c = current.value
  if (!c) return null
  switch (c.level) {
    case 'district':
      return { district_code: c.code }
    case 'street':
      return { street_code: c.code }
    case 'community':
      return { community_code: c.code }
    default:
      // The whole city: too many to list; the panel asks for a district first.
      return null
  }
}

let objectsSeq = 0
export async function loadObjects() {
  const filter = objectFilter()
  const seq = ++objectsSeq
  state.objectsLoading = true
  state.objectsError = ''
  try {
    const fs = filter ? await api.features('renewal_objects', filter, { max: 5000 }) : []
    if (seq !== objectsSeq) return
    state.objects = fs
  } catch (e) {
    if (seq === objectsSeq) state.objectsError = e instanceof Error ? e.message : String(e)
  } finally {
    if (seq === objectsSeq) state.objectsLoading = false
  }
}

let parcelSeq = 0
/// Opens a renewal object: it becomes the current object (breadcrumb, panel) and its detail opens.
/// `fit: false` keeps the map's view (a view restored from the URL).
export async function selectObject(f: Feature, opts: { fit?: boolean } = {}) {
  // The object belongs under the current unit; if it does not, its district becomes current.
  const p = f.properties
  const within = [p.district_code, p.street_code, p.community_code].map((c) => String(c ?? ''))
  const cur = current.value
  if (cur && !within.includes(cur.code) && p.district_code) {
    await selectUnit(String(p.district_code), { fit: false })
  }
  state.object = f
  // In 信息检索 the panel shows the object's parcels; other workspaces keep their tab.
  if (state.tab === 'admin' || state.tab === 'summary' || state.tab === 'query') state.tab = 'renewal'
  state.picked = { layer: 'renewal_objects', id: f.id }
  if (opts.fit !== false) fitTo(bbox(f.geometry))
  const seq = ++parcelSeq
  state.parcelsLoading = true
  state.parcels = []
  try {
    const ps = await api.features('parcels', { renewal_object_id: f.id }, { max: 5000 })
    if (seq === parcelSeq) state.parcels = ps
  } catch {
    if (seq === parcelSeq) state.parcels = []
  } finally {
    if (seq === parcelSeq) state.parcelsLoading = false
  }
}

/// Opens a renewal object by id (from a click on the map).
export async function selectObjectById(id: string, opts: { fit?: boolean } = {}) {
  const known = state.objects.find((o) => o.id === id)
  await selectObject(known ?? (await api.feature('renewal_objects', id)), opts)
}

/// Closes the open renewal object (its detail too); `fit: false` keeps the map's view.
export function clearObject(opts: { fit?: boolean } = {}) {
  state.object = null
  state.parcels = []
  if (state.picked?.layer === 'renewal_objects') state.picked = null
  if (opts.fit !== false) fitTo(bbox(state.unit?.geometry))
}

export function pick(layer: string, id: string) {
  state.picked = { layer, id }
}

export function closeDetail() {
  state.picked = null
}
