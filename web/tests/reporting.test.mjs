// Browser tests of reporting integrity (填报): the form starts from the last approved values, the
// plausibility rules warn the reporter as they type and ask for a note, photos are uploads with
// thumbnails, the reviewers see the flags and the photos, and an approved report's diff shows
// before → after. Each user signs in once (a one-time code is accepted once per 30 s).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LONG, appUrl, launch, openPage, pageApi, showTab, signIn } from './helpers.mjs'

const WUCHANG = '420106'
const OPTS = { timeout: LONG * 3 }

let browser
let app
/// The pages of the users, each signed in once and reused by the subtests below.
const pages = {}
/// What the entity reported.
const reported = {}

before(async () => {
  app = await appUrl()
  browser = await launch()
})

after(async () => {
  for (const p of Object.values(pages)) await p.context.close()
  await browser?.close()
  await app?.close()
})

async function pageOf(user) {
  if (!pages[user]) {
    pages[user] = await openPage(browser, app.url, { width: 1366, height: 900 })
    await signIn(pages[user].page, user, { errors: pages[user].errors })
    await showTab(pages[user].page, 'report')
  }
  return pages[user].page
}

/// No English code, raw id, JSON or ISO timestamp in text a user reads.
function assertReadable(text, where) {
  assert.doesNotMatch(text, /\b[a-z]+_[a-z_]+\b/, `a code in ${where}: ${text}`)
  assert.doesNotMatch(text, /[{}[\]"]|att-|\d{4}-\d\d-\d\dT/, `an id, JSON or a timestamp in ${where}: ${text}`)
}

async function waitStatus(page, testid, status) {
  await page.waitForFunction(
    ([id, s]) => document.querySelector(`[data-testid="${id}"]`)?.dataset.status === s,
    [testid, status],
    { timeout: LONG, polling: 200 },
  )
}

describe('reporting integrity (填报)', () => {
  test('the entity: prefilled from the last approved values, a falling total warns and needs a note, photos upload as thumbnails', OPTS, async () => {
    const page = await pageOf('entity')
    const tasks = await pageApi(page, '/api/tasks')
    const forms = await pageApi(page, '/api/forms')
    const form = forms.find((f) => f.code === 'progress')
    assert.ok(form, 'no progress form')
    // A task in 武昌区 (its district reviews it) whose project has invested something.
    let task
    let base
    for (const t of tasks.to_fill.filter((t) => t.district_code === WUCHANG && t.form_code === 'progress')) {
      const c = await pageApi(page, `/api/forms/${form.id}/check`, { method: 'POST', body: { project_id: t.project_id } })
      if (c.baseline.values.investment_done_wan > 10 && typeof c.baseline.values.progress_pct === 'number') {
        task = t
        base = c.baseline.values
        break
      }
    }
    assert.ok(task, 'the entity has no 武昌区 task with an invested project')
    await page.click(`[data-testid="task-row"][data-project="${task.project_id}"]`)
    await page.locator('[data-testid="fill"]').waitFor({ state: 'visible' })
    // Each field starts from the last approved value, shown beside it and marked 沿用上期.
    await page.waitForFunction(
      (v) => Number(document.querySelector('[data-testid="field-investment_done_wan"]')?.value) === v,
      base.investment_done_wan,
      { timeout: LONG, polling: 200 },
    )
    assert.equal(Number(await page.inputValue('[data-testid="field-progress_pct"]')), base.progress_pct)
    assert.equal(await page.inputValue('[data-testid="field-stage"]'), base.stage)
    const prev = page.locator('[data-testid="field-prev"][data-field="investment_done_wan"]')
    assert.match(await prev.innerText(), new RegExp(`上期审核通过：${base.investment_done_wan} 万元`))
    assert.equal(await prev.locator('[data-testid="field-carried"]').count(), 1)
    // A falling cumulative investment: a warning in Chinese, live, and 提交 asks for a note.
    const lower = Math.floor(base.investment_done_wan / 2)
    await page.fill('[data-testid="field-investment_done_wan"]', String(lower))
    const warning = page.locator('[data-testid="field-warning"][data-field="investment_done_wan"][data-rule="falls"]')
    await warning.waitFor({ state: 'visible', timeout: LONG })
    const text = await warning.innerText()
    assert.match(text, /累计值不应减少/)
    assert.ok(text.includes(`${base.investment_done_wan} 万元`) && text.includes(`${lower} 万元`), text)
    assertReadable(text, 'the warning')
    assert.equal(await prev.locator('[data-testid="field-carried"]').count(), 0, 'a changed value is not carried over')
    await page.click('[data-testid="fill-submit"]')
    assert.match(await page.innerText('[data-testid="fill-error"]'), /请先为标出的警示填写说明/)
    assert.equal(await page.getAttribute('[data-testid="fill"]', 'data-submission-id'), '', 'submitted without a note')
    // A photo: uploaded, shown as a small thumbnail, removable.
    const png = await page.screenshot({ clip: { x: 0, y: 0, width: 160, height: 120 } })
    const file = (name) => ({ name, mimeType: 'image/png', buffer: png })
    await page.setInputFiles('[data-testid="file-photo"]', [file('现场1.png'), file('现场2.png')])
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="photo-thumb"] img').length === 2, null, {
      timeout: LONG,
      polling: 200,
    })
    await page.click('[data-testid="photo-thumb"]:nth-child(2) [data-testid="photo-remove"]')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="photo-thumb"]').length === 1)
    const thumb = page.locator('[data-testid="photo-thumb"] img')
    await page.waitForFunction(() => document.querySelector('[data-testid="photo-thumb"] img')?.naturalWidth === 160)
    const box = await thumb.boundingBox()
    assert.ok(box.width <= 80 && box.height <= 80, `the thumbnail is ${box.width}×${box.height}`)
    // With the note it goes.
    await page.fill('[data-testid="note-investment_done_wan"]', '上期多报，已按审计结果更正')
    await page.click('[data-testid="fill-submit"]')
    await waitStatus(page, 'fill-status', 'submitted')
    reported.id = await page.getAttribute('[data-testid="fill"]', 'data-submission-id')
    reported.base = base
    reported.lower = lower
    reported.photo = await page.getAttribute('[data-testid="photo-thumb"]', 'data-id')
    assert.ok(reported.id && reported.photo)
    assert.deepEqual(pages.entity.errors, [])
  })

  test('the district reviewer sees the flag with its note and the photo, and approves', OPTS, async () => {
    assert.ok(reported.id, 'nothing reported')
    const page = await pageOf('wuchang')
    await page.locator(`[data-testid="review-row"][data-id="${reported.id}"]`).click({ timeout: LONG })
    const flag = page.locator('[data-testid="review-flag"][data-field="investment_done_wan"]')
    await flag.waitFor({ state: 'visible', timeout: LONG })
    const text = await flag.innerText()
    assert.match(text, /累计值不应减少/)
    assert.match(text, /说明：上期多报，已按审计结果更正/)
    assertReadable(text, 'the flag')
    // The flag sits right below its field's row.
    const field = await page.getAttribute('[data-testid="review-flag"] >> xpath=../preceding-sibling::tr[1]', 'data-field')
    assert.equal(field, 'investment_done_wan')
    const thumb = page.locator(`[data-testid="review-thumb"][data-id="${reported.photo}"]`)
    assert.equal(await thumb.getAttribute('href'), `/api/attachments/${reported.photo}`)
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="review-thumb"][data-id="${id}"] img`)?.naturalWidth > 0,
      reported.photo,
    )
    const box = await thumb.locator('img').boundingBox()
    assert.ok(box.width <= 64, `the review thumbnail is ${box.width}px wide`)
    await page.click('[data-testid="review-approve"]')
    await waitStatus(page, 'review-status', 'district_approved')
    assert.deepEqual(pages.wuchang.errors, [])
  })

  test('after the city approves, the diff shows before → after by field title with units', OPTS, async () => {
    assert.ok(reported.id, 'nothing reported')
    const page = await pageOf('admin')
    await page.locator(`[data-testid="review-row"][data-id="${reported.id}"]`).click({ timeout: LONG })
    await page.locator('[data-testid="review-approve"]').click({ timeout: LONG })
    await waitStatus(page, 'review-status', 'approved')
    const row = page.locator('[data-testid="diff-row"][data-field="investment_done_wan"]')
    await row.waitFor({ state: 'visible' })
    assert.equal((await row.locator('td').first().innerText()).trim(), '累计完成投资')
    assert.equal((await row.locator('[data-testid="diff-before"]').innerText()).trim(), `${reported.base.investment_done_wan} 万元`)
    assert.equal((await row.locator('[data-testid="diff-after"]').innerText()).trim(), `${reported.lower} 万元`)
    const table = await page.innerText('[data-testid="diff-table"]')
    assertReadable(table, 'the diff')
    const befores = await page.$$eval('[data-testid="diff-before"]', (tds) => tds.map((td) => td.textContent.trim()))
    assert.ok(befores.length > 0 && !befores.includes('—'), `the approved diff: ${befores.join(', ')}`)
    assert.deepEqual(pages.admin.errors, [])
  })
})
