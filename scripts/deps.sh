#!/usr/bin/env bash
# Install what the build and the tests need, idempotently: Debian packages
# that are missing (apt-get; needs root or sudo) and web/node_modules (npm ci)
# when absent or older than web/package-lock.json. Safe to run every time.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config libevent-dev libcurl4-openssl-dev libjansson-dev
      libsodium-dev libsqlite3-dev libcmocka-dev zlib1g-dev clang libclang-rt-14-dev clang-format
      chromium nodejs npm gzip wrk nginx-light curl procps)

missing=()
for p in "${PKGS[@]}"; do
	# nodejs/npm may come from outside Debian (e.g. a preinstalled Node); accept a working binary.
	case "$p" in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f web/package.json ]; then
	if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
		echo "deps: npm ci in web/"
		(cd web && npm ci --no-audit --no-fund --loglevel=error)
	fi
fi

if [ -f tests/mcp/package.json ]; then
	if [ ! -d tests/mcp/node_modules ] || [ tests/mcp/package-lock.json -nt tests/mcp/node_modules/.package-lock.json ]; then
		echo "deps: npm ci in tests/mcp/ (the pinned MCP test server)"
		(cd tests/mcp && npm ci --no-audit --no-fund --loglevel=error)
	fi
fi
