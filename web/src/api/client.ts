// The API client. Shapes come from the server's OpenAPI document (`npm run gen` writes
// schema.d.ts from openapi.json); the free-form parts the document declares as plain objects
// (GeoJSON geometries, a feature's property values) are typed here.
import { ref } from 'vue'
import type { components, paths } from './schema'

type Schemas = components['schemas']

/// The JSON body of a GET answered with 200.
type Ok<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': infer B } } } }
}
  ? B
  : never

export type UnitItem = Schemas['UnitItem']
export type LayerInfo = Schemas['LayerInfo']
export type FieldInfo = Schemas['FieldInfo']
export type CodeInfo = Schemas['CodeInfo']

/// One entry of `GET /tiles`.
export type TileLayerInfo = Schemas['TileLayerInfo']

export type Scalar = string | number | boolean | null

export type Position = number[]
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'MultiLineString'; coordinates: Position[][] }
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }

/// A feature as GeoJSON (the server's GeoFeature), with its geometry and property values typed.
export type Feature = Omit<Schemas['GeoFeature'], 'geometry' | 'properties'> & {
  geometry: Geometry | null
  properties: Record<string, Scalar> & {
    provenance?: string
    version?: number
  }
}

/// A page of a layer's features: `GET /api/layers/{layer}/features`.
export type FeatureCollection = Omit<Schemas['FeatureCollection'], 'features'> & { features: Feature[] }

/// Where in a request parameter an error is (a CQL2 filter: byte offset, line, column).
export interface ErrorAt {
  parameter: string
  pointer?: string
  offset?: number
  line?: number
  column?: number
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    message: string,
    readonly code: string = '',
    readonly at: ErrorAt | null = null,
  ) {
    super(message)
  }
}

/// Turns a non-2xx answer into an ApiFailure with the server's message, code and position.
async function failure(res: Response, url: string): Promise<ApiFailure> {
  let message = `${res.status} ${res.statusText}`
  let code = ''
  let at: ErrorAt | null = null
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string; at?: ErrorAt } }
    if (body.error?.message) message = body.error.message
    code = body.error?.code ?? ''
    at = body.error?.at ?? null
  } catch {
    // Not the JSON error shape; keep the status line.
  }
  return new ApiFailure(res.status, url, message, code, at)
}

/// The CSRF token of the signed-in session (from login or `/api/auth/me`); sent as
/// `X-CSRF-Token` with every request that changes something. Empty when signed out.
let csrf = ''

/// How long a request runs before the page says it is busy (a faster one shows nothing).
export const BUSY_AFTER_MS = 300
/// Whether some request has been running longer than BUSY_AFTER_MS (the page's busy bar).
export const busy = ref(false)
let slow = 0

/// Runs a request, counted in `busy` once it has taken longer than BUSY_AFTER_MS.
async function tracked<T>(run: () => Promise<T>): Promise<T> {
  let late = false
  const timer = setTimeout(() => {
    late = true
    slow++
    busy.value = true
  }, BUSY_AFTER_MS)
  try {
    return await run()
  } finally {
    clearTimeout(timer)
    if (late && --slow === 0) busy.value = false
  }
}

function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  return tracked(async () => {
    const res = await fetch(url, { headers: { Accept: 'application/json' }, signal })
    if (!res.ok) throw await failure(res, url)
    return (await res.json()) as T
  })
}

function sendJson<T>(
  method: 'POST' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
  signal?: AbortSignal,
  retried = false,
  extra: Record<string, string> = {},
): Promise<T> {
  return tracked(() => send<T>(method, url, body, signal, retried, extra))
}

async function send<T>(
  method: 'POST' | 'PUT' | 'DELETE',
  url: string,
  body: unknown,
  signal: AbortSignal | undefined,
  retried: boolean,
  extra: Record<string, string>,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extra }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (csrf) headers['X-CSRF-Token'] = csrf
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  })
  if (!res.ok) {
    const f = await failure(res, url)
    // A stale or not yet known token: ask the session for it once and try again.
    if (f.status === 403 && f.code === 'csrf' && !retried && (await me(signal).catch(() => null))) {
      return send<T>(method, url, body, signal, true, extra)
    }
    throw f
  }
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

