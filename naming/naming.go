// Package naming holds what every metric name of the exporter shares. It
// imports nothing, so that every package registering a metric (metrics,
// capacity, collector, upstream, live, otlp) can use it without depending
// on another's code.
package naming

// Namespace is the first word of every metric name the exporter serves
// (smartassist_*, smartassist_exporter_*, smartassist_capacity_*).
const Namespace = "smartassist"
