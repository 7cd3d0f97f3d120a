// The top-level modules of the shell: each is a workspace with its own sub-tabs in the side panel,
// its own default map layers and the roles it is shown to. A module added later (社区治理, 预测分析)
// is one more entry here; a module that does not exist yet has no entry (no empty placeholder).
import { computed } from 'vue'
import type { User } from '../api/client'
import { auth } from '../auth'
import type { MessageKey } from '../i18n'
import { THEME_LAYERS } from '../map/style'
import { state, type Tab } from '../store'

export type ModuleId = 'retrieval' | 'assessment' | 'monitoring' | 'reporting' | 'manage'

export interface ModuleDef {
  id: ModuleId
  label: MessageKey
  /// The sub-tabs of its side panel; the first opens by default.
  tabs: Tab[]
  /// Theme layers (THEME_LAYERS ids) on and off on the first visit (after that the user's choice
  /// is remembered per module).
  layersOn?: string[]
  layersOff?: string[]
  /// Whether the user (null: signed out) may use it.
  shown: (user: User | null) => boolean
}

const ADMINISTRATORS = ['city_admin', 'security_admin', 'audit_admin']

export const MODULES: ModuleDef[] = [
  { id: 'retrieval', label: 'modRetrieval', tabs: ['admin', 'renewal', 'summary', 'query'], shown: () => true },
  {
    id: 'assessment',
    label: 'modAssessment',
    tabs: ['lifecircle'],
    // The life-circle result layers follow the tab (MapView); facilities and communities explain them.
    layersOn: ['facilities', 'communities'],
    layersOff: ['buildings'],
    shown: () => true,
  },
  {
    id: 'monitoring',
    label: 'modMonitoring',
    tabs: ['progress'],
    // Projects are drawn as their renewal objects.
    layersOn: ['renewal_objects'],
    layersOff: ['facilities', 'buildings'],
    // Project progress needs an account.
    shown: (u) => u !== null,
  },
  { id: 'reporting', label: 'modReporting', tabs: ['report'], shown: (u) => u !== null },
  { id: 'manage', label: 'modManage', tabs: ['manage'], shown: (u) => ADMINISTRATORS.includes(u?.role ?? '') },
]

export function moduleOfTab(tab: Tab): ModuleDef {
  return MODULES.find((m) => m.tabs.includes(tab)) ?? MODULES[0]!
}

export function moduleById(id: string | null | undefined): ModuleDef | undefined {
  return MODULES.find((m) => m.id === id)
}

/// The modules the signed-in user (or the public) sees, in order.
export const shownModules = computed(() => MODULES.filter((m) => m.shown(auth.user)))

export const currentModule = computed(() => moduleOfTab(state.tab))

export function tabShown(tab: Tab): boolean {
  return moduleOfTab(tab).shown(auth.user)
}

/// The last sub-tab open in each module (a module reopens where it was left).
const lastTab: Partial<Record<ModuleId, Tab>> = {}
/// The theme layers on in each module when it was left.
const layers: Partial<Record<ModuleId, Set<string>>> = {}

/// Opens a module on its last (or first) sub-tab.
export function openModule(id: ModuleId, tab?: Tab) {
  const m = moduleById(id)
  if (!m) return
  state.tab = tab && m.tabs.includes(tab) ? tab : (lastTab[id] ?? m.tabs[0]!)
}

/// Called when the module changes: remembers the old module's tab and layers, sets the new one's.
export function switchLayers(from: ModuleDef | undefined, to: ModuleDef) {
  if (from) layers[from.id] = new Set(state.visible)
  const remembered = layers[to.id]
  if (remembered) {
    state.visible = new Set(remembered)
    return
  }
  const v = new Set(THEME_LAYERS.filter((t) => t.defaultOn).map((t) => t.id))
  for (const id of to.layersOn ?? []) v.add(id)
  for (const id of to.layersOff ?? []) v.delete(id)
  state.visible = v
}

export function rememberTab(tab: Tab) {
  lastTab[moduleOfTab(tab).id] = tab
}

/// Where a user starts (after signing in, or on a reload with a session): their workspace on their
/// own area. A community worker would start in 社区治理, which does not exist yet: 信息检索 on the
/// community.
export function landingOf(user: User | null, city: string): { tab: Tab; unit: string } {
  switch (user?.role) {
    case 'community_worker':
      return { tab: 'admin', unit: user.community_code ?? user.district_code ?? city }
    case 'district':
      return { tab: 'admin', unit: user.district_code ?? city }
    case 'city_leader':
      return { tab: 'progress', unit: city }
    case 'entity':
      return { tab: 'report', unit: city }
    case 'city_admin':
    case 'security_admin':
    case 'audit_admin':
      return { tab: 'manage', unit: city }
    default:
      return { tab: 'admin', unit: city }
  }
}
