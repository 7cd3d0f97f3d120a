// The map's style: an offline basemap drawn from Gengxin's own vector tiles, the thematic layers
// of the layer tree, and the overlays of the current selection. Colours are defined once here and
// both the map expressions and the legends are made from them.
import type {
  ExpressionSpecification,
  LayerSpecification,
  SourceSpecification,
  StyleSpecification,
} from 'maplibre-gl'
import type { MessageKey } from '../i18n'

export const FONT = ['Noto Sans CJK SC Regular']

/// One row of a legend: a swatch and what it means (a code of a field, a message, or a text).
export interface LegendItem {
  color: string
  shape: 'fill' | 'line' | 'circle' | 'dash' | 'hatch' | 'dots'
  code?: { field: string; code: string }
  label?: MessageKey
  text?: string
}

/// One entry of the layer tree.
export interface ThemeLayer {
  id: string
  /// The tile layer (and catalogue layer) it draws.
  source: string
  database: 'renewal' | 'community'
  /// Title from the catalogue (source layer), or a message.
  titleKey?: MessageKey
  defaultOn: boolean
  layers: LayerSpecification[]
  /// Map layers the pointer queries (hover and click).
  interactive: string[]
  legend: LegendItem[]
  legendTitle?: MessageKey
}

// --- Colours ------------------------------------------------------------------------------

/// 用地用海分类 (2023) colours as planners draw them: residential yellow, public services
/// magenta/pink, commercial red, industrial brown, logistics purple, roads grey, green, water blue.
/// In code order (an object with keys like '1001' would list them first).
export const LAND_USES: [string, string][] = [
  ['0701', '#FFFF2D'],
  ['0703', '#FFD37F'],
  ['0801', '#FF00FF'],
  ['0803', '#FF557F'],
  ['0804', '#FF85C9'],
  ['0805', '#00A57C'],
  ['0806', '#FF7F7E'],
  ['0807', '#FF9F7F'],
  ['0901', '#FF0000'],
  ['0902', '#C00000'],
  ['1001', '#BB9674'],
  ['1101', '#8761D3'],
  ['1207', '#A0A0A0'],
  ['1401', '#00FF00'],
  ['1402', '#1EB400'],
  ['1403', '#ACFFCF'],
  ['1701', '#4DB0F0'],
  ['1703', '#6CC6F4'],
  ['2301', '#D9D9C7'],
]
export const LAND_USE_COLORS: Record<string, string> = Object.fromEntries(LAND_USES)
const LAND_USE_OTHER = '#E6E6E6'

/// The four kinds of renewal object, in the colours of 三旧改造 maps.
export const RENEWAL_COLORS: Record<string, string> = {
  urban_village: '#F08C00',
  old_town: '#E03131',
  old_factory: '#1C7ED6',
  old_compound: '#9C36B5',
}

/// Building floors, graduated (low rise light → high rise dark).
export const FLOOR_CLASSES: { from: number; color: string; text: string }[] = [
  { from: 1, color: '#E5E3F3', text: '1–3' },
  { from: 4, color: '#C3BFE3', text: '4–6' },
  { from: 7, color: '#9E98CF', text: '7–9' },
  { from: 10, color: '#7A6FB8', text: '10–18' },
  { from: 19, color: '#5A4A9C', text: '19–33' },
  { from: 34, color: '#3B2A78', text: '34+' },
]

export const ROAD_STYLE: Record<string, { color: string; width: number; minzoom: number }> = {
  expressway: { color: '#F59F00', width: 5, minzoom: 8 },
  arterial: { color: '#FFD43B', width: 3.6, minzoom: 8 },
  secondary: { color: '#FFFFFF', width: 2.6, minzoom: 11 },
  branch: { color: '#FFFFFF', width: 1.6, minzoom: 13 },
  walkway: { color: '#C8B99A', width: 1, minzoom: 14 },
}

