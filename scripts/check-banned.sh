#!/usr/bin/env bash
# Fail when a C file calls a banned function (curl's list, STYLE.md rule 11).
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null; find lib src sim tests fuzz tools -name '*.[ch]' 2>/dev/null)
files=$(printf '%s\n' $files | sort -u)
[ -n "$files" ] || exit 0
hits=$(grep -HnE '(^|[^_[:alnum:]])(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|sscanf|gets|system|popen)[[:space:]]*\(' $files |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(//|/?\*)' | grep -vE '(snprintf|vsnprintf)[[:space:]]*\(' || true)
# snprintf/vsnprintf contain "sprintf" only after an "n": the regex above needs a non-identifier before the name.
if [ -n "$hits" ]; then
	echo "banned functions used:"
	echo "$hits"
	exit 1
fi
echo "check-banned: ok"
