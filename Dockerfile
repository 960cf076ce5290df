# The kargo image: one binary, and the git CLI it drives (with ssh, for ssh://
# repositories).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY api/go.mod api/go.sum ./api/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/kargo ./cmd/kargo

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/kargo /usr/local/bin/kargo
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kargo"]