/// Facility categories grouped for a legend a planner can read; each group one colour.
export const FACILITY_GROUPS: { key: MessageKey; color: string; categories: string[] }[] = [
  {
    key: 'fg_education',
    color: '#1971C2',
    categories: ['middle_school', 'primary_school', 'kindergarten', 'nursery'],
  },
  {
    key: 'fg_health',
    color: '#E03131',
    categories: ['community_health_center', 'community_health_station', 'hospital'],
  },
  {
    key: 'fg_sports',
    color: '#2F9E44',
    categories: ['large_sports_ground', 'medium_sports_ground', 'small_sports_ground', 'outdoor_fitness'],
  },
  { key: 'fg_culture', color: '#9C36B5', categories: ['culture_center', 'culture_station'] },
  {
    key: 'fg_service',
    color: '#F76707',
    categories: ['community_service_center', 'community_service_station'],
  },
  { key: 'fg_elderly', color: '#A5672B', categories: ['elderly_day_care', 'nursing_home', 'community_canteen'] },
  { key: 'fg_commerce', color: '#F2C200', categories: ['food_market', 'convenience_store'] },
  { key: 'fg_municipal', color: '#868E96', categories: ['public_toilet', 'waste_collection'] },
  { key: 'fg_safety', color: '#1B2A6B', categories: ['police_station'] },
  { key: 'fg_transport', color: '#0C8599', categories: ['bus_stop', 'rail_station'] },
  { key: 'fg_park', color: '#66A80F', categories: ['park'] },
]

const OPEN_REPORT = ['received', 'filed', 'dispatched', 'handling', 'feedback']

export const PLAN_COLORS: Record<string, string> = {
  control_plan: '#5C7CFA',
  annual_renewal_plan: '#F76707',
  land_supply_plan: '#12B886',
  ecological_red_line: '#C92A2A',
}

export const HIGHLIGHT = '#00A3FF'
/// Results of the retrieval module (query, spatial and progress lists) and the drawn shape.
export const RESULT = '#0CA5C0'
export const RESULT_LINE = '#055160'
export const RESULT_HOVER = '#FFC400'
export const DRAW = '#212529'
export const SELECTED_FEATURE = '#FF1F8E'
const ADMIN_LINE = '#6B4FA0'
const LABEL = '#2B2B3A'
const HALO = 'rgba(255,255,255,0.92)'

// --- Generated (demo) data, marked on the map --------------------------------------------------

/// The image name of the hatch that covers generated polygons (see hatchImage).
export const HATCH = 'generated-hatch'
/// Marks of generated lines and points: the colour of the 生成 chip's border.
export const GENERATED_MARK = '#B08800'
/// Tile features carry `generated` (crates/gengxin-api/src/tiles.rs).
const GENERATED: ExpressionSpecification = ['==', ['get', 'generated'], true]

/// A 12 × 12 tile of diagonal lines (RGBA), repeated over generated polygons.
export function hatchImage(): { width: number; height: number; data: Uint8Array } {
  const n = 12
  const data = new Uint8Array(n * n * 4)
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const d = (x + y) % n
      const a = d === 0 ? 150 : d === 1 || d === n - 1 ? 60 : 0
      data.set([70, 58, 20, a], (y * n + x) * 4)
    }
  return { width: n, height: n, data }
}

/// The hatch over the generated polygons of a tile layer (`filter` narrows them further).
function hatched(id: string, source: string, filter?: ExpressionSpecification, minzoom?: number): LayerSpecification {
  return {
    id,
    type: 'fill',
    source,
    'source-layer': source,
    ...(minzoom === undefined ? {} : { minzoom }),
    filter: filter ? ['all', GENERATED, filter] : GENERATED,
    paint: { 'fill-pattern': HATCH, 'fill-opacity': 0.7 },
  }
}

/// A dotted line over the generated lines of a tile layer.
function dotted(id: string, source: string, filter?: ExpressionSpecification, minzoom?: number): LayerSpecification {
  return {
    id,
    type: 'line',
    source,
    'source-layer': source,
    ...(minzoom === undefined ? {} : { minzoom }),
    filter: filter ? ['all', GENERATED, filter] : GENERATED,
    paint: {
      'line-color': GENERATED_MARK,
      'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 14, 1.4],
      'line-dasharray': [1, 2],
    },
  }
}

/// Circles: generated points get the mark's colour as their ring.
const GENERATED_RING: ExpressionSpecification = ['case', GENERATED, GENERATED_MARK, '#FFFFFF']

