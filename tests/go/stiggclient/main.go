// Command stiggclient calls a sidecar through the Go SDK's generated client (package sidecarv1).
//
// It reads a JSON array of calls from stdin, [{"method": "GetBooleanEntitlement", "request": {...}}],
// where each request is the protobuf JSON of the method's request message, makes each call with
// sidecarv1.NewSidecarServiceClient, and prints one JSON line per call: {"response": {...}} or
// {"code": "INVALID_ARGUMENT", "message": "..."}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	sidecarv1 "github.com/stiggio/sidecar-sdk-go/generated/stigg/sidecar/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type call struct {
	Method  string          `json:"method"`
	Request json.RawMessage `json:"request"`
}

func invoke(ctx context.Context, client sidecarv1.SidecarServiceClient, c call) (proto.Message, error) {
	decode := func(m proto.Message) error { return protojson.Unmarshal(c.Request, m) }
	switch c.Method {
	case "GetBooleanEntitlement":
		req := &sidecarv1.GetBooleanEntitlementRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetBooleanEntitlement(ctx, req)
	case "GetNumericEntitlement":
		req := &sidecarv1.GetNumericEntitlementRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetNumericEntitlement(ctx, req)
	case "GetMeteredEntitlement":
		req := &sidecarv1.GetMeteredEntitlementRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetMeteredEntitlement(ctx, req)
	case "GetEnumEntitlement":
		req := &sidecarv1.GetEnumEntitlementRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetEnumEntitlement(ctx, req)
	case "GetEntitlement":
		req := &sidecarv1.GetEntitlementRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetEntitlement(ctx, req)
	case "GetEntitlements":
		req := &sidecarv1.GetEntitlementsRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetEntitlements(ctx, req)
	case "GetEntitlementV2":
		req := &sidecarv1.GetEntitlementV2Request{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetEntitlementV2(ctx, req)
	case "GetEntitlementsStateV2":
		req := &sidecarv1.GetEntitlementsStateV2Request{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.GetEntitlementsStateV2(ctx, req)
	case "ReportUsage":
		req := &sidecarv1.ReportUsageRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.ReportUsage(ctx, req)
	case "ReportUsageBulk":
		req := &sidecarv1.ReportUsageBulkRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.ReportUsageBulk(ctx, req)
	case "ReportEvents":
		req := &sidecarv1.ReportEventsRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.ReportEvents(ctx, req)
	case "ReloadEntitlements":
		req := &sidecarv1.ReloadEntitlementsRequest{}
		if err := decode(req); err != nil {
			return nil, err
		}
		return client.ReloadEntitlements(ctx, req)
	}
	return nil, fmt.Errorf("unknown method %q", c.Method)
}

func main() {
	target := flag.String("target", "127.0.0.1:80", "the sidecar's gRPC address")
	flag.Parse()

	var calls []call
	if err := json.NewDecoder(os.Stdin).Decode(&calls); err != nil {
		fmt.Fprintln(os.Stderr, "reading calls:", err)
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dialing:", err)
		os.Exit(2)
	}
	defer conn.Close()
	client := sidecarv1.NewSidecarServiceClient(conn)

	out := json.NewEncoder(os.Stdout)
	marshal := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		response, err := invoke(ctx, client, c)
		cancel()
		if err != nil {
			st, _ := status.FromError(err)
			_ = out.Encode(map[string]string{"code": st.Code().String(), "message": st.Message()})
			continue
		}
		text, _ := marshal.Marshal(response)
		_ = out.Encode(map[string]json.RawMessage{"response": text})
	}
}
