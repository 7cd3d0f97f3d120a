// The URL and the browser's history. The hash holds the module, its sub-tab, the place (unit
// code), the open renewal object, the picked feature and the map view:
//
//   #m=retrieval&tab=renewal&unit=420106001&obj=<renewal object id>&pick=parcels:<id>&map=114.30410,30.55120,13.20
//
// Going to another place, object, picked feature or module pushes a history entry (Back goes up
// a level: to the previous place); a sub-tab or a pan/zoom replaces the current entry. Opening a
// URL restores all of it; without one (or with only a map view) a signed-in user lands in their
// workspace on their own area (landingOf).
import { computed, nextTick, watch } from 'vue'
import { auth, checkSession } from '../auth'
import { CITY, current, selectObjectById, selectUnit, state, TABS, type Picked, type Tab } from '../store'
import { currentModule, landingOf, moduleById, rememberTab, switchLayers, tabShown } from './modules'

export interface Link {
  tab?: Tab
  unit?: string
  obj?: string
  pick?: Picked
  map?: { center: [number, number]; zoom: number }
}

/// Reads a link from a hash (`#m=…&tab=…`); the older `#unit=420106` is still understood.
export function parseLink(hash: string): Link {
  const q = new URLSearchParams(hash.replace(/^#/, ''))
  const link: Link = {}
  const tab = q.get('tab') as Tab | null
  const mod = moduleById(q.get('m'))
  if (tab && TABS.includes(tab) && (!mod || mod.tabs.includes(tab))) link.tab = tab
  else if (mod) link.tab = mod.tabs[0]
  const unit = q.get('unit')
  if (unit && /^\d{6,12}$/.test(unit)) link.unit = unit
  const obj = q.get('obj')
  if (obj) link.obj = obj
  const pick = q.get('pick')
  const colon = pick?.indexOf(':') ?? -1
  if (pick && colon > 0) link.pick = { layer: pick.slice(0, colon), id: pick.slice(colon + 1) }
  const m = q.get('map')?.split(',').map(Number)
  if (m && m.length === 3 && m.every(Number.isFinite)) link.map = { center: [m[0]!, m[1]!], zoom: m[2]! }
  return link
}

/// The hash of the current state.
export function linkHash(): string {
  const q = new URLSearchParams()
  q.set('m', currentModule.value.id)
  q.set('tab', state.tab)
  const c = current.value
  if (c) q.set('unit', c.code)
  if (state.object) q.set('obj', state.object.id)
  if (state.picked) q.set('pick', `${state.picked.layer}:${state.picked.id}`)
  if (state.center) q.set('map', `${state.center[0].toFixed(5)},${state.center[1].toFixed(5)},${state.zoom.toFixed(2)}`)
  return '#' + q.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',')
}

/// Until the first place is shown the URL is only replaced (no entry of its own); while a link
/// or history entry is restored it is not written.
let ready = false
let restoring = 0

function write(mode: 'push' | 'replace') {
  // While a link is shown the URL already holds it: writing the half-restored state would replace
  // the link (a reload right after pasting one would lose its place).
  if (restoring) return
  const h = linkHash()
  if (location.hash === h) return
  const url = location.pathname + location.search + h
  if (mode === 'push' && ready) history.pushState(null, '', url)
  else history.replaceState(null, '', url)
}

/// Shows what a link holds: sub-tab, place, object, picked feature, map view.
async function apply(link: Link) {
  restoring++
  try {
    if (link.tab) state.tab = link.tab
    const unit = link.unit ?? CITY
    if (current.value?.code !== unit || !state.unit) await selectUnit(unit, { fit: !link.map })
    if (link.obj) {
      if (state.object?.id !== link.obj) await selectObjectById(link.obj, { fit: !link.map }).catch(() => undefined)
      if (link.tab) state.tab = link.tab
    } else if (state.object) {
      state.object = null
      state.parcels = []
    }
    state.picked = link.pick ?? null
    if (link.map) state.jump = link.map
  } finally {
    // The watchers of what was just set run first (still restoring), then the URL is normalised.
    await nextTick()
    restoring--
    write('replace')
  }
}

/// Where the last landing put the view (null: the page was opened from a link).
let landedAt: string | null = null
const here = () => (state.object || state.picked ? null : `${state.tab}|${current.value?.code ?? ''}`)

/// The user's own workspace and area.
async function land(fit = true) {
  const l = landingOf(auth.user, CITY)
  state.tab = l.tab
  state.picked = null
  if (current.value?.code !== l.unit || state.object) await selectUnit(l.unit, { fit })
  landedAt = here()
}

/// Starts the shell: restores the URL's link or lands the user, then follows state into the URL
/// and Back/Forward into state.
export async function startShell() {
  watch(currentModule, (to, from) => switchLayers(from, to))
  watch(() => state.tab, rememberTab, { immediate: true })
  // A place, object, picked feature or module: a history entry.
  const place = computed(() =>
    [currentModule.value.id, current.value?.code, state.object?.id, state.picked?.layer, state.picked?.id].join('|'),
  )
  watch(place, () => write('push'))
  watch(
    () => [state.tab, state.center, state.zoom],
    () => write('replace'),
  )
  window.addEventListener('popstate', () => void apply(parseLink(location.hash)))
  // A module the user may no longer use (signed out, or a link to a module of another role).
  watch(
    () => [auth.checked, auth.user?.username, state.tab] as const,
    () => {
      if (auth.checked && !tabShown(state.tab)) {
        const landed = here() === landedAt
        state.tab = 'admin'
        if (landed) landedAt = here()
      }
    },
  )

  const link = parseLink(location.hash)
  const explicit = !!(link.tab || link.unit || link.obj || link.pick)
  await checkSession()
  if (explicit) await apply(link)
  else {
    if (link.map) state.jump = link.map
    await land(!link.map)
  }
  ready = true
  write('replace')
  // Signing in (or out) lands the user in their workspace — unless they have gone elsewhere since
  // the last landing (signing in to run something where they are), or opened a link.
  watch(
    () => auth.user?.username ?? null,
    () => {
      if (landedAt !== null && here() === landedAt) void land()
    },
  )
}
