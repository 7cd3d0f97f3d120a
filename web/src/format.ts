// Display of attribute values: code names, areas, unit names, booleans, dates and times, the
// names of referenced features; and the one title of a feature wherever a list shows it.
import { reactive } from 'vue'
import * as api from './api/client'
import { fieldTitle, lang, t } from './i18n'
import { codeName, ensureName, layerTitle, state } from './store'

const UNIT_FIELDS = new Set(['district_code', 'street_code', 'community_code', 'parent_code'])

/// Fields that hold the id of a feature of another layer (`parcel_ids`: a JSON array of them).
export const REFERENCES: Record<string, string> = {
  renewal_object_id: 'renewal_objects',
  parcel_id: 'parcels',
  parcel_ids: 'parcels',
  project_id: 'projects',
  building_id: 'buildings',
}

/// The layer a reference field of a feature points into (an attachment names its owner's layer).
export function referenceLayer(field: string, props: Record<string, unknown>): string | null {
  if (field === 'owner_id') return props.owner_layer ? String(props.owner_layer) : null
  if (field === 'area_id') return null
  return REFERENCES[field] ?? null
}

/// The ids a reference value holds: one id, or a JSON array of ids.
export function referenceIds(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return []
  if (Array.isArray(v)) return v.map(String)
  const s = String(v).trim()
  if (s.startsWith('[')) {
    try {
      const a = JSON.parse(s)
      if (Array.isArray(a)) return a.map(String)
    } catch {
      // Not JSON after all: one id.
    }
  }
  return [s]
}

/// Titles of referenced features, by `layer/id`, as they arrive.
const refTitles = reactive<Record<string, string>>({})
const refAsked = new Set<string>()

/// The title of a referenced feature: fetched once; meanwhile 加载中…; the layer's title when the
/// caller may not read it. Never its id.
export function referenceTitle(layer: string, id: string): string {
  const key = `${layer}/${id}`
  if (refTitles[key] === undefined && !refAsked.has(key)) {
    refAsked.add(key)
    api
      .feature(layer, id)
      .then((f) => (refTitles[key] = featureTitle(layer, f)))
      .catch(() => (refTitles[key] = ''))
  }
  const got = refTitles[key]
  if (got === undefined) return t('loading')
  return got || layerTitle(layer)
}

/// Remembers a feature's title (a list already holds it: no request needed).
export function knowTitle(layer: string, f: { id: string; properties: Record<string, unknown> }) {
  refTitles[`${layer}/${f.id}`] = featureTitle(layer, f)
}

const TZ = 'Asia/Shanghai'
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/

function parts(d: Date, withTime: boolean): Record<string, string> {
  const opts: Intl.DateTimeFormatOptions = { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }
  if (withTime) Object.assign(opts, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  return Object.fromEntries(new Intl.DateTimeFormat('en-GB', opts).formatToParts(d).map((p) => [p.type, p.value]))
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined || v === '') return null
  const s = String(v)
  // A calendar date is that day wherever one is: read it at noon in Beijing.
  const d = DATE_ONLY.test(s) ? new Date(`${s}T12:00:00+08:00`) : new Date(s)
  return Number.isNaN(d.getTime()) ? null : d
}

/// A date: `2026-12-07` in Chinese, `7 Dec 2026` in English (Beijing time).
export function formatDate(v: unknown): string {
  const d = toDate(v)
  if (!d) return v === null || v === undefined || v === '' ? '—' : String(v)
  if (lang.value === 'zh') {
    const p = parts(d, false)
    return `${p.year}-${p.month}-${p.day}`
  }
  return new Intl.DateTimeFormat('en-GB', { timeZone: TZ, day: 'numeric', month: 'short', year: 'numeric' }).format(d)
}

