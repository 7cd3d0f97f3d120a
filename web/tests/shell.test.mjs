// Browser tests of the shell: the module navigation and its sub-tabs on one line (Chinese and
// English), the breadcrumb bar at narrow widths, search hits replacing what was open, the
// landing workspace of each role, and the URL (Back, a copied link restoring module, place,
// selection and map view). Run with `GENGXIN_URL=… node --test tests/shell.test.mjs`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LONG, api, appUrl, launch, openPage, pageApi, showTab, signIn, signOut, waitMapIdle } from './helpers.mjs'

const CITY = '420100'
const WUCHANG = '420106'
const HONGSHAN = '420111'
const OPTS = { timeout: LONG * 3 }

let browser
let app

before(async () => {
  app = await appUrl()
  browser = await launch()
})

after(async () => {
  await browser?.close()
  await app?.close()
})

function assertNoErrors(errors) {
  assert.deepEqual(errors, [], `the page reported errors:\n${errors.join('\n')}`)
}

/// Per element matching the selector: its text, how many lines its text takes (distinct tops of
/// the text's line boxes) and whether it overflows its own box.
async function lines(page, selector) {
  return page.$$eval(selector, (els) =>
    els
      .filter((e) => e.getClientRects().length > 0)
      .map((e) => {
        const r = document.createRange()
        r.selectNodeContents(e)
        const tops = []
        for (const b of r.getClientRects()) {
          if (b.width < 1) continue
          if (!tops.some((t) => Math.abs(t - b.top) < 4)) tops.push(b.top)
        }
        return { text: e.textContent.trim(), lines: tops.length, overflow: e.scrollWidth > e.clientWidth + 1 }
      }),
  )
}

/// Whether a bar's content fits it (nothing hidden beyond its right edge).
async function fits(page, selector) {
  return page.$eval(selector, (e) => ({ scroll: e.scrollWidth, client: e.clientWidth }))
}

/// The module shown as current, and the breadcrumb's levels and codes.
async function where(page) {
  return page.evaluate(() => ({
    module: document.querySelector('[data-testid^="module-"][aria-current="page"]')?.dataset.testid.slice(7) ?? null,
    modules: [...document.querySelectorAll('[data-testid^="module-"]')].map((m) => m.dataset.testid.slice(7)),
    levels: [...document.querySelectorAll('[data-testid="breadcrumbs"] li')].map((l) => l.dataset.level),
    codes: [...document.querySelectorAll('[data-testid="breadcrumbs"] [data-code]')].map((c) => c.dataset.code),
    object: document.querySelector('[data-testid="crumb-object"]')?.textContent.trim() ?? null,
    heading: document.querySelector('aside h2')?.textContent.trim() ?? null,
  }))
}

async function waitCurrent(page, code) {
  await page.waitForFunction(
    (c) => {
      const cs = [...document.querySelectorAll('[data-testid="breadcrumbs"] [data-code]')]
      return cs.length > 0 && cs[cs.length - 1].dataset.code === c && !document.querySelector('[data-testid="crumb-object"]')
    },
    code,
    { timeout: LONG, polling: 100 },
  )
}

async function waitModule(page, id) {
  await page.waitForSelector(`[data-testid="module-${id}"][aria-current="page"]`, { timeout: LONG })
}

function hashOf(page) {
  return new URLSearchParams(new URL(page.url()).hash.slice(1))
}

/// Picks a search hit of the given type and id after typing text.
async function searchPick(page, text, type, id) {
  await page.fill('[data-testid="search-input"]', text)
  const hit = page.locator(`[data-testid="search-hit"][data-type="${type}"][data-id="${id}"]`)
  await hit.first().waitFor({ state: 'visible', timeout: LONG })
  await hit.first().click()
}

