// Browser tests: no raw internals shown to users (ids, JSON, ISO timestamps, English codes,
// half-width colons in Chinese), one line per KPI figure, the audit log by name, and exports an
// office can open. One page per user, reused by the subtests (a user signs in once per TOTP step).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LONG, api, appUrl, launch, openPage, pageApi, showTab, signIn } from './helpers.mjs'

const OPTS = { timeout: LONG * 2 }
const WUCHANG = '420106'

let browser
let app
/// code → its names, for every coded field of the catalogue a signed-in administrator sees.
let codes = new Map()

before(async () => {
  app = await appUrl()
  browser = await launch()
})

after(async () => {
  await browser?.close()
  await app?.close()
})

/// What a user must never read in the interface, found in a text: ISO timestamps, JSON, snake_case
/// codes, catalogue codes shown instead of their Chinese names, given ids, half-width colons after
/// Chinese. Answers the findings (empty when clean).
function internals(text, { lang = 'zh', ids = [] } = {}) {
  const found = []
  const add = (what, m) => m && found.push(`${what}: ${JSON.stringify(m[0])} in …${text.slice(Math.max(0, m.index - 30), m.index + 40)}…`)
  add('ISO timestamp', /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.exec(text))
  add('JSON', /[[{]\s*"[^"]*"\s*[:,\]]/.exec(text))
  add('snake_case code', /\b[a-z]+_[a-z0-9_]+\b/.exec(text))
  if (lang === 'zh') {
    add('half-width colon', /[\u4e00-\u9fff）]:/.exec(text))
    for (const m of text.matchAll(/\b[a-z][a-z]{2,}\b/g)) {
      const c = codes.get(m[0])
      if (c && c.zh !== m[0]) {
        add('untranslated code', m)
        break
      }
    }
  }
  for (const id of ids) {
    const i = text.indexOf(id)
    if (i >= 0) found.push(`id ${id} in …${text.slice(Math.max(0, i - 30), i + 40)}…`)
  }
  return found
}

/// The visible text of an element (what innerText renders).
const textOf = (page, selector) => page.locator(selector).first().innerText()

function assertClean(text, where, opts) {
  const f = internals(text, opts)
  assert.deepEqual(f, [], `${where} shows raw internals:\n${f.join('\n')}`)
}

/// Every text line of every KPI figure in the summary: figures whose text runs over more than one
/// line (from the boxes of their text) and figures wider than their tile.
async function brokenFigures(page) {
  return page.$$eval('[data-testid="summary-panel"] .figures dd', (dds) =>
    dds.flatMap((dd) => {
      const r = document.createRange()
      r.selectNodeContents(dd)
      // Text boxes of one line overlap vertically (a smaller unit sits lower on the same line).
      const boxes = [...r.getClientRects()].filter((b) => b.width > 0)
      const first = boxes[0]
      const out = []
      if (first && boxes.some((b) => b.top >= first.bottom - 1 || b.bottom <= first.top + 1)) {
        out.push(`${dd.dataset.testid}: "${dd.innerText}" runs over more than one line`)
      }
      const tile = dd.parentElement.getBoundingClientRect()
      const box = r.getBoundingClientRect()
      if (box.right > tile.right + 1) out.push(`${dd.dataset.testid}: "${dd.innerText}" overflows its tile`)
      return out
    }),
  )
}

async function runCollection(page, layer) {
  await showTab(page, 'query')
  await page.waitForSelector(`[data-testid="query-collection"] option[value="${layer}"]`, { state: 'attached' })
  await page.selectOption('[data-testid="query-collection"]', layer)
  await page.click('[data-testid="run-query"]')
  await page.waitForFunction(
    (l) => document.querySelector(`[data-testid="result-list"] .group[data-layer="${l}"] [data-testid="result-row"]`),
    layer,
    { timeout: LONG },
  )
}

/// Waits until nothing in the detail panel is still loading (titles of referenced features).
async function detailLoaded(page) {
  await page.waitForFunction(
    () => {
      const p = document.querySelector('[data-testid="detail-panel"]')
      return p && p.querySelector('h2')?.textContent.trim() && !p.innerText.includes('加载中') && !p.innerText.includes('Loading')
    },
    null,
    { timeout: LONG, polling: 200 },
  )
}

describe('no raw internals', () => {
  test('i18n dictionaries: every code of the catalogue has a Chinese and an English name', async () => {
    const layers = await api('/api/layers')
    for (const l of layers) {
      for (const f of l.fields) {
        for (const c of f.codes ?? []) {
          assert.ok(c.zh && c.en, `${l.name}.${f.name} code ${c.code} lacks a name`)
          assert.match(c.zh, /[\u4e00-\u9fff]/, `${l.name}.${f.name} code ${c.code}: no Chinese name (${c.zh})`)
        }
      }
    }
  })

  describe('as the city administrator', () => {
    let page
    let context
    let errors
    before(async () => {
      ;({ page, context, errors } = await openPage(browser, app.url, { width: 1440, height: 900 }))
      await signIn(page, 'admin', { errors })
      const layers = await pageApi(page, '/api/layers')
      codes = new Map()
      for (const l of layers) for (const f of l.fields) for (const c of f.codes ?? []) codes.set(c.code, c)
    })
    after(async () => {
      await context?.close()
    })

    test('a project shows its renewal object and parcels by name, clickable; never JSON or ids', OPTS, async () => {
      // A project with related parcels.
      const all = await pageApi(page, `/api/layers/projects/features?district_code=${WUCHANG}&limit=200`)
      const project = all.features.find((p) => String(p.properties.parcel_ids ?? '').startsWith('[') && JSON.parse(p.properties.parcel_ids).length)
      assert.ok(project, 'no project with parcel_ids in 武昌区')
      const parcelIds = JSON.parse(project.properties.parcel_ids)
      await runCollection(page, 'projects')
      await page.fill('[data-testid="cql2-text"]', `code = '${project.properties.code}'`)
      await page.click('[data-testid="run-query"]')
      await page.waitForSelector(`[data-testid="result-row"][data-id="${project.id}"]`)
      // The result row is the project's name, not its id.
      const row = (await textOf(page, `[data-testid="result-row"][data-id="${project.id}"]`)).trim()
      assert.ok(row.startsWith(project.properties.name), `the row reads ${row}`)
      await page.click(`[data-testid="result-row"][data-id="${project.id}"]`)
      await detailLoaded(page)
      const text = await textOf(page, '[data-testid="detail-panel"]')
      assert.doesNotMatch(text, /JSON/)
      assertClean(text, 'the project detail', { ids: [project.id, project.properties.renewal_object_id, ...parcelIds] })
      // Each related parcel is a link named by its code, opening that parcel.
      const refs = page.locator('[data-testid="detail-panel"] [data-testid="detail-ref"][data-layer="parcels"]')
      assert.equal(await refs.count(), parcelIds.length)
      const parcel = await pageApi(page, `/api/layers/parcels/features/${encodeURIComponent(parcelIds[0])}`)
      assert.equal((await refs.first().innerText()).trim(), parcel.properties.code)
      const object = page.locator('[data-testid="detail-panel"] [data-testid="detail-ref"][data-layer="renewal_objects"]')
      const ro = await pageApi(page, `/api/layers/renewal_objects/features/${encodeURIComponent(project.properties.renewal_object_id)}`)
      assert.equal((await object.innerText()).trim(), ro.properties.name)
      await refs.first().click()
      await page.waitForFunction(
        (c) => document.querySelector('[data-testid="detail-panel"] h2')?.textContent.trim() === c,
        parcel.properties.code,
      )
    })

    test('every layer with references or dates lists and details features by title, dates in Beijing time', OPTS, async () => {
      for (const layer of ['resident_reports', 'supplies', 'deliveries', 'milestones', 'progress_reports']) {
        await runCollection(page, layer)
        const rows = page.locator(`[data-testid="result-list"] .group[data-layer="${layer}"] [data-testid="result-row"]`)
        const ids = await rows.evaluateAll((els) => els.slice(0, 20).map((e) => e.dataset.id))
        const texts = await rows.evaluateAll((els) => els.slice(0, 20).map((e) => e.innerText))
        for (const [i, s] of texts.entries()) {
          assert.ok(s.trim(), `${layer}: an empty row`)
          assertClean(s, `${layer} row ${i}`, { ids: [ids[i]] })
        }
        await rows.first().click()
        await detailLoaded(page)
        const one = await pageApi(page, `/api/layers/${layer}/features/${encodeURIComponent(ids[0])}`)
        const refIds = Object.entries(one.properties)
          .filter(([k, v]) => /_id$/.test(k) && typeof v === 'string' && !/^\d+$/.test(v))
          .map(([, v]) => v)
        const detail = await textOf(page, '[data-testid="detail-panel"]')
        assertClean(detail, `the ${layer} detail`, { ids: [ids[0], ...refIds] })
        // Times are shown as 2026-12-07 14:05 (Beijing).
        for (const [k, v] of Object.entries(one.properties)) {
          if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && k !== 'created_at') {
            const beijing = new Date(new Date(v).getTime() + 8 * 3600_000).toISOString()
            const shown = `${beijing.slice(0, 10)} ${beijing.slice(11, 16)}`
            assert.ok(detail.includes(shown), `${layer}.${k} = ${v} is not shown as ${shown}`)
          }
        }
        await page.keyboard.press('Escape')
      }
    })

    test('概况 at 1440×900, 1366×768 and 390×844: no KPI figure breaks across lines; no stage codes', OPTS, async () => {
      for (const [width, height] of [
        [1440, 900],
        [1366, 768],
        [390, 844],
      ]) {
        await page.setViewportSize({ width, height })
        await showTab(page, 'summary')
        await page.waitForSelector('[data-testid="summary-projects-count"]')
        await page.waitForTimeout(300)
        assert.deepEqual(await brokenFigures(page), [], `at ${width}×${height}`)
        const text = await textOf(page, '[data-testid="summary-panel"]')
        assertClean(text, `概况 at ${width}×${height}`)
        const stages = await page.$$eval('[data-testid="summary-stages"] th', (ths) => ths.map((th) => th.textContent.trim()))
        assert.ok(stages.length > 0, 'no stages')
        for (const s of stages) assert.match(s, /[\u4e00-\u9fff]/, `stage ${s} is not named`)
      }
      await page.setViewportSize({ width: 1440, height: 900 })
    })

    test('exports for an office: Chinese headers and code names, UTF-8 BOM; codes=true for machines', OPTS, async () => {
      const get = (path, headers = {}) =>
        page.evaluate(
          async ([p, h]) => {
            const r = await fetch(p, { headers: h })
            const b = new Uint8Array(await r.arrayBuffer())
            return { status: r.status, bom: [...b.slice(0, 3)], text: new TextDecoder().decode(b.slice(3)) }
          },
          [path, headers],
        )
      const csv = await get(`/api/layers/projects/export?format=csv&district_code=${WUCHANG}`)
      assert.equal(csv.status, 200)
      assert.deepEqual(csv.bom, [0xef, 0xbb, 0xbf])
      const [head, first] = csv.text.split(/\r?\n/)
      assert.ok(head.startsWith('编号,项目编号,项目名称,'), head)
      assert.doesNotMatch(head, /[a-z]_[a-z]/)
      assert.match(first, /项目储备|前期工作|征收拆迁|土地供应|建设实施|竣工验收/)
      const en = await get(`/api/layers/projects/export?format=csv&district_code=${WUCHANG}`, { 'Accept-Language': 'en-GB,en;q=0.9' })
      assert.ok(en.text.startsWith('ID,Code,Name,'), en.text.slice(0, 80))
      const raw = await get(`/api/layers/projects/export?format=csv&district_code=${WUCHANG}&codes=true`)
      assert.ok(raw.text.startsWith('id,code,name,renewal_object_id,'), raw.text.slice(0, 80))
      // The query builder's export link asks in the interface's language.
      await runCollection(page, 'resident_reports')
      const href = await page.getAttribute('[data-testid="export-csv"]', 'href')
      assert.match(href, /[?&]lang=zh\b/)
      const ogc = await get(href)
      assert.equal(ogc.status, 200)
      assert.ok(ogc.text.startsWith('编号,类别,描述,状态,反映时间'), ogc.text.slice(0, 80))
    })

    test('main screens in Chinese and English show no codes, ids, JSON or ISO times', OPTS, async () => {
      for (const lang of ['zh', 'en']) {
        if ((await page.evaluate(() => document.documentElement.lang)).startsWith('zh') !== (lang === 'zh')) {
          await page.click('[data-testid="lang-switch"]')
        }
        await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`, { timeout: 3000 }).catch(() => undefined)
        for (const tab of ['admin', 'renewal', 'summary', 'query', 'progress', 'lifecircle', 'report']) {
          if (!(await page.locator(`#tab-${tab}`).count())) continue
          await page.click(`#tab-${tab}`, { timeout: 10_000 })
          await page.waitForTimeout(500)
          await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 15_000 }).catch(() => undefined)
          // The real-data chip (the unit's source) is the map's part of this work.
          const text = await page.evaluate(() => {
            let s = document.body.innerText
            for (const el of document.querySelectorAll('.source')) s = s.replace(el.innerText, '')
            return s
          })
          assertClean(text, `${tab} (${lang})`, { lang })
        }
      }
      await page.click('[data-testid="lang-switch"]', { timeout: 10_000 })
    })
  })

  describe('as the audit administrator', () => {
    let page
    let context
    let errors
    before(async () => {
      ;({ page, context, errors } = await openPage(browser, app.url, { width: 1440, height: 900 }))
      await signIn(page, 'auditor', { errors })
    })
    after(async () => {
      await context?.close()
    })

    test('the audit log names actions, outcomes and targets; times in Beijing; its export is in Chinese', OPTS, async () => {
      // The audit administrator's work is in 管理.
      await showTab(page, 'manage')
      await page.waitForSelector('[data-testid="adm-audit-row"]', { timeout: LONG })
      const rows = await page.$$eval('[data-testid="adm-audit-row"]', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText.trim())),
      )
      const page1 = await pageApi(page, '/api/audit?limit=100')
      assert.equal(rows.length, page1.records.length)
      for (const [i, [, at, , action, outcome]] of rows.entries()) {
        const r = page1.records[i]
        assert.match(at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/, `time ${at}`)
        assert.match(action, /[\u4e00-\u9fff]/, `action ${action} (${r.action}) is not named`)
        assert.match(outcome, /[\u4e00-\u9fff]/, `outcome ${outcome} (${r.outcome}) is not named`)
      }
      assert.ok(rows.some(([, , , action]) => action === '登录'), 'no 登录 in the audit log')
      assertClean(await textOf(page, '[data-testid="adm-audit"]'), 'the audit log')
      // The action filter is a list of names.
      const options = await page.$$eval('[data-testid="adm-audit-action"] option', (os) => os.map((o) => o.textContent.trim()))
      assert.ok(options.includes('登录') && options.includes('导出'), options.join(','))
      // The export: Chinese headings, named actions.
      const href = await page.getAttribute('[data-testid="adm-audit-export"]', 'href')
      const csv = await page.evaluate(async (h) => (await fetch(h)).text(), href)
      const lines = csv.replace(/^\uFEFF/, '').split(/\r?\n/)
      assert.ok(lines[0].startsWith('序号,时间,操作者,角色,操作,结果,对象图层'), lines[0])
      assert.ok(lines.slice(1).some((l) => l.includes(',登录,')), lines.slice(0, 3).join('\n'))
    })
  })
})
