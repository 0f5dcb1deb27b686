# One image holding bin/mr, the apps in apps/ and the sample texts, for
# deploy/k8s (docs/cluster.md):
#
#   docker build -t gomr:latest .
#
# Plugins must match the binary: Go loads an app plugin only into an mr
# binary built by the same toolchain, with the same flags and the same
# version of every package the two share. So both are built here, in one
# stage, by the Makefile, and a worker runs the app its master sends only
# when both run this image. Rebuild the image, and run master and workers
# from the new one, whenever the engine or an app changes; an app built
# elsewhere will not load.
#
# Not built or run against a live cluster by the tests (none runs here).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build apps APPS="$(ls apps | tr '\n' ' ')"

# The same Debian release as the build stage: plugins need cgo's libc.
FROM debian:bookworm-slim
COPY --from=build /src/bin/mr /mr/bin/mr
COPY --from=build /src/bin/apps/ /mr/bin/apps/
COPY --from=build /src/testdata/text-*.txt /mr/testdata/
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/mr/bin/mr"]
