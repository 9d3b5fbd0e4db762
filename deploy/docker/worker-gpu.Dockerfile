# syntax=docker/dockerfile:1
# The inference image, GPU variant: the src/InferenceWorker publish output (the same as inference-worker.Dockerfile)
# on NVIDIA's CUDA 13 + cuDNN 9 runtime, for the `infer` role (one task per process via Inference__Tasks__<task>).
# Build from the repository root: docker build -f deploy/docker/worker-gpu.Dockerfile -t docpipe-worker-gpu .
#
# Base: NVIDIA publishes CUDA images for Ubuntu and Rocky/UBI only, not Debian. Ubuntu 24.04 is the closest to
# Debian 12 (same apt tooling, glibc 2.39) and is also the OS of Microsoft's .NET 10 images, so the runtime copied
# from mcr.microsoft.com/dotnet/aspnet:10.0-noble runs on the OS it was packaged for. CUDA 13 because the
# Microsoft.ML.OnnxRuntime.Gpu.Linux build the project pins links libcudart.so.13 / libcublas.so.13
# (tests/EndToEnd/Deploy checks the two agree); cuDNN 9 is what that provider loads.
# The infer role decodes no documents, so this image carries neither the PDF renderers nor libgdcm-cil, and the
# host has neither the PACS integration nor the decoder sandbox (docpipe-decode) in its publish output.

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS dotnet-sdk
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS dotnet-runtime

FROM debian:bookworm-slim AS build
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 libgdcm-cil \
 && rm -rf /var/lib/apt/lists/*
COPY --from=dotnet-sdk /usr/share/dotnet /usr/share/dotnet
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY schemas/ schemas/
COPY src/ src/
# TensorRT's provider needs TensorRT, which this image does not carry; the CUDA provider stays.
RUN dotnet publish src/InferenceWorker/InferenceWorker.csproj -c Release -o /out \
 && find /out -name 'libonnxruntime_providers_tensorrt.so' -delete

FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3t64 libgomp1 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin docpipe \
 && mkdir -p /var/lib/docpipe/blobs /models && chown -R 10001:10001 /var/lib/docpipe
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
COPY --from=build /out /app
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH ASPNETCORE_URLS=http://+:8080 \
    Storage__BlobRoot=/var/lib/docpipe/blobs Inference__PreferCuda=true \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
# Read-only root file system: writable volumes only (blobs: page images in, nothing written; /tmp: diagnostics socket).
VOLUME ["/var/lib/docpipe/blobs", "/tmp"]
USER 10001:10001
WORKDIR /app
EXPOSE 8080
# Ready only once the model has loaded and run a warm-up batch: give a large checkpoint time.
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/share/dotnet/dotnet", "/app/PaliGemma2.DocPipeline.InferenceWorker.dll"]