describe('the shell', () => {
  test('signed in as admin: module and tab labels stay on one line, nothing overflows (1440×900, 1366×768; Chinese and English); admin lands in 管理', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1440, height: 900 })
    try {
      await signIn(page, 'admin', { errors })
      await waitModule(page, 'manage')
      await page.locator('#panel-manage').waitFor({ state: 'visible' })
      const w = await where(page)
      assert.deepEqual(w.modules, ['retrieval', 'assessment', 'monitoring', 'reporting', 'manage'])
      for (const lang of ['zh', 'en']) {
        if (lang === 'en') {
          await page.click('[data-testid="lang-switch"]')
          await page.waitForFunction(() => document.documentElement.lang === 'en')
        }
        for (const size of [
          { width: 1440, height: 900 },
          { width: 1366, height: 768 },
        ]) {
          await page.setViewportSize(size)
          for (const m of w.modules) {
            await page.click(`[data-testid="module-${m}"]`)
            await waitModule(page, m)
            const labels = [
              ...(await lines(page, '[data-testid^="module-"]')),
              ...(await lines(page, '.tabs [role="tab"]')),
              ...(await lines(page, '.subnav button')),
            ]
            assert.ok(labels.length >= 5, 'no labels measured')
            for (const l of labels) {
              assert.equal(l.lines, 1, `${lang} ${size.width}px, ${m}: "${l.text}" takes ${l.lines} lines`)
              assert.equal(l.overflow, false, `${lang} ${size.width}px, ${m}: "${l.text}" overflows its box`)
            }
            for (const bar of ['[data-testid="modules"]', '.tabs']) {
              if (!(await page.locator(bar).count())) continue
              const f = await fits(page, bar)
              assert.ok(f.scroll <= f.client + 1, `${lang} ${size.width}px, ${m}: ${bar} overflows (${f.scroll} > ${f.client})`)
            }
            // The header keeps one row at these widths: the module navigation beside the brand.
            const header = await page.locator('header.top').boundingBox()
            assert.ok(header.height <= 56, `${lang} ${size.width}px: the header is ${header.height}px high`)
          }
        }
      }
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('the breadcrumb shows all four levels on one line, beside (not over) the search box at 780×900 and 390×844', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 780, height: 900 })
    try {
      const streets = await api(`/api/units/${WUCHANG}/children`)
      const street = streets[0]
      const communities = await api(`/api/units/${street.code}/children`)
      const community = communities.reduce((a, b) => (b.name.length > a.name.length ? b : a))
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      await waitCurrent(page, WUCHANG)
      await page.click(`[data-testid="unit-row"][data-code="${street.code}"]`)
      await waitCurrent(page, street.code)
      await page.click(`[data-testid="unit-row"][data-code="${community.code}"]`)
      await waitCurrent(page, community.code)
      const w = await where(page)
      assert.deepEqual(w.levels, ['city', 'district', 'street', 'community'])
      assert.deepEqual(w.codes, [CITY, WUCHANG, street.code, community.code])
      for (const size of [
        { width: 780, height: 900 },
        { width: 390, height: 844 },
      ]) {
        await page.setViewportSize(size)
        const crumbs = await page.$$eval('[data-testid="breadcrumbs"] li', (lis) =>
          lis.map((l) => {
            const b = l.getBoundingClientRect()
            return { top: b.top, bottom: b.bottom, left: b.left, right: b.right, text: l.textContent.trim() }
          }),
        )
        const one = await lines(page, '[data-testid="breadcrumbs"] li > *')
        for (const l of one) assert.equal(l.lines, 1, `${size.width}px: crumb "${l.text}" takes ${l.lines} lines`)
        const tops = new Set(crumbs.map((c) => Math.round(c.top)))
        assert.equal(tops.size, 1, `${size.width}px: the breadcrumb takes ${tops.size} rows`)
        const bar = await page.locator('.crumb-bar').boundingBox()
        assert.ok(bar.height <= 34, `${size.width}px: the breadcrumb bar is ${bar.height}px high`)
        for (const c of crumbs) assert.ok(c.right <= size.width + 0.5, `${size.width}px: "${c.text}" beyond the window`)
        // The current place is shown whole.
        const last = one[one.length - 1]
        assert.equal(last.overflow, false, `${size.width}px: the current place "${last.text}" is cut`)
        assert.equal(last.text, community.name)
        const search = await page.locator('[data-testid="search-input"]').boundingBox()
        const overlap = !(bar.y >= search.y + search.height || bar.y + bar.height <= search.y)
        assert.equal(overlap, false, `${size.width}px: the breadcrumb overlaps the search box`)
        const f = await fits(page, '[data-testid="modules"]')
        assert.ok(f.scroll <= f.client + 1 || size.width < 500, `${size.width}px: the module navigation overflows`)
      }
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('picking a search hit replaces the open object in the breadcrumb and panels', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const a = (await api(`/api/layers/renewal_objects/features?district_code=${WUCHANG}&limit=1`)).features[0]
      const b = (await api(`/api/layers/renewal_objects/features?district_code=${HONGSHAN}&limit=1`)).features[0]
      const hongshan = await api(`/api/units/${HONGSHAN}`)
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      await waitCurrent(page, WUCHANG)
      await showTab(page, 'renewal')
      await page.click(`[data-testid="object-row"][data-id="${a.id}"]`)
      await page.waitForFunction((n) => document.querySelector('[data-testid="crumb-object"]')?.textContent.trim() === n, a.properties.name)
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })

      // Another object, in another district.
      await searchPick(page, b.properties.name, 'renewal_objects', b.id)
      await page.waitForFunction((n) => document.querySelector('[data-testid="crumb-object"]')?.textContent.trim() === n, b.properties.name)
      let w = await where(page)
      assert.equal(w.heading, b.properties.name)
      assert.equal(w.codes.at(-1), HONGSHAN)
      const crumbText = await page.textContent('[data-testid="breadcrumbs"]')
      assert.ok(!crumbText.includes(a.properties.name), `the breadcrumb still shows ${a.properties.name}`)
      const detail = page.locator('[data-testid="detail-panel"]')
      await page.waitForFunction((n) => document.querySelector('[data-testid="detail-panel"]')?.textContent.includes(n), b.properties.name)
      assert.ok(!(await detail.textContent()).includes(a.properties.name), 'the detail panel still shows the first object')

      // A place: the object and its detail close.
      await searchPick(page, hongshan.properties.name, 'admin_units', HONGSHAN)
      await waitCurrent(page, HONGSHAN)
      w = await where(page)
      assert.equal(w.object, null)
      assert.equal(w.heading, hongshan.properties.name)
      assert.equal(await detail.isVisible(), false, 'the detail panel of the object stays open')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('the URL holds the place: Back returns to the previous place; a copied link restores module, place, selection and view', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const start = page.url()
      const streets = await api(`/api/units/${WUCHANG}/children`)
      const street = streets[0]
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      await waitCurrent(page, WUCHANG)
      await page.click(`[data-testid="unit-row"][data-code="${street.code}"]`)
      await waitCurrent(page, street.code)
      assert.equal(hashOf(page).get('unit'), street.code)
      assert.equal(hashOf(page).get('m'), 'retrieval')

      await page.goBack()
      await waitCurrent(page, WUCHANG)
      assert.equal(hashOf(page).get('unit'), WUCHANG)
      await page.goBack()
      await waitCurrent(page, CITY)
      assert.ok(page.url().startsWith(start.split('#')[0]), `Back left the application: ${page.url()}`)
      await page.goForward()
      await waitCurrent(page, WUCHANG)

      // An object and a parcel of it, then a pan: all in the URL.
      await showTab(page, 'renewal')
      const o = (await api(`/api/layers/renewal_objects/features?district_code=${WUCHANG}&limit=1`)).features[0]
      await page.click(`[data-testid="object-row"][data-id="${o.id}"]`)
      await page.waitForFunction((n) => document.querySelector('[data-testid="crumb-object"]')?.textContent.trim() === n, o.properties.name)
      const parcel = page.locator('[data-testid="parcel-row"]').first()
      await parcel.waitFor({ state: 'visible' })
      const parcelId = await parcel.getAttribute('data-id')
      await parcel.click()
      await page.waitForFunction((id) => new URLSearchParams(location.hash.slice(1)).get('pick') === `parcels:${id}`, parcelId)
      await waitMapIdle(page)
      await page.evaluate(() => window.__map.panBy([120, 60], { duration: 0 }))
      await page.waitForFunction(() => {
        const m = window.__map
        const v = new URLSearchParams(location.hash.slice(1)).get('map')?.split(',').map(Number)
        return v && Math.abs(v[0] - m.getCenter().lng) < 1e-4 && Math.abs(v[2] - m.getZoom()) < 0.01
      })
      const link = page.url()
      const h = hashOf(page)
      assert.equal(h.get('obj'), o.id)
      assert.equal(h.get('tab'), 'renewal')
      const view = await page.evaluate(() => ({ c: window.__map.getCenter(), z: window.__map.getZoom() }))

      // Back from the parcel: the object's own detail again, not the previous page.
      await page.goBack()
      await page.waitForFunction((id) => new URLSearchParams(location.hash.slice(1)).get('pick') === `renewal_objects:${id}`, o.id)

      const second = await context.newPage()
      await second.goto(link)
      await waitMapIdle(second)
      await waitModule(second, 'retrieval')
      await second.waitForFunction((n) => document.querySelector('[data-testid="crumb-object"]')?.textContent.trim() === n, o.properties.name)
      const w = await where(second)
      assert.equal(w.codes.at(-1), h.get('unit'))
      assert.equal(await second.getAttribute('#tab-renewal', 'aria-selected'), 'true')
      await second.waitForFunction((id) => document.querySelector(`[data-testid="parcel-row"][data-id="${id}"]`), parcelId)
      await second.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })
      const got = await second.evaluate(() => ({ c: window.__map.getCenter(), z: window.__map.getZoom() }))
      assert.ok(Math.abs(got.c.lng - view.c.lng) < 1e-4 && Math.abs(got.c.lat - view.c.lat) < 1e-4, 'the map centre is not restored')
      assert.ok(Math.abs(got.z - view.z) < 0.01, `the zoom is not restored: ${got.z} ≠ ${view.z}`)
      assert.equal(new URLSearchParams(new URL(second.url()).hash.slice(1)).get('pick'), `parcels:${parcelId}`)
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('each role lands in its workspace on its own area; the public on 信息检索 武汉市; a link is not overridden', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      let w = await where(page)
      assert.equal(w.module, 'retrieval')
      assert.deepEqual(w.codes, [CITY])
      assert.deepEqual(w.modules, ['retrieval', 'assessment'])

      await signIn(page, 'worker', { errors })
      const worker = await pageApi(page, '/api/auth/me')
      assert.ok(worker.community_code, 'the worker has no community')
      await waitCurrent(page, worker.community_code)
      w = await where(page)
      assert.equal(w.module, 'retrieval')
      assert.deepEqual(w.levels, ['city', 'district', 'street', 'community'])
      await signOut(page)

      await signIn(page, 'wuchang', { errors })
      await waitCurrent(page, WUCHANG)
      assert.equal((await where(page)).module, 'retrieval')
      // A reload with the session: the district again.
      const again = await context.newPage()
      await again.goto(app.url)
      await waitMapIdle(again)
      await waitCurrent(again, WUCHANG)
      assert.equal((await where(again)).module, 'retrieval')
      // A link the user opened is not overridden by the landing.
      await again.goto(`${app.url}#m=retrieval&tab=summary&unit=${HONGSHAN}`)
      await again.reload()
      await waitMapIdle(again)
      await waitCurrent(again, HONGSHAN)
      assert.equal(await again.getAttribute('#tab-summary', 'aria-selected'), 'true')
      await again.close()
      await signOut(page)

      await signIn(page, 'leader', { errors })
      await waitModule(page, 'monitoring')
      await page.locator('#panel-progress').waitFor({ state: 'visible' })
      assert.deepEqual((await where(page)).codes, [CITY])
      await signOut(page)

      await signIn(page, 'entity', { errors })
      await waitModule(page, 'reporting')
      await page.locator('#panel-report').waitFor({ state: 'visible' })
      assert.ok(!(await where(page)).modules.includes('manage'), 'the entity sees 管理')
      await signOut(page)
      // Signed out in 填报: back to 信息检索.
      await waitModule(page, 'retrieval')

      await signIn(page, 'security', { errors })
      await waitModule(page, 'manage')
      await page.locator('#panel-manage').waitFor({ state: 'visible' })
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })
})