// --- Accounts (cookie sessions) -------------------------------------------------------------

export type Role =
  | 'city_admin'
  | 'city_leader'
  | 'district'
  | 'entity'
  | 'community_worker'
  | 'security_admin'
  | 'audit_admin'

/// The signed-in user: `POST /api/auth/login` and `GET /api/auth/me`.
export type User = Schemas['MeBody']

/// Signs in (the server sets the HttpOnly session cookie) with the password and the 6-digit code
/// of the authenticator app together; without a code the server answers 401 `totp_required`.
export async function login(username: string, password: string, totp?: string): Promise<User> {
  const body: { username: string; password: string; totp?: string } = { username, password }
  if (totp?.trim()) body.totp = totp.trim()
  const u = await sendJson<User>('POST', '/api/auth/login', body, undefined, true)
  csrf = u.csrf
  return u
}

/// Signs out; the token is forgotten even if the server no longer knew the session.
export async function logout(): Promise<void> {
  try {
    await sendJson<void>('POST', '/api/auth/logout', undefined, undefined, true)
  } catch (e) {
    if (!(e instanceof ApiFailure && e.status === 401)) throw e
  } finally {
    csrf = ''
  }
}

/// The signed-in user, or null for the public (401).
export async function me(signal?: AbortSignal): Promise<User | null> {
  try {
    const u = await getJson<User>('/api/auth/me', signal)
    csrf = u.csrf
    return u
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) {
      csrf = ''
      return null
    }
    throw e
  }
}

const enc = encodeURIComponent

export function unit(code: string, signal?: AbortSignal): Promise<Feature> {
  return getJson<Feature>(`/api/units/${enc(code)}`, signal)
}

export function unitChildren(code: string, signal?: AbortSignal): Promise<UnitItem[]> {
  return getJson<Ok<'/api/units/{code}/children'>>(`/api/units/${enc(code)}/children`, signal)
}

export function layers(signal?: AbortSignal): Promise<LayerInfo[]> {
  return getJson<Ok<'/api/layers'>>('/api/layers', signal)
}

export function tileLayers(signal?: AbortSignal): Promise<TileLayerInfo[]> {
  return getJson<TileLayerInfo[]>('/tiles', signal)
}

/// Features of a layer with equality filters (and optionally a bbox), following `next` links
/// up to `max` features.
export async function features(
  layer: string,
  filters: Record<string, string> = {},
  opts: { max?: number; bbox?: [number, number, number, number]; signal?: AbortSignal } = {},
): Promise<Feature[]> {
  const max = opts.max ?? 5000
  const q = new URLSearchParams(filters)
  if (opts.bbox) q.set('bbox', opts.bbox.join(','))
  q.set('limit', String(Math.min(max, 1000)))
  let url: string | undefined = `/api/layers/${enc(layer)}/features?${q}`
  const out: Feature[] = []
  while (url && out.length < max) {
    const page: FeatureCollection = await getJson<FeatureCollection>(url, opts.signal)
    out.push(...page.features)
    url = page.next
  }
  return out.slice(0, max)
}

export function feature(layer: string, id: string, signal?: AbortSignal): Promise<Feature> {
  return getJson<Feature>(`/api/layers/${enc(layer)}/features/${enc(id)}`, signal)
}

export function attachmentUrl(id: string): string {
  return `/api/attachments/${enc(id)}`
}

// --- Retrieval (信息检索) -------------------------------------------------------------------

/// One hit of `GET /api/search`.
export type SearchHit = Schemas['SearchHit']

