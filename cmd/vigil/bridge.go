package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/bridge"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/store"
)

// validateBridges parses every --bridge URL and reports all problems at once.
func (c Config) validateBridges() error {
	var errs []error
	for _, raw := range c.Bridges {
		if _, err := bridge.Parse(raw); err != nil {
			errs = append(errs, fmt.Errorf("--bridge: %w", err))
		}
	}
	return errors.Join(errs...)
}

// newBridges builds one bridge per --bridge URL. A bridge's tenant need not exist yet: each
// message is checked against the device registry when it arrives.
func newBridges(cfg Config, st store.Store, pipe *ingest.Pipeline, reg prometheus.Registerer, log *slog.Logger) ([]*bridge.Bridge, error) {
	if len(cfg.Bridges) == 0 {
		return nil, nil
	}
	m := bridge.NewMetrics(reg)
	var out []*bridge.Bridge
	for _, raw := range cfg.Bridges {
		bc, err := bridge.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("--bridge: %w", err)
		}
		b, err := bridge.New(bc, st, pipe, log.With("component", "bridge"), m)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
