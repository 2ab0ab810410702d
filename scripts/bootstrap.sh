#!/usr/bin/env bash
# Bring a machine that has only Python and pip to a working studio environment:
# uv (if missing), the locked virtualenv, and the Debian packages the studio needs.
# Usage: scripts/bootstrap.sh [run|test]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-run}"

# uv is looked up on PATH, where `pip install --user` puts it, and in the project's own .tools/
# (ignored by git, removed by `make clean`), where the bootstrap installs it when it is nowhere.
# `pip install --target` installs into a folder of its own, so it works on an "externally
# managed" interpreter (PEP 668: Debian's /usr/bin/python3 refuses `pip install --user`) and
# never changes the interpreter's own packages.
find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  for c in "$HOME/.local/bin/uv" "$(python3 -m site --user-base 2>/dev/null)/bin/uv" "$PWD/.tools/uv/bin/uv"; do
    [ -x "$c" ] && { echo "$c"; return; }
  done
  return 1
}

apt_install() {
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  echo "bootstrap: installing Debian packages: $*" >&2
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }; then
    echo "bootstrap: could not install $* (need root or sudo); install them with apt-get" >&2
    exit 1
  fi
}

UV="$(find_uv || true)"
if [ -z "$UV" ]; then
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  echo "bootstrap: installing uv with pip into .tools/uv" >&2
  rm -rf .tools/uv.partial && mkdir -p .tools
  python3 -m pip install --quiet --disable-pip-version-check --target .tools/uv.partial uv
  rm -rf .tools/uv && mv .tools/uv.partial .tools/uv  # a half-made .tools/uv is replaced, not nested into
  UV="$(find_uv)"
fi

# Debian packages: OSMesa for MuJoCo offscreen rendering; FFmpeg's shared libraries (Debian 12's
# FFmpeg 5.1: exactly the sonames torchcodec's libtorchcodec_core5.so links) for lerobot's default
# video decoder; chromium for the browser tests.
pkgs=(libosmesa6 libavutil57 libavcodec59 libavformat59 libavdevice59 libavfilter8 libswscale6 libswresample4)
[ "$what" = "test" ] && pkgs+=(chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set, every `import lerobot`
# would otherwise recompile ~2,600 modules (20-35 s per process).
"$UV" sync --frozen --quiet --compile-bytecode
