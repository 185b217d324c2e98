#!/usr/bin/env node
'use strict'
// Packs the npm packages, in napi-rs's layout, into an output folder:
//
//   node packaging/npm_pack.js main --out dist
//       flightcache-<version>.tgz: the JS API, types, the install script, and the Rust
//       sources (rust/) for platforms that have no prebuilt package; it lists every
//       flightcache-<platform> package as an optional dependency.
//   node packaging/npm_pack.js platform --target x86_64-unknown-linux-gnu --binary lib.so --out dist
//       flightcache-linux-x64-gnu-<version>.tgz: one prebuilt native module, with os, cpu
//       and libc set so that npm installs it only where it runs.
//
// The version is the workspace's (root Cargo.toml); bindings-node/package.json must agree.
// The packages are staged in target/npm/<name>/ and packed from there with `npm pack`.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const NODE_PKG = path.join(ROOT, 'bindings-node')
const STAGE = path.join(ROOT, 'target', 'npm')
const { PLATFORMS } = require(path.join(NODE_PKG, 'native.js'))

function fail (message) {
  console.error(`npm_pack: ${message}`)
  process.exit(1)
}

function workspaceVersion () {
  const toml = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8')
  const section = toml.split(/^\[/m).find((s) => s.startsWith('workspace.package]'))
  const m = section && section.match(/^version\s*=\s*"([^"]+)"\s*$/m)
  if (!m) fail('root Cargo.toml has no [workspace.package] version = "..."')
  return m[1]
}

function sourcePackageJson (version) {
  const pkg = JSON.parse(fs.readFileSync(path.join(NODE_PKG, 'package.json'), 'utf8'))
  if (pkg.version !== version) {
    fail(`bindings-node/package.json has version ${pkg.version}, the workspace ${version} ` +
      '(root Cargo.toml): set it there, then make both agree')
  }
  return pkg
}

function parseArgs (argv) {
  const [kind, ...rest] = argv
  const opts = { kind }
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]
    const value = rest[i + 1]
    if (!['--out', '--target', '--binary'].includes(key) || value === undefined) {
      fail(`unexpected argument ${JSON.stringify(key)}; usage: main --out DIR | ` +
        'platform --target TRIPLE --binary FILE --out DIR')
    }
    opts[key.slice(2)] = value
  }
  if (!opts.out) fail('--out DIR is required')
  return opts
}

function freshDir (dir) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

function copy (from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true })
  fs.copyFileSync(from, to)
}

// Copies a crate's folder without build output or hidden files.
function copyTree (from, to) {
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'target' || entry.name === 'node_modules') continue
    const src = path.join(from, entry.name)
    if (entry.isDirectory()) copyTree(src, path.join(to, entry.name))
    else if (entry.isFile()) copy(src, path.join(to, entry.name))
  }
}

function writeJson (file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n')
}

// The workspace a packed copy builds from: the root Cargo.toml with only the crates Node needs.
function stageRustSources (dir) {
  const toml = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8')
  const members = /^members\s*=\s*\[[^\]]*\]\s*$/m
  if (!members.test(toml)) fail('root Cargo.toml: no `members = [...]` line to rewrite')
  fs.mkdirSync(dir, { recursive: true })
  // The core, the store crates (stores/*), and the Node binding; not the Python one.
  const stores = fs.readdirSync(path.join(ROOT, 'stores'))
    .filter((d) => fs.existsSync(path.join(ROOT, 'stores', d, 'Cargo.toml')))
    .map((d) => `stores/${d}`)
  const list = ['core', ...stores, 'bindings-node'].map((m) => JSON.stringify(m)).join(', ')
  fs.writeFileSync(path.join(dir, 'Cargo.toml'), toml.replace(members, `members = [${list}]`))
  copy(path.join(ROOT, 'Cargo.lock'), path.join(dir, 'Cargo.lock'))
  copyTree(path.join(ROOT, 'core'), path.join(dir, 'core'))
  for (const s of stores) {
    copy(path.join(ROOT, s, 'Cargo.toml'), path.join(dir, s, 'Cargo.toml'))
    copyTree(path.join(ROOT, s, 'src'), path.join(dir, s, 'src'))
  }
  for (const f of ['Cargo.toml', 'build.rs']) copy(path.join(NODE_PKG, f), path.join(dir, 'bindings-node', f))
  copyTree(path.join(NODE_PKG, 'src'), path.join(dir, 'bindings-node', 'src'))
}

function pack (dir, out) {
  fs.mkdirSync(out, { recursive: true })
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', path.resolve(out)],
    { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  const [{ filename, size, unpackedSize, entryCount }] = JSON.parse(json)
  console.log(`npm_pack: ${path.join(out, filename)} (${size} bytes, ${entryCount} files, ${unpackedSize} unpacked)`)
}

function packMain (version, out) {
  const pkg = sourcePackageJson(version)
  const dir = freshDir(path.join(STAGE, pkg.name))
  for (const f of pkg.files) {
    if (f.endsWith('/')) continue // folders are staged below
    copy(path.join(NODE_PKG, f), path.join(dir, f))
  }
  if (!pkg.files.includes('rust/')) fail('bindings-node/package.json: "files" must list rust/')
  stageRustSources(path.join(dir, 'rust'))
  copy(path.join(NODE_PKG, 'README.md'), path.join(dir, 'README.md'))
  copy(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'))

  delete pkg.scripts.test // the tests are not shipped
  pkg.optionalDependencies = {}
  for (const name of Object.keys(PLATFORMS)) pkg.optionalDependencies[`${pkg.name}-${name}`] = version
  writeJson(path.join(dir, 'package.json'), pkg)
  pack(dir, out)
}

function packPlatform (version, target, binary, out) {
  const entry = Object.entries(PLATFORMS).find(([, p]) => p.target === target)
  if (!entry) {
    fail(`unknown target ${target}; known: ${Object.values(PLATFORMS).map((p) => p.target).join(', ')}`)
  }
  if (!binary || !fs.existsSync(binary)) fail(`--binary ${binary}: no such file`)
  const [platform, p] = entry
  const main = sourcePackageJson(version)
  const name = `${main.name}-${platform}`
  const file = `${main.name}.${platform}.node`
  const dir = freshDir(path.join(STAGE, name))
  copy(binary, path.join(dir, file))
  copy(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'))
  fs.writeFileSync(path.join(dir, 'README.md'),
    `# ${name}\n\nThe prebuilt native module of [flightcache](https://www.npmjs.com/package/${main.name}) ` +
    `for ${platform} (Rust target \`${target}\`).\nInstall \`${main.name}\`, which depends on this ` +
    'package where it fits; do not install it by itself.\n')
  const pkg = {
    name,
    version,
    description: `The ${platform} native module of ${main.name}`,
    license: main.license,
    author: main.author,
    homepage: main.homepage,
    repository: main.repository,
    bugs: main.bugs,
    main: file,
    files: [file],
    os: [p.os],
    cpu: [p.cpu],
    engines: main.engines
  }
  if (p.libc) pkg.libc = [p.libc]
  writeJson(path.join(dir, 'package.json'), pkg)
  pack(dir, out)
}

function main () {
  const opts = parseArgs(process.argv.slice(2))
  const version = workspaceVersion()
  if (opts.kind === 'main') packMain(version, opts.out)
  else if (opts.kind === 'platform') packPlatform(version, opts.target, opts.binary, opts.out)
  else fail(`first argument must be main or platform, not ${JSON.stringify(opts.kind)}`)
}

main()