function match(field: string, colors: Record<string, string>, other: string): ExpressionSpecification {
  const pairs = Object.entries(colors).flat()
  if (pairs.length === 0) return ['literal', other] as unknown as ExpressionSpecification
  return ['match', ['get', field], ...pairs, other] as unknown as ExpressionSpecification
}

function floorsColor(): ExpressionSpecification {
  const [first, ...rest] = FLOOR_CLASSES
  const stops = rest.flatMap((c) => [c.from, c.color])
  return ['step', ['coalesce', ['get', 'floors'], 1], first!.color, ...stops] as unknown as ExpressionSpecification
}

function facilityColor(): ExpressionSpecification {
  const pairs = FACILITY_GROUPS.flatMap((g) => [g.categories, g.color])
  return ['match', ['get', 'category'], ...pairs, '#495057'] as unknown as ExpressionSpecification
}

function roadClassExpr(prop: 'color' | 'width'): ExpressionSpecification {
  const pairs = Object.entries(ROAD_STYLE).flatMap(([k, v]) => [k, prop === 'color' ? v.color : v.width])
  return ['match', ['get', 'class'], ...pairs, prop === 'color' ? '#FFFFFF' : 1] as unknown as ExpressionSpecification
}

// --- Thematic layers (the layer tree) --------------------------------------------------------

