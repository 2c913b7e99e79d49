#!/usr/bin/env bash
# Builds the Teams app package (threadline-teams.zip) to upload in Teams:
#   THREADLINE_TEAMS_APP_ID=<bot app id> deploy/teams/package.sh
set -euo pipefail
cd "$(dirname "$0")"
: "${THREADLINE_TEAMS_APP_ID:?set THREADLINE_TEAMS_APP_ID to the Microsoft App ID of the bot}"
if ! [[ "$THREADLINE_TEAMS_APP_ID" =~ ^[0-9a-fA-F-]{36}$ ]]; then
  echo "THREADLINE_TEAMS_APP_ID must be a GUID" >&2; exit 2
fi
out="${1:-threadline-teams.zip}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
sed "s/\${THREADLINE_TEAMS_APP_ID}/$THREADLINE_TEAMS_APP_ID/g" manifest.json > "$tmp/manifest.json"
cp color.png outline.png "$tmp/"
rm -f "$out"
python3 - "$tmp" "$out" <<'PY'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for f in ("manifest.json", "color.png", "outline.png"):
        z.write(os.path.join(src, f), f)
PY
echo "wrote $out: upload it in Teams (Apps > Manage your apps > Upload an app) or the Teams admin center"
