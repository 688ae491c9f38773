#!/usr/bin/env bash
# GPU check: trains the digits-cnn example on webgpu and on the best CPU backend and prints
# examples/s and final accuracy for each, then the engine benchmark's synthetic MLP and CNN
# throughput (see tools/gpu-check/check.ts). Made for the device machine: no network, likely
# no Node.js, no node_modules. Everything it needs is the payload in .gpu/, built here by
#
#   bash tools/gpu-check/prepare.sh
#
# and carried there (device `run` with carry [".gpu"], command `bash tools/gpu-check.sh`).
# Arguments go to the check: --epochs N, --tier T, --quick, --no-throughput, --json FILE.
# Where $OUT is set (the device machine), the log and a JSON copy of the results go there too.
#
# It unpacks node and dawn.node, brings a Vulkan loader when the system has none (the .debs
# unpacked into / on a root NVIDIA machine, as the device notes say; elsewhere into a private
# folder on LD_LIBRARY_PATH, so a machine without a GPU is left as it was), points the
# loader at the NVIDIA driver where the device notes say it lives, and runs the check.
# webgpu is skipped, with the reason, where no adapter is found; the CPU figures still come.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
payload="$root/.gpu"
work="${GPU_CHECK_WORK:-/tmp/cairn-gpu-check}"
say() { printf 'gpu-check.sh: %s\n' "$*"; }
die() { printf 'gpu-check.sh: ERROR: %s\n' "$*" >&2; exit 2; }

[ -f "$payload/check.mjs" ] || die "no payload in $payload: run 'bash tools/gpu-check/prepare.sh' on a machine with node_modules and carry .gpu"
mkdir -p "$work"

# xz -d, or Python's lzma where xz is missing (the device image is built for Python).
unxz_to() {
  if command -v xz >/dev/null; then
    xz -dc "$1" > "$2"
  elif command -v python3 >/dev/null; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else
    die "cannot decompress $1: neither xz nor python3 is installed"
  fi
}

# --- node ---------------------------------------------------------------------------------
if [ -f "$payload/node.xz" ]; then
  node="$work/node"
  if [ ! -x "$node" ] || [ "$payload/node.xz" -nt "$node" ]; then
    unxz_to "$payload/node.xz" "$node.tmp" && chmod +x "$node.tmp" && mv "$node.tmp" "$node"
  fi
  say "node: the carried one, $("$node" --version) ($node)$(command -v node >/dev/null && printf '; this machine also has %s' "$(node --version 2>/dev/null)")"
elif command -v node >/dev/null; then
  node="$(command -v node)"
  say "node: no node.xz in the payload, using this machine's $("$node" --version) ($node)"
else
  die "no node: the payload has no node.xz and this machine has no node on PATH"
fi

# --- the check, unpacked outside the repository ------------------------------------------------
# Run from a copy in $work, so the 21.5 MB dawn.node never lands in .gpu (which must stay
# small to be carried) and the bundle cannot pick up a repository's node_modules by accident.
app="$work/app"
rm -rf "$app"
mkdir -p "$app"
cp -R "$payload/check.mjs" "$payload/node_modules" "$app/"
find "$payload" -maxdepth 1 -type f \( -name '*.wasm' -o -name '*.node' \) -exec cp {} "$app/" \;
if [ -f "$payload/dawn.node.xz" ]; then
  mkdir -p "$app/node_modules/webgpu/dist/linux-x64"
  unxz_to "$payload/dawn.node.xz" "$app/node_modules/webgpu/dist/linux-x64/dawn.node"
  say "dawn.node: unpacked into $app/node_modules/webgpu ($(du -h "$app/node_modules/webgpu/dist/linux-x64/dawn.node" | cut -f1))"
else
  say "dawn.node: not in the payload: webgpu will be skipped"
fi

# --- the Vulkan loader ----------------------------------------------------------------------
nvidia=no
if command -v nvidia-smi >/dev/null || [ -e /dev/nvidiactl ]; then nvidia=yes; fi
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  say "vulkan loader: the system's ($(ldconfig -p | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //'))"
elif ! ls "$payload"/debs/*.deb >/dev/null 2>&1; then
  say "vulkan loader: none on this machine and none in the payload: webgpu will be skipped"
elif ! command -v dpkg >/dev/null; then
  say "vulkan loader: none on this machine, and no dpkg to unpack the carried .debs: webgpu will be skipped"
elif [ "$nvidia" = yes ] && [ "$(id -u)" = 0 ]; then
  for f in "$payload"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  say "vulkan loader: unpacked $(ls "$payload"/debs/*.deb | wc -l) carried .debs into / (the device notes' way)"
else
  rm -rf "$work/root"
  for f in "$payload"/debs/*.deb; do dpkg -x "$f" "$work/root"; done
  export LD_LIBRARY_PATH="$work/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "vulkan loader: unpacked the carried .debs into $work/root, on LD_LIBRARY_PATH (no NVIDIA GPU or not root: / is left alone)"
fi

# --- the NVIDIA driver's Vulkan ICD (where the device notes say the image keeps it) ----------
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  say "vulkan driver: as set, ${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}"
elif [ -f "$icd" ]; then
  export VK_DRIVER_FILES="$icd"
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
  say "vulkan driver: VK_DRIVER_FILES=$icd"
else
  icds="$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ' || true)"
  say "vulkan driver: the loader's default search: ${icds:-no ICD files in /etc/vulkan/icd.d or /usr/share/vulkan/icd.d}"
fi
if [ "$nvidia" = yes ] && command -v nvidia-smi >/dev/null; then
  say "GPU: $(nvidia-smi -L 2>/dev/null | head -1)"
else
  say "GPU: no NVIDIA GPU seen on this machine"
fi

# --- the check ---------------------------------------------------------------------------------
args=("$@")
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then args+=(--json "$OUT/gpu-check.json"); fi
say "running $app/check.mjs ${args[*]} (in $root)"
echo
status=0
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  env -u NODE_OPTIONS "$node" "$app/check.mjs" "${args[@]}" 2>&1 | tee "$OUT/gpu-check.log" || status=$?
else
  env -u NODE_OPTIONS "$node" "$app/check.mjs" "${args[@]}" || status=$?
fi
echo
say "check exited with status $status"
exit "$status"
