// The life-circle tab (生活圈, GB 50180-2018): the tier that colours the gap map, running the
// evaluation, and a click on the map: the 5/10/15-minute walks from the point and the report of
// the community under it.
import { reactive, shallowRef } from 'vue'
import * as api from './api/client'
import type { Isochrones, LifeCircleReport, LifeCircleRun } from './api/client'
import { LC_SCORE_STOPS } from './map/style'
import { isUnauthenticated, sessionLost } from './auth'

export type Tier = '5min' | '10min' | '15min'
export const TIERS: Tier[] = ['5min', '10min', '15min']
export const TIER_MINUTES: Record<Tier, number> = { '5min': 5, '10min': 10, '15min': 15 }

/// Isochrone fills, by minutes (the 5-minute walk innermost, darkest).
export const ISO_COLORS: Record<number, string> = { 5: '#1B7F3B', 10: '#F59F00', 15: '#7048E8' }

/// Score (0–100) → colour, red low → green high (the map's stops, stepped for the panel).
export const SCORE_STOPS = LC_SCORE_STOPS

export function scoreColor(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '#ccc'
  let c = SCORE_STOPS[0]![1]
  for (const [at, col] of SCORE_STOPS) if (v >= at) c = col
  return c
}

/// The layers an export link is offered for.
export const EXPORT_LAYERS = ['life_circle_communities', 'life_circle_parcels'] as const

export const lc = reactive({
  tier: '15min' as Tier,
  running: false,
  run: null as LifeCircleRun | null,
  runError: '',
  /// Where the map was clicked (lon, lat).
  point: null as [number, number] | null,
  isoLoading: false,
  isoError: '',
  communityLoading: false,
  communityError: '',
  /// The clicked point is in no community.
  noCommunity: false,
  report: null as LifeCircleReport | null,
  /// Bumped when the evaluation has written new results (the map reloads its tiles).
  revision: 0,
})

/// Not deep-reactive: polygons.
export const isochrones = shallowRef<Isochrones | null>(null)

export async function runEvaluation() {
  if (lc.running) return
  lc.running = true
  lc.runError = ''
  try {
    lc.run = await api.lifeCircleEvaluate()
    lc.revision++
    // The open report may have changed.
    if (lc.report) void loadReport(lc.report.code)
  } catch (e) {
    lc.runError = e instanceof Error ? e.message : String(e)
    if (isUnauthenticated(e)) sessionLost()
  } finally {
    lc.running = false
  }
}

let reportSeq = 0
export async function loadReport(code: string) {
  const seq = ++reportSeq
  lc.communityLoading = true
  lc.communityError = ''
  lc.noCommunity = false
  try {
    const r = await api.lifeCircleCommunity(code)
    if (seq === reportSeq) lc.report = r
  } catch (e) {
    if (seq !== reportSeq) return
    lc.report = null
    lc.communityError = e instanceof Error ? e.message : String(e)
  } finally {
    if (seq === reportSeq) lc.communityLoading = false
  }
}

let isoSeq = 0
/// A click on the map: isochrones from the point and the report of the community under it
/// (`community` when the map knows it from a tile feature, else asked from `/api/at`).
export async function clickAt(lon: number, lat: number, community?: string) {
  // Rounded as sent to the server (micro-degrees), so the legend names the exact point asked.
  lon = Number(lon.toFixed(6))
  lat = Number(lat.toFixed(6))
  lc.point = [lon, lat]
  const seq = ++isoSeq
  lc.isoLoading = true
  lc.isoError = ''
  isochrones.value = null
  const iso = api
    .isochrone(lon, lat, TIERS.map((t) => TIER_MINUTES[t]))
    .then((fc) => {
      if (seq === isoSeq) isochrones.value = fc
    })
    .catch((e) => {
      if (seq === isoSeq) lc.isoError = e instanceof Error ? e.message : String(e)
    })
    .finally(() => {
      if (seq === isoSeq) lc.isoLoading = false
    })
  let code = community
  if (!code) {
    try {
      const at = await api.at(lon, lat, { layers: ['admin_units'] })
      const units = at.results.find((r) => r.layer === 'admin_units')?.features ?? []
      code = units.find((f) => f.properties.level === 'community')?.id
    } catch {
      code = undefined
    }
  }
  if (seq !== isoSeq) return
  if (code) await loadReport(code)
  else {
    ++reportSeq
    lc.report = null
    lc.communityError = ''
    lc.communityLoading = false
    lc.noCommunity = true
  }
  await iso
}

export function clearClick() {
  ++isoSeq
  ++reportSeq
  lc.point = null
  lc.isoLoading = false
  lc.isoError = ''
  lc.report = null
  lc.communityError = ''
  lc.noCommunity = false
  isochrones.value = null
}
