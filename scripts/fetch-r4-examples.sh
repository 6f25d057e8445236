#!/usr/bin/env bash
# Downloads the official FHIR R4 example resources (npm package
# hl7.fhir.r4.examples@4.0.1, CC0-1.0) and unpacks them into DIR
# (default ./.cache/r4-examples), then prints DIR. The example files end up
# directly in DIR. Running it again when DIR is complete does nothing.
#
# Usage: scripts/fetch-r4-examples.sh [DIR]
#        TELEFHIR_R4_EXAMPLES=$(scripts/fetch-r4-examples.sh) go test ./fhir/resource/
set -euo pipefail

pkg=hl7.fhir.r4.examples
version=4.0.1
dir=${1:-./.cache/r4-examples}
marker=$dir/.complete-$pkg-$version

if [[ -f $marker ]]; then
	(cd "$dir" && pwd)
	exit 0
fi

command -v npm >/dev/null || { echo "fetch-r4-examples: npm is needed (it downloads the package from the npm registry)" >&2; exit 1; }

mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
tarball=("$tmp"/*.tgz)
[[ -f ${tarball[0]} ]] || { echo "fetch-r4-examples: npm pack produced no tarball" >&2; exit 1; }
tar -xzf "${tarball[0]}" -C "$tmp"

# The tarball holds package/<files>; move them up into DIR.
rm -rf "${dir:?}"/*.json
mv "$tmp"/package/* "$dir"/
n=$(find "$dir" -maxdepth 1 -name '*.json' ! -name package.json | wc -l)
if (( n < 5000 )); then
	echo "fetch-r4-examples: only $n example files unpacked" >&2
	exit 1
fi
touch "$marker"
(cd "$dir" && pwd)
