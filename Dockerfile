# moor's image: the static moor binary and nothing else (no shell, no git, no
# CA bundle; CA roots are compiled into the binary, and local repositories
# are read without git). It builds without pulling anything, in two steps:
#
#   1. build the binary outside Docker:
#        CGO_ENABLED=0 GOOS=linux go build -trimpath \
#          -ldflags "-s -w -X main.Version=v1.2.3" -o build/moor ./cmd/moor
#   2. build the image from a context that holds it:
#        docker build -f Dockerfile --build-arg VERSION=v1.2.3 -t moor:v1.2.3 build
#
# scripts/image does both. Run it with the Docker socket and a state volume:
#
#   docker run -d --name moor --restart unless-stopped \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/moor:/var/lib/moor \
#     moor:v1.2.3 run --repo https://git.example.com/ops/deploy.git
#
# (examples/moor-in-docker explains why the state directory is best a host
# directory mounted at the same path.)
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="moor" \
      org.opencontainers.image.description="keeps a Docker host moored to a Git repository of compose stacks" \
      org.opencontainers.image.source="https://github.com/moor-dev/moor" \
      org.opencontainers.image.version="$VERSION"
COPY moor /moor
ENV MOOR_STATE_DIR=/var/lib/moor
VOLUME /var/lib/moor
ENTRYPOINT ["/moor"]
CMD ["run", "--config", "/etc/moor/moor.yaml"]
