// Browser tests of the work lists: 进度 (实施监测) following the current place, the 填报 task list's
// filters, sort and grouping, and the 填报日历 counts agreeing with the task list. One page, the
// users signed in one after another (each once: a TOTP code is accepted once per 30 s step).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LONG, appUrl, launch, openPage, pageApi, screenshot, showTab, signIn, signOut, waitMapSettled } from './helpers.mjs'

const WUCHANG = '420106'
const HONGSHAN = '420111'
const OPTS = { timeout: LONG * 3 }

let browser
let app
let page
let context
let errors

before(async () => {
  app = await appUrl()
  browser = await launch()
  ;({ page, context, errors } = await openPage(browser, app.url, { width: 1440, height: 900 }))
})

after(async () => {
  await context?.close()
  await browser?.close()
  await app?.close()
})

/// Waits until an element's data-value is the given value.
async function waitValue(testid, value) {
  await page.waitForFunction(
    ([id, v]) => document.querySelector(`[data-testid="${id}"]`)?.dataset.value === String(v),
    [testid, value],
    { timeout: LONG, polling: 200 },
  )
}

/// What a user must never see where a name belongs: ids, JSON, ISO timestamps, English codes.
function assertNoInternals(text, where) {
  const bad = [
    /\b(prj|ro|task|sub)-[\w-]+/,
    /[{[]\s*"/,
    /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/,
    /\b(overdue|open|submitted|reserve|preliminary|acquisition|land_supply|construction|completed)\b/,
    /(?<![\w-])42\d{4}(\d{3,6})?(?![\w-])/,
  ]
  for (const re of bad) assert.doesNotMatch(text, re, `${where} shows ${text.match(re)?.[0]}`)
}

/// The progress rows listed: [{id, district, lag, stage}].
async function progressRows() {
  return page.$$eval('[data-testid="progress-row"]', (rs) =>
    rs.map((r) => ({ id: r.dataset.id, district: r.dataset.district, lag: Number(r.dataset.lag), stage: r.dataset.stage })),
  )
}

/// The task rows listed.
async function taskRows() {
  return page.$$eval('[data-testid="task-row"]', (rs) =>
    rs.map((r) => ({
      id: r.dataset.id,
      district: r.dataset.district,
      period: r.dataset.period,
      deadline: r.dataset.deadline,
      status: r.dataset.status,
      days: Number(r.dataset.daysOverdue),
    })),
  )
}

/// The number of lines an element's text takes (from its box and line height).
async function lines(selector) {
  return page.$eval(selector, (el) => {
    const lh = parseFloat(getComputedStyle(el).lineHeight) || parseFloat(getComputedStyle(el).fontSize) * 1.4
    return Math.round(el.getBoundingClientRect().height / lh)
  })
}

describe('work lists', () => {
  test('进度 follows the place: a district lists only its projects, as many as the API says; a street narrows it', OPTS, async () => {
    await signIn(page, 'leader', { errors })
    await showTab(page, 'progress')
    await page.locator('[data-testid="progress-panel"]').waitFor({ state: 'visible' })
    const city = await pageApi(page, '/api/progress?limit=1')
    await waitValue('progress-count', city.numberMatched)

    // A district chosen in the drill-down: the list is that district's.
    await showTab(page, 'admin')
    await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
    await showTab(page, 'progress')
    const wuchang = await pageApi(page, `/api/progress?district=${WUCHANG}&limit=5000`)
    assert.ok(wuchang.numberMatched > 0 && wuchang.numberMatched < city.numberMatched)
    await waitValue('progress-count', wuchang.numberMatched)
    assert.equal(await page.getAttribute('[data-testid="progress-scope"]', 'data-district'), WUCHANG)
    assert.match(await page.textContent('[data-testid="progress-scope"]'), /武昌区/)
    assert.equal(await page.inputValue('[data-testid="progress-district"]'), WUCHANG)
    let rows = await progressRows()
    assert.equal(rows.length, Math.min(50, wuchang.numberMatched))
    assert.deepEqual(rows.filter((r) => r.district !== WUCHANG), [], 'rows of another district')
    assert.equal(await page.getAttribute('[data-testid="progress-lagging-count"]', 'data-value'), String(wuchang.lagging))

    // The district chosen in the panel changes the place (and the breadcrumb).
    await page.selectOption('[data-testid="progress-district"]', HONGSHAN)
    const hongshan = await pageApi(page, `/api/progress?district=${HONGSHAN}&limit=5000`)
    await waitValue('progress-count', hongshan.numberMatched)
    rows = await progressRows()
    assert.deepEqual(rows.filter((r) => r.district !== HONGSHAN), [])
    await page.waitForFunction(() => document.querySelector('[data-testid="breadcrumbs"]')?.textContent.includes('洪山区'))

    // A street of it: the projects whose renewal object lies in the street.
    const objects = await pageApi(page, `/api/layers/renewal_objects/features?district_code=${HONGSHAN}&limit=1000`)
    const streetOf = new Map(objects.features.map((f) => [f.id, f.properties.street_code]))
    const perStreet = new Map()
    for (const p of hongshan.projects) {
      const s = streetOf.get(p.renewal_object_id)
      if (s) perStreet.set(s, [...(perStreet.get(s) ?? []), p.id])
    }
    const [street, ids] = [...perStreet.entries()].sort((a, b) => b[1].length - a[1].length)[0]
    assert.ok(ids.length < hongshan.numberMatched)
    await showTab(page, 'admin')
    await page.click(`[data-testid="unit-row"][data-code="${street}"]`)
    await showTab(page, 'progress')
    await waitValue('progress-count', ids.length)
    rows = await progressRows()
    assert.equal(rows.length, Math.min(50, ids.length))
    assert.deepEqual(rows.filter((r) => !ids.includes(r.id)), [], 'rows outside the street')
    const byStage = await page.$$eval('[data-testid="progress-stage-count"] b', (bs) => bs.map((b) => Number(b.textContent)))
    assert.equal(byStage.reduce((a, b) => a + b, 0), ids.length)
    assertNoInternals(await page.innerText('[data-testid="progress-panel"]'), 'the progress panel')
  })

  test('进度: grouped by district the headers add up to the total; sort by progress; a text filter', OPTS, async () => {
    // Back to the city (the panel's district choice).
    await page.selectOption('[data-testid="progress-district"]', '')
    const city = await pageApi(page, '/api/progress?limit=5000')
    await waitValue('progress-count', city.numberMatched)
    await page.selectOption('[data-testid="progress-group"]', 'district')
    const heads = await page.$$eval('[data-testid="progress-group-header"]', (hs) =>
      hs.map((h) => ({ key: h.dataset.key, count: Number(h.dataset.count), text: h.textContent, expanded: h.getAttribute('aria-expanded') })),
    )
    assert.ok(heads.length > 5, `${heads.length} groups`)
    assert.equal(heads.reduce((a, h) => a + h.count, 0), city.numberMatched)
    for (const h of heads) {
      assert.equal(h.count, city.projects.filter((p) => (p.district_code ?? '') === h.key).length, `group ${h.key}`)
      assert.match(h.text, new RegExp(`${h.count}`))
      assert.equal(h.expanded, 'false')
    }
    assertNoInternals(heads.map((h) => h.text).join(' '), 'the group headers')
    assert.equal(await page.locator('[data-testid="progress-row"]').count(), 0, 'groups start collapsed')
    // A header takes one line.
    assert.equal(await lines('[data-testid="progress-group-header"]'), 1)
    await page.click(`[data-testid="progress-group-header"][data-key="${WUCHANG}"]`)
    let rows = await progressRows()
    assert.equal(rows.length, heads.find((h) => h.key === WUCHANG).count)
    assert.ok(rows.every((r) => r.district === WUCHANG))
    await page.click(`[data-testid="progress-group-header"][data-key="${WUCHANG}"]`)
    assert.equal(await page.locator('[data-testid="progress-row"]').count(), 0)

    // Ungrouped, sorted by progress (most first).
    await page.selectOption('[data-testid="progress-group"]', '')
    await page.selectOption('[data-testid="progress-sort"]', 'progress_pct')
    const pcts = await page.$$eval('[data-testid="progress-row"] [role="progressbar"]', (bs) => bs.map((b) => Number(b.getAttribute('aria-valuenow'))))
    assert.equal(pcts.length, 50)
    assert.deepEqual(pcts, [...pcts].sort((a, b) => b - a))

    // A text filter: the rows and the count are the matching projects.
    const one = city.projects.find((p) => p.name)
    await page.fill('[data-testid="progress-text"]', one.name)
    const want = city.projects.filter((p) => (p.name ?? '').includes(one.name)).length
    await waitValue('progress-count', want)
    rows = await progressRows()
    assert.equal(rows.length, want)
    assert.ok(rows.some((r) => r.id === one.id))
    await page.fill('[data-testid="progress-text"]', '')
    await page.selectOption('[data-testid="progress-sort"]', 'lag_days')
    await screenshot(page, 'worklists-progress.png')
    await signOut(page)
  })

  test('待填报 (district user): filter by district and period, sort by days overdue and due date, group with counts', OPTS, async () => {
    await signIn(page, 'wuchang', { errors })
    const mine = await pageApi(page, '/api/tasks')
    assert.ok(mine.to_fill.length > 50, `${mine.to_fill.length} tasks`)
    await showTab(page, 'report')
    await page.locator('[data-testid="task-row"]').first().waitFor({ state: 'visible', timeout: LONG })
    let rows = await taskRows()
    assert.equal(rows.length, mine.to_fill.length)
    assert.equal(await page.getAttribute('[data-testid="task-shown"]', 'data-value'), String(mine.to_fill.length))
    // A district user's list is their district's (the server's scope, nothing contradicting it).
    assert.deepEqual([...new Set(rows.map((r) => r.district))], [WUCHANG])

    // Sorted by days overdue (the default): most first, and the days are today − deadline.
    const days = rows.map((r) => r.days)
    assert.deepEqual(days, [...days].sort((a, b) => b - a))
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    for (const r of rows.filter((x) => x.status === 'overdue')) {
      assert.equal(r.days, Math.round((Date.parse(today) - Date.parse(r.deadline)) / 86_400_000), r.id)
    }
    assert.ok(rows[0].days > 0)
    const first = page.locator('[data-testid="task-row"]').first()
    assert.match(await first.locator('[data-testid="task-overdue"]').textContent(), new RegExp(`逾期${rows[0].days}天`))
    // A row's name and its meta take one line each.
    assert.equal(await lines('[data-testid="task-row"] .row-name'), 1)
    assert.equal(await lines('[data-testid="task-row"] .row-meta'), 1)

    // Due date, earliest first.
    await page.selectOption('[data-testid="task-sort"]', 'deadline')
    rows = await taskRows()
    const due = rows.map((r) => r.deadline)
    assert.deepEqual(due, [...due].sort())

    // Filter to one district: only its rows, as many as the API's.
    await page.selectOption('[data-testid="task-filter-district"]', WUCHANG)
    rows = await taskRows()
    assert.equal(rows.length, mine.to_fill.filter((t) => t.district_code === WUCHANG).length)
    assert.match(await page.textContent('[data-testid="task-filter-district"] option:checked'), /武昌区/)

    // Filter to the overdue ones of one period.
    const period = mine.to_fill.map((t) => t.period).sort()[0]
    await page.selectOption('[data-testid="task-filter-period"]', period)
    await page.selectOption('[data-testid="task-filter-status"]', 'overdue')
    rows = await taskRows()
    assert.ok(rows.length > 0)
    assert.ok(rows.every((r) => r.period === period && r.status === 'overdue'))
    assert.equal(rows.length, mine.to_fill.filter((t) => t.period === period && t.deadline < today).length)
    await page.click('[data-testid="task-filter-clear"]')

    // A text filter: the rows whose project name holds it.
    const name = mine.to_fill[0].project_name
    await page.fill('[data-testid="task-filter-text"]', name)
    rows = await taskRows()
    assert.equal(rows.length, mine.to_fill.filter((t) => (t.project_name ?? '').includes(name)).length)
    assert.ok(rows.some((r) => r.id === mine.to_fill[0].id))
    await page.click('[data-testid="task-filter-clear"]')
    assert.equal((await taskRows()).length, mine.to_fill.length)

    // Grouped by status, then by period: the header counts add up; a header collapses its rows.
    for (const g of ['state', 'period']) {
      await page.selectOption('[data-testid="task-group"]', g)
      const heads = await page.$$eval('[data-testid="task-group-header"]', (hs) =>
        hs.map((h) => ({ key: h.dataset.key, count: Number(h.dataset.count), text: h.textContent.trim() })),
      )
      assert.ok(heads.length >= 2, `${g}: ${heads.length} groups`)
      assert.equal(heads.reduce((a, h) => a + h.count, 0), mine.to_fill.length)
      assertNoInternals(heads.map((h) => h.text).join(' '), 'the group headers')
      const key = heads[0].key
      await page.click(`[data-testid="task-group-header"][data-key="${key}"]`)
      assert.equal((await taskRows()).length, mine.to_fill.length - heads[0].count)
      await page.click(`[data-testid="task-group-header"][data-key="${key}"]`)
    }
    await page.selectOption('[data-testid="task-group"]', 'district')
    const heads = await page.$$eval('[data-testid="task-group-header"]', (hs) => hs.map((h) => Number(h.dataset.count)))
    assert.deepEqual(heads, [mine.to_fill.length])
    assertNoInternals(await page.innerText('[data-testid="task-worklist"]'), 'the task list')
    await page.selectOption('[data-testid="task-group"]', '')
    await screenshot(page, 'worklists-tasks.png')
  })

  test('填报日历: per period 任务 = 已报 + 未报, 未报 = 已逾期 + 未到期, each equal to the task list rows of that period', OPTS, async () => {
    const mine = await pageApi(page, '/api/tasks')
    const status = await pageApi(page, '/api/reporting/status?form=progress')
    const rows = await taskRows()
    await page.click('[data-testid="rp-view-calendar"]')
    await page.locator('[data-testid="cal-period-row"]').first().waitFor({ state: 'visible', timeout: LONG })
    const cal = await page.$$eval('[data-testid="cal-period-row"]', (ps) =>
      ps.map((p) => {
        const n = (id) => Number(p.querySelector(`[data-testid="${id}"]`)?.textContent)
        return {
          period: p.dataset.period,
          tasks: n('cal-tasks'),
          submitted: n('cal-submitted'),
          unreported: n('cal-unreported'),
          overdue: n('cal-overdue'),
          open: n('cal-open'),
          title: p.querySelector('h3').textContent,
        }
      }),
    )
    assert.equal(cal.length, status.length)
    for (const c of cal) {
      const api = status.find((s) => s.period === c.period)
      assert.equal(c.tasks, api.tasks)
      assert.equal(c.tasks, c.submitted + c.unreported, `${c.period}: 任务 ≠ 已报 + 未报`)
      assert.equal(c.unreported, c.overdue + c.open, `${c.period}: 未报 ≠ 已逾期 + 未到期`)
      assert.equal(c.unreported, api.missing.length)
      // The same period in the task list.
      const listed = rows.filter((r) => r.period === c.period)
      assert.equal(c.unreported, listed.length, `${c.period}: 未报 vs the task list`)
      assert.equal(c.overdue, listed.filter((r) => r.status === 'overdue').length, `${c.period}: 已逾期 vs the task list`)
      assert.equal(c.open, listed.filter((r) => r.status === 'open').length, `${c.period}: 未到期 vs the task list`)
      assert.match(c.title, /\d{4}年\d{1,2}月/)
    }
    // A period past its deadline: everything not reported is overdue (the old 未报 0 / 逾期 75).
    const past = cal.find((c) => c.overdue > 0)
    assert.ok(past, 'no overdue period')
    assert.ok(past.unreported >= past.overdue)
    assert.equal(rows.length, mine.to_fill.length)
    // Who has not reported, by district (names, not codes): only the user's district.
    const row = page.locator(`[data-testid="cal-period-row"][data-period="${past.period}"]`)
    await row.locator('summary').click()
    const districts = await row.locator('[data-testid="cal-missing-district"]').allTextContents()
    assert.deepEqual(districts, [`武昌区（${past.unreported}）`])
    assert.equal(await row.locator('[data-testid="cal-missing-row"]').count(), past.unreported)
    // The counts line does not wrap inside a count.
    const wraps = await row.locator('.counts > span').evaluateAll((ss) => ss.filter((s) => s.getClientRects().length > 1).length)
    assert.equal(wraps, 0)
    assertNoInternals(await page.innerText('[data-testid="rp-calendar"]'), 'the calendar')
    await screenshot(page, 'worklists-calendar.png')
    await page.click('[data-testid="rp-view-tasks"]')

    // The district user's 进度: their district's projects, as many as the API gives them.
    await showTab(page, 'progress')
    const theirs = await pageApi(page, '/api/progress?limit=1')
    await waitValue('progress-count', theirs.numberMatched)
    assert.ok((await progressRows()).every((r) => r.district === WUCHANG))
    await signOut(page)
  })

  test('a community worker is told in Chinese that project progress is not for their role', OPTS, async () => {
    await signIn(page, 'worker', { errors })
    await showTab(page, 'progress')
    await page.locator('[data-testid="progress-forbidden"]').waitFor({ state: 'visible', timeout: LONG })
    const text = await page.innerText('[data-testid="progress-panel"]')
    assert.match(text, /无权查看项目进度/)
    assert.doesNotMatch(text, /[a-z]{4,}/i)
    await waitMapSettled(page)
    const left = errors.filter((e) => !/status of 403/.test(e))
    assert.deepEqual(left, [], `the page reported errors:\n${left.join('\n')}`)
  })
})
