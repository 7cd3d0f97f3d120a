// The dictionaries of src/i18n.ts, read with the TypeScript parser (no browser, no server): the
// same keys in Chinese and English, the same {placeholders}, Chinese text without half-width
// colons, English text without Chinese characters. The type checker only makes English cover
// Chinese; this also catches keys only English has and texts left in the other language.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const file = fileURLToPath(new URL('../src/i18n.ts', import.meta.url))

/// The string entries of the object literals assigned to the top-level consts `zh` and `en`.
function dictionaries() {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out = {}
  for (const st of src.statements) {
    if (!ts.isVariableStatement(st)) continue
    for (const d of st.declarationList.declarations) {
      const name = d.name.getText(src)
      if (name !== 'zh' && name !== 'en') continue
      let init = d.initializer
      while (init && (ts.isAsExpression(init) || ts.isSatisfiesExpression?.(init))) init = init.expression
      assert.ok(init && ts.isObjectLiteralExpression(init), `${name} is not an object literal`)
      const dict = new Map()
      for (const p of init.properties) {
        assert.ok(ts.isPropertyAssignment(p), `${name}: ${p.getText(src).slice(0, 40)} is not a plain entry`)
        const key = p.name.getText(src).replace(/^['"]|['"]$/g, '')
        assert.ok(!dict.has(key), `${name}.${key} is defined twice`)
        const v = p.initializer
        assert.ok(ts.isStringLiteralLike(v), `${name}.${key} is not a string literal`)
        dict.set(key, v.text)
      }
      out[name] = dict
    }
  }
  return out
}

const { zh, en } = dictionaries()

test('the dictionaries have the same keys', () => {
  assert.ok(zh.size > 100 && en.size > 100, `${zh.size} / ${en.size} keys`)
  const onlyZh = [...zh.keys()].filter((k) => !en.has(k))
  const onlyEn = [...en.keys()].filter((k) => !zh.has(k))
  assert.deepEqual(onlyZh, [], `keys missing in English: ${onlyZh.join(', ')}`)
  assert.deepEqual(onlyEn, [], `keys missing in Chinese: ${onlyEn.join(', ')}`)
})

test('a text and its translation have the same {placeholders}', () => {
  const holes = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
  for (const [k, v] of zh) {
    if (en.has(k)) assert.deepEqual(holes(en.get(k)), holes(v), `${k}: ${v} / ${en.get(k)}`)
  }
})

test('no text is empty; English has no Chinese characters; Chinese has no half-width colon after Chinese', () => {
  for (const [k, v] of zh) {
    assert.ok(v.trim() || k === 'colon', `zh.${k} is empty`)
    assert.doesNotMatch(v, /[\u4e00-\u9fff）》]\s*:/, `zh.${k}: a half-width colon in ${v}`)
  }
  for (const [k, v] of en) {
    // English counts need no measure word (个).
    assert.ok(v.trim() || k === 'count', `en.${k} is empty`)
    // The language switch (中文), the product's name (更新) and a search example are Chinese in
    // English too.
    if (!['langSwitch', 'appSubtitle', 'searchPlaceholder'].includes(k)) assert.doesNotMatch(v, /[\u4e00-\u9fff]/, `en.${k} is Chinese: ${v}`)
  }
})

test('Chinese texts are Chinese (a key left in English shows English to a Chinese user)', () => {
  // The switch to English, and punctuation.
  const allowed = new Set(['langSwitch', 'colon', 'listSep'])
  const english = [...zh].filter(([k, v]) => !allowed.has(k) && !/[\u4e00-\u9fff]/.test(v))
  assert.deepEqual(english.map(([k, v]) => `${k}: ${v}`), [])
})
