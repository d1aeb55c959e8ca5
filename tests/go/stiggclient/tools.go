//go:build tools

// Package tools pins the protoc plugins that generate the stand-in SDK package.
package tools

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
