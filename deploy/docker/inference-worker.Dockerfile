# syntax=docker/dockerfile:1
# The inference image, CPU variant: src/InferenceWorker (role infer only, one task per process via
# Inference__Tasks__<task>) on ONNX Runtime's CPU provider, for the cpu-demo overlay and the compose `cpu` profile.
# The GPU variant, same publish output on CUDA, is worker-gpu.Dockerfile.
# Build from the repository root: docker build -f deploy/docker/inference-worker.Dockerfile -t docpipe-inference-worker .
#
# Base OS and .NET runtime: see api.Dockerfile. The infer role decodes no documents: no renderers, no libgdcm-cil at
# run time (the build stage needs it only because the Documents project compiles against gdcm-sharp).

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
RUN dotnet publish src/InferenceWorker/InferenceWorker.csproj -c Release -o /out \
 # CPU variant: ONNX Runtime's CUDA/TensorRT providers are never loaded here (Inference__PreferCuda=false).
 && find /out -name 'libonnxruntime_providers_cuda.so' -delete -o -name 'libonnxruntime_providers_tensorrt.so' -delete

FROM debian:bookworm-slim AS runtime
# libgomp1: ONNX Runtime's CPU provider; curl serves the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 libgomp1 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin docpipe \
 && mkdir -p /var/lib/docpipe/blobs /models && chown -R 10001:10001 /var/lib/docpipe
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
COPY --from=build /out /app
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH ASPNETCORE_URLS=http://+:8080 \
    Storage__BlobRoot=/var/lib/docpipe/blobs Inference__PreferCuda=false
# Read-only root file system: writable volumes only (blobs: page images in, nothing written; /tmp: diagnostics
# socket); checkpoints are mounted read-only under /models.
VOLUME ["/var/lib/docpipe/blobs", "/tmp"]
USER 10001:10001
WORKDIR /app
EXPOSE 8080
# Ready only once the model has loaded and run a warm-up batch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/share/dotnet/dotnet", "/app/PaliGemma2.DocPipeline.InferenceWorker.dll"]