export const THEME_LAYERS: ThemeLayer[] = [
  {
    id: 'admin_units',
    source: 'admin_units',
    database: 'renewal',
    defaultOn: true,
    layers: [
      {
        id: 'admin-street-line',
        type: 'line',
        source: 'admin_units',
        'source-layer': 'admin_units',
        minzoom: 9,
        filter: ['==', ['get', 'level'], 'street'],
        paint: {
          'line-color': ADMIN_LINE,
          'line-width': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 14, 1.6],
          'line-dasharray': [4, 2],
          'line-opacity': 0.75,
        },
      },
      dotted('admin-street-generated', 'admin_units', ['==', ['get', 'level'], 'street'], 9),
      {
        id: 'admin-district-line',
        type: 'line',
        source: 'admin_units',
        'source-layer': 'admin_units',
        filter: ['==', ['get', 'level'], 'district'],
        paint: {
          'line-color': ADMIN_LINE,
          'line-width': ['interpolate', ['linear'], ['zoom'], 8, 1.4, 14, 3.2],
        },
      },
      {
        id: 'admin-city-line',
        type: 'line',
        source: 'admin_units',
        'source-layer': 'admin_units',
        filter: ['==', ['get', 'level'], 'city'],
        paint: { 'line-color': '#3F2A6B', 'line-width': 3 },
      },
    ],
    interactive: [],
    legend: [
      { color: '#3F2A6B', shape: 'line', label: 'level_city' },
      { color: ADMIN_LINE, shape: 'line', label: 'level_district' },
      { color: ADMIN_LINE, shape: 'dash', label: 'level_street' },
    ],
  },
  {
    id: 'plan_zones',
    source: 'plan_zones',
    database: 'renewal',
    defaultOn: false,
    layers: [
      {
        id: 'plan-fill',
        type: 'fill',
        source: 'plan_zones',
        'source-layer': 'plan_zones',
        paint: { 'fill-color': match('plan_kind', PLAN_COLORS, '#868E96'), 'fill-opacity': 0.18 },
      },
      hatched('plan-generated', 'plan_zones'),
      {
        id: 'plan-line',
        type: 'line',
        source: 'plan_zones',
        'source-layer': 'plan_zones',
        paint: {
          'line-color': match('plan_kind', PLAN_COLORS, '#868E96'),
          'line-width': 1.5,
          'line-dasharray': [3, 2],
        },
      },
    ],
    interactive: ['plan-fill'],
    legend: Object.entries(PLAN_COLORS).map(([code, color]) => ({
      color,
      shape: 'fill' as const,
      code: { field: 'plan_kind', code },
    })),
  },
  {
    id: 'parcels',
    source: 'parcels',
    database: 'renewal',
    defaultOn: true,
    layers: [
      {
        id: 'parcels-fill',
        type: 'fill',
        source: 'parcels',
        'source-layer': 'parcels',
        paint: {
          'fill-color': match('land_use', LAND_USE_COLORS, LAND_USE_OTHER),
          'fill-opacity': ['interpolate', ['linear'], ['zoom'], 12, 0.55, 16, 0.8],
        },
      },
      hatched('parcels-generated', 'parcels'),
      {
        id: 'parcels-line',
        type: 'line',
        source: 'parcels',
        'source-layer': 'parcels',
        minzoom: 14,
        paint: { 'line-color': '#7A7A7A', 'line-width': 0.6, 'line-opacity': 0.7 },
      },
    ],
    interactive: ['parcels-fill'],
    legend: LAND_USES.map(([code, color]) => ({
      color,
      shape: 'fill' as const,
      code: { field: 'land_use', code },
    })),
  },
  {
    id: 'buildings',
    source: 'buildings',
    database: 'renewal',
    defaultOn: true,
    layers: [
      {
        id: 'buildings-fill',
        type: 'fill',
        source: 'buildings',
        'source-layer': 'buildings',
        paint: { 'fill-color': floorsColor(), 'fill-opacity': 0.92 },
      },
      hatched('buildings-generated', 'buildings'),
      {
        id: 'buildings-line',
        type: 'line',
        source: 'buildings',
        'source-layer': 'buildings',
        minzoom: 15,
        paint: { 'line-color': '#4A4470', 'line-width': 0.5, 'line-opacity': 0.6 },
      },
    ],
    interactive: ['buildings-fill'],
    legendTitle: 'floorsLegend',
    legend: FLOOR_CLASSES.map((c) => ({ color: c.color, shape: 'fill' as const, text: c.text })),
  },
  {
    id: 'roads',
    source: 'roads',
    database: 'renewal',
    defaultOn: true,
    layers: [
      {
        id: 'roads-casing',
        type: 'line',
        source: 'roads',
        'source-layer': 'roads',
        filter: ['!=', ['get', 'class'], 'walkway'],
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: {
          'line-color': '#B8AE98',
          'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 8, 0.8, 12, 2.2, 15, 6, 18, 20],
          'line-gap-width': 0,
        },
      },
      {
        id: 'roads-line',
        type: 'line',
        source: 'roads',
        'source-layer': 'roads',
        layout: { 'line-cap': 'round', 'line-join': 'round' },
        paint: {
          'line-color': roadClassExpr('color'),
          'line-width': [
            'interpolate',
            ['exponential', 1.6],
            ['zoom'],
            8,
            ['*', 0.12, roadClassExpr('width')],
            12,
            ['*', 0.4, roadClassExpr('width')],
            15,
            roadClassExpr('width'),
            18,
            ['*', 4, roadClassExpr('width')],
          ],
        },
      },
      dotted('roads-generated', 'roads', undefined, 11),
      {
        id: 'roads-label',
        type: 'symbol',
        source: 'roads',
        'source-layer': 'roads',
        minzoom: 13,
        layout: {
          'symbol-placement': 'line',
          'text-field': ['coalesce', ['get', 'name'], ''],
          'text-font': FONT,
          'text-size': ['interpolate', ['linear'], ['zoom'], 13, 11, 17, 14],
          'text-max-angle': 30,
          'symbol-spacing': 320,
        },
        paint: { 'text-color': '#4A3F2A', 'text-halo-color': HALO, 'text-halo-width': 1.5 },
      },
    ],
    interactive: ['roads-line'],
    legend: Object.entries(ROAD_STYLE).map(([code, s]) => ({
      color: s.color === '#FFFFFF' ? '#E9E4D8' : s.color,
      shape: 'line' as const,
      code: { field: 'class', code },
    })),
  },
  {
    id: 'renewal_objects',
    source: 'renewal_objects',
    database: 'renewal',
    defaultOn: true,
    layers: [
      {
        id: 'renewal-fill',
        type: 'fill',
        source: 'renewal_objects',
        'source-layer': 'renewal_objects',
        paint: {
          'fill-color': match('kind', RENEWAL_COLORS, '#868E96'),
          'fill-opacity': ['interpolate', ['linear'], ['zoom'], 8, 0.55, 13, 0.32, 16, 0.18],
        },
      },
      hatched('renewal-generated', 'renewal_objects'),
      {
        id: 'renewal-line',
        type: 'line',
        source: 'renewal_objects',
        'source-layer': 'renewal_objects',
        paint: {
          'line-color': match('kind', RENEWAL_COLORS, '#868E96'),
          'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.6, 13, 2, 16, 3],
        },
      },
      {
        id: 'renewal-label',
        type: 'symbol',
        source: 'renewal_objects',
        'source-layer': 'renewal_objects',
        minzoom: 14,
        layout: {
          'text-field': ['coalesce', ['get', 'name'], ''],
          'text-font': FONT,
          'text-size': 12,
          'text-padding': 6,
        },
        paint: {
          'text-color': match('kind', RENEWAL_COLORS, '#495057'),
          'text-halo-color': HALO,
          'text-halo-width': 1.6,
        },
      },
    ],
    interactive: ['renewal-fill'],
    legend: Object.entries(RENEWAL_COLORS).map(([code, color]) => ({
      color,
      shape: 'fill' as const,
      code: { field: 'kind', code },
    })),
  },
  {
    id: 'grids',
    source: 'grids',
    database: 'community',
    defaultOn: false,
    layers: [
      {
        id: 'grids-fill',
        type: 'fill',
        source: 'grids',
        'source-layer': 'grids',
        paint: { 'fill-color': '#0CA678', 'fill-opacity': 0.04 },
      },
      hatched('grids-generated', 'grids'),
      {
        id: 'grids-line',
        type: 'line',
        source: 'grids',
        'source-layer': 'grids',
        paint: { 'line-color': '#0CA678', 'line-width': 1, 'line-dasharray': [2, 2] },
      },
    ],
    interactive: ['grids-fill'],
    legend: [{ color: '#0CA678', shape: 'dash', text: '' }],
  },
  {
    id: 'communities',
    source: 'admin_units',
    database: 'community',
    titleKey: 'communityBounds',
    defaultOn: true,
    layers: [
      {
        id: 'community-line',
        type: 'line',
        source: 'admin_units',
        'source-layer': 'admin_units',
        minzoom: 11,
        filter: ['==', ['get', 'level'], 'community'],
        paint: {
          'line-color': '#2B8A3E',
          'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.5, 15, 1.6],
          'line-opacity': 0.8,
        },
      },
      dotted('community-generated', 'admin_units', ['==', ['get', 'level'], 'community'], 11),
    ],
    interactive: [],
    legend: [{ color: '#2B8A3E', shape: 'line', label: 'level_community' }],
  },
  {
    id: 'facilities',
    source: 'facilities',
    database: 'community',
    defaultOn: true,
    layers: [
      {
        id: 'facilities-circle',
        type: 'circle',
        source: 'facilities',
        'source-layer': 'facilities',
        // Below 14 the points hide the land use; a planner zooms in for them.
        minzoom: 14,
        paint: {
          'circle-color': facilityColor(),
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 3.5, 17, 7],
          'circle-stroke-color': GENERATED_RING,
          'circle-stroke-width': 1.6,
        },
      },
    ],
    interactive: ['facilities-circle'],
    legend: FACILITY_GROUPS.map((g) => ({ color: g.color, shape: 'circle' as const, label: g.key })),
  },
  {
    id: 'resident_reports',
    source: 'resident_reports',
    database: 'community',
    defaultOn: false,
    layers: [
      {
        id: 'reports-circle',
        type: 'circle',
        source: 'resident_reports',
        'source-layer': 'resident_reports',
        minzoom: 14,
        paint: {
          'circle-color': ['match', ['get', 'status'], OPEN_REPORT, '#E8590C', '#2F9E44'],
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 3, 17, 6],
          'circle-stroke-color': GENERATED_RING,
          'circle-stroke-width': 1.6,
        },
      },
    ],
    interactive: ['reports-circle'],
    legend: [
      { color: '#E8590C', shape: 'circle', label: 'rs_open' },
      { color: '#2F9E44', shape: 'circle', label: 'rs_closed' },
    ],
  },
]

