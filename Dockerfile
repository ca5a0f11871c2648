# arca's container image: one static binary on an empty base, run as a
# non-root user, with CA certificates (for proxies of public registries and
# S3 over HTTPS) and a /data volume.
#
#   docker build -t arca .
#   docker run -d --name arca -p 8080:8080 -p 9000:9000 -v arca-data:/data arca
#   docker logs arca        # the admin's generated password, once
#
# See docs/operations.md ("Containers").
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/arca ./cmd/arca
# The data directory and /tmp, owned by the runtime user (the root
# filesystem may be mounted read-only; both are then volumes).
RUN mkdir -p /out/data /out/tmp && chown 65532:65532 /out/data && chmod 1777 /out/tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/arca /usr/local/bin/arca
COPY --from=build /out/data /data
COPY --from=build /out/tmp /tmp
ENV ARCA_DATA_DIR=/data ARCA_ADDR=:8080 ARCA_S3_ADDR=:9000 ARCA_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080 9000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s CMD ["/usr/local/bin/arca", "probe"]
ENTRYPOINT ["/usr/local/bin/arca"]
CMD ["serve"]
