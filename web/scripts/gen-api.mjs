// Generates src/api/schema.d.ts from openapi.json (the server's OpenAPI document) with
// openapi-typescript. The file is rewritten only when its content changes, so a build started by
// Cargo (which watches src/) does not see a change it made itself.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import openapiTS, { astToString } from 'openapi-typescript'

const spec = new URL('../openapi.json', import.meta.url)
const out = new URL('../src/api/schema.d.ts', import.meta.url)

if (!existsSync(spec)) {
  console.error(
    'web/openapi.json is missing: the server writes it; or fetch it from a running server with\n' +
      '  curl http://127.0.0.1:8080/api/openapi.json > web/openapi.json',
  )
  process.exit(1)
}

const ast = await openapiTS(spec)
const text =
  '// Generated from openapi.json by scripts/gen-api.mjs (openapi-typescript). Do not edit.\n\n' +
  astToString(ast)
const old = existsSync(out) ? readFileSync(out, 'utf8') : ''
if (old !== text) {
  writeFileSync(out, text)
  console.log('wrote src/api/schema.d.ts')
}