/// Map layer id → the tree entry that owns it.
export const OWNER: Record<string, ThemeLayer> = Object.fromEntries(
  THEME_LAYERS.flatMap((t) => t.layers.map((l) => [l.id, t] as const)),
)

// --- Basemap and overlays ------------------------------------------------------------------

/// Basemap layers drawn under the thematic ones: paper, water and green from the parcels, roads
/// are thematic (toggleable) but the plain buildings stay when the graduated ones are off.
function basemap(): LayerSpecification[] {
  return [
    { id: 'background', type: 'background', paint: { 'background-color': '#F4F1E8' } },
    {
      id: 'base-city',
      type: 'fill',
      source: 'admin_units',
      'source-layer': 'admin_units',
      filter: ['==', ['get', 'level'], 'city'],
      paint: { 'fill-color': '#FBFAF5' },
    },
    {
      id: 'base-landuse',
      type: 'fill',
      source: 'parcels',
      'source-layer': 'parcels',
      paint: {
        'fill-color': [
          'match',
          ['get', 'land_use'],
          ['1701', '1703'],
          '#A9D3EE',
          ['1401', '1402'],
          '#CFE6BF',
          '1403',
          '#E3EDDA',
          '#EFEBDF',
        ],
      },
    },
    {
      id: 'base-buildings',
      type: 'fill',
      source: 'buildings',
      'source-layer': 'buildings',
      paint: { 'fill-color': '#D8D2C4', 'fill-outline-color': '#C2BAA8' },
    },
  ]
}

