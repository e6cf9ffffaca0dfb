#!/bin/sh
# deps.sh — install the Debian packages zwsd needs to build and test, if missing.
# Idempotent and quiet when everything is present; uses sudo only when not root.
set -eu
PKGS="build-essential pkg-config libzmq3-dev libczmq-dev libwslay-dev libmsgpack-dev
libjansson-dev libhttp-parser-dev libssl-dev libjwt-dev libsystemd-dev
libcriterion-dev python3 python3-pytest python3-websockets python3-zmq python3-msgpack python3-jwt python3-cryptography mandoc iproute2 procps
clang libclang-rt-14-dev
gnuplot-nox fonts-dejavu-core"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
