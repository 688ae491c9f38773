#!/usr/bin/env bash
# Builds the payload tools/gpu-check.sh runs, into .gpu/ at the repository root (ignored by
# git, carried to the device machine with `carry: [".gpu"]`). That machine has no network,
# likely no Node.js and no node_modules, and the carried tree is limited to 64 MiB, so:
#
#   .gpu/node.xz           this machine's node binary, xz-compressed
#   .gpu/check.mjs         tools/gpu-check/check.ts bundled with esbuild (tfjs, the engine,
#                          the digits-cnn example and zod inside), plus the native blake3
#                          addon @cairn/snapshot loads (copied beside it by esbuild)
#   .gpu/*.wasm            tfjs-backend-wasm's binaries (check.ts points setWasmPaths here)
#   .gpu/dawn.node.xz      the webgpu package's linux-x64 dawn.node, xz-compressed
#   .gpu/node_modules/     what the bundle resolves at run time from its own folder:
#                            webgpu/ (index.js, package.json; gpu-check.sh unpacks dawn.node
#                            into its copy of the payload, outside .gpu)
#                            @tensorflow/tfjs-backend-webgpu/ (a stub handing back the bundled copy)
#   .gpu/debs/             the Vulkan loader (and the GL/EGL loaders the device notes list), as .deb
#
# Usage: bash tools/gpu-check/prepare.sh     (from anywhere; needs node, npx esbuild, xz, apt-get)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out=.gpu
say() { printf 'prepare: %s\n' "$*"; }

command -v node >/dev/null || { echo 'prepare: node is not on PATH' >&2; exit 1; }
command -v xz >/dev/null || { echo 'prepare: xz is not installed (apt-get install xz-utils)' >&2; exit 1; }
[ -x node_modules/.bin/esbuild ] || { echo 'prepare: node_modules/.bin/esbuild is missing: run npm ci first' >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/debs" "$out/node_modules/webgpu" "$out/node_modules/@tensorflow/tfjs-backend-webgpu"

# 1. The check, bundled. At run time the bundle resolves packages from .gpu/, so:
#    - `require` for the CommonJS packages inside it comes from createRequire(import.meta.url);
#    - `__dirname` (emscripten's glue in tfjs-backend-wasm) is the bundle's folder;
#    - import.meta.resolve('tsx/esm/api'), which @cairn/snapshot's hash pool runs at import
#      (for worker threads the check never starts), must not throw where tsx is absent;
#    - .node addons are copied beside the bundle and required by relative path.
say "bundling tools/gpu-check/check.ts -> $out/check.mjs"
banner="import { createRequire as __gpuCheckCreateRequire } from 'node:module';
import { dirname as __gpuCheckDirnameOf } from 'node:path';
import { fileURLToPath as __gpuCheckFileURLToPath } from 'node:url';
const require = __gpuCheckCreateRequire(import.meta.url);
const __gpuCheckDirname = __gpuCheckDirnameOf(__gpuCheckFileURLToPath(import.meta.url));
const __gpuCheckResolve = (s) => { try { return import.meta.resolve(s); } catch { return s; } };"
node_modules/.bin/esbuild tools/gpu-check/check.ts \
  --bundle --platform=node --format=esm --target=node20 \
  --outfile="$out/check.mjs" \
  --loader:.node=copy \
  --define:__dirname=__gpuCheckDirname \
  --define:import.meta.resolve=__gpuCheckResolve \
  --banner:js="$banner" \
  --log-override:ignored-bare-import=silent \
  --log-level=warning

# 2. tfjs-backend-wasm's binaries.
wasm_dir="$(node -p "require('node:path').dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json', { paths: ['libs/engine'] }))")/dist"
cp "$wasm_dir"/*.wasm "$out/"

# 3. Dawn: the webgpu package's entry, as it is, and only the linux-x64 dawn.node.
webgpu_dir="$(node -p "require('node:path').dirname(require.resolve('webgpu/package.json', { paths: ['libs/engine'] }))")"
cp "$webgpu_dir/index.js" "$webgpu_dir/package.json" "$out/node_modules/webgpu/"
say "compressing dawn.node ($(du -h "$webgpu_dir/dist/linux-x64/dawn.node" | cut -f1))"
xz -T0 -c "$webgpu_dir/dist/linux-x64/dawn.node" > "$out/dawn.node.xz"

# 4. The engine imports @tensorflow/tfjs-backend-webgpu by a specifier computed at run time
#    (to keep its DOM types out of the compilation), which esbuild cannot bundle. This stub
#    answers that import with the copy bundled in check.mjs, which shares its tfjs-core.
cat > "$out/node_modules/@tensorflow/tfjs-backend-webgpu/package.json" <<'JSON'
{ "name": "@tensorflow/tfjs-backend-webgpu", "version": "0.0.0-gpu-check-stub", "type": "module", "main": "index.js" }
JSON
cat > "$out/node_modules/@tensorflow/tfjs-backend-webgpu/index.js" <<'JS'
// gpu-check payload stub: hands back the tfjs-backend-webgpu bundled in ../../../check.mjs.
const bundled = globalThis[Symbol.for('cairn.gpu-check.tfjs-backend-webgpu')];
if (!bundled) throw new Error('this @tensorflow/tfjs-backend-webgpu is the gpu-check stub: load it from .gpu/check.mjs only');
export const WebGPUBackend = bundled.WebGPUBackend;
export default bundled;
JS

# 5. Node itself.
node_bin="$(readlink -f "$(command -v node)")"
say "compressing $node_bin ($(node --version), $(du -h "$node_bin" | cut -f1))"
xz -T0 -c "$node_bin" > "$out/node.xz"

# 6. The Vulkan loader for Dawn, and the GL/EGL loaders the device notes list, as amd64 .debs
#    (gpu-check.sh unpacks them there). Package lists go to /tmp, not to the system's.
debs="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
lists=/tmp/cairn-gpu-check-apt-lists
mkdir -p "$lists/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
if command -v apt-get >/dev/null \
  && apt-get "${apt_opts[@]}" -qq update >/dev/null 2>&1 \
  && (cd "$out/debs" && apt-get "${apt_opts[@]}" -qq download $debs >/dev/null 2>&1); then
  say "downloaded $(ls "$out/debs" | wc -l) .deb files into $out/debs"
else
  rm -f "$out"/debs/*.deb
  say "WARNING: apt-get could not download the loader packages ($debs);"
  say "         gpu-check.sh will use the device's own libvulkan.so.1 if it has one"
fi

say "payload:"
(cd "$out" && find . -type f -printf '%s\t%p\n' | sort -k2 | awk -F'\t' '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2; total += $1 } END { printf "  %8.1f MiB  total (the carried tree is limited to 64 MiB, the repository included)\n", total / 1048576 }')