const POLYGONAL: ExpressionSpecification = ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]]
const LINEAR: ExpressionSpecification = ['in', ['geometry-type'], ['literal', ['LineString', 'MultiLineString']]]
const PUNCTUAL: ExpressionSpecification = ['in', ['geometry-type'], ['literal', ['Point', 'MultiPoint']]]

/// `hover`/`selected` feature states → colour.
function resultColor(base = RESULT): ExpressionSpecification {
  return [
    'case',
    ['boolean', ['feature-state', 'selected'], false],
    SELECTED_FEATURE,
    ['boolean', ['feature-state', 'hover'], false],
    RESULT_HOVER,
    base,
  ]
}

function marked(on: number, off: number): ExpressionSpecification {
  return [
    'case',
    ['any', ['boolean', ['feature-state', 'selected'], false], ['boolean', ['feature-state', 'hover'], false]],
    on,
    off,
  ]
}

/// The results of the retrieval module: fill and outline for polygons, lines, circles for
/// points; the row under the pointer and the chosen row stand out. Then the shape being drawn.
function resultLayers(): LayerSpecification[] {
  return [
    {
      id: 'results-fill',
      type: 'fill',
      source: 'results',
      filter: POLYGONAL,
      paint: { 'fill-color': resultColor(), 'fill-opacity': marked(0.7, 0.55) },
    },
    {
      id: 'results-casing',
      type: 'line',
      source: 'results',
      filter: ['any', POLYGONAL, LINEAR],
      paint: { 'line-color': '#FFFFFF', 'line-width': marked(6.5, 4.2), 'line-opacity': 0.9 },
    },
    {
      id: 'results-line',
      type: 'line',
      source: 'results',
      filter: ['any', POLYGONAL, LINEAR],
      paint: { 'line-color': resultColor(RESULT_LINE), 'line-width': marked(3.5, 2.4) },
    },
    {
      id: 'results-point',
      type: 'circle',
      source: 'results',
      filter: PUNCTUAL,
      paint: {
        'circle-radius': marked(8, 6),
        'circle-color': resultColor(),
        'circle-stroke-color': RESULT_LINE,
        'circle-stroke-width': 2,
      },
    },
    {
      id: 'draw-fill',
      type: 'fill',
      source: 'draw',
      filter: POLYGONAL,
      paint: { 'fill-color': DRAW, 'fill-opacity': 0.1 },
    },
    {
      id: 'draw-line',
      type: 'line',
      source: 'draw',
      filter: ['any', POLYGONAL, LINEAR],
      paint: { 'line-color': DRAW, 'line-width': 2.2, 'line-dasharray': [3, 2] },
    },
    {
      id: 'draw-point',
      type: 'circle',
      source: 'draw',
      filter: PUNCTUAL,
      paint: {
        'circle-radius': 5,
        'circle-color': '#FFFFFF',
        'circle-stroke-color': DRAW,
        'circle-stroke-width': 2.5,
      },
    },
  ]
}

