#!/usr/bin/env bash
# Installs what the pipeline and its tests need from Debian's packages (idempotent; apt only runs when
# something is missing). Run as root, or with sudo available.
set -euo pipefail

PACKAGES=(
  # PDF renderers (child processes) and prlimit for their memory limit
  mupdf-tools poppler-utils util-linux
  # DICOM: GDCM C# binding + tools, dcmtk (reference decodes, storescu/storescp, dsrdump)
  libgdcm-cil libgdcm-tools dcmtk
  # dciodvfy: DICOM IOD/character-repertoire checker the SR tests run (Debian 12: dicom3tools)
  dicom3tools
  # Real services for the tests, started on loopback by scripts/test.sh
  rabbitmq-server postgresql postgresql-15-rdkit orthanc orthanc-dicomweb
  # Metrics test and scripts/cluster.sh: a real Prometheus scraping /metrics
  prometheus
  # Reference implementations the tests compare against
  python3 python3-numpy python3-sentencepiece
  # Real-world test files, found through dpkg -L: pydicom's DICOM test files, LaTeX manuals (PDFs with tables)
  python3-pydicom texlive-latex-base-doc
  # Metric references (docs/metrics.md): PubTabNet's parser, BLEU, Levenshtein, canonical SMILES
  python3-lxml python3-nltk python3-levenshtein python3-rdkit
  # Pillow resize parity (docs/fidelity.md)
  python3-pil
  # Review page tests: playwright-core drives Debian's browser headless
  chromium
  # Deploy tests: `docker-compose config` validates docker-compose.yml (no Docker engine needed for that)
  docker-compose
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

# Deploy tests: `kubectl kustomize` builds deploy/k8s. Debian 12 serves kubectl as kubernetes-client (1.20, kustomize
# v2.0.3, which the kustomizations are written for); a kubectl already on PATH (e.g. a newer one) is used as it is.
if ! command -v kubectl >/dev/null 2>&1 && [[ "${1:-}" != "--runtime-only" ]]; then
  missing+=(kubernetes-client)
fi

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian's postinst scripts try to start system services; the tests start their own instances.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in rabbitmq-server postgresql orthanc prometheus; do
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi
