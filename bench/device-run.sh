#!/usr/bin/env bash
# One command for a machine lent with a real GPU for a few minutes: sets up what
# is missing, runs the GPU tests and a short benchmark, each step in its own
# process under a time limit so the whole run stays under 8 minutes, and writes
# the result files.
#
#   bench/device-run.sh [--quick] [--adapter gpu|llvmpipe|swiftshader] [OUT_DIR]
#   bench/device-run.sh --pack [CARRY_DIR]      (here, before going to the machine)
#
# OUT_DIR defaults to bench/results/device-<date>/. The adapter defaults to
# $LATENTGPU_DEVICE_ADAPTER, else gpu; `LATENTGPU_DEVICE_ADAPTER=llvmpipe
# bench/device-run.sh --quick` is the dry run on a machine without a GPU.
# LATENTGPU_DEVICE_BUDGET sets the total seconds (default 460, --quick 300).
#
# Steps, in this order (a step that fails or times out is recorded, the next runs):
#   info          latentgpu info --json: the adapter and its granted limits  -> info.json
#   tests-kernels vitest on the kernel test files, LATENTGPU_TEST_ADAPTERS=<adapter>
#   kernels       bench/suite/webgpu.ts --parts peak,matmul,memory: peak FMA, matmul sizes, memory kernels -> kernels.json
#   vae           bench/suite/webgpu.ts --parts vae,breakdown: VAE batch 32/128/512, the large network, per-kernel step breakdown -> vae.json
#   ppca          bench/device-bench.ts ppca: exact EM s/iter and stochastic EM steps/s on synthetic 56,000 × 784 (d = 10, 50) -> ppca.json
#   scale         bench/device-bench.ts scale: stochastic EM at n = 10⁶ (rows repeated) against n = 56,000 -> scale.json
#   scale-curve   bench/scale.ts: the VAE, stochastic and online EM on generated rows streamed from the host, the same
#                 steps at n = 10⁴, 10⁵, 10⁶ (--quick: 10⁴, 10⁵), chunks within --host-memory 32: samples/s, peak RSS
#                 and device memory -> scale-curve.json/.md
#   tests-models  vitest on the model test files (ppca, vae, fa, lvm, train), with whatever time is left
#   report        bench/device-bench.ts report: device-<date>.md/.json/.svg from the JSON files above
# Each step's output is in logs/<step>.log; steps.tsv lists status and seconds;
# env.txt records the machine (nvidia-smi, Vulkan driver files, node, commit).
# The matmul tuner's choice is kept under cache/ (LATENTGPU_CACHE_DIR).
#
# A machine that reaches no registry cannot `npm ci` (the whole node_modules,
# ~490 MB, is too large to carry). The run uses ./node_modules when it is there;
# else it unpacks CARRY_DIR/node_modules.tgz (CARRY_DIR: $LATENTGPU_DEVICE_CARRY,
# else .device-carry), which `--pack` makes here: the packages the run loads,
# Linux x64 only (~28 MB), and the Debian libvulkan1 package (Dawn's Vulkan
# loader), unpacked only where the image lacks one. Only when neither is there
# does it run `npm ci`. Carry CARRY_DIR along (the device tool's `carry`), and
# bring OUT_DIR back as one archive where only a few files return:
#   bench/device-run.sh /tmp/device; tar czf "$OUT/device.tgz" -C /tmp device
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
quick=0
pack=0
adapter=${LATENTGPU_DEVICE_ADAPTER:-gpu}
out=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --pack) pack=1 ;;
    --adapter) adapter=${2:?--adapter needs gpu, llvmpipe or swiftshader}; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "device-run: unknown option $1 (see --help)" >&2; exit 1 ;;
    *) out=$1 ;;
  esac
  shift
done
case $adapter in gpu|llvmpipe|swiftshader) ;; *) echo "device-run: adapter '$adapter' is not gpu, llvmpipe or swiftshader" >&2; exit 1 ;; esac

say() { printf 'device-run: %s\n' "$*" >&2; }