/// Overlays from the API (GeoJSON): districts (always, for labels and hover), the current unit
/// and its children, and the feature whose detail is open.
function overlays(): LayerSpecification[] {
  return [
    {
      id: 'districts-hit',
      type: 'fill',
      source: 'districts',
      paint: { 'fill-color': '#000000', 'fill-opacity': 0 },
    },
    {
      id: 'children-fill',
      type: 'fill',
      source: 'children',
      paint: {
        'fill-color': HIGHLIGHT,
        'fill-opacity': [
          'interpolate',
          ['linear'],
          ['zoom'],
          10,
          ['case', ['boolean', ['feature-state', 'hover'], false], 0.16, 0],
          14,
          ['case', ['boolean', ['feature-state', 'hover'], false], 0.05, 0],
        ],
      },
    },
    {
      id: 'children-line',
      type: 'line',
      source: 'children',
      paint: { 'line-color': '#3B5BDB', 'line-width': 1.2, 'line-opacity': 0.85 },
    },
    {
      id: 'selection-halo',
      type: 'line',
      source: 'selection',
      paint: { 'line-color': '#FFFFFF', 'line-width': 7, 'line-opacity': 0.85 },
    },
    {
      id: 'selection-line',
      type: 'line',
      source: 'selection',
      paint: { 'line-color': HIGHLIGHT, 'line-width': 3.2 },
    },
    ...resultLayers(),
    {
      id: 'feature-fill',
      type: 'fill',
      source: 'picked',
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': SELECTED_FEATURE, 'fill-opacity': 0.18 },
    },
    {
      id: 'feature-line',
      type: 'line',
      source: 'picked',
      paint: { 'line-color': SELECTED_FEATURE, 'line-width': 3 },
    },
    {
      id: 'feature-point',
      type: 'circle',
      source: 'picked',
      filter: ['==', ['geometry-type'], 'Point'],
      paint: {
        'circle-radius': 9,
        'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': SELECTED_FEATURE,
        'circle-stroke-width': 3,
      },
    },
    {
      id: 'district-labels',
      type: 'symbol',
      source: 'district-labels',
      maxzoom: 12.5,
      layout: {
        'text-field': ['get', 'name'],
        'text-font': FONT,
        'text-size': ['interpolate', ['linear'], ['zoom'], 8, 13, 12, 18],
        'text-allow-overlap': false,
        'text-padding': 4,
      },
      paint: { 'text-color': '#3F2A6B', 'text-halo-color': HALO, 'text-halo-width': 2 },
    },
    {
      id: 'children-labels',
      type: 'symbol',
      source: 'children-labels',
      filter: ['!=', ['get', 'level'], 'district'],
      layout: {
        'text-field': ['get', 'name'],
        'text-font': FONT,
        'text-size': ['interpolate', ['linear'], ['zoom'], 9, 11, 14, 14],
        'text-padding': 3,
        'text-max-width': 8,
      },
      paint: { 'text-color': LABEL, 'text-halo-color': HALO, 'text-halo-width': 1.8 },
    },
  ]
}

const EMPTY: SourceSpecification = { type: 'geojson', data: { type: 'FeatureCollection', features: [] } }

// --- Life circles (生活圈) ----------------------------------------------------------------------

/// Score stops (0–100) of the gap map: red low → green high.
export const LC_SCORE_STOPS: [number, string][] = [
  [0, '#D7301F'],
  [25, '#FC8D59'],
  [50, '#FEE08B'],
  [75, '#91CF60'],
  [100, '#1A9850'],
]

/// The gap map's fill colour for a tier ('5min', '10min', '15min'); grey where not scored.
export function lcScoreColor(tier: string): ExpressionSpecification {
  const p = `score_${tier}`
  return [
    'case',
    ['==', ['typeof', ['get', p]], 'number'],
    ['interpolate', ['linear'], ['get', p], ...LC_SCORE_STOPS.flat()],
    '#BBBBBB',
  ] as unknown as ExpressionSpecification
}

