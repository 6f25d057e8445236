# Build the single telefhir binary, then run it on a small base image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/telefhir ./cmd/telefhir

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/telefhir /usr/local/bin/telefhir
ENV TELEFHIR_ADDR=0.0.0.0:8080 \
    TELEFHIR_DATA_DIR=/var/lib/telefhir
VOLUME ["/var/lib/telefhir"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/telefhir"]
CMD ["serve"]
