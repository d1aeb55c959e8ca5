// A Go client of the sidecar, shaped like Stigg's Go SDK (package sidecarv1, NewSidecarServiceClient).
// Stigg's own module is not served by the Go module proxy here, so the test generates a stand-in
// package with the same import path from our proto (see tests/sidecar/go_client.py).
module stigg.local/stiggclient

go 1.26.0

require (
	github.com/stiggio/sidecar-sdk-go v0.0.0-00010101000000-000000000000
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2
)

replace github.com/stiggio/sidecar-sdk-go => ./sdk
