# syntax=docker/dockerfile:1
# The Api process: REST upload/status/results, DICOMweb STOW-RS, the review page, /health and /metrics on :8080.
# Build from the repository root: docker build -f deploy/docker/api.Dockerfile -t docpipe-api .
#
# Base OS: Debian 12 (bookworm), the distribution libgdcm-cil, mupdf-tools and poppler-utils are tested on
# (scripts/install-deps.sh). Microsoft ships no Debian image for .NET 10 (its default tag is Ubuntu 24.04; Debian
# images stopped at .NET 9), so the .NET runtime is copied from the official image: it is the portable linux-x64
# build, which runs on any glibc >= 2.27 distribution (bookworm has 2.36), and the app uses invariant
# globalization (Directory.Build.props), so it needs no ICU.

FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS dotnet-sdk
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble AS dotnet-runtime

# The review page serves verovio itself (no CDN): the same npm ci as scripts/test.sh, in its own stage.
FROM node:20-bookworm-slim AS review-vendor
WORKDIR /vendor
COPY src/Api/wwwroot/review/vendor/package.json src/Api/wwwroot/review/vendor/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM debian:bookworm-slim AS build
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
# libgdcm-cil: the projects reference Debian's gdcm-sharp.dll (/usr/lib/cli/gdcm-sharp-3.0) at compile time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 libgdcm-cil \
 && rm -rf /var/lib/apt/lists/*
COPY --from=dotnet-sdk /usr/share/dotnet /usr/share/dotnet
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY schemas/ schemas/
COPY src/ src/
COPY --from=review-vendor /vendor/node_modules src/Api/wwwroot/review/vendor/node_modules
# The Api never runs a model and does not reference ONNX Runtime (tests/EndToEnd/Deploy/RoleSplitTests).
RUN dotnet publish src/Api/Api.csproj -c Release -o /out

FROM debian:bookworm-slim AS runtime
# STOW-RS checks each part with GDCM (libgdcm-cil); curl serves the container health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libssl3 libgdcm-cil curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin docpipe \
 && mkdir -p /var/lib/docpipe/blobs && chown -R 10001:10001 /var/lib/docpipe
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
COPY --from=build /out /app
ENV DOTNET_ROOT=/usr/share/dotnet PATH=/usr/share/dotnet:$PATH ASPNETCORE_URLS=http://+:8080 \
    Storage__BlobRoot=/var/lib/docpipe/blobs
# Read-only root file system: the only writable places are these volumes (blobs shared with the workers; /tmp for
# upload buffering and the runtime's diagnostics socket).
VOLUME ["/var/lib/docpipe/blobs", "/tmp"]
USER 10001:10001
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/share/dotnet/dotnet", "/app/PaliGemma2.DocPipeline.Api.dll"]