/// A time: `2026-12-07 14:05` in Chinese, `7 Dec 2026, 14:05` in English (Beijing time). A
/// calendar date alone is shown as a date.
export function formatDateTime(v: unknown): string {
  if (typeof v === 'string' && DATE_ONLY.test(v)) return formatDate(v)
  const d = toDate(v)
  if (!d) return v === null || v === undefined || v === '' ? '—' : String(v)
  const p = parts(d, true)
  if (lang.value === 'zh') return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`
  return `${formatDate(d.toISOString())}, ${p.hour}:${p.minute}`
}

/// The names of facility categories in a comma-separated list of codes (life-circle `missing`).
function categoryList(v: unknown): string {
  return String(v)
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => codeName('facilities', 'category', c))
    .join(t('listSep'))
}

/// A life-circle map of `tier:category` to a number (coverage share or metres) as a readable list.
function tierCategoryList(v: unknown, unit: 'pct' | 'm'): string {
  let o: Record<string, number | null>
  try {
    o = JSON.parse(String(v))
  } catch {
    return String(v)
  }
  return Object.entries(o)
    .map(([k, n]) => {
      const [tier, cat] = k.includes(':') ? k.split(':') : ['', k]
      const name = `${tier ? codeName('facilities', 'tier', tier) + ' ' : ''}${codeName('facilities', 'category', cat)}`
      const val = n === null ? '—' : unit === 'pct' ? `${Math.round(n * 100)}%` : `${Math.round(n).toLocaleString('en')} ${t('metres')}`
      return `${name}${t('colon')}${val}`
    })
    .join(t('listSep'))
}

export function formatValue(layer: string, field: string, v: unknown, props?: Record<string, unknown>): string {
  if (v === null || v === undefined || v === '') return '—'
  if (field.endsWith('_m2')) {
    // The field title carries the unit (平方米 / m²); land areas also in hectares.
    const n = Number(v)
    if (!Number.isFinite(n)) return String(v)
    const m2 = Math.round(n).toLocaleString('en')
    return field === 'area_m2' && n >= 10000 ? `${m2} (${(n / 10000).toFixed(2)} ${t('hectares')})` : m2
  }
  if (UNIT_FIELDS.has(field) || (field === 'area_id' && /^\d{6,12}$/.test(String(v)))) {
    const code = String(v)
    ensureName(code)
    return state.names[code] ?? (/^\d{6,12}$/.test(code) ? t('loading') : code)
  }
  const target = referenceLayer(field, props ?? {})
  if (target) return referenceIds(v).map((id) => referenceTitle(target, id)).join(t('listSep'))
  if (field === 'target_layer' || field === 'owner_layer') return layerTitle(String(v))
  if (field === 'missing') return categoryList(v)
  if (field === 'coverage') return tierCategoryList(v, 'pct')
  if (field === 'nearest_m') return tierCategoryList(v, 'm')
  const type = state.catalogue[layer]?.fields.find((x) => x.name === field)?.type
  if (type === 'date') return formatDate(v)
  if (type === 'datetime' || field.endsWith('_at')) return formatDateTime(v)
  if (typeof v === 'boolean') return v ? t('yes') : t('no')
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Math.round(v * 100) / 100)
  return codeName(layer, field, v)
}

export function fieldTitleOf(layer: string, field: string): string {
  const f = state.catalogue[layer]?.fields.find((x) => x.name === field)
  // A title's storage note, e.g. 关联地块(JSON), is not for people.
  return fieldTitle(field, f?.title_zh).replace(/\s*[(（]JSON[)）]\s*$/, '')
}

/// The one title of a feature in any list, heading or reference: its name, or for a feature
/// without one what it is and when (a resident report: its category and date; a supply: the item
/// and its stock date). Never its id.
export function featureTitle(layer: string, f: { id: string; properties: Record<string, unknown> } | null | undefined): string {
  if (!f) return ''
  const p = f.properties
  const join = (...xs: unknown[]) =>
    xs
      .filter((x) => x !== null && x !== undefined && x !== '' && x !== '—')
      .map(String)
      .join(' · ')
  const code = (field: string) => (p[field] ? codeName(layer, field, p[field]) : '')
  const date = (field: string) => (p[field] ? formatDate(p[field]) : '')
  switch (layer) {
    case 'resident_reports':
      return join(code('category'), date('reported_at'))
    case 'supplies':
      return join(p.item, date('as_of'))
    case 'deliveries':
      return join(p.item, date('requested_at'))
    case 'special_populations':
      return join(code('kind'), p.person_name)
    case 'epidemic_cases':
      return join(code('case_kind'), date('reported_date'))
    case 'progress_reports':
      return join(p.period, code('stage'), p.progress_pct !== undefined ? `${Math.round(Number(p.progress_pct))}%` : '')
    case 'attachments':
      return String(p.file_name ?? layerTitle(layer))
    case 'population':
      return join(p.community_code ? formatValue(layer, 'community_code', p.community_code) : '', p.year)
    case 'roads':
      return String(p.name || code('class') || layerTitle(layer))
    case 'buildings':
      return String(p.name || join(code('use'), p.floors ? `${p.floors}${t('floorsUnit')}` : '') || layerTitle(layer))
    case 'audit_log':
      return join(code('action'), formatDateTime(p.at))
  }
  return String(p.name || p.title || p.code || p.person_name || layerTitle(layer))
}

/// The name of a code through the catalogue's code list; when the catalogue does not (yet) list it,
/// the name the server gave with it; never the bare code when a name is known.
export function codeNameOr(layer: string, field: string, code: unknown, fallback?: string | null): string {
  const f = state.catalogue[layer]?.fields.find((x) => x.name === field)
  if (f?.codes?.some((c) => c.code === String(code))) return codeName(layer, field, code)
  return fallback || String(code ?? '')
}

/// A download URL with the current language, so that CSV and Excel headings and code names are in
/// it (the server's default follows Accept-Language).
export function withLang(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}lang=${lang.value}`
}

/// One class of a breakdown chart.
export interface Slice {
  name: string
  value: number
  color: string
}
