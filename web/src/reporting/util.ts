// Small helpers of the reporting (填报) screens.
import { ApiFailure, type Finding, type FormField, type Scalar } from '../api/client'
import { t, type MessageKey } from '../i18n'
import { codeName } from '../store'

const STATUSES = ['draft', 'submitted', 'district_approved', 'approved', 'rejected']

/// 草稿 / 待审核 / 待市级审批 / 已通过 / 已退回.
export function statusLabel(s: string): string {
  return STATUSES.includes(s) ? t(`st_${s}` as MessageKey) : s
}

/// The current month as a period, e.g. "2026-11".
export function thisPeriod(): string {
  const d = new Date()
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`
}

/// The label of a choice: the project code list's name when the field writes a project field.
export function choiceLabel(f: FormField, code: string): string {
  if (f.target) {
    const n = codeName('projects', f.target, code)
    if (n && n !== code) return n
  }
  return code
}

/// A value as shown in tables.
export function showValue(f: FormField | undefined, v: Scalar | undefined): string {
  if (v === null || v === undefined || v === '') return '—'
  if (f?.kind === 'choice') return choiceLabel(f, String(v))
  if (f?.kind === 'bool' || typeof v === 'boolean') return v === true || v === 'true' ? t('rpYes') : t('rpNo')
  if (f?.unit && typeof v === 'number') return `${v} ${f.unit}`
  return String(v)
}

/// Per-field messages of a 422 ("field: message; field: message").
export function fieldErrors(e: unknown, fields: FormField[]): Record<string, string> | null {
  if (!(e instanceof ApiFailure) || e.status !== 422) return null
  const out: Record<string, string> = {}
  const names = new Set(fields.map((f) => f.name))
  for (const part of e.message.split('; ')) {
    const i = part.indexOf(': ')
    if (i > 0 && names.has(part.slice(0, i))) out[part.slice(0, i)] = part.slice(i + 2)
    else out[''] = out[''] ? `${out['']}; ${part}` : part
  }
  return out
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/// A fresh key for Idempotency-Key.
export function newKey(): string {
  const c = globalThis.crypto as Crypto | undefined
  if (c && typeof c.randomUUID === 'function') return c.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`
}

// --- worklists ---

/// Today in China (UTC+8) as YYYY-MM-DD: deadlines are whole days in local time.
export function chinaToday(now = Date.now()): string {
  return new Date(now + 8 * 3600_000).toISOString().slice(0, 10)
}

/// The state of a reporting task, one definition for every list and count:
/// - `submitted` (已报): a report was submitted;
/// - `overdue` (已逾期): not submitted and its deadline has passed — also before the server's
///   mark-overdue job (run every 30 s) has marked it;
/// - `open` (未到期): not submitted, the deadline still to come.
/// 未报 (not reported) is `overdue` + `open`; 任务 is 未报 + 已报.
export type TaskState = 'submitted' | 'overdue' | 'open'
export function taskState(t: { status: string; deadline: string }, today = chinaToday()): TaskState {
  if (t.status === 'submitted') return 'submitted'
  if (t.status === 'overdue' || (t.deadline !== '' && t.deadline < today)) return 'overdue'
  return 'open'
}

/// Whole days past the deadline (0 when not overdue).
export function daysOverdue(t: { status: string; deadline: string }, today = chinaToday()): number {
  if (taskState(t, today) !== 'overdue' || !t.deadline) return 0
  return Math.max(0, Math.round((Date.parse(today) - Date.parse(t.deadline)) / 86_400_000))
}

/// A reporting period as people say it: 2026-10 → 2026年10月, 2026-Q4 → 2026年第4季度.
export function periodLabel(p: string): string {
  const m = /^(\d{4})-(\d{2})$/.exec(p)
  if (m) return t('wlMonth').replace('{y}', m[1]!).replace('{m}', String(Number(m[2])))
  const q = /^(\d{4})-Q([1-4])$/.exec(p)
  if (q) return t('wlQuarter').replace('{y}', q[1]!).replace('{q}', q[2]!)
  return p
}

/// The attachment ids of an attachment field's value (several photos: comma-separated).
export function attachmentIds(v: Scalar | undefined | null): string[] {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : []
}

/// A plausibility finding in the current language: what is wrong, with the values compared.
export function findingText(x: Finding, fields: FormField[]): string {
  const f = fields.find((g) => g.name === x.field)
  const other = fields.find((g) => g.name === x.other)
  const key = ({ falls: 'plFalls', jump: 'plJump', order: 'plOrder', future: 'plFuture' } as const)[
    x.rule as 'falls' | 'jump' | 'order' | 'future'
  ]
  if (!key) return x.message
  const limit = x.limit === null || x.limit === undefined ? '' : showValue(f, x.limit)
  return t(key)
    .replace('{before}', showValue(x.rule === 'future' ? undefined : f, x.before ?? undefined))
    .replace('{after}', showValue(f, x.after ?? undefined))
    .replace('{limit}', limit)
    .replace('{other}', other?.label ?? '')
}