export function search(
  q: string,
  opts: { type?: string; district?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<SearchHit[]> {
  const p = new URLSearchParams({ q })
  if (opts.type) p.set('type', opts.type)
  if (opts.district) p.set('district', opts.district)
  p.set('limit', String(opts.limit ?? 12))
  return getJson<SearchHit[]>(`/api/search?${p}`, opts.signal)
}

/// Count and area of one class (a renewal kind, a land use, a facility category).
export type ClassStat = Schemas['ClassStat']
export type StageCount = Schemas['StageCount']

/// `GET /api/summary/{layer}/{id}`: what lies inside a place.
export type Summary = Omit<Schemas['Summary'], 'feature' | 'bbox'> & {
  feature: Feature
  bbox: [number, number, number, number] | null
}

export function summary(layer: string, id: string, asOf?: string, signal?: AbortSignal): Promise<Summary> {
  const q = asOf ? `?as_of=${enc(asOf)}` : ''
  return getJson<Summary>(`/api/summary/${enc(layer)}/${enc(id)}${q}`, signal)
}

/// Features of one layer answering a point or shape query.
export type LayerResult = Omit<Schemas['LayerResult'], 'features'> & { features: Feature[] }
export type SpatialResults = Omit<Schemas['SpatialResults'], 'results'> & { results: LayerResult[] }

/// `GET /api/at`: what is at a point (features without geometry unless asked).
export function at(
  lon: number,
  lat: number,
  opts: { layers?: string[]; toleranceM?: number; geometry?: boolean; signal?: AbortSignal } = {},
): Promise<SpatialResults> {
  const p = new URLSearchParams({ lon: String(lon), lat: String(lat), geometry: String(!!opts.geometry) })
  if (opts.layers?.length) p.set('layers', opts.layers.join(','))
  if (opts.toleranceM !== undefined) p.set('tolerance_m', String(opts.toleranceM))
  return getJson<SpatialResults>(`/api/at?${p}`, opts.signal)
}

export type SpatialRequest = Omit<Schemas['SpatialBody'], 'geometry' | 'relation'> & {
  geometry: Geometry
  relation?: 'intersects' | 'within'
}

/// `POST /api/spatial`: what lies in (or near) a drawn shape.
export function spatial(body: SpatialRequest, signal?: AbortSignal): Promise<SpatialResults> {
  return sendJson<SpatialResults>('POST', '/api/spatial', body, signal)
}

/// One collection of the OGC API – Features.
export type OgcCollection = Schemas['Collection']

export async function ogcCollections(signal?: AbortSignal): Promise<OgcCollection[]> {
  const body = await getJson<Ok<'/ogc/collections'>>('/ogc/collections', signal)
  return body.collections
}

/// One property of a collection's queryables (JSON Schema).
export type Queryable = Schemas['Queryable']

export async function queryables(collection: string, signal?: AbortSignal): Promise<Record<string, Queryable>> {
  const body = await getJson<Schemas['Queryables']>(`/ogc/collections/${enc(collection)}/queryables`, signal)
  return body.properties
}

export type OgcLink = Schemas['Link']

/// A page of `GET /ogc/collections/{c}/items`.
export type OgcPage = Omit<Schemas['ItemsPage'], 'features'> & { features: Feature[] }

export interface ItemsQuery {
  filter?: string
  bbox?: string
  limit?: number
  offset?: number
}

/// The relative URL of a collection's items with a CQL2 text filter; `f` makes it a download.
export function itemsUrl(collection: string, q: ItemsQuery, f?: string): string {
  const p = new URLSearchParams()
  if (q.filter?.trim()) {
    p.set('filter', q.filter)
    p.set('filter-lang', 'cql2-text')
  }
  if (q.bbox) p.set('bbox', q.bbox)
  if (f) p.set('f', f)
  else {
    if (q.limit !== undefined) p.set('limit', String(q.limit))
    if (q.offset) p.set('offset', String(q.offset))
  }
  const qs = p.toString()
  return `/ogc/collections/${enc(collection)}/items${qs ? '?' + qs : ''}`
}

export function items(collection: string, q: ItemsQuery, signal?: AbortSignal): Promise<OgcPage> {
  return getJson<OgcPage>(itemsUrl(collection, q), signal)
}

/// One row of `GET /api/progress`.
export type ProgressRow = Schemas['ProjectProgress']
export type ProgressAnswer = Schemas['ProgressPage']

export interface ProgressQuery {
  as_of?: string
  stage?: string
  district?: string
  renewal_object?: string
  lagging?: boolean
  min_lag_days?: number
  limit?: number
  offset?: number
}

export function progress(q: ProgressQuery, signal?: AbortSignal): Promise<ProgressAnswer> {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '' && v !== null) p.set(k, String(v))
  return getJson<ProgressAnswer>(`/api/progress?${p}`, signal)
}

/// One saved query of the caller.
export type SavedQuery = Schemas['SavedQuery']

export function savedQueries(signal?: AbortSignal): Promise<SavedQuery[]> {
  return getJson<Ok<'/api/saved-queries'>>('/api/saved-queries', signal)
}

export function saveQuery(q: Schemas['NewQuery']): Promise<SavedQuery> {
  return sendJson<SavedQuery>('POST', '/api/saved-queries', q)
}

export function deleteSavedQuery(id: string): Promise<void> {
  return sendJson<void>('DELETE', `/api/saved-queries/${enc(id)}`)
}

/// Runs a saved query as a download (the server redirects to the items URL with `f`).
export function savedQueryRunUrl(id: string, f?: string): string {
  return `/api/saved-queries/${enc(id)}/run${f ? `?f=${enc(f)}` : ''}`
}

// --- Life circles (GB 50180-2018 生活圈) -------------------------------------------------------

/// The summary of a life-circle evaluation (the `result` of its job once done).
export type LifeCircleRun = Schemas['LifeCircleRun']

/// Long work on the server: `GET /api/jobs/{id}`.
export type Job = Schemas['JobBody']

export function job(id: string, signal?: AbortSignal): Promise<Job> {
  return getJson<Job>(`/api/jobs/${enc(id)}`, signal)
}

/// Polls a job until it is done (its result) or failed (an ApiFailure with its error).
export async function untilDone(started: Job, signal?: AbortSignal, everyMs = 1000): Promise<unknown> {
  let j = started
  while (j.state === 'pending' || j.state === 'running') {
    await new Promise((resolve) => setTimeout(resolve, everyMs))
    signal?.throwIfAborted()
    j = await job(j.id, signal)
  }
  if (j.state === 'failed') throw new ApiFailure(422, `/api/jobs/${j.id}`, j.error ?? j.state, 'job_failed')
  return j.result
}

/// Starts the life-circle evaluation (or joins the one running) and waits for its summary.
export async function lifeCircleEvaluate(signal?: AbortSignal): Promise<LifeCircleRun> {
  const started = await sendJson<Job>('POST', '/api/life-circle/evaluate', undefined, signal)
  return (await untilDone(started, signal, 500)) as LifeCircleRun
}

/// One rule of a community's report: the share of residents within its radius and the median
/// walk to the nearest facility of the category.
export type LifeCircleRule = Schemas['RuleCoverage']

/// `GET /api/life-circle/communities/{code}`.
export type LifeCircleReport = Schemas['LifeCircleReport']

export function lifeCircleCommunity(code: string, signal?: AbortSignal): Promise<LifeCircleReport> {
  return getJson<LifeCircleReport>(`/api/life-circle/communities/${enc(code)}`, signal)
}

/// One isochrone: the area reachable on foot within some minutes.
export type Isochrone = Omit<Schemas['Isochrone'], 'geometry'> & { geometry: Geometry }

/// `GET /api/isochrone`: polygons reachable on foot, largest first.
export type Isochrones = Omit<Schemas['Isochrones'], 'features'> & { features: Isochrone[] }

export function isochrone(
  lon: number,
  lat: number,
  minutes: number[],
  speedMMin = 80,
  signal?: AbortSignal,
): Promise<Isochrones> {
  const p = new URLSearchParams({
    lon: lon.toFixed(6),
    lat: lat.toFixed(6),
    minutes: minutes.join(','),
    speed_m_min: String(speedMMin),
  })
  return getJson<Isochrones>(`/api/isochrone?${p}`, signal)
}

// --- Reporting (填报, "+1") -----------------------------------------------------------------

export type FieldKind = 'number' | 'integer' | 'text' | 'date' | 'choice' | 'bool' | 'attachment'

export type FormField = Schemas['FormFieldBody']

/// One version of a reporting form, e.g. `progress@1`.
export type Form = Schemas['FormBody']

export type Task = Schemas['TaskBody']

export type SubmissionStatus = 'draft' | 'submitted' | 'district_approved' | 'approved' | 'rejected'

export type Review = Schemas['ReviewBody']

export type Submission = Schemas['SubmissionBody']

export type DiffRow = Schemas['DiffBody']

/// `GET /api/submissions/{id}`.
export type SubmissionDetail = Schemas['SubmissionDetailBody']

export type MyTasks = Schemas['TasksBody']

export function myTasks(signal?: AbortSignal): Promise<MyTasks> {
  return getJson<MyTasks>('/api/tasks', signal)
}

export function forms(signal?: AbortSignal): Promise<Form[]> {
  return getJson<Form[]>('/api/forms', signal)
}

export function submission(id: string, signal?: AbortSignal): Promise<SubmissionDetail> {
  return getJson<SubmissionDetail>(`/api/submissions/${enc(id)}`, signal)
}

export function submissions(
  q: { status?: string; project_id?: string; period?: string; form_id?: string },
  signal?: AbortSignal,
): Promise<Submission[]> {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v)
  return getJson<Submission[]>(`/api/submissions?${p}`, signal)
}

