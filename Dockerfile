# syntax=docker/dockerfile:1
# The Lokal server image: `docker build -t lokal .`, or `docker compose up --build` with
# docker-compose.yml (PostgreSQL and OpenLDAP next to it).

# ---- build -------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
# The LDAP client's TLS (native-tls) links against OpenSSL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Everything the build reads: the manifest names the benches, sqlx::migrate! embeds
# migrations/, and the sources may embed files from elsewhere in the repository.
# .dockerignore keeps target/, data/ and .git out.
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds; the binary is
# copied out of the cached target folder, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin lokal \
 && install -D -m 0755 target/release/lokal /out/lokal

# ---- run ---------------------------------------------------------------------------------
FROM debian:12-slim
# curl is for the health check in docker-compose.yml.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 lokal \
 && useradd --system --uid 10001 --gid lokal --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin lokal
WORKDIR /app
COPY --from=builder /out/lokal /usr/local/bin/lokal
# The defaults read these relative to the working directory: scheduling.policies is
# seed/policies.toml, scheduling.calendars is calendars/, and the directory defaults to
# file:seed/directory.ldif. web/ holds the portal's templates and static assets.
COPY seed/ seed/
COPY calendars/ calendars/
COPY web/ web/
# The default store is SQLite at data/lokal.db (docker-compose.yml uses PostgreSQL instead);
# everything else in /app stays read-only for the server.
RUN mkdir -p data && chown lokal:lokal data
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["lokal"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
