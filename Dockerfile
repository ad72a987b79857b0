# syntax=docker/dockerfile:1

# Build stage: a static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tenantgraph .

# Run stage: a small Debian with a shell (compose chains migrate, demo and
# serve) and CA certificates (for sign-in providers).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin tenantgraph
COPY --from=build /out/tenantgraph /usr/local/bin/tenantgraph
USER tenantgraph
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
CMD ["tenantgraph", "serve", "--listen-addr", "0.0.0.0:8080"]