/// Creates a submission (a draft, or submitted); the idempotency key makes a retried request
/// create it once.
export async function createSubmission(
  body: {
    form_id: string
    project_id: string
    period: string
    values: Record<string, Scalar>
    notes: Record<string, string>
    submit: boolean
  },
  idempotencyKey: string,
): Promise<Submission> {
  return sendJson<Submission>('POST', '/api/submissions', body, undefined, false, { 'Idempotency-Key': idempotencyKey })
}

export function updateSubmission(
  id: string,
  body: { version: number; values: Record<string, Scalar>; notes: Record<string, string>; submit: boolean },
): Promise<Submission> {
  return sendJson<Submission>('PUT', `/api/submissions/${enc(id)}`, body)
}

export function reviewSubmission(
  id: string,
  body: { version: number; decision: 'approve' | 'reject'; comment: string },
): Promise<Submission> {
  return sendJson<Submission>('POST', `/api/submissions/${enc(id)}/review`, body)
}

export type PeriodStatus = Schemas['PeriodStatusBody']

export function reportingStatus(form: string, period?: string, signal?: AbortSignal): Promise<PeriodStatus[]> {
  const p = new URLSearchParams({ form })
  if (period) p.set('period', period)
  return getJson<PeriodStatus[]>(`/api/reporting/status?${p}`, signal)
}

