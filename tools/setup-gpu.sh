#!/usr/bin/env bash
# pnpm setup:gpu — the GPU parts the workspace leaves out, on a machine with an NVIDIA GPU,
# CUDA 12, cuDNN 9 and internet:
#   1. onnxruntime-node's CUDA and TensorRT execution providers: its own installer
#      (script/install.js --onnxruntime-node-install=cuda12) downloads them from nuget.org into
#      onnxruntime-node's bin folder. pnpm never runs that installer here (pnpm-workspace.yaml
#      ignores the package's build script: on a machine without CUDA it can only fail).
#   2. @tensorflow/tfjs-node-gpu at the version of @tensorflow/tfjs, as an optional dependency of
#      @resagent/learned, the one package that loads tfjs (its install script downloads
#      libtensorflow with GPU support).
# Then `pnpm resagent doctor --provider cuda` says whether both load.
#
# It checks first and refuses, in one line naming what is missing, without CUDA or internet.
# --dry-run: check, then print the commands instead of running them.
# This changes packages/learned/package.json, pnpm-lock.yaml and pnpm-workspace.yaml (the added
# dependency and its allowed build script): keep them on the GPU machine, or `git checkout` them.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "setup:gpu: unknown option $arg (expected --dry-run)" >&2
      exit 2
      ;;
  esac
done

die() {
  echo "setup:gpu: $*" >&2
  exit 1
}
note() { echo "setup:gpu: $*"; }

# --- the workspace ---------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node is not on PATH (install Node >= 20.19)"
command -v pnpm >/dev/null 2>&1 || die "pnpm is not on PATH (corepack enable, or npm i -g pnpm)"
ort_dir=$(cd packages/decoder && node -p "require('path').dirname(require.resolve('onnxruntime-node/package.json'))" 2>/dev/null) ||
  die "onnxruntime-node is not installed: run pnpm install --frozen-lockfile first"
tfjs_version=$(cd packages/learned && node -p "require('@tensorflow/tfjs/package.json').version" 2>/dev/null) ||
  die "@tensorflow/tfjs is not installed: run pnpm install --frozen-lockfile first"
[ "$(uname -s)/$(uname -m)" = "Linux/x86_64" ] ||
  die "onnxruntime-node ships GPU providers for Linux x64 only (this is $(uname -s)/$(uname -m))"

# --- the GPU and its libraries -------------------------------------------------------------------
command -v nvidia-smi >/dev/null 2>&1 || die "no nvidia-smi on PATH: this machine has no NVIDIA driver, so there is no GPU to set up (the CPU setup needs nothing more)"
gpus=$(nvidia-smi -L 2>&1) || die "nvidia-smi failed: ${gpus%%$'\n'*} (is the NVIDIA driver loaded?)"
grep -q '^GPU ' <<<"$gpus" || die "nvidia-smi lists no GPU (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset})"

# A shared library the dynamic loader would find: in its cache, or in LD_LIBRARY_PATH / CUDA's default folders.
have_lib() {
  local ldconfig dir dirs
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  # grep reads the whole list (not -q): under pipefail, a grep that stops at the first match can
  # leave ldconfig writing into a closed pipe, and the SIGPIPE would read as "not found".
  if [ -x "$ldconfig" ] && "$ldconfig" -p 2>/dev/null | grep "[[:space:]]$1 " >/dev/null; then return 0; fi
  IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
  for dir in "${dirs[@]}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    if [ -n "$dir" ] && [ -e "$dir/$1" ]; then return 0; fi
  done
  return 1
}
have_lib libcudart.so.12 || die "no CUDA 12 runtime (libcudart.so.12 is not in the loader's cache nor in LD_LIBRARY_PATH): onnxruntime-node's CUDA provider needs CUDA 12.x; install the CUDA 12 toolkit or runtime and run ldconfig"
have_lib libcudnn.so.9 || die "no cuDNN 9 (libcudnn.so.9 is not in the loader's cache nor in LD_LIBRARY_PATH): onnxruntime-node's CUDA provider needs cuDNN 9 for CUDA 12"
have_lib libnvinfer.so.10 || note "no TensorRT 10 (libnvinfer.so.10): decoder.params.provider: tensorrt will not load; cuda will"
have_lib libcudart.so.11.0 || note "no CUDA 11 runtime (libcudart.so.11.0): @tensorflow/tfjs-node-gpu's libtensorflow 2.9 needs CUDA 11.2 + cuDNN 8; without them tfjs passes over it (doctor and the learned verifier's description say so)"

# --- internet -----------------------------------------------------------------------------------
reach() {
  if command -v curl >/dev/null 2>&1; then
    curl -sS -o /dev/null --max-time 20 -I "$1" 2>&1
  else
    node -e "fetch(process.argv[1], { method: 'HEAD', signal: AbortSignal.timeout(20000) }).catch((e) => { console.error(e.cause?.message ?? e.message); process.exit(1); })" "$1" 2>&1
  fi
}
registry=$(pnpm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
for url in https://api.nuget.org/v3/index.json https://storage.googleapis.com/tf-builds/ "$registry"; do
  why=$(reach "$url") || die "cannot reach $url (${why:-no answer}): the CUDA provider comes from nuget.org, libtensorflow from storage.googleapis.com, packages from the npm registry; run this where they can be reached (proxies: HTTPS_PROXY / GLOBAL_AGENT_HTTPS_PROXY)"
done

# --- install ------------------------------------------------------------------------------------
note "GPU: ${gpus%%$'\n'*}"
run() {
  echo "+ $*"
  if [ "$dry_run" = 0 ]; then "$@"; fi
}
run node "$ort_dir/script/install.js" --onnxruntime-node-install=cuda12
run pnpm --filter @resagent/learned add --save-optional --allow-build=@tensorflow/tfjs-node-gpu "@tensorflow/tfjs-node-gpu@$tfjs_version"
run pnpm resagent doctor --provider cuda
