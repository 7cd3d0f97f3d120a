// Who is signed in (cookie sessions). The header's sign-in form writes it; the panels that load
// protected data (progress, saved queries, running the life-circle evaluation) read it and
// reload when it changes.
import { computed, reactive } from 'vue'
import * as api from './api/client'
import { ApiFailure, type User } from './api/client'

export const auth = reactive({
  user: null as User | null,
  /// Set once `/api/auth/me` has answered (until then nobody is known to be signed in).
  checked: false,
})

export const signedIn = computed(() => auth.user !== null)
export const isCityAdmin = computed(() => auth.user?.role === 'city_admin')
/// One of the three administrators of 三权分立 (system, security, audit): each sees its part of 管理.
export const isAdministrator = computed(() =>
  ['city_admin', 'security_admin', 'audit_admin'].includes(auth.user?.role ?? ''),
)

/// Asks the server who the session belongs to (on start).
export async function checkSession() {
  try {
    auth.user = await api.me()
  } catch {
    auth.user = null
  } finally {
    auth.checked = true
  }
}

export async function signIn(username: string, password: string, totp?: string): Promise<User> {
  const u = await api.login(username, password, totp)
  auth.user = u
  auth.checked = true
  return u
}

export async function signOut() {
  try {
    await api.logout()
  } finally {
    auth.user = null
  }
}

/// Whether an error is the server's 401 (not signed in, or the session has ended).
export function isUnauthenticated(e: unknown): boolean {
  return e instanceof ApiFailure && e.status === 401
}

/// A protected request answered 401: the session has ended (expired, signed out elsewhere).
export function sessionLost() {
  auth.user = null
}
