// Display of attribute values: code names, areas, unit names, booleans.
import { fieldTitle, t } from './i18n'
import { codeName, ensureName, state } from './store'

const UNIT_FIELDS = new Set(['district_code', 'street_code', 'community_code', 'parent_code'])

export function formatValue(layer: string, field: string, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—'
  if (field.endsWith('_m2')) {
    // The field title carries the unit (平方米 / m²); land areas also in hectares.
    const n = Number(v)
    if (!Number.isFinite(n)) return String(v)
    const m2 = Math.round(n).toLocaleString('en')
    return field === 'area_m2' && n >= 10000 ? `${m2} (${(n / 10000).toFixed(2)} ${t('hectares')})` : m2
  }
  if (UNIT_FIELDS.has(field)) {
    ensureName(String(v))
    return state.names[String(v)] ?? String(v)
  }
  if (typeof v === 'boolean') return v ? t('yes') : t('no')
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Math.round(v * 100) / 100)
  return codeName(layer, field, v)
}

export function fieldTitleOf(layer: string, field: string): string {
  const f = state.catalogue[layer]?.fields.find((x) => x.name === field)
  return fieldTitle(field, f?.title_zh)
}

/// One class of a breakdown chart.
export interface Slice {
  name: string
  value: number
  color: string
}
