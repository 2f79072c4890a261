#!/usr/bin/env bash
# Extracts SST's platform code and types (.sst/platform) in a project whose machine reaches
# the npm registry but not GitHub, so that sst.config.ts and infra/ can be type-checked.
#
# `sst install` normally downloads two binaries from GitHub releases: bun and pulumi.
# - bun: taken from the npm registry instead (package `bun`), passed in with SST_BUN_PATH.
# - pulumi: only its version is checked by `sst install`; type-checking never runs it,
#   so a stand-in that answers the version is placed where SST looks for it.
# Deploying (`sst deploy`, `sst dev`) still needs the real pulumi binary and an AWS account.
#
# Usage, from the project root (the folder holding sst.config.ts and node_modules/sst):
#   scripts/sst-offline-install.sh   (vendored from the team's shared/tools)
# Then: .sst/platform/node_modules/.bin/tsc -p <a tsconfig that includes sst.config.ts and infra/>
# (SST's own sources under .sst/ may report an error or two of their own; filter those out.)
set -euo pipefail
[ -f sst.config.ts ] || { echo "run this from the folder that holds sst.config.ts" >&2; exit 2; }
[ -x node_modules/.bin/sst ] || { echo "node_modules/.bin/sst missing: run npm install first (sst must be a devDependency)" >&2; exit 2; }

tools="${SST_OFFLINE_TOOLS:-$HOME/.cache/sst-offline}"
mkdir -p "$tools"
if [ ! -x "$tools/node_modules/.bin/bun" ]; then
  (cd "$tools" && [ -f package.json ] || echo '{"private":true}' > "$tools/package.json")
  npm install --prefix "$tools" --no-save --no-audit --no-fund bun@1.2 >/dev/null
fi

# The pulumi version that this sst release asks for is printed in its error when it is missing.
want=$(SST_TELEMETRY_DISABLED=1 SST_STAGE=offline node_modules/.bin/sst version 2>&1 | grep -o 'pulumi-v[0-9.]*' | head -1 | sed 's/pulumi-//' || true)
bin="$HOME/.config/sst/bin"
mkdir -p "$bin"
if [ -n "$want" ]; then
  printf '#!/bin/sh\n# stand-in for the pulumi CLI: answers the version check of `sst install` only\necho %s\n' "$want" > "$bin/pulumi"
  chmod +x "$bin/pulumi"
fi

SST_TELEMETRY_DISABLED=1 SST_STAGE="${SST_STAGE:-offline}" SST_BUN_PATH="$tools/node_modules/.bin/bun" \
  node_modules/.bin/sst install
test -f .sst/platform/config.d.ts && echo "sst platform types ready: .sst/platform/config.d.ts"
