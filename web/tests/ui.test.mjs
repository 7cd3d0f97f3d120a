// Browser tests of the web application against a running Gengxin server (GENGXIN_URL), in
// Debian's Chromium through playwright-core. Run with `npm test`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  GENGXIN_URL,
  LONG,
  api,
  appUrl,
  decodePng,
  interiorPoint,
  launch,
  openPage,
  pageApi,
  pixelStats,
  screenshot,
  signIn,
  showTab,
  signOut,
  waitMapIdle,
  waitMapSettled,
} from './helpers.mjs'

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

function assertNoErrors(errors, allowed = []) {
  const left = errors.filter((e) => !allowed.some((re) => re.test(e)))
  assert.deepEqual(left, [], `the page reported errors:\n${left.join('\n')}`)
}

/// The browser logs a 4xx answer as a console error; a test that provokes one allows it.
const BAD_REQUEST = /status of 400/
const UNAUTHENTICATED = /status of 401/

/// Waits until an element's data-value is the given value.
async function waitValue(page, testid, value) {
  await page.waitForFunction(
    ([id, v]) => document.querySelector(`[data-testid="${id}"]`)?.dataset.value === String(v),
    [testid, value],
    { timeout: LONG, polling: 200 },
  )
}

/// The search hits shown: [{type, id, name}].
async function searchHits(page) {
  return page.$$eval('[data-testid="search-hit"]', (hs) =>
    hs.map((h) => ({ type: h.dataset.type, id: h.dataset.id, name: h.querySelector('.name')?.textContent.trim() })),
  )
}

/// Types into the search box and waits until a hit of that type and id is suggested.
async function searchFor(page, text, type, id) {
  await page.fill('[data-testid="search-input"]', text)
  await page.waitForFunction(
    ([ty, i]) => [...document.querySelectorAll('[data-testid="search-hit"]')].some((h) => h.dataset.type === ty && h.dataset.id === i),
    [type, id],
    { timeout: LONG, polling: 100 },
  )
  return searchHits(page)
}

/// Industrial parcels over an area, as the query builder writes it.
const parcelFilter = (m2) => `area_m2 > ${m2} AND land_use = '1001'`
/// The demo's parcels are all under 2 ha (none matches the 20000 m² of the brief's example), so
/// the lists are tested over 1 ha.
const PARCEL_FILTER = parcelFilter(10000)

const itemsOf = (filter, extra = '') =>
  api(`/ogc/collections/parcels/items?filter=${encodeURIComponent(filter)}&filter-lang=cql2-text${extra}`)

/// Builds 面积 > m2 AND 现状用地 = 工业用地 over 地块 with the builder's controls.
async function buildParcelQuery(page, m2 = 10000) {
  await showTab(page, 'query')
  await page.waitForSelector('[data-testid="query-collection"] option[value="parcels"]', { state: 'attached' })
  await page.selectOption('[data-testid="query-collection"]', 'parcels')
  const conds = page.locator('[data-testid="condition"]')
  await page.click('[data-testid="add-condition"]')
  const area = conds.nth(0)
  await area.locator('[data-testid="cond-property"]').selectOption('area_m2')
  assert.match(await area.locator('[data-testid="cond-property"] option[value="area_m2"]').textContent(), /面积/)
  await area.locator('[data-testid="cond-op"]').selectOption('>')
  await area.locator('[data-testid="cond-value"]').fill(String(m2))
  await page.click('[data-testid="add-condition"]')
  const use = conds.nth(1)
  await use.locator('[data-testid="cond-property"]').selectOption('land_use')
  assert.match(await use.locator('[data-testid="cond-property"] option[value="land_use"]').textContent(), /现状用地/)
  await use.locator('[data-testid="cond-value"]').selectOption({ label: '工业用地' })
  await page.waitForFunction(
    (f) => document.querySelector('[data-testid="cql2-text"]').value === f,
    parcelFilter(m2),
    { timeout: LONG },
  )
}

/// Row names of the children list, in order.
async function rowNames(page) {
  return page.$$eval('[data-testid="children-list"] [data-testid="unit-row"]', (rows) =>
    rows.map((r) => r.querySelector('.row-name')?.textContent?.trim() ?? ''),
  )
}

async function waitRows(page, names) {
  await page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll('[data-testid="children-list"] [data-testid="unit-row"] .row-name')].map(
        (e) => e.textContent.trim(),
      )
      return got.length === want.length && got.every((n, i) => n === want[i])
    },
    names,
    { timeout: LONG, polling: 200 },
  )
}

async function crumbs(page) {
  return page.$$eval('[data-testid="breadcrumbs"] li', (lis) => lis.map((l) => l.textContent.trim()))
}

