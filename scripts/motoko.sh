#!/bin/sh
# motoko.sh -- the Motoko compiler for the test canisters (tests/motoko.mk).
#
#   motoko.sh install NPM_DIR
#       Install the npm package `motoko` (exactly MOTOKO_VERSION, below) into
#       NPM_DIR with npm, unless that version is already there.  The package
#       bundles moc compiled to JavaScript and the `core` library
#       (packages/latest/core.json, imported as "mo:core/...").
#   motoko.sh compile NPM_DIR IN.mo OUT.wasm [eop|classic]
#       Compile IN.mo (other .mo files of its directory are visible to it as
#       relative imports) to an IC canister module with node.
#       eop (default): moc's default, enhanced orthogonal persistence
#       (wasm64, memory64, 64-bit table, "enhanced-orthogonal-persistence"
#       custom section).  classic: classical orthogonal persistence (wasm32;
#       stable variables serialized to stable memory across upgrades),
#       selected with the compiler's gcFlags("classicOP"): the JavaScript
#       build of moc accepts neither --legacy-persistence nor
#       --enhanced-orthogonal-persistence as extra flags.
#
# Fails loudly (exit 1 and a message) when node/npm are missing or the
# registry cannot be reached.  make skips these steps when ICX_SKIP_MOTOKO=1
# (tests/motoko.mk); this script does not look at that variable.
set -u

MOTOKO_VERSION=4.10.0

die() {
  echo "motoko.sh: $*" >&2
  exit 1
}

SKIP_HINT="or set ICX_SKIP_MOTOKO=1 to skip the Motoko tests"

need_node() {
  command -v node >/dev/null 2>&1 ||
    die "node is not installed (Debian: apt-get install nodejs npm; $SKIP_HINT)"
}

installed_version() {
  # $1 = NPM_DIR; prints the installed version of motoko, or nothing.
  node -e 'try {
    const p = require("path").resolve(process.argv[1], "node_modules/motoko/package.json");
    process.stdout.write(require(p).version);
  } catch (e) {}' "$1" 2>/dev/null
}

cmd_install() {
  [ $# -eq 1 ] || die "usage: motoko.sh install NPM_DIR"
  dir=$1
  need_node
  if [ "$(installed_version "$dir")" = "$MOTOKO_VERSION" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 ||
    die "npm is not installed (Debian: apt-get install npm; $SKIP_HINT)"
  mkdir -p "$dir" || die "cannot create $dir"
  echo "motoko.sh: npm install motoko@$MOTOKO_VERSION into $dir" >&2
  if ! npm install --prefix "$dir" --save-exact --no-audit --no-fund --no-update-notifier \
      "motoko@$MOTOKO_VERSION" >&2; then
    die "npm install motoko@$MOTOKO_VERSION failed: is the npm registry reachable (proxy,
  npm_config_registry)?  The Motoko canister tests need it; $SKIP_HINT."
  fi
  [ "$(installed_version "$dir")" = "$MOTOKO_VERSION" ] ||
    die "after npm install, $dir/node_modules/motoko is not version $MOTOKO_VERSION"
}

cmd_compile() {
  [ $# -ge 3 ] && [ $# -le 4 ] ||
    die "usage: motoko.sh compile NPM_DIR IN.mo OUT.wasm [eop|classic]"
  dir=$1 src=$2 out=$3 mode=${4:-eop}
  case "$mode" in eop | classic) ;; *) die "unknown mode '$mode' (eop or classic)" ;; esac
  need_node
  [ "$(installed_version "$dir")" = "$MOTOKO_VERSION" ] ||
    die "motoko@$MOTOKO_VERSION is not installed in $dir (run: motoko.sh install $dir)"
  [ -f "$src" ] || die "no such file: $src"
  tmp="$out.tmp.$$"
  node - "$dir/node_modules/motoko" "$src" "$tmp" "$mode" <<'EOF' ||
const fs = require('fs');
const path = require('path');
const [pkg, src, out, mode] = process.argv.slice(2);
const mo = require(path.resolve(pkg));
mo.loadPackage(require(path.resolve(pkg, 'packages/latest/core.json')));
const srcDir = path.dirname(src);
for (const f of fs.readdirSync(srcDir).sort())
  if (f.endsWith('.mo')) mo.write(f, fs.readFileSync(path.join(srcDir, f), 'utf8'));
if (mode === 'classic') mo.compiler.gcFlags('classicOP');
const r = mo.compiler.compileWasm('ic', path.basename(src));
for (const d of r.diagnostics || []) {
  const s = d.range ? `${src}:${d.range.start.line + 1}:${d.range.start.character + 1}` : src;
  console.error(`${s}: ${d.severity === 1 ? 'error' : 'warning'} ${d.code || ''}: ${d.message}`);
}
if (!r.code) process.exit(1);
fs.writeFileSync(out, r.code.wasm);
EOF
    { rm -f "$tmp"; die "compiling $src ($mode) failed"; }
  mv -f "$tmp" "$out" || die "cannot write $out"
}

[ $# -ge 1 ] ||
  die "usage: motoko.sh install NPM_DIR | compile NPM_DIR IN.mo OUT.wasm [eop|classic]"
cmd=$1
shift
case "$cmd" in
  install) cmd_install "$@" ;;
  compile) cmd_compile "$@" ;;
  *) die "unknown command '$cmd'" ;;
esac
