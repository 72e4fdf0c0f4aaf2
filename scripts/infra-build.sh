#!/usr/bin/env bash
# Compile and lint infra/main.bicep with the real Bicep compiler, writing infra/main.json.
#   scripts/infra-build.sh          build + lint, (re)write infra/main.json
#   scripts/infra-build.sh --check  build + lint into a temp file; fail if infra/main.json differs
# The compiler: `bicep` on PATH, else `az bicep`, else the NuGet package
# Azure.Bicep.CommandLine.linux-x64 restored with the .NET SDK into .tools/ (no other download).
set -euo pipefail
cd "$(dirname "$0")/.."

BICEP_VERSION=0.49.2
TOOLS=.tools
mkdir -p "$TOOLS"
PKG_DIR="$TOOLS/nuget/azure.bicep.commandline.linux-x64/$BICEP_VERSION/tools"

bicep_cmd() {
  if command -v bicep >/dev/null 2>&1; then echo "bicep"; return; fi
  if command -v az >/dev/null 2>&1 && az bicep version >/dev/null 2>&1; then echo "az bicep"; return; fi
  if [[ ! -x "$PKG_DIR/bicep" ]]; then
    command -v dotnet >/dev/null 2>&1 || { echo "No bicep, az or dotnet on PATH: install the .NET SDK (or the Bicep CLI) to compile infra/" >&2; exit 1; }
    mkdir -p "$TOOLS/restore"
    cat > "$TOOLS/restore/bicep.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$BICEP_VERSION]" /></ItemGroup>
</Project>
CSPROJ
    dotnet restore "$TOOLS/restore/bicep.csproj" --packages "$TOOLS/nuget" >&2
    chmod +x "$PKG_DIR/bicep"
  fi
  echo "$PKG_DIR/bicep"
}

BICEP=$(bicep_cmd)
out=infra/main.json
[[ "${1:-}" == "--check" ]] && out=$(mktemp)
# Warnings are errors here: the template must compile and lint clean (an accepted warning is
# suppressed in the Bicep file with #disable-next-line and a comment saying why).
$BICEP build infra/main.bicep --outfile "$out" 2>&1 | tee "$TOOLS/bicep-build.log" >&2
$BICEP lint infra/main.bicep 2>&1 | tee "$TOOLS/bicep-lint.log" >&2
if grep -Eq '(Warning|Error) ' "$TOOLS/bicep-build.log" "$TOOLS/bicep-lint.log"; then
  echo "bicep: warnings or errors (see above)" >&2
  exit 1
fi
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -q "$out" infra/main.json >/dev/null; then
    echo "infra/main.json is stale: run npm run infra:build and commit it" >&2
    diff "$out" infra/main.json | head -20 >&2
    exit 1
  fi
  echo "infra/main.json matches infra/main.bicep"
fi
