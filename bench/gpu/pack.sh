#!/usr/bin/env bash
# Packs the self-contained EngineBench publish (bench/gpu/out, from publish.sh) into parts that the device
# tool's `run` can carry one per call (bench/gpu/README.md, "Getting the engine there"), and writes the
# sequence of calls to .gpuxfer/plan.json and .gpuxfer/plan.md.
#
#   bench/gpu/pack.sh                 # parts sized to fit beside the working tree in one call (64 MiB in all)
#   PART_MIB=40 bench/gpu/pack.sh     # fixed part size
#   XZ_LEVEL=6 bench/gpu/pack.sh     # smaller, ~7x slower to pack (default 3; -9 did not finish in 27 min
#                                     # on the loaded 2-core dev machine)
#   SM90_ONLY=1 bench/gpu/pack.sh     # blank the CUDA provider's non-sm_90 cubins (fatbin_keep.py; untested on a GPU)
#
# .gpuxfer/ is git-ignored. The archive leaves out what the benchmark never loads: debug symbols (*.pdb), the
# XML docs, createdump, the debugger libraries (libmscordaccore/libmscordbi), the LTTng trace provider and
# ONNX Runtime's TensorRT provider stub. xz, because the GPU machine's Python reads it without extra tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=bench/gpu/out
[ -x "$src/PaliGemma2.DocPipeline.EngineBench" ] || { echo "error: $src has no EngineBench; run bench/gpu/publish.sh first" >&2; exit 2; }

# What travels with every call besides the part: tracked files plus untracked ones git does not ignore.
tree_bytes=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 -r stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
tree_mib=$(( (tree_bytes + 1048575) / 1048576 ))
part_mib=${PART_MIB:-$(( 64 - tree_mib - 2 ))}
if [ "$part_mib" -gt 60 ]; then part_mib=60; fi
if [ "$part_mib" -lt 8 ]; then echo "error: the working tree ($tree_mib MiB) leaves no room for parts" >&2; exit 2; fi

rm -rf .gpuxfer
mkdir -p .gpuxfer
start=$(date +%s)
base=bench/gpu
if [ "${SM90_ONLY:-0}" = 1 ]; then
  base=$(mktemp -d)
  trap 'rm -rf "$base"' EXIT
  cp -a "$src" "$base/out"
  python3 bench/gpu/fatbin_keep.py "$src/libonnxruntime_providers_cuda.so" --keep 90 --out "$base/out/libonnxruntime_providers_cuda.so"
fi
tar -C "$base" -cf - --exclude='*.pdb' --exclude='*.xml' --exclude=createdump --exclude='libmscord*' \
    --exclude=libcoreclrtraceptprovider.so --exclude=libonnxruntime_providers_tensorrt.so out \
  | xz -T0 "-${XZ_LEVEL:-3}" > .gpuxfer/enginebench.tar.xz
packed=$(date +%s)
split -b "${part_mib}M" -d -a 2 .gpuxfer/enginebench.tar.xz .gpuxfer/part-
for f in .gpuxfer/part-*; do
  n=${f##*-}
  mkdir -p ".gpuxfer/p$n"
  mv "$f" ".gpuxfer/p$n/"
done
sha=$(sha256sum .gpuxfer/enginebench.tar.xz | cut -d' ' -f1)
parts=$(ls -d .gpuxfer/p* | wc -l)
python3 bench/gpu/transfer_plan.py --parts "$parts" --sha256 "$sha" --tree-bytes "$tree_bytes" \
    --archive-bytes "$(stat -c %s .gpuxfer/enginebench.tar.xz)" --publish-bytes "$(du -sb $src | cut -f1)"
echo "publish $(du -sh $src | cut -f1), archive $(du -h .gpuxfer/enginebench.tar.xz | cut -f1) in $((packed - start)) s," \
     "$parts parts of <= ${part_mib} MiB, working tree ${tree_mib} MiB, sha256 $sha"
echo "calls: .gpuxfer/plan.md (rehearse: python3 bench/gpu/rehearse.py)"
