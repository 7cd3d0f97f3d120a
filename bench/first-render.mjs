// First render of the web application: the time from navigation to the map's first full render
// (the map idle with the basemap tiles and the district overlay drawn), in headless Chromium at
// 1440×900, for a first load (a new browser context: empty HTTP cache) and a second load (the same
// context again: warm HTTP cache). Prints every run and the medians. Not a test: it never fails
// because the machine is slow.
//
//   GENGXIN_URL=http://127.0.0.1:8080 node bench/first-render.mjs [--runs 5]
//
// GENGXIN_URL is a running server. If it serves the application at `/`, that page (the dist
// embedded in the binary) is measured; with GENGXIN_TEST_DIST=1, web/dist is served by a local
// server that forwards /api, /tiles, /ogc and /fonts (see web/tests/helpers.mjs).
import { appUrl, launch } from '../web/tests/helpers.mjs'

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 5) || 5

/// Milliseconds from navigation start until the map is idle with the district layer drawn.
async function measure(page, url) {
  await page.goto(url, { waitUntil: 'commit' })
  const ms = await page.waitForFunction(
    () => {
      const m = window.__map
      const drawn =
        !!m &&
        window.__mapReady === true &&
        m.loaded() &&
        m.areTilesLoaded() &&
        !m.isMoving() &&
        !!m.getSource('admin_units') &&
        m.isSourceLoaded('admin_units') &&
        m.querySourceFeatures('districts').length > 0
      return drawn ? performance.now() : false
    },
    null,
    { polling: 'raf', timeout: 120_000 },
  )
  const bytes = await page.evaluate(() =>
    performance.getEntriesByType('resource').reduce((n, r) => n + (r.transferSize || 0), 0) +
    (performance.getEntriesByType('navigation')[0]?.transferSize ?? 0),
  )
  return { ms: Math.round(await ms.jsonValue()), kb: Math.round(bytes / 1024) }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2)
}

const app = await appUrl()
const browser = await launch()
const served = app.url.startsWith(process.env.GENGXIN_URL ?? '') ? 'embedded dist (server at /)' : 'web/dist via the test server'
console.log(`first render of ${app.url} — ${served}, ${runs} runs, 1440×900`)
const first = []
const second = []
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' })
    const page = await context.newPage()
    const a = await measure(page, app.url)
    const b = await measure(page, app.url)
    await context.close()
    first.push(a.ms)
    second.push(b.ms)
    console.log(`run ${i + 1}: first load ${a.ms} ms (${a.kb} KiB transferred), second load ${b.ms} ms (${b.kb} KiB)`)
  }
} finally {
  await browser.close()
  await app.close()
}
console.log(`median: first load ${median(first)} ms, second load ${median(second)} ms`)
