#!/usr/bin/env bash
# Installs what the pipeline and its tests need from Debian's packages (idempotent; apt only runs when
# something is missing). Run as root, or with sudo available.
set -euo pipefail

PACKAGES=(
  # PDF renderers (child processes) and prlimit for their memory limit
  mupdf-tools poppler-utils util-linux
  # DICOM: GDCM C# binding + tools, dcmtk (reference decodes, storescu/storescp, dsrdump)
  libgdcm-cil libgdcm-tools dcmtk
  # Real services for the tests, started on loopback by scripts/test.sh
  rabbitmq-server postgresql postgresql-15-rdkit orthanc orthanc-dicomweb
  # Reference implementations the tests compare against
  python3 python3-numpy python3-sentencepiece
  # Review page tests: playwright-core drives Debian's browser headless
  chromium
)
if [[ "${1:-}" == "--runtime-only" ]]; then
  PACKAGES=(mupdf-tools poppler-utils util-linux libgdcm-cil)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 && [[ "${1:-}" != "--runtime-only" ]]; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian's postinst scripts try to start system services; the tests start their own instances.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in rabbitmq-server postgresql orthanc; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi
