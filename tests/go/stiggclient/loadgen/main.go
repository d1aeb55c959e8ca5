// Command loadgen drives GetBooleanEntitlement calls at a sidecar and reports latency percentiles.
//
// Closed loop (-rate 0): -concurrency workers call back to back for -duration. Open loop
// (-rate R): calls are scheduled every 1/R seconds and latency is measured from the scheduled
// time, so a server that falls behind is charged for the queueing it causes (no coordinated
// omission). Customers are drawn round-robin from -customers ids (customer-0 ... customer-N-1,
// or -customer for one id). Prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	sidecarv1 "github.com/stiggio/sidecar-sdk-go/generated/stigg/sidecar/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type result struct {
	Calls      int     `json:"calls"`
	Errors     int64   `json:"errors"`
	Denied     int64   `json:"denied"`
	Fallbacks  int64   `json:"fallbacks"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	P50us      float64 `json:"p50_us"`
	P90us      float64 `json:"p90_us"`
	P99us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1000
}

func main() {
	target := flag.String("target", "127.0.0.1:80", "sidecar address")
	concurrency := flag.Int("concurrency", 8, "workers (closed loop) or maximum calls in flight (open loop)")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	rate := flag.Float64("rate", 0, "calls per second (0: as fast as the workers go)")
	customers := flag.Int("customers", 1, "number of distinct customers (customer-0 ...)")
	customer := flag.String("customer", "", "a single customer id (overrides -customers)")
	feature := flag.String("feature", "feature-sso", "feature id")
	connections := flag.Int("connections", 1, "gRPC connections (HTTP/2 channels)")
	flag.Parse()

	conns := make([]sidecarv1.SidecarServiceClient, *connections)
	for i := range conns {
		conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer conn.Close()
		conns[i] = sidecarv1.NewSidecarServiceClient(conn)
	}
	ids := make([]string, *customers)
	for i := range ids {
		ids[i] = fmt.Sprintf("customer-%d", i)
	}
	if *customer != "" {
		ids = []string{*customer}
	}

	var next, errors, denied, fallbacks atomic.Int64
	call := func(n int64) {
		client := conns[int(n)%len(conns)]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.GetBooleanEntitlement(ctx, &sidecarv1.GetBooleanEntitlementRequest{
			CustomerId: ids[int(n)%len(ids)], FeatureId: *feature,
		})
		if err != nil {
			errors.Add(1)
			return
		}
		if !resp.HasAccess {
			denied.Add(1)
		}
		if resp.IsFallback {
			fallbacks.Add(1)
		}
	}

	latencies := make([][]time.Duration, *concurrency)
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	if *rate <= 0 {
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for time.Now().Before(deadline) {
					n := next.Add(1)
					began := time.Now()
					call(n)
					latencies[w] = append(latencies[w], time.Since(began))
				}
			}(w)
		}
	} else {
		interval := time.Duration(float64(time.Second) / *rate)
		slots := make(chan time.Time, 100000)
		go func() {
			for at := start; at.Before(deadline); at = at.Add(interval) {
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				slots <- at
			}
			close(slots)
		}()
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for scheduled := range slots {
					call(next.Add(1))
					latencies[w] = append(latencies[w], time.Since(scheduled))
				}
			}(w)
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out := result{
		Calls: len(all), Errors: errors.Load(), Denied: denied.Load(), Fallbacks: fallbacks.Load(),
		Seconds: elapsed, Throughput: float64(len(all)) / elapsed,
		P50us: percentile(all, 0.50), P90us: percentile(all, 0.90), P99us: percentile(all, 0.99),
		MaxUs: percentile(all, 1.0),
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
