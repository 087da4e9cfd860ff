# ringleader/operator: the ringleader-operator controller (and the ringleader CLI).
# Build from the repository root:
#   docker build -f deploy/images/operator.Dockerfile -t ringleader/operator:0.1.0 .
# Build stage: the same Debian packages CI uses (scripts/install-deps.sh); runtime stage: only
# the shared libraries the binaries load, a non-root user (65532, as deploy/deployment.yaml
# expects) and no shell tools beyond what debian:bookworm-slim ships.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DRINGLEADER_BUILD_TESTS=OFF -DRINGLEADER_BUILD_BENCH=OFF -DRINGLEADER_CUDA=OFF \
 && cmake --build /build --target ringleader-operator ringleader \
 && install -D -m 0755 /build/src/cmd/ringleader-operator/ringleader-operator /out/ringleader-operator \
 && install -D -m 0755 /build/src/cmd/ringleader/ringleader /out/ringleader

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libcurl4 libssl3 libyaml-cpp0.7 \
      libspdlog1.10 libfmt9 libcpprest2.10 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ringleader-operator"]
