//go:build tools

// Package tools pins the Prometheus commands this wrapper module builds: prometheus (the live
// scrape and alert tests) and promtool (the alert rules' unit tests).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
