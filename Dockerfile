# Build stage: the release binary (templates, migrations and static files are embedded).
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked

# Runtime stage: the binary alone, run as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/portico --create-home portico
COPY --from=builder /src/target/release/portico /usr/local/bin/portico
USER portico
WORKDIR /var/lib/portico
ENV PORTICO_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/portico"]
CMD ["serve"]
