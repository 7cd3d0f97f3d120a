// What the layer tree and the map's legend say about a thematic layer: its title, the zoom from
// which it draws and the meaning of each legend swatch.
import { t } from '../i18n'
import { codeName, layerTitle, state } from '../store'
import type { LegendItem, ThemeLayer } from './style'

export function entryTitle(e: ThemeLayer): string {
  return e.titleKey ? t(e.titleKey) : layerTitle(e.source)
}

/// Whether the server serves the entry's tiles.
export function served(e: ThemeLayer): boolean {
  return !!state.tiles?.some((x) => x.layer === e.source)
}

/// The zoom from which the entry draws: its tiles' and its own layers' minimum zoom.
export function entryMinzoom(e: ThemeLayer): number {
  const tiles = state.tiles?.find((x) => x.layer === e.source)?.minzoom ?? 0
  const own = Math.min(...e.layers.map((l) => ('minzoom' in l && l.minzoom) || 0))
  return Math.max(tiles, own)
}

export function legendLabel(e: ThemeLayer, item: LegendItem): string {
  if (item.code) return codeName(e.source, item.code.field, item.code.code)
  if (item.label) return t(item.label)
  return item.text || entryTitle(e)
}