/// Map layer ids of the life-circle tab (hidden unless the tab is open).
export const LC_LAYER_IDS = ['lc-communities-fill', 'lc-communities-line', 'lc-parcels-fill', 'iso-fill', 'iso-line', 'iso-start']

/// The gap map (communities, then parcels from zoom 12) and the isochrones of a click.
function lifeCircleLayers(tier: string): LayerSpecification[] {
  const hidden = { visibility: 'none' as const }
  return [
    {
      id: 'lc-communities-fill',
      type: 'fill',
      source: 'life_circle_communities',
      'source-layer': 'life_circle_communities',
      maxzoom: 14,
      layout: hidden,
      paint: {
        'fill-color': lcScoreColor(tier),
        'fill-opacity': ['interpolate', ['linear'], ['zoom'], 9, 0.6, 12, 0.45, 14, 0.15],
      },
    },
    {
      id: 'lc-communities-line',
      type: 'line',
      source: 'life_circle_communities',
      'source-layer': 'life_circle_communities',
      layout: hidden,
      paint: { 'line-color': '#5C5470', 'line-width': 0.8, 'line-opacity': 0.7 },
    },
    {
      id: 'lc-parcels-fill',
      type: 'fill',
      source: 'life_circle_parcels',
      'source-layer': 'life_circle_parcels',
      minzoom: 12,
      layout: hidden,
      paint: {
        'fill-color': lcScoreColor(tier),
        'fill-opacity': ['interpolate', ['linear'], ['zoom'], 12, 0.3, 14, 0.6],
        'fill-outline-color': 'rgba(60,50,80,0.35)',
      },
    },
    {
      id: 'iso-fill',
      type: 'fill',
      source: 'isochrones',
      layout: hidden,
      paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.28 },
    },
    {
      id: 'iso-line',
      type: 'line',
      source: 'isochrones',
      layout: hidden,
      paint: { 'line-color': ['get', 'color'], 'line-width': 2 },
    },
    {
      id: 'iso-start',
      type: 'circle',
      source: 'iso-start',
      layout: hidden,
      paint: {
        'circle-radius': 6,
        'circle-color': '#FFFFFF',
        'circle-stroke-color': '#212529',
        'circle-stroke-width': 2.5,
      },
    },
  ]
}

/// The whole style. `tiled` lists the tile layers the server serves; thematic layers of other
/// sources are left out (so a server without tiles still draws the administrative overlays).
export function buildStyle(origin: string, tiled: Set<string>, visible: Set<string>): StyleSpecification {
  const sources: Record<string, SourceSpecification> = {
    districts: EMPTY,
    'district-labels': EMPTY,
    children: { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, promoteId: 'code' },
    'children-labels': EMPTY,
    selection: EMPTY,
    picked: EMPTY,
    results: { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, promoteId: 'key' },
    draw: EMPTY,
    isochrones: EMPTY,
    'iso-start': EMPTY,
  }
  for (const name of tiled) sources[name] = { type: 'vector', url: `${origin}/tiles/${name}.json` }
  const has = (l: LayerSpecification) => !('source' in l) || !l.source || l.source in sources
  const themed = THEME_LAYERS.flatMap((t) =>
    t.layers.map(
      (l) =>
        ({
          ...l,
          layout: { ...(l.layout ?? {}), visibility: visible.has(t.id) ? 'visible' : 'none' },
        }) as LayerSpecification,
    ),
  )
  // Labels of thematic layers go above the overlays' lines but below the admin labels.
  const isLabel = (l: LayerSpecification) => l.type === 'symbol'
  const all = [
    ...basemap(),
    ...themed.filter((l) => !isLabel(l) && l.type !== 'circle'),
    ...lifeCircleLayers('15min'),
    ...overlays().filter((l) => !isLabel(l)),
    ...themed.filter((l) => l.type === 'circle'),
    ...themed.filter(isLabel),
    ...overlays().filter(isLabel),
  ]
  return {
    version: 8,
    glyphs: `${origin}/fonts/{fontstack}/{range}.pbf`,
    sources,
    layers: all.filter(has),
  }
}
