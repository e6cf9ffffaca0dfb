#!/bin/sh
# deps.sh — install the Debian packages zwsd needs to build and test, if missing.
# Idempotent and quiet when everything is present; uses sudo only when not root.
set -eu
PKGS="build-essential pkg-config libzmq3-dev libczmq-dev libwslay-dev libmsgpack-dev
libjansson-dev libhttp-parser-dev libssl-dev libjwt-dev libsystemd-dev
libcriterion-dev python3 python3-pytest python3-websockets python3-zmq python3-msgpack python3-jwt python3-cryptography mandoc iproute2 procps
clang libclang-rt-14-dev
gnuplot-nox fonts-dejavu-core
chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# node and npm for the browser test: any install will do (a newer nodejs from
# elsewhere carries its own npm and conflicts with Debian's npm package)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    echo "deps.sh: installing:$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# playwright-core, pinned in test/browser/package.json and package-lock.json,
# into test/browser/node_modules, when that version is not there yet
cd "$(dirname "$0")/../test/browser"
want=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' package.json)
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' node_modules/playwright-core/package.json 2>/dev/null | head -n1)
if [ "$have" != "$want" ]; then
    echo "deps.sh: installing playwright-core $want into test/browser/node_modules" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi
