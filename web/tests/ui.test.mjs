// Browser tests of the web application against a running Gengxin server (GENGXIN_URL), in
// Debian's Chromium through playwright-core. Run with `npm test`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  LONG,
  api,
  appUrl,
  decodePng,
  interiorPoint,
  launch,
  openPage,
  pixelStats,
  screenshot,
  waitMapIdle,
  waitMapSettled,
} from './helpers.mjs'

const CITY = '420100'
const WUCHANG = '420106'
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
      const objects = await api(`/api/layers/renewal_objects/features?district_code=${WUCHANG}&limit=1000`)
      assert.ok(objects.features.length > 0, 'no renewal objects in 武昌区')
      // Prefer an object with a project.
      let target = objects.features[0]
      for (const o of objects.features.slice(0, 30)) {
        const ps = await api(`/api/layers/projects/features?renewal_object_id=${encodeURIComponent(o.id)}`)
        if (ps.features.length) {
          target = o
          break
        }
      }
      await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
      await page.click('#tab-renewal')
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
      const projects = await api(`/api/layers/projects/features?renewal_object_id=${encodeURIComponent(target.id)}`)
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
      assert.match(await page.textContent('#tab-admin'), /Administrative units/)
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
})
