#!/usr/bin/env bash
# Installs the Debian packages the WebGPU adapters and the browser tests need,
# when missing: chromium (its Vulkan SwiftShader, and the browser for e2e),
# libvulkan1 (the Vulkan loader Dawn opens), Mesa EGL/GLES (llvmpipe).
set -euo pipefail
pkgs=(chromium libvulkan1 libegl1 libegl-mesa0 libgles2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "latentgpu: installing missing system packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "latentgpu: run as root: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
