'use strict'
// `npm install <repo>/bindings-node` from another folder builds the package from source
// (its install script runs cargo), then the README's example runs as written with both
// `require` and `import` (examples/readme_example.js and .mjs are the README's text).
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const pkg = path.resolve(__dirname, '..')
const examples = path.resolve(pkg, '..', 'examples')
const expected = ['token: secret-token', 'stored: true', 'hit: secret-token', 'deleted: true', 'stats: 1 hit, 1 load']

test('npm install <repo>/bindings-node in another folder, then the README example with require and import', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-install-'))
  try {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', pkg],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 })
    for (const file of ['readme_example.js', 'readme_example.mjs']) {
      fs.copyFileSync(path.join(examples, file), path.join(dir, file))
      const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' })
      assert.deepEqual(out.trim().split('\n'), expected, file)
    }
    // Types ship with the package, and the ESM entry exports what the CJS one does.
    const installed = path.join(dir, 'node_modules', 'flightcache')
    assert.ok(fs.existsSync(path.join(installed, 'index.d.ts')))
    const names = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import * as m from 'flightcache'; import { createRequire } from 'node:module'; " +
      "const c = createRequire(process.cwd() + '/x.js')('flightcache'); " +
      'console.log(JSON.stringify([Object.keys(m).sort(), Object.keys(c).sort(), m.Cache === c.Cache]))'],
    { cwd: dir, encoding: 'utf8' })
    const [esm, cjs, same] = JSON.parse(names)
    assert.deepEqual(esm, cjs)
    assert.ok(esm.includes('Cache') && esm.includes('ManualClock'))
    assert.equal(same, true)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