# ---- --pack: what a machine without registries needs, made here -----------------
if [ $pack -eq 1 ]; then
  carry=${out:-${LATENTGPU_DEVICE_CARRY:-.device-carry}}
  mkdir -p "$carry/debs"
  node --import tsx bench/device-bench.ts pack "$carry" || exit 1
  # Dawn opens libvulkan.so.1; the NVIDIA driver brings its own ICD, not always the loader
  if command -v apt-get >/dev/null 2>&1; then
    (cd "$carry/debs" && apt-get download libvulkan1 >/dev/null 2>&1) || say "apt-get download libvulkan1 failed: the machine must have the Vulkan loader"
  fi
  case $carry in /*) ;; *) grep -qxF "/${carry#./}/" .git/info/exclude 2>/dev/null || echo "/${carry#./}/" >>.git/info/exclude ;; esac
  du -sh "$carry" "$carry"/* "$carry"/debs/* >&2 2>/dev/null
  say "carry '$carry' along with the repository; on the machine run bench/device-run.sh"
  exit 0
fi

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
budget=${LATENTGPU_DEVICE_BUDGET:-$([ $quick -eq 1 ] && echo 300 || echo 460)}
deadline=$((t0 + budget))
if [ -z "$out" ]; then
  out=bench/results/device-${started:0:10}
  [ -e "$out" ] && out=$out-$(date -u +%H%M%S)
fi
mkdir -p "$out/logs" "$out/cache" || exit 1
out=$(cd "$out" && pwd)
export LATENTGPU_CACHE_DIR=$out/cache XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

# ---- setup ---------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || { say "node is not installed (Node 20 or newer is needed)"; exit 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { say "Node $(node -v) is too old: 20 or newer is needed"; exit 1; }
carry=${LATENTGPU_DEVICE_CARRY:-.device-carry}
if [ -e node_modules/webgpu/package.json ] && [ -e node_modules/tsx/package.json ] && [ -e node_modules/vitest/package.json ]; then
  say "using the existing node_modules"
elif [ -f $carry/node_modules.tgz ]; then
  say "unpacking $carry/node_modules.tgz"
  tar xzf $carry/node_modules.tgz || exit 1
else
  say "no node_modules and no $carry/node_modules.tgz: npm ci (needs the npm registry)"
  npm ci --no-audit --no-fund || { say "npm ci failed: make $carry here with bench/device-run.sh --pack and carry it along"; exit 1; }
fi
if [ "$adapter" = gpu ]; then
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    if ls $carry/debs/*.deb >/dev/null 2>&1; then
      say "no Vulkan loader: unpacking $carry/debs"
      for f in $carry/debs/*.deb; do dpkg -x "$f" / || say "dpkg -x $f failed (not root?)"; done
      ldconfig 2>/dev/null
    else
      timeout 180 bash scripts/system-deps.sh || say "no Vulkan loader and none installed: the GPU steps will fail"
    fi
  fi
  # the NVIDIA driver's Vulkan ICD, where the loader does not look by default
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
      [ -f "$f" ] && { export VK_DRIVER_FILES=$f; say "VK_DRIVER_FILES=$f"; break; }
    done
  fi
else
  # llvmpipe needs Mesa EGL, SwiftShader comes with Chromium: installed only when missing
  timeout 300 bash scripts/system-deps.sh || say "scripts/system-deps.sh failed: the $adapter steps may fail"
fi

{
  echo "started $started; adapter $adapter; quick $quick; budget ${budget}s"
  echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "node $(node -v); $(uname -srm); $(nproc) CPUs; $(free -g 2>/dev/null | awk '/^Mem/ {print $2 " GiB memory"}')"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "Vulkan loader: $(ldconfig -p 2>/dev/null | grep -m1 -o 'libvulkan\.so\.1 .*' || echo none)"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null
} >"$out/env.txt" 2>&1

# ---- steps -------------------------------------------------------------------------------
printf '# started %s\nstep\tstatus\tseconds\tnote\n' "$started" >"$out/steps.tsv"
REPORT_RESERVE=20
adapter_ok=1

# step NAME LIMIT_S COMMAND...: runs under min(LIMIT_S, time left), output to logs/NAME.log
step() {
  local name=$1 limit=$2 left status note s rc
  shift 2
  left=$((deadline - REPORT_RESERVE - $(date +%s)))
  [ "$name" = report ] && left=$((left + REPORT_RESERVE))
  if [ $adapter_ok -eq 0 ]; then status=skipped; note="the adapter did not open"; s=0
  elif [ $left -lt 10 ]; then status=skipped; note="time budget spent"; s=0
  else
    [ $left -lt "$limit" ] && limit=$left
    say "$name (at most ${limit}s)..."
    s=$(date +%s)
    timeout -k 10 "$limit" "$@" >"$out/logs/$name.log" 2>&1
    rc=$?
    s=$(($(date +%s) - s))
    case $rc in
      0) status=ok; note= ;;
      124|137) status=timeout; note="stopped after ${limit}s" ;;
      3) status=no-adapter; note="no $adapter adapter" ;;
      *) status=failed; note="exit code $rc: $(grep -v '^Warning: ' "$out/logs/$name.log" | grep -m1 -iE 'error|fail|latentgpu:' | cut -c1-200 | tr '\t' ' ')" ;;
    esac
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$s" "$note" >>"$out/steps.tsv"
  say "$name: $status in ${s}s${note:+ ($note)}"
  [ "$status" = ok ]
}

tsx=(node --import tsx)
vitest=(node node_modules/vitest/vitest.mjs run --maxWorkers="$(($(nproc) > 8 ? 4 : 2))")
if [ $quick -eq 1 ]; then
  kernel_tests=(test/runtime.test.ts test/peak.test.ts)
  ppca_args=(--n 8000 --latent 10 --em-iters 2 --sem-steps 50)
  scale_args=(--n 8000 --scale-n 32000 --sem-steps 50)
  curve_args=(--n 1e4,1e5 --steps 50)
  vae_parts=vae
else
  kernel_tests=(test/runtime.test.ts test/peak.test.ts test/matmul.test.ts test/elementwise.test.ts test/reduce.test.ts
    test/random.test.ts test/likelihood.test.ts test/optim.test.ts)
  ppca_args=(--n 56000 --latent 10,50 --em-iters 3 --sem-steps 300)
  scale_args=(--n 56000 --scale-n 1000000 --sem-steps 300)
  curve_args=(--n 1e4,1e5,1e6 --steps 200)
  vae_parts=vae,breakdown
fi

# stdout is the JSON; the command's first argument names the file
step info 45 bash -c '"${@:1}" >"$0"' "$out/info.json" "${tsx[@]}" src/cli/main.ts info --backend webgpu --adapter "$adapter" --json ||
  { [ -s "$out/info.json" ] || adapter_ok=0; }
step tests-kernels 150 env LATENTGPU_TEST_ADAPTERS="$adapter" "${vitest[@]}" "${kernel_tests[@]}"
step kernels 75 "${tsx[@]}" bench/suite/webgpu.ts --adapter "$adapter" --parts peak,matmul,memory --out "$out/kernels.json"
step vae 90 "${tsx[@]}" bench/suite/webgpu.ts --adapter "$adapter" --parts "$vae_parts" --out "$out/vae.json"
step ppca 120 "${tsx[@]}" bench/device-bench.ts ppca --adapter "$adapter" "${ppca_args[@]}" --out "$out/ppca.json"
step scale 60 "${tsx[@]}" bench/device-bench.ts scale --adapter "$adapter" "${scale_args[@]}" --out "$out/scale.json"
step scale-curve 90 "${tsx[@]}" bench/scale.ts --targets "$adapter" --methods vae,sem,oem "${curve_args[@]}" --host-memory 32 --max-n "$adapter=1e6" --out "$out/scale-curve"
[ $quick -eq 1 ] || step tests-models 120 env LATENTGPU_TEST_ADAPTERS="$adapter" "${vitest[@]}" test/ppca.test.ts test/vae.test.ts test/fa.test.ts test/lvm.test.ts test/train.test.ts
adapter_ok=1 step report 20 "${tsx[@]}" bench/device-bench.ts report "$out"

# ---- summary: the report, then the steps (last, so a truncated log still shows them) ------
for f in "$out"/device-*.md; do [ -f "$f" ] && cat "$f"; done
echo
echo "device-run: $(($(date +%s) - t0)) s in all; results in $out"
column -t -s $'\t' "$out/steps.tsv" 2>/dev/null || cat "$out/steps.tsv"
! grep -qP '\t(failed|timeout|no-adapter)\t' "$out/steps.tsv"
