# syntax=docker/dockerfile:1
# The worker image: the CPU roles (src/Worker), chosen per container by `Roles` (intake | prepare | writeback,
# comma list allowed). It carries no ONNX Runtime: role infer runs in the inference images (src/InferenceWorker:
# inference-worker.Dockerfile on CPU, worker-gpu.Dockerfile on CUDA), and this worker refuses Roles=infer at start.
# Build from the repository root: docker build -f deploy/docker/worker.Dockerfile -t docpipe-worker .
#
# Base OS and .NET runtime: see api.Dockerfile (Debian 12 to match libgdcm-cil; Microsoft ships no Debian image
# for .NET 10, so the portable runtime is copied in).

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
RUN dotnet publish src/Worker/Worker.csproj -c Release -o /out

FROM debian:bookworm-slim AS runtime
# prepare: mupdf-tools/poppler-utils render PDF pages as child processes under prlimit (util-linux);
# prepare/writeback/intake: libgdcm-cil reads DICOM and writes the report SR; curl serves the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libgdcm-cil mupdf-tools poppler-utils util-linux curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin docpipe \
 && mkdir -p /var/lib/docpipe/blobs /var/lib/docpipe/inbox /var/lib/docpipe/shared \
 && chown -R 10001:10001 /var/lib/docpipe
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
COPY --from=build /out /app
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH ASPNETCORE_URLS=http://+:8080 \
    Storage__BlobRoot=/var/lib/docpipe/blobs Intake__SharedRoot=/var/lib/docpipe/shared
# Read-only root file system: writable volumes only. /tmp holds renderer scratch (Preparation:ScratchRoot empty)
# and the runtime's diagnostics socket.
VOLUME ["/var/lib/docpipe/blobs", "/var/lib/docpipe/inbox", "/var/lib/docpipe/shared", "/tmp"]
USER 10001:10001
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/share/dotnet/dotnet", "/app/PaliGemma2.DocPipeline.Worker.dll"]
