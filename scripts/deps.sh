#!/bin/sh
# deps.sh — install the Debian packages zwsd needs to build and test, if missing.
# Idempotent and quiet when everything is present; uses sudo only when not root.
#   --bench   also what the benchmarks' third server needs: nginx with the nchan module
#             (scripts/bench-chat.sh --server nchan), installed without starting the
#             packaged nginx service; `make` never passes it
set -eu
BENCH=0
case ${1:-} in
--bench) BENCH=1 ;;
"") ;;
*) echo "usage: scripts/deps.sh [--bench]" >&2; exit 2 ;;
esac
PKGS="build-essential pkg-config libzmq3-dev libczmq-dev libwslay-dev libmsgpack-dev
libjansson-dev libhttp-parser-dev libssl-dev libjwt-dev libsystemd-dev
libcriterion-dev python3 python3-pytest python3-websockets python3-zmq python3-msgpack python3-jwt python3-cryptography mandoc iproute2 procps
clang libclang-rt-14-dev
gnuplot-nox fonts-dejavu-core
chromium"
# nginx-light is only nginx plus the echo module on Debian 12; nchan needs nothing more
[ "$BENCH" = 0 ] || PKGS="$PKGS nginx libnginx-mod-nchan"
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
    # The nginx package starts its service on port 80 as it installs; the benchmarks run
    # their own nginx. A policy-rc.d refusing every start keeps it down during the install
    # (one we put there is removed again; an image's own stays).
    RCD=""
    case " $missing " in *" nginx "*|*" libnginx-mod-nchan "*)
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            RCD=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' | $SUDO tee $RCD >/dev/null
            $SUDO chmod 755 $RCD
            trap '$SUDO rm -f $RCD' EXIT
        fi ;;
    esac
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
    [ -z "$RCD" ] || { $SUDO rm -f "$RCD"; trap - EXIT; }
    # An nginx we just installed: off at boot too, and stopped if an image's policy let it
    # start. An nginx that was here before is someone's server: left alone.
    case " $missing " in *" nginx "*)
        $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
        pid=$(cat /run/nginx.pid 2>/dev/null || true)
        if [ -n "$pid" ] && grep -qs '^nginx' /proc/"$pid"/comm; then
            echo "deps.sh: stopping the packaged nginx service (the benchmarks start their own)" >&2
            $SUDO kill -QUIT "$pid"
        fi ;;
    esac
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
