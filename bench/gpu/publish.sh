#!/usr/bin/env bash
# Builds the GPU benchmark console as a self-contained linux-x64 app (the GPU box has no .NET SDK).
# Run on a dev machine from anywhere; copy bench/gpu/out/ (with the repository) to the GPU machine.
# The output carries the .NET runtime and ONNX Runtime's native libraries, CUDA provider included (~400 MB);
# the CUDA 13 runtime and cuDNN 9 themselves come from the GPU machine (run_gpu_bench.py finds the pip wheels).
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet publish bench/gpu/EngineBench -c Release -r linux-x64 --self-contained -o bench/gpu/out
echo "published: bench/gpu/out/PaliGemma2.DocPipeline.EngineBench ($(du -sh bench/gpu/out | cut -f1))"
