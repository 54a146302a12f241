// Package ingest is the path of every reading into Vigil: decode a device's payload, validate
// and normalise it into readings, append them to the log, and only then report success, so
// that the caller (HTTP 202, MQTT PUBACK) acknowledges nothing that is not durable.
//
// A payload is accepted whole or rejected whole. The Pipeline is safe for concurrent use.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/senml"
)

// Appender appends readings to the log and returns once they are durable.
type Appender interface {
	Append(ctx context.Context, tenant, partitionKey string, rs []reading.Reading) error
}

// Device is the authenticated device a payload came from.
type Device struct {
	Tenant    string
	ID        string
	Kind      string
	Subject   string
	BaseNames []string
}

// Rejection reasons, used as the "reason" label of the rejected-readings metric.
const (
	ReasonMalformed   = "malformed"
	ReasonTooLarge    = "too_large"
	ReasonMediaType   = "unsupported_media_type"
	ReasonUnavailable = "log_unavailable"
	ReasonAuth        = "auth"
)

// UnavailableError reports that the log did not take the readings; the device should retry.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "log unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Metrics are the pipeline's Prometheus collectors.
type Metrics struct {
	Accepted *prometheus.CounterVec   // readings accepted, by transport
	Rejected *prometheus.CounterVec   // payloads rejected, by transport and reason
	Latency  *prometheus.HistogramVec // decode+append time per payload, by transport
}

// NewMetrics creates the pipeline's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_readings_accepted_total",
			Help: "Readings accepted and durable in the log.",
		}, []string{"transport"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_payloads_rejected_total",
			Help: "Payloads rejected, by reason.",
		}, []string{"transport", "reason"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_ingest_latency_seconds",
			Help:    "Time from a payload's arrival to its acknowledgement (decode, durable append, and pacing while alarm evaluation lags).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5},
		}, []string{"transport"}),
	}
	reg.MustRegister(m.Accepted, m.Rejected, m.Latency)
	return m
}

// Pipeline decodes payloads and appends their readings to the log.
type Pipeline struct {
	log     Appender
	now     func() time.Time
	metrics *Metrics
	pacer   Pacer
}

// Pacer holds an acknowledgement back while a processor that must see every reading soon (the
// alarm engine) lags behind the log: devices then send no faster than alarms are evaluated.
// Pace returns once the processor has reached readings received shortly before received, or
// after a bound of its own; *alarmproc.Service implements it.
type Pacer interface {
	Pace(ctx context.Context, received time.Time)
}

// PaceBy makes every acknowledgement wait for pc. Call it before the first Ingest.
func (p *Pipeline) PaceBy(pc Pacer) { p.pacer = pc }

// NewPipeline returns a pipeline appending to log. now is the server clock (time.Now).
func NewPipeline(log Appender, now func() time.Time, m *Metrics) *Pipeline {
	return &Pipeline{log: log, now: now, metrics: m}
}

// Ingest decodes payload (SenML JSON or CBOR, chosen by contentType, sniffed when it is
// empty), appends its readings and returns how many were accepted. Errors are *senml.Error
// (malformed, with the record and field), errors wrapping senml.ErrTooLarge,
// *senml.MediaTypeError, or *UnavailableError.
func (p *Pipeline) Ingest(ctx context.Context, transport string, dev Device, payload []byte, contentType string) (int, error) {
	start := p.now()
	rs, err := p.decode(dev, payload, contentType, start)
	if err != nil {
		p.metrics.Rejected.WithLabelValues(transport, Reason(err)).Inc()
		return 0, err
	}
	if err := p.log.Append(ctx, dev.Tenant, dev.ID, rs); err != nil {
		p.metrics.Rejected.WithLabelValues(transport, ReasonUnavailable).Inc()
		return 0, &UnavailableError{Err: fmt.Errorf("append %d readings of device %s: %w", len(rs), dev.ID, err)}
	}
	if p.pacer != nil {
		p.pacer.Pace(ctx, start)
	}
	p.metrics.Accepted.WithLabelValues(transport).Add(float64(len(rs)))
	p.metrics.Latency.WithLabelValues(transport).Observe(p.now().Sub(start).Seconds())
	return len(rs), nil
}

// Record appends readings Vigil itself observed about dev, not decoded from a payload (the
// connectivity readings the MQTT broker appends when a session opens or ends), to dev's
// partition of the log like dev's own readings, so processors see them in order with them. It
// returns once they are durable. Each reading must be dev's and valid (reading.Validate); an
// append that fails returns *UnavailableError. They are not counted as accepted readings nor
// paced: no device waits for them.
func (p *Pipeline) Record(ctx context.Context, dev Device, rs []reading.Reading) error {
	var errs []error
	for i := range rs {
		r := &rs[i]
		if r.Tenant != dev.Tenant || r.Device != dev.ID {
			errs = append(errs, fmt.Errorf("reading %d: of device %s/%s, not %s/%s", i, r.Tenant, r.Device, dev.Tenant, dev.ID))
		} else if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("reading %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("record readings of device %s: %w", dev.ID, err)
	}
	if err := p.log.Append(ctx, dev.Tenant, dev.ID, rs); err != nil {
		return &UnavailableError{Err: fmt.Errorf("append %d recorded readings of device %s: %w", len(rs), dev.ID, err)}
	}
	return nil
}

func (p *Pipeline) decode(dev Device, payload []byte, contentType string, now time.Time) ([]reading.Reading, error) {
	recs, err := senml.Decode(payload, contentType, now)
	if err != nil {
		return nil, err
	}
	return senml.ToReadings(recs, senml.Device{
		Tenant: dev.Tenant, ID: dev.ID, Kind: dev.Kind, Subject: dev.Subject, BaseNames: dev.BaseNames,
	}, now)
}

// Reason classifies a rejection for metrics and logs.
func Reason(err error) string {
	var mt *senml.MediaTypeError
	var un *UnavailableError
	switch {
	case errors.Is(err, senml.ErrTooLarge):
		return ReasonTooLarge
	case errors.As(err, &mt):
		return ReasonMediaType
	case errors.As(err, &un):
		return ReasonUnavailable
	}
	return ReasonMalformed
}
