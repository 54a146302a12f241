package stream

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the log's Prometheus metrics, labelled with the stream name so that several logs
// can share one registry.
type metrics struct {
	appendedPacks    prometheus.Counter
	appendedReadings prometheus.Counter
	appendSeconds    prometheus.Histogram
	groups           prometheus.Counter
	groupPacks       prometheus.Histogram
	groupReadings    prometheus.Histogram
	publishErrors    prometheus.Counter

	writerBatches  prometheus.Counter
	writerReadings prometheus.Counter
	writerErrors   prometheus.Counter
	writerLag      prometheus.Gauge
	decodeFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, streamName string) (*metrics, error) {
	labels := prometheus.Labels{"stream": streamName}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "stream", Name: name, Help: help, ConstLabels: labels})
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "vigil", Subsystem: "stream", Name: name, Help: help, ConstLabels: labels, Buckets: buckets})
	}
	m := &metrics{
		appendedPacks:    counter("appended_packs_total", "Packs appended to the log and acknowledged by it."),
		appendedReadings: counter("appended_readings_total", "Readings appended to the log and acknowledged by it."),
		appendSeconds: histogram("append_seconds", "Time from Append to the log's acknowledgement.",
			prometheus.ExponentialBuckets(0.00025, 2, 14)),
		groups: counter("groups_total", "Group-commit messages published and acknowledged."),
		groupPacks: histogram("group_packs", "Packs per group-commit message.",
			prometheus.ExponentialBuckets(1, 2, 11)),
		groupReadings: histogram("group_readings", "Readings per group-commit message.",
			prometheus.ExponentialBuckets(1, 2, 16)),
		publishErrors:  counter("publish_errors_total", "Group publishes that failed; their appends returned an error."),
		writerBatches:  counter("writer_batches_total", "Store inserts made by the store writer."),
		writerReadings: counter("writer_readings_total", "Readings passed to the store by the store writer."),
		writerErrors:   counter("writer_insert_errors_total", "Store inserts that failed; their messages are redelivered."),
		writerLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vigil", Subsystem: "stream", Name: "writer_lag_messages", ConstLabels: labels,
			Help: "Messages not yet delivered to the store writer (consumer num_pending, sampled)."}),
		decodeFailures: counter("decode_failures_total", "Log messages that could not be decoded and were terminated."),
	}
	for _, c := range []prometheus.Collector{
		m.appendedPacks, m.appendedReadings, m.appendSeconds, m.groups, m.groupPacks, m.groupReadings,
		m.publishErrors, m.writerBatches, m.writerReadings, m.writerErrors, m.writerLag, m.decodeFailures,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("stream: register metrics for stream %s: %w", streamName, err)
		}
	}
	return m, nil
}