export function templateUrl(formId: string, period: string): string {
  return `/api/forms/${enc(formId)}/template?period=${enc(period)}`
}

export type UploadRow = Schemas['UploadRowBody']

export type UploadReport = Schemas['UploadBody']

/// Uploads a filled workbook (the xlsx bytes as the body).
export function uploadWorkbook(formId: string, period: string, file: Blob): Promise<UploadReport> {
  const url = `/api/forms/${enc(formId)}/upload?period=${enc(period)}`
  return postBytes<UploadReport>(url, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', file)
}

/// POSTs a file as the body (a stale CSRF token is renewed once; the busy bar counts it).
function postBytes<T>(url: string, contentType: string, file: Blob): Promise<T> {
  return tracked(() => postBytesOnce<T>(url, contentType, file))
}

async function postBytesOnce<T>(url: string, contentType: string, file: Blob): Promise<T> {
  const send = async () => {
    const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': contentType }
    if (csrf) headers['X-CSRF-Token'] = csrf
    return fetch(url, { method: 'POST', headers, body: file })
  }
  let res = await send()
  if (!res.ok) {
    let f = await failure(res, url)
    if (f.status === 403 && f.code === 'csrf' && (await me().catch(() => null))) {
      res = await send()
      if (!res.ok) f = await failure(res, url)
      else return (await res.json()) as T
    }
    throw f
  }
  return (await res.json()) as T
}

export type Finding = Schemas['FindingBody']

export type Checked = Schemas['CheckBody']

/// The last approved values of a project for a form (`values` empty: to prefill), the invalid
/// fields and the plausibility findings of `values`.
export function checkValues(
  formId: string,
  body: { project_id: string; values: Record<string, Scalar>; notes: Record<string, string> },
  signal?: AbortSignal,
): Promise<Checked> {
  return sendJson<Checked>('POST', `/api/forms/${enc(formId)}/check`, body, signal)
}

export type Attachment = Schemas['Attachment']

/// Uploads a file attached to a project (a report's photo; JPEG and PNG lose their EXIF).
export function uploadAttachment(projectId: string, file: File): Promise<Attachment> {
  const url = `/api/attachments?owner_id=${enc(projectId)}&file_name=${enc(file.name)}`
  return postBytes<Attachment>(url, file.type || 'application/octet-stream', file)
}

// --- Administration (city administrators) ----------------------------------------------------

export type AdminUser = Schemas['UserBody']

export interface NewUser {
  username: string
  display_name: string
  role: string
  organisation_id: string
  district_code?: string
  community_code?: string
  project_ids?: string[]
  password: string
}

export function adminUsers(signal?: AbortSignal): Promise<AdminUser[]> {
  return getJson<AdminUser[]>('/api/admin/users', signal)
}

export function createUser(body: NewUser): Promise<AdminUser & { totp_uri?: string | null }> {
  return sendJson<AdminUser & { totp_uri?: string | null }>('POST', '/api/admin/users', body)
}

export function updateUser(
  username: string,
  body: {
    version: number
    disabled?: boolean
    unlock?: boolean
    role?: string
    district_code?: string
    community_code?: string
    project_ids?: string[]
  },
): Promise<AdminUser> {
  return sendJson<AdminUser>('PUT', `/api/admin/users/${enc(username)}`, body)
}

/// Gives an account a new TOTP secret (security administrator): the `otpauth://` URI, once.
export function resetTotp(username: string): Promise<AdminUser & { totp_uri?: string | null }> {
  return sendJson<AdminUser & { totp_uri?: string | null }>('POST', `/api/admin/users/${enc(username)}/totp`, {})
}

export type Organisation = Schemas['OrganisationBody']

export function organisations(signal?: AbortSignal): Promise<Organisation[]> {
  return getJson<Organisation[]>('/api/admin/organisations', signal)
}

export function createOrganisation(body: {
  id: string
  name: string
  kind: string
  district_code?: string
  community_code?: string
}): Promise<Organisation> {
  return sendJson<Organisation>('POST', '/api/admin/organisations', body)
}

export type AuditRecord = Schemas['AuditRecord']

export function audit(
  q: { actor?: string; action?: string; limit?: number },
  signal?: AbortSignal,
): Promise<Schemas['AuditPage']> {
  const p = new URLSearchParams()
  if (q.actor) p.set('actor', q.actor)
  if (q.action) p.set('action', q.action)
  if (q.limit) p.set('limit', String(q.limit))
  return getJson<Ok<'/api/audit'>>(`/api/audit?${p}`, signal)
}

export function auditExportUrl(q: { actor?: string; action?: string }): string {
  const p = new URLSearchParams()
  if (q.actor) p.set('actor', q.actor)
  if (q.action) p.set('action', q.action)
  const qs = p.toString()
  return `/api/audit/export${qs ? '?' + qs : ''}`
}

export function auditVerify(signal?: AbortSignal): Promise<Schemas['ChainState']> {
  return getJson<Ok<'/api/audit/verify'>>('/api/audit/verify', signal)
}