describe('Gengxin web application', () => {
  test('desktop 1366×768: loads without console errors, draws the map from vector tiles', OPTS, async () => {
    const { page, context, errors, tiles } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // The header speaks Chinese by default.
      assert.equal(await page.textContent('header h1'), '城市更新精细化管理决策系统')
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN')
      // The districts are listed.
      const districts = await api(`/api/units/${CITY}/children`)
      await waitRows(page, districts.map((d) => d.name))

      // Zoom in on the city centre so that every basemap layer has tiles to draw.
      await page.evaluate(() => window.__map.jumpTo({ center: [114.3, 30.58], zoom: 13 }))
      await waitMapSettled(page)

      // Vector tiles were asked for and all answered 200.
      assert.ok(
        tiles.length > 0,
        'the map requested no vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt); is GET /tiles served?',
      )
      const bad = tiles.filter((t) => t.status !== 200)
      assert.deepEqual(bad, [], `tile requests that did not answer 200:\n${bad.map((t) => `${t.status} ${t.url}`).join('\n')}`)

      // The canvas is drawn: many pixels that are not background, in many colours.
      const box = await page.locator('[data-testid="map"]').boundingBox()
      const png = decodePng(
        await page.screenshot({
          clip: { x: box.x + 360, y: box.y, width: box.width - 360, height: box.height },
          timeout: LONG,
        }),
      )
      const stats = pixelStats(png, [
        [0xf4, 0xf1, 0xe8],
        [0xfb, 0xfa, 0xf5],
        [0xef, 0xeb, 0xdf],
      ])
      assert.ok(stats.share > 0.25, `only ${(stats.share * 100).toFixed(1)}% of the map differs from the background`)
      assert.ok(stats.colours > 60, `only ${stats.colours} distinct colours on the map`)
      await screenshot(page, 'desktop-1366x768-z13.png')

      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('hovering a district shows its Chinese name in the tooltip', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const unit = await api(`/api/units/${WUCHANG}`)
      const [lon, lat] = interiorPoint(unit.geometry)
      // Put the point in the middle of the map (clear of the panels), then hover it.
      await page.evaluate(([x, y]) => window.__map.jumpTo({ center: [x, y], zoom: 10 }), [lon, lat])
      await waitMapSettled(page)
      const pt = await page.evaluate(([x, y]) => window.__map.project([x, y]), [lon, lat])
      const box = await page.locator('[data-testid="map"]').boundingBox()
      await page.mouse.move(box.x + pt.x - 30, box.y + pt.y - 30)
      await page.mouse.move(box.x + pt.x, box.y + pt.y, { steps: 5 })
      const tip = page.locator('[data-testid="tooltip"]')
      await tip.waitFor({ state: 'visible', timeout: LONG })
      await page.waitForFunction(
        (name) => document.querySelector('[data-testid="tooltip"]')?.textContent?.includes(name),
        unit.properties.name,
        { timeout: LONG },
      )
      assert.match(await tip.textContent(), new RegExp(unit.properties.name))
      await screenshot(page, 'desktop-hover-district.png')
      // A click there selects the district (or a renewal object in it, under the district).
      await page.mouse.click(box.x + pt.x, box.y + pt.y)
      await page.waitForFunction(
        (name) => [...document.querySelectorAll('[data-testid="breadcrumbs"] li')].some((l) => l.textContent.trim() === name),
        unit.properties.name,
        { timeout: LONG },
      )
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('drill-down 武汉市 → district → street → community, breadcrumbs and back', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const city = await api(`/api/units/${CITY}`)
      const districts = await api(`/api/units/${CITY}/children`)
      await waitRows(page, districts.map((d) => d.name))
      assert.deepEqual(await crumbs(page), [city.properties.name])

      const district = districts.find((d) => d.code === WUCHANG) ?? districts[0]
      const streets = await api(`/api/units/${district.code}/children`)
      assert.ok(streets.length > 0, `${district.name} has no streets`)
      await page.click(`[data-testid="unit-row"][data-code="${district.code}"]`)
      await waitRows(page, streets.map((s) => s.name))
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="breadcrumbs"]').textContent.includes(n),
        district.name,
      )
      assert.deepEqual(await crumbs(page), [city.properties.name, district.name])
      await waitMapSettled(page)
      // The map shows the district.
      const inView = await page.evaluate((code) => {
        const b = window.__map.getBounds()
        return { w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth(), code }
      }, district.code)
      const dUnit = await api(`/api/units/${district.code}`)
      const [dx, dy] = interiorPoint(dUnit.geometry)
      assert.ok(dx > inView.w && dx < inView.e && dy > inView.s && dy < inView.n, 'the map does not show the district')

      const street = streets[0]
      const communities = await api(`/api/units/${street.code}/children`)
      assert.ok(communities.length > 0, `${street.name} has no communities`)
      // Keyboard: focus the row and press Enter.
      await page.focus(`[data-testid="unit-row"][data-code="${street.code}"]`)
      await page.keyboard.press('Enter')
      await waitRows(page, communities.map((c) => c.name))
      assert.deepEqual(await crumbs(page), [city.properties.name, district.name, street.name])

      const community = communities[0]
      await page.focus(`[data-testid="unit-row"][data-code="${community.code}"]`)
      await page.keyboard.press('Space')
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="breadcrumbs"] [aria-current]')?.textContent.trim() === n,
        community.name,
      )
      assert.deepEqual(await crumbs(page), [city.properties.name, district.name, street.name, community.name])
      assert.equal((await page.textContent('aside h2')).trim(), community.name)
      await waitMapSettled(page)
      await screenshot(page, 'desktop-drilldown-community.png')

      // Back goes up one level: the street's communities again.
      await page.click('[data-testid="back"]')
      await waitRows(page, communities.map((c) => c.name))
      assert.deepEqual(await crumbs(page), [city.properties.name, district.name, street.name])
      // A breadcrumb goes straight to the city.
      await page.click(`[data-testid="breadcrumbs"] button[data-code="${CITY}"]`)
      await waitRows(page, districts.map((d) => d.name))
      assert.deepEqual(await crumbs(page), [city.properties.name])
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('a renewal object opens its detail with projects; Esc closes it', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // Projects are for signed-in users (the public is asked to sign in).
      await signIn(page, 'leader', { errors })
      const objects = await api(`/api/layers/renewal_objects/features?district_code=${WUCHANG}&limit=1000`)
      assert.ok(objects.features.length > 0, 'no renewal objects in 武昌区')
      // Prefer an object with a project.
      let target = objects.features[0]
      for (const o of objects.features.slice(0, 30)) {
        const ps = await pageApi(page, `/api/layers/projects/features?renewal_object_id=${encodeURIComponent(o.id)}`)
        if (ps.features.length) {
          target = o
          break
        }
      }
      // The leader lands in 实施监测; the drill-down is in 信息检索.
      await showTab(page, 'admin')
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      await showTab(page, 'renewal')
      await page.click(`[data-testid="object-row"][data-id="${target.id}"]`)
      const panel = page.locator('[data-testid="detail-panel"]')
      await panel.waitFor({ state: 'visible' })
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="detail-panel"] h2')?.textContent.includes(n),
        target.properties.name,
      )
      if (target.properties.provenance === 'generated') {
        await page.waitForFunction(() => document.querySelector('[data-testid="detail-panel"] .gen-mark'))
        assert.match(await panel.locator('.gen-mark').first().textContent(), /生成数据/)
      }
      const projects = await pageApi(page, `/api/layers/projects/features?renewal_object_id=${encodeURIComponent(target.id)}`)
      if (projects.features.length) {
        await page.waitForSelector('[data-testid="detail-panel"] [data-testid="project"] [role="progressbar"]')
      }
      // The breadcrumbs carry the object.
      assert.equal((await crumbs(page)).at(-1), target.properties.name)
      await waitMapSettled(page)
      await screenshot(page, 'desktop-renewal-object.png')
      await page.keyboard.press('Escape')
      await panel.waitFor({ state: 'detached' })
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('the language switch changes the interface and is remembered', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const title = () => page.textContent('header h1')
      assert.equal(await title(), '城市更新精细化管理决策系统')
      await page.click('[data-testid="lang-switch"]')
      await page.waitForFunction(() => document.documentElement.lang === 'en')
      assert.equal(await title(), 'Gengxin urban renewal decision support')
      assert.match(await page.textContent('#tab-admin'), /^Divisions/)
      // Remembered across a reload.
      await page.reload({ waitUntil: 'load' })
      await waitMapIdle(page)
      assert.equal(await title(), 'Gengxin urban renewal decision support')
      await page.click('[data-testid="lang-switch"]')
      await page.waitForFunction(() => document.documentElement.lang === 'zh-CN')
      assert.equal(await title(), '城市更新精细化管理决策系统')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('accounts: a wrong password is refused, the leader signs in and sees progress, 退出 signs out', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // Signed out: the header offers 登录 and there is no 实施监测 (projects are for staff).
      await page.locator('[data-testid="signin-open"]').waitFor({ state: 'visible' })
      assert.equal((await page.textContent('[data-testid="signin-open"]')).trim(), '登录')
      await page.locator('[data-testid="module-retrieval"]').waitFor({ state: 'visible' })
      assert.equal(await page.locator('[data-testid="module-monitoring"]').count(), 0)

      // A wrong password: a Chinese message, still signed out.
      await page.click('[data-testid="signin-open"]')
      await page.fill('[data-testid="signin-username"]', 'leader')
      await page.fill('[data-testid="signin-password"]', 'not-the-password')
      await page.fill('[data-testid="signin-totp"]', '000000')
      await page.click('[data-testid="signin-submit"]')
      await page.locator('[data-testid="signin-error"]').waitFor({ state: 'visible' })
      assert.match(await page.textContent('[data-testid="signin-error"]'), /用户名、密码或动态口令错误/)
      assert.equal(await page.getAttribute('[data-testid="account"]', 'data-user'), '')
      assert.equal(await page.locator('[data-testid="signout"]').count(), 0)
      assert.equal(await page.evaluate(() => fetch('/api/auth/me').then((r) => r.status)), 401)

      // The city leader: name and role in the header; they land in 实施监测 and the progress
      // table loads.
      await signIn(page, 'leader', { errors })
      const me = await pageApi(page, '/api/auth/me')
      assert.equal(me.role, 'city_leader')
      assert.equal((await page.textContent('[data-testid="account-name"]')).trim(), me.display_name || me.username)
      assert.equal((await page.textContent('[data-testid="account-role"]')).trim(), '市级领导')
      await page.locator('[data-testid="progress-table"]').waitFor({ state: 'visible' })
      assert.equal(await page.locator('[data-testid="progress-signin"]').count(), 0)
      await screenshot(page, 'desktop-signed-in.png')

      // 退出: signed out on the server too; 实施监测 goes and 信息检索 is shown.
      assert.equal((await page.textContent('[data-testid="signout"]')).trim(), '退出')
      await signOut(page)
      assert.equal(await page.getAttribute('[data-testid="account"]', 'data-user'), '')
      await page.locator('[data-testid="module-retrieval"][aria-current="page"]').waitFor({ state: 'visible' })
      assert.equal(await page.locator('[data-testid="module-monitoring"]').count(), 0)
      assert.equal(await page.locator('[data-testid="progress-row"]').count(), 0)
      assert.equal(await page.evaluate(() => fetch('/api/auth/me').then((r) => r.status)), 401)
      assertNoErrors(errors, [UNAUTHENTICATED])
    } finally {
      await context.close()
    }
  })

  test('phone 390×844: panels become a bottom sheet; screenshot', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 390, height: 844 })
    try {
      const districts = await api(`/api/units/${CITY}/children`)
      await waitRows(page, districts.map((d) => d.name))
      const side = await page.locator('aside').boundingBox()
      assert.ok(side.width >= 380, `the panel is ${side.width}px wide, not a full-width sheet`)
      assert.ok(side.y > 844 * 0.4, `the panel starts at ${side.y}px, not at the bottom`)
      const map = await page.locator('[data-testid="map"]').boundingBox()
      assert.ok(map.width >= 380 && map.height > 600, 'the map does not fill the phone screen')
      // The drill-down works on the phone too.
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      const streets = await api(`/api/units/${WUCHANG}/children`)
      await waitRows(page, streets.map((s) => s.name))
      await waitMapSettled(page)
      const path = await screenshot(page, 'phone-390x844.png')
      const png = decodePng(readFileSync(path))
      assert.equal(png.width, 390)
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('search: hongshan and hsq suggest 洪山区, choosing it drills down; keyboard; 无结果', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const city = await api(`/api/units/${CITY}`)
      const hongshan = await api(`/api/units/${HONGSHAN}`)
      assert.equal(hongshan.properties.name, '洪山区')

      // Pinyin: the suggestions are the server's, in its order, with the Chinese type badge.
      const hits = await searchFor(page, 'hongshan', 'admin_units', HONGSHAN)
      const expected = await api('/api/search?q=hongshan&limit=12')
      assert.deepEqual(
        hits.map((h) => `${h.type}/${h.id}`),
        expected.map((h) => `${h.type}/${h.id}`),
      )
      const hit = page.locator(`[data-testid="search-hit"][data-type="admin_units"][data-id="${HONGSHAN}"]`)
      assert.match(await hit.textContent(), /洪山区/)
      assert.equal((await hit.locator('.badge').textContent()).trim(), '行政区划')
      await screenshot(page, 'desktop-search.png')
      await hit.click()
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="breadcrumbs"] [aria-current]')?.textContent.trim() === n,
        '洪山区',
      )
      assert.deepEqual(await crumbs(page), [city.properties.name, '洪山区'])
      await assert.rejects(
        page.waitForSelector('[data-testid="search-suggestions"]', { state: 'visible', timeout: 300 }),
        'the suggestions stay open after a choice',
      )

      // Back to the city; initials, chosen with the keyboard.
      await page.click(`[data-testid="breadcrumbs"] button[data-code="${CITY}"]`)
      await page.waitForFunction(() => document.querySelector('[data-testid="breadcrumbs"] [aria-current]')?.dataset.code === '420100')
      const initials = await searchFor(page, 'hsq', 'admin_units', HONGSHAN)
      const at = initials.findIndex((h) => h.type === 'admin_units' && h.id === HONGSHAN)
      for (let i = 0; i < at; i++) await page.keyboard.press('ArrowDown')
      const active = await page.getAttribute('[data-testid="search-input"]', 'aria-activedescendant')
      assert.equal(await page.getAttribute(`#${active}`, 'data-id'), HONGSHAN)
      await page.keyboard.press('Enter')
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="breadcrumbs"] [aria-current]')?.textContent.trim() === n,
        '洪山区',
      )

      // A type filter and a code.
      await page.selectOption('[data-testid="search-type"]', 'admin_units')
      const byCode = await searchFor(page, HONGSHAN, 'admin_units', HONGSHAN)
      assert.ok(byCode.every((h) => h.type === 'admin_units'), 'the type filter lets other types through')
      // Esc closes the list and leaves the page as it is.
      await page.keyboard.press('Escape')
      await page.waitForSelector('[data-testid="search-suggestions"]', { state: 'hidden' })
      await page.selectOption('[data-testid="search-type"]', '')

      // Nothing found: 无结果.
      const none = await api('/api/search?q=' + encodeURIComponent('qqqxxzzv'))
      assert.equal(none.length, 0, 'the nonsense query finds something on the server')
      await page.fill('[data-testid="search-input"]', 'qqqxxzzv')
      await page.waitForSelector('[data-testid="search-empty"]', { state: 'visible' })
      assert.equal((await page.textContent('[data-testid="search-empty"]')).trim(), '无结果')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('search: a renewal object opens its detail and the map fits it', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const objects = await api(`/api/layers/renewal_objects/features?district_code=${WUCHANG}&limit=5`)
      const target = objects.features[0]
      assert.ok(target, 'no renewal object in 武昌区')
      const name = target.properties.name
      // By its code (unique), or its name.
      await searchFor(page, String(target.properties.code ?? name), 'renewal_objects', target.id)
      await page.click(`[data-testid="search-hit"][data-type="renewal_objects"][data-id="${target.id}"]`)
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })
      await page.waitForFunction((n) => document.querySelector('[data-testid="detail-panel"] h2')?.textContent.includes(n), name)
      await waitMapSettled(page)
      const [lon, lat] = interiorPoint(target.geometry)
      const inView = await page.evaluate(([x, y]) => window.__map.getBounds().contains([x, y]), [lon, lat])
      assert.ok(inView, 'the map does not show the chosen renewal object')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('summary (概况): the city figures are the API answer, a district differs, as-of date re-queries', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // The public sees no project figures, and the panel says why.
      const pub = await api(`/api/summary/admin_units/${CITY}`)
      assert.equal(pub.projects, null, 'the public summary publishes project figures')
      assert.equal(pub.counts.projects, null, 'the public summary counts projects')
      await showTab(page, 'summary')
      await page.locator('[data-testid="summary-projects-hidden"]').waitFor({ state: 'visible' })

      // The city leader sees every project.
      await signIn(page, 'leader', { errors })
      await showTab(page, 'summary')
      const city = await pageApi(page, `/api/summary/admin_units/${CITY}`)
      const district = await pageApi(page, `/api/summary/admin_units/${HONGSHAN}`)
      assert.ok(city.projects.count > 0, 'the city has no projects')
      assert.notEqual(district.projects.count, city.projects.count, 'a district has as many projects as the city')
      assert.equal(city.counts.renewal_objects, pub.counts.renewal_objects, 'base data differs by caller')

      await page.locator('[data-testid="summary-panel"]').waitFor({ state: 'visible' })
      await waitValue(page, 'summary-projects-count', city.projects.count)
      assert.equal((await page.textContent('[data-testid="summary-name"]')).trim(), city.name)
      assert.equal(await page.getAttribute('[data-testid="summary-renewal-objects-count"]', 'data-value'), String(city.counts.renewal_objects))
      assert.equal(await page.getAttribute('[data-testid="summary-parcels-count"]', 'data-value'), String(city.counts.parcels))
      assert.equal(await page.getAttribute('[data-testid="summary-lagging"]', 'data-value'), String(city.projects.lagging))
      if (city.population) {
        assert.equal(await page.getAttribute('[data-testid="summary-population-total"]', 'data-value'), String(city.population.total))
        const shown = (await page.textContent('[data-testid="summary-population-total"]')).replace(/[^\d]/g, '')
        assert.equal(shown, String(city.population.total))
      }
      // Investment in 亿元: done / total.
      const inv = (await page.textContent('[data-testid="summary-investment"]')).replace(/,/g, '')
      assert.ok(inv.includes((city.projects.investment_total_wan / 10000).toFixed(2)), `investment shown as ${inv}`)
      assert.ok(inv.includes((city.projects.investment_done_wan / 10000).toFixed(2)), `investment shown as ${inv}`)
      assert.match(inv, /亿元/)
      await screenshot(page, 'desktop-summary-city.png')

      // The district: drill down, the summary follows.
      await showTab(page, 'admin')
      await page.click(`[data-testid="unit-row"][data-code="${HONGSHAN}"]`)
      await showTab(page, 'summary')
      await waitValue(page, 'summary-projects-count', district.projects.count)
      assert.equal((await page.textContent('[data-testid="summary-name"]')).trim(), '洪山区')

      // An earlier date: the project figures are the API's for that date.
      const asOf = '2024-06-30'
      const then = await pageApi(page, `/api/summary/admin_units/${HONGSHAN}?as_of=${asOf}`)
      await page.fill('[data-testid="summary-as-of"]', asOf)
      await page.locator('[data-testid="summary-as-of"]').dispatchEvent('change')
      await page.waitForFunction(
        (d) => document.querySelector('[data-testid="summary-panel"]')?.textContent.includes(d),
        asOf,
      )
      await waitValue(page, 'summary-projects-count', then.projects.count)
      assert.equal(await page.getAttribute('[data-testid="summary-lagging"]', 'data-value'), String(then.projects.lagging))
      assert.equal(
        await page.getAttribute('[data-testid="summary-mean-progress"]', 'data-value'),
        then.projects.mean_progress_pct === null ? '' : String(then.projects.mean_progress_pct),
      )
      await waitMapSettled(page)
      await screenshot(page, 'desktop-summary-district.png')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('query builder: industrial parcels by area, results in step with the map, paging, export CSV', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // The brief's example: over 2 ha. The text is exactly the CQL2 expected; the count is the
      // API's (none in the demo data: 无结果).
      await buildParcelQuery(page, 20000)
      assert.equal(await page.inputValue('[data-testid="cql2-text"]'), "area_m2 > 20000 AND land_use = '1001'")
      const big = await itemsOf(parcelFilter(20000), '&limit=1')
      await page.click('[data-testid="run-query"]')
      await waitValue(page, 'result-count', big.numberMatched)
      if (big.numberMatched === 0) {
        assert.equal((await page.textContent('[data-testid="no-results"]')).trim(), '无结果')
      }
      // Over 1 ha: the value changes, the text follows.
      await page.locator('[data-testid="condition"]').nth(0).locator('[data-testid="cond-value"]').fill('10000')
      await page.waitForFunction((f) => document.querySelector('[data-testid="cql2-text"]').value === f, PARCEL_FILTER)
      const expected = await itemsOf(PARCEL_FILTER, '&limit=50')
      assert.ok(expected.numberMatched > 1, `only ${expected.numberMatched} parcels match ${PARCEL_FILTER}`)

      // Quoting: a text value with a quote is doubled.
      await page.click('[data-testid="add-condition"]')
      const code = page.locator('[data-testid="condition"]').nth(2)
      await code.locator('[data-testid="cond-property"]').selectOption('code')
      await code.locator('[data-testid="cond-op"]').selectOption('LIKE')
      await code.locator('[data-testid="cond-value"]').fill("a'b")
      assert.equal(await page.inputValue('[data-testid="cql2-text"]'), `${PARCEL_FILTER} AND code LIKE '%a''b%'`)
      await code.locator('button.x').click()
      assert.equal(await page.inputValue('[data-testid="cql2-text"]'), PARCEL_FILTER)

      await page.click('[data-testid="run-query"]')
      await waitValue(page, 'result-count', expected.numberMatched)
      const rows = page.locator('[data-testid="result-row"]')
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result-row"]').length === n, expected.features.length)
      assert.deepEqual(
        await rows.evaluateAll((rs) => rs.map((r) => r.dataset.id)),
        expected.features.map((f) => f.id),
      )
      assert.match(await page.textContent('[data-testid="result-count"]'), /共/)

      // The overlay holds the page's features and draws them.
      await waitMapSettled(page)
      const drawn = await page.evaluate(async () => (await window.__map.getSource('results').getData()).features.length)
      assert.equal(drawn, expected.features.length)
      const rendered = await page.evaluate(
        () => window.__map.queryRenderedFeatures({ layers: ['results-fill', 'results-line'] }).length,
      )
      assert.ok(rendered > 0, 'no result feature is drawn on the map')
      await screenshot(page, 'desktop-query-results.png')

      // A result clicked on the map marks and scrolls to its row (and opens its detail).
      const box = await page.locator('[data-testid="map"]').boundingBox()
      const side = await page.locator('aside').boundingBox()
      let target = null
      for (const f of expected.features) {
        const [lon, lat] = interiorPoint(f.geometry)
        const pt = await page.evaluate(([x, y]) => window.__map.project([x, y]), [lon, lat])
        if (pt.x > side.x + side.width + 20 && pt.x < box.width - 430 && pt.y > 40 && pt.y < box.height - 60) {
          const top = await page.evaluate(
            ([x, y]) => window.__map.queryRenderedFeatures([x, y], { layers: ['results-fill'] })[0]?.properties.key,
            [pt.x, pt.y],
          )
          if (top === `parcels/${f.id}`) {
            target = { f, pt }
            break
          }
        }
      }
      assert.ok(target, 'no result parcel is clickable on the map')
      await page.mouse.click(box.x + target.pt.x, box.y + target.pt.y)
      await page.waitForSelector(`[data-testid="result-row"][data-id="${target.f.id}"][aria-current="true"]`)
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })
      const selected = await page.evaluate(
        (k) => window.__map.getFeatureState({ source: 'results', id: k }).selected,
        `parcels/${target.f.id}`,
      )
      assert.equal(selected, true, 'the clicked feature is not marked on the map')
      await page.keyboard.press('Escape')
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'detached' })

      // Hovering a row lights its feature; clicking it opens the detail and fits the map.
      const first = expected.features[0]
      await page.hover(`[data-testid="result-row"][data-id="${first.id}"]`)
      await page.waitForFunction(
        (k) => window.__map.getFeatureState({ source: 'results', id: k }).hover === true,
        `parcels/${first.id}`,
      )
      await page.click(`[data-testid="result-row"][data-id="${first.id}"]`)
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })
      await page.waitForFunction(
        (c) => document.querySelector('[data-testid="detail-panel"] h2')?.textContent.includes(c),
        String(first.properties.name || first.properties.code),
      )
      await waitMapSettled(page)
      const [lon, lat] = interiorPoint(first.geometry)
      assert.ok(
        await page.evaluate(([x, y]) => window.__map.getBounds().contains([x, y]), [lon, lat]),
        'the map does not show the clicked result',
      )
      await page.keyboard.press('Escape')

      // Paging.
      if (expected.numberMatched > 50) {
        const second = await itemsOf(PARCEL_FILTER, '&limit=50&offset=50')
        await page.click('[data-testid="page-next"]')
        await page.waitForFunction(
          (id) => document.querySelector('[data-testid="result-row"]')?.dataset.id === id,
          second.features[0].id,
        )
        await page.click('[data-testid="page-prev"]')
        await page.waitForFunction((id) => document.querySelector('[data-testid="result-row"]')?.dataset.id === id, first.id)
      }

      // Export: a CSV of every match (an office opens it in Excel: Chinese headers, a BOM).
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-csv"]')])
      const raw = readFileSync(await download.path(), 'utf8')
      assert.ok(raw.startsWith('\uFEFF'), 'the CSV has no BOM (Excel would garble the Chinese)')
      const lines = raw.slice(1).split(/\r?\n/).filter((l) => l.trim() !== '')
      assert.match(lines[0], /^编号,地块编号,现状用地,/, `the CSV header is ${lines[0]}`)
      assert.equal(lines.length - 1, expected.numberMatched, 'the CSV does not hold every match')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('query builder: a malformed CQL2 text shows the server message and selects the place', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      await showTab(page, 'query')
      await page.waitForSelector('[data-testid="query-collection"] option[value="parcels"]', { state: 'attached' })
      await page.selectOption('[data-testid="query-collection"]', 'parcels')
      const bad = 'area_m2 >> 3'
      const res = await fetch(
        `${GENGXIN_URL}/ogc/collections/parcels/items?filter=${encodeURIComponent(bad)}&filter-lang=cql2-text`,
      )
      assert.equal(res.status, 400)
      const body = await res.json()
      await page.fill('[data-testid="cql2-text"]', bad)
      await page.click('[data-testid="run-query"]')
      await page.waitForSelector('[data-testid="query-error"]')
      assert.equal((await page.textContent('[data-testid="query-error-message"]')).trim(), body.error.message)
      assert.equal(await page.getAttribute('[data-testid="cql2-text"]', 'aria-invalid'), 'true')
      if (body.error.at?.offset !== undefined) {
        const [start] = await page.$eval('[data-testid="cql2-text"]', (el) => [el.selectionStart, el.selectionEnd])
        assert.equal(start, body.error.at.offset, 'the textarea does not select the error position')
        assert.match(await page.textContent('[data-testid="query-error"]'), new RegExp(`第 ${body.error.at.line} 行第 ${body.error.at.column} 列`))
      }
      await screenshot(page, 'desktop-query-error.png')
      // Typing clears the error.
      await page.fill('[data-testid="cql2-text"]', 'area_m2 > 3')
      await page.waitForSelector('[data-testid="query-error"]', { state: 'detached' })
      assertNoErrors(errors, [BAD_REQUEST])
    } finally {
      await context.close()
    }
  })

  test('spatial conditions: a polygon drawn on the map, a distance from a point, a spatial query over layers', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      await page.evaluate(() => window.__map.jumpTo({ center: [114.31, 30.55], zoom: 14 }))
      await waitMapSettled(page)
      await showTab(page, 'query')
      await page.waitForSelector('[data-testid="query-collection"] option[value="parcels"]', { state: 'attached' })
      await page.selectOption('[data-testid="query-collection"]', 'parcels')

      // A polygon: four clicks on the map, Enter finishes. Clicks add vertices and open nothing.
      await page.selectOption('[data-testid="spatial-kind"]', 'polygon')
      await page.click('[data-testid="draw-polygon"]')
      await page.waitForSelector('[data-testid="draw-hint"]')
      const box = await page.locator('[data-testid="map"]').boundingBox()
      const [cx, cy] = [box.x + 820, box.y + 380]
      for (const [dx, dy] of [[-110, -90], [110, -90], [110, 90], [-110, 90]]) {
        await page.mouse.move(cx + dx, cy + dy, { steps: 2 })
        await page.mouse.click(cx + dx, cy + dy)
      }
      assert.equal(await page.locator('[data-testid="tooltip"]').count(), 0, 'the tooltip shows while drawing')
      assert.equal(await page.locator('[data-testid="detail-panel"]').count(), 0, 'a click while drawing opened a detail')
      assert.match(await page.textContent('[data-testid="draw-hint"]'), /4/)
      await page.keyboard.press('Enter')
      await page.waitForSelector('[data-testid="draw-hint"]', { state: 'detached' })
      const text = await page.inputValue('[data-testid="cql2-text"]')
      const m = /^S_INTERSECTS\(geom, POLYGON\(\((.+)\)\)\)$/.exec(text)
      assert.ok(m, `the text is ${text}`)
      const ring = m[1].split(', ')
      assert.equal(ring.length, 5)
      assert.equal(ring[0], ring[4], 'the ring is not closed')
      const inPolygon = await itemsOf(text, '&limit=50')
      assert.ok(inPolygon.numberMatched > 0, 'no parcel in the drawn polygon')
      await page.click('[data-testid="run-query"]')
      await waitValue(page, 'result-count', inPolygon.numberMatched)
      const shapes = await page.evaluate(async () => (await window.__map.getSource('draw').getData()).features.length)
      assert.ok(shapes >= 1, 'the drawn polygon is not on the map')
      await waitMapSettled(page)
      await screenshot(page, 'desktop-spatial-polygon.png')

      // Hover and click work again after drawing: a result shows its tooltip and opens.
      const first = inPolygon.features[0]
      const [lon, lat] = interiorPoint(first.geometry)
      const pt = await page.evaluate(([x, y]) => window.__map.project([x, y]), [lon, lat])
      await page.mouse.move(box.x + pt.x, box.y + pt.y, { steps: 3 })
      await page.waitForFunction(() => document.querySelector('[data-testid="tooltip"]')?.textContent.includes('查询结果'))
      await page.mouse.click(box.x + pt.x, box.y + pt.y)
      await page.waitForSelector(`[data-testid="result-row"][data-id="${first.id}"][aria-current="true"]`)
      await page.keyboard.press('Escape')
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'detached' })

      // Within 300 m of the map's centre.
      await page.selectOption('[data-testid="spatial-kind"]', 'distance')
      await page.fill('[data-testid="spatial-distance"]', '300')
      await page.click('[data-testid="use-centre"]')
      await page.waitForFunction(() =>
        /^S_DWITHIN\(geom, POINT\([\d.]+ [\d.]+\), 300, meters\)$/.test(document.querySelector('[data-testid="cql2-text"]').value),
      )
      const dtext = await page.inputValue('[data-testid="cql2-text"]')
      const near = await itemsOf(dtext, '&limit=1')
      await page.click('[data-testid="run-query"]')
      await waitValue(page, 'result-count', near.numberMatched)

      // The spatial query: parcels and facilities within 300 m of that point (/api/spatial).
      const [plon, plat] = /POINT\(([\d.]+) ([\d.]+)\)/.exec(dtext).slice(1).map(Number)
      const res = await fetch(`${GENGXIN_URL}/api/spatial`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          layers: ['parcels', 'facilities'],
          geometry: { type: 'Point', coordinates: [plon, plat] },
          buffer_m: 300,
          limit: 200,
        }),
      })
      assert.equal(res.status, 200)
      const spatial = await res.json()
      await page.click('[data-testid="mode-spatial"]')
      await page.check('[data-testid="spatial-layer-facilities"]')
      await page.click('[data-testid="run-query"]')
      await page.waitForFunction(
        (layers) => [...document.querySelectorAll('[data-testid="result-list"] [data-layer]')].map((g) => g.dataset.layer).join() === layers,
        spatial.results.map((r) => r.layer).join(),
      )
      const counts = await page.$$eval('[data-testid="result-count"]', (els) => els.map((e) => Number(e.dataset.value)))
      assert.deepEqual(counts, spatial.results.map((r) => r.numberMatched))
      assert.equal(
        await page.locator('[data-testid="result-row"]').count(),
        spatial.results.reduce((n, r) => n + r.features.length, 0),
      )
      await waitMapSettled(page)
      await screenshot(page, 'desktop-spatial-query.png')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('saved queries: save the current query, it is listed, run and delete it', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // Saved queries are the signed-in user's own.
      await signIn(page, 'leader', { errors })
      await buildParcelQuery(page)
      const name = `测试查询 ${Date.now()}`
      await page.click('[data-testid="save-query"]')
      await page.fill('[data-testid="save-name"]', name)
      await page.click('[data-testid="save-confirm"]')
      const item = page.locator('[data-testid="saved-query"]', { hasText: name })
      await item.waitFor({ state: 'visible' })
      const mine = (await pageApi(page, '/api/saved-queries')).find((q) => q.name === name)
      assert.ok(mine, 'the saved query is not on the server')
      assert.equal(mine.collection, 'parcels')
      assert.equal(mine.filter, PARCEL_FILTER)
      assert.equal(await item.getAttribute('data-id'), mine.id)

      // Running it fills the text and lists the matches.
      await page.fill('[data-testid="cql2-text"]', 'area_m2 > 1')
      await item.locator('[data-testid="saved-run"]').click()
      const expected = await itemsOf(PARCEL_FILTER, '&limit=1')
      await waitValue(page, 'result-count', expected.numberMatched)
      assert.equal(await page.inputValue('[data-testid="cql2-text"]'), PARCEL_FILTER)

      await item.locator('[data-testid="saved-delete"]').click()
      await item.waitFor({ state: 'detached' })
      assert.ok(
        !(await pageApi(page, '/api/saved-queries')).some((q) => q.id === mine.id),
        'the deleted query is still on the server',
      )
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('progress (进度): lagging only lists projects behind plan, as many as the API says', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // Progress is for signed-in users; the city leader sees every project.
      await signIn(page, 'leader', { errors })
      const all = await pageApi(page, '/api/progress?limit=1')
      const lagging = await pageApi(page, '/api/progress?lagging=true&limit=5000')
      assert.ok(lagging.numberMatched > 0, 'no project lags behind plan')
      await showTab(page, 'progress')
      await page.locator('[data-testid="progress-panel"]').waitFor({ state: 'visible' })
      await waitValue(page, 'progress-count', all.numberMatched)
      await page.check('[data-testid="progress-lagging"]')
      await waitValue(page, 'progress-count', lagging.numberMatched)
      await page.waitForFunction(
        () => {
          const rows = [...document.querySelectorAll('[data-testid="progress-row"]')]
          return rows.length > 0 && rows.every((r) => Number(r.dataset.lag) > 0)
        },
        null,
        { timeout: LONG },
      )
      const lags = await page.$$eval('[data-testid="progress-row"]', (rs) => rs.map((r) => Number(r.dataset.lag)))
      assert.equal(lags.length, Math.min(50, lagging.numberMatched))
      assert.ok(lags.every((d) => d > 0), `rows that do not lag: ${lags.filter((d) => d <= 0)}`)
      // Longest lag first, as the server sorts; red.
      assert.deepEqual(lags, [...lags].sort((a, b) => b - a))
      assert.equal(lags[0], lagging.projects[0].lag_days)
      const colour = await page.$eval('[data-testid="progress-row"] [data-testid="progress-lag"]', (el) => getComputedStyle(el).color)
      assert.equal(colour, 'rgb(201, 42, 42)')
      // Counts by stage add up.
      const byStage = await page.$$eval('[data-testid="progress-stage-count"] b', (bs) => bs.map((b) => Number(b.textContent)))
      assert.equal(byStage.reduce((a, b) => a + b, 0), lagging.numberMatched)
      // Sorting by lag the other way.
      await page.click('[data-testid="sort-lag"]')
      const asc = await page.$$eval('[data-testid="progress-row"]', (rs) => rs.map((r) => Number(r.dataset.lag)))
      assert.deepEqual(asc, [...asc].sort((a, b) => a - b))
      assert.equal(asc[0], Math.min(...lagging.projects.map((p) => p.lag_days)))
      // A row opens the project's detail.
      const first = await page.getAttribute('[data-testid="progress-row"]', 'data-id')
      await page.click(`[data-testid="progress-row"][data-id="${first}"]`)
      await page.locator('[data-testid="detail-panel"]').waitFor({ state: 'visible' })
      await page.waitForFunction(() => document.querySelector('[data-testid="detail-panel"] .layer')?.textContent.includes('更新项目'))
      await waitMapSettled(page)
      await screenshot(page, 'desktop-progress.png')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('life circles (生活圈): tier colours the gap map, a community report equals the API, isochrones, 422, 运行评价', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      const code = '420102002003'
      const want = await api(`/api/life-circle/communities/${code}`)
      const unit = await api(`/api/units/${code}`)
      await showTab(page, 'lifecircle')
      await page.locator('[data-testid="lc-panel"]').waitFor({ state: 'visible' })
      // The gap map is shown while the tab is open, coloured by the chosen tier.
      const paint = () =>
        page.evaluate(() => ({
          vis: window.__map.getLayoutProperty('lc-communities-fill', 'visibility'),
          parcels: window.__map.getLayoutProperty('lc-parcels-fill', 'visibility'),
          color: JSON.stringify(window.__map.getPaintProperty('lc-communities-fill', 'fill-color')),
        }))
      await page.waitForFunction(() => window.__map.getLayoutProperty('lc-communities-fill', 'visibility') === 'visible')
      assert.equal((await paint()).parcels, 'visible')
      assert.match((await paint()).color, /score_15min/)
      await page.click('[data-testid="lc-tier-5min"]')
      await page.waitForFunction(() =>
        JSON.stringify(window.__map.getPaintProperty('lc-communities-fill', 'fill-color')).includes('score_5min'),
      )
      // The export links are the OGC CSV downloads.
      for (const layer of ['life_circle_communities', 'life_circle_parcels']) {
        const href = await page.getAttribute(`[data-testid="lc-export-${layer}"]`, 'href')
        assert.equal(href, `/ogc/collections/${layer}/items?f=csv`)
      }
      const csv = await fetch(`${GENGXIN_URL}/ogc/collections/life_circle_communities/items?f=csv`)
      assert.equal(csv.status, 200)
      assert.match(csv.headers.get('content-type') ?? '', /csv/)
      await csv.body?.cancel()

      // A click inside the community: its report and the three walks from the point.
      const [lon, lat] = interiorPoint(unit.geometry)
      await page.evaluate(([x, y]) => window.__map.jumpTo({ center: [x, y], zoom: 14.5 }), [lon, lat])
      await waitMapIdle(page)
      const at = await page.evaluate(([x, y]) => window.__map.project([x, y]), [lon, lat])
      const box = await page.locator('[data-testid="map"]').boundingBox()
      await page.mouse.click(box.x + at.x, box.y + at.y)
      await page.waitForFunction(
        (c) => document.querySelector('[data-testid="lc-report"]')?.dataset.code === c,
        code,
        { timeout: LONG },
      )
      assert.equal((await page.textContent('[data-testid="lc-report-name"]')).trim(), want.name)
      const scores = await page.$$eval('[data-testid="lc-report-score"]', (ls) =>
        Object.fromEntries(ls.map((l) => [l.dataset.tier, Number(l.dataset.value)])),
      )
      assert.deepEqual(scores, want.scores)
      const rules = await page.$$eval('[data-testid="lc-rule"]', (rs) =>
        rs.map((r) => ({
          tier: r.dataset.tier,
          category: r.dataset.category,
          share: r.dataset.share === '' ? null : Number(r.dataset.share),
          median_m: r.dataset.median === '' ? null : Number(r.dataset.median),
          shown: r.querySelector('[data-testid="lc-rule-share"]').textContent.trim(),
          mark: r.querySelector('[data-testid="lc-rule-required"]').textContent.trim(),
        })),
      )
      assert.equal(rules.length, want.rules.length)
      want.rules.forEach((r, i) => {
        assert.equal(rules[i].tier, r.tier)
        assert.equal(rules[i].category, r.category)
        assert.equal(rules[i].share, r.share)
        assert.equal(rules[i].median_m, r.median_m)
        assert.equal(rules[i].shown, r.share === null ? '—' : `${Math.round(r.share * 100)}%`)
        assert.equal(rules[i].mark, r.required ? '▲' : '△')
      })
      const gaps = await page.$$eval('[data-testid="lc-report-gap"]', (gs) => gs.map((g) => g.textContent.trim()))
      assert.deepEqual(gaps, want.gaps)
      await page.waitForFunction(
        () => document.querySelector('[data-testid="lc-iso-legend"]')?.dataset.count === '3',
        null,
        { timeout: LONG },
      )
      const legend = page.locator('[data-testid="lc-iso-legend"]')
      const [qlon, qlat] = [await legend.getAttribute('data-lon'), await legend.getAttribute('data-lat')]
      const iso = await api(`/api/isochrone?lon=${qlon}&lat=${qlat}&minutes=5,10,15&speed_m_min=80`)
      const rows = await page.$$eval('[data-testid="lc-iso-row"]', (rs) =>
        rs.map((r) => ({ minutes: Number(r.dataset.minutes), area: Number(r.dataset.area) })),
      )
      assert.deepEqual(
        rows,
        iso.features.map((f) => ({ minutes: f.properties.minutes, area: f.properties.area_m2 })).sort((a, b) => a.minutes - b.minutes),
      )
      assert.deepEqual(rows.map((r) => r.minutes), [5, 10, 15])
      // Three nested polygons on the map.
      await waitMapIdle(page)
      const drawn = await page.evaluate(() =>
        [...new Set(window.__map.queryRenderedFeatures({ layers: ['iso-fill'] }).map((f) => f.properties.minutes))].sort(
          (a, b) => a - b,
        ),
      )
      assert.deepEqual(drawn, [5, 10, 15])
      await screenshot(page, 'desktop-life-circle.png')

      // Far from any road: the server's 422 message, and no community.
      await page.evaluate(() => window.__map.jumpTo({ center: [113.2, 29.2], zoom: 12 }))
      await waitMapIdle(page)
      const mid = await page.evaluate(() => window.__map.project([113.2, 29.2]))
      await page.mouse.click(box.x + mid.x, box.y + mid.y)
      await page.locator('[data-testid="lc-iso-error"]').waitFor({ state: 'visible' })
      assert.match(await page.textContent('[data-testid="lc-iso-error"]'), /no road within 300 m/)
      await page.locator('[data-testid="lc-no-community"]').waitFor({ state: 'visible' })

      // 运行评价 is for the city administrator: signed out the button is off and says so.
      assert.equal(await page.isDisabled('[data-testid="lc-run"]'), true)
      await page.locator('[data-testid="lc-run-signin"]').waitFor({ state: 'visible' })
      await signIn(page, 'admin', { errors })
      await page.locator('[data-testid="lc-run-signin"]').waitFor({ state: 'detached' })
      // 运行评价: a spinner, then the city scores and the largest gaps of the run.
      await page.click('[data-testid="lc-run"]')
      await page.locator('[data-testid="lc-run-result"]').waitFor({ state: 'visible', timeout: LONG })
      assert.equal(await page.isDisabled('[data-testid="lc-run"]'), false)
      const city = await page.$$eval('[data-testid="lc-city-score"]', (ls) => ls.map((l) => [l.dataset.tier, Number(l.dataset.value)]))
      // The API's own run: a job (202) followed until done.
      let job = await pageApi(page, '/api/life-circle/evaluate', { method: 'POST' })
      while (job.state === 'pending' || job.state === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 500))
        job = await pageApi(page, `/api/jobs/${encodeURIComponent(job.id)}`)
      }
      assert.equal(job.state, 'done', job.error)
      const run = job.result
      assert.deepEqual(city, run.city_scores)
      assert.deepEqual(city.map(([t]) => t), ['5min', '10min', '15min'])
      const cityGaps = await page.$$eval('[data-testid="lc-city-gap"]', (gs) => gs.map((g) => g.textContent.trim()))
      assert.ok(cityGaps.length > 0)
      assert.deepEqual(cityGaps, run.city_gaps.slice(0, cityGaps.length))
      // Leaving the tab hides the gap map.
      await showTab(page, 'admin')
      await page.waitForFunction(() => window.__map.getLayoutProperty('lc-communities-fill', 'visibility') === 'none')
      assertNoErrors(errors, [/status of 422/])
    } finally {
      await context.close()
    }
  })

  test('reporting (填报): the entity fills and submits its progress, the district approves it', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 1366, height: 768 })
    try {
      // 填报 appears once signed in; the entity's tasks are listed, overdue ones marked.
      assert.equal(await page.locator('#tab-report').count(), 0)
      await signIn(page, 'entity', { errors })
      const mine = await pageApi(page, '/api/tasks')
      assert.ok(mine.to_fill.length > 0, 'the entity has no task to fill (have the server jobs run?)')
      await showTab(page, 'report')
      await page.locator('[data-testid="task-row"]').first().waitFor({ state: 'visible', timeout: LONG })
      const rows = await page.$$eval('[data-testid="task-row"]', (rs) =>
        rs.map((r) => ({ project: r.dataset.project, district: r.dataset.district, status: r.dataset.status })),
      )
      assert.equal(rows.length, mine.to_fill.length)
      const overdue = await page.locator('[data-testid="task-row"][data-status="overdue"] [data-testid="task-overdue"]').count()
      assert.equal(overdue, rows.filter((r) => r.status === 'overdue').length)
      // The first task (in 武昌区 if there is one, so that its district reviews it).
      const task = rows.find((r) => r.district === WUCHANG && r.status !== 'submitted') ?? rows[0]
      await page.click(`[data-testid="task-row"][data-project="${task.project}"]`)
      await page.locator('[data-testid="fill"]').waitFor({ state: 'visible' })
      const stage = await page.$eval('[data-testid="field-stage"]', (sel) => {
        const values = [...sel.options].map((o) => o.value).filter(Boolean)
        return values.includes('construction') ? 'construction' : values[0]
      })
      await page.selectOption('[data-testid="field-stage"]', stage)
      await page.fill('[data-testid="field-progress_pct"]', '50')
      await page.click('[data-testid="fill-submit"]')
      await page.waitForFunction(
        () => document.querySelector('[data-testid="fill-status"]')?.dataset.status === 'submitted',
        null,
        { timeout: LONG, polling: 200 },
      )
      const id = await page.getAttribute('[data-testid="fill"]', 'data-submission-id')
      assert.ok(id, 'no submission id after 提交')
      await screenshot(page, 'desktop-report-fill.png')
      await signOut(page)
      assert.equal(await page.locator('#tab-report').count(), 0)

      // The district reviewer: the report waits in 待审核; the diff shows 总体进度; 通过.
      await signIn(page, 'wuchang', { errors })
      await showTab(page, 'report')
      await page.locator(`[data-testid="review-row"][data-id="${id}"]`).waitFor({ state: 'visible', timeout: LONG })
      await page.click(`[data-testid="review-row"][data-id="${id}"]`)
      await page.locator('[data-testid="diff-table"]').waitFor({ state: 'visible', timeout: LONG })
      const labels = await page.$$eval('[data-testid="diff-row"] td:first-child', (tds) => tds.map((td) => td.textContent.trim()))
      assert.ok(labels.includes('总体进度'), `the diff lists ${labels.join(', ')}`)
      const after = await page.$eval('[data-testid="diff-row"][data-field="progress_pct"] td:last-child', (td) => td.textContent)
      assert.match(after, /50/)
      await page.click('[data-testid="review-approve"]')
      await page.waitForFunction(
        () => document.querySelector('[data-testid="review-status"]')?.dataset.status === 'district_approved',
        null,
        { timeout: LONG, polling: 200 },
      )
      assert.equal((await page.textContent('[data-testid="review-status"]')).trim(), '待市级审批')
      await screenshot(page, 'desktop-report-review.png')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

  test('phone 390×844: search, summary and query builder in the bottom sheet', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, { width: 390, height: 844 })
    try {
      const input = await page.locator('[data-testid="search-input"]').boundingBox()
      assert.ok(input.width > 250, `the search box is ${input.width}px wide on the phone`)
      await searchFor(page, 'hongshan', 'admin_units', HONGSHAN)
      await screenshot(page, 'phone-search.png')
      await page.click(`[data-testid="search-hit"][data-type="admin_units"][data-id="${HONGSHAN}"]`)
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="breadcrumbs"] [aria-current]')?.textContent.trim() === n,
        '洪山区',
      )
      const district = await api(`/api/summary/admin_units/${HONGSHAN}`)
      await showTab(page, 'summary')
      await waitValue(page, 'summary-parcels-count', district.counts.parcels)
      await waitMapSettled(page)
      await screenshot(page, 'phone-summary.png')
      await buildParcelQuery(page)
      const side = await page.locator('aside').boundingBox()
      assert.ok(side.width >= 380 && side.y > 844 * 0.3, 'the query builder is not in a bottom sheet')
      await page.click('[data-testid="run-query"]')
      await page.waitForSelector('[data-testid="result-row"]')
      await waitMapSettled(page)
      await screenshot(page, 'phone-query.png')
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })
})
