package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/notify"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/stream"
)

// alarmStore is the store as the alarm processor and the outbox use it.
type alarmStore interface {
	store.Store
	store.AlarmStore
	store.CareStore
}

// alarmsAPI is svc as the API's optional alarm service (a nil interface when svc is nil).
func alarmsAPI(svc *alarmproc.Service) httpapi.Alarms {
	if svc == nil {
		return nil
	}
	return svc
}

// careStore is st's care team, or nil when the backend keeps none.
func careStore(st store.Store) store.CareStore {
	cs, _ := st.(store.CareStore)
	return cs
}

// newAlarms builds the alarm processor and the outbox deliverer on st. Both backends
// (SQLite and PostgreSQL) implement store.AlarmStore; a store that does not is refused rather
// than run without alarms.
func newAlarms(ctx context.Context, cfg Config, st store.Store, lg *stream.Log, mqttPub notify.MQTTPublisher, reg prometheus.Registerer, log *slog.Logger, subjects alarmproc.SubjectResolver) (*alarmproc.Service, *notify.Deliverer, error) {
	as, ok := st.(alarmStore)
	if !ok {
		return nil, nil, fmt.Errorf("alarms: store %T does not implement store.AlarmStore and store.CareStore", st)
	}
	// Before checkpoints the processor read the log through the durable consumer "alarms".
	if err := lg.RemoveConsumer(ctx, "alarms"); err != nil {
		log.Warn("could not remove the old alarm consumer", "err", err)
	}
	svc, err := alarmproc.New(ctx, alarmproc.Config{Log: lg, Bus: lg, Store: as, Logger: log.With("component", "alarms"), Registerer: reg, Subjects: subjects})
	if err != nil {
		return nil, nil, err
	}
	nc := notify.Config{Outbox: as, Logger: log.With("component", "notify"), Registerer: reg, MQTT: mqttPub}
	if cfg.SMTPAddr != "" {
		nc.SMTP = &notify.SMTP{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUser, Password: cfg.SMTPPassword}
	}
	d, err := notify.New(nc)
	if err != nil {
		return nil, nil, err
	}
	return svc, d, nil
}

// runAlarms runs the alarm processor and the outbox deliverer on the node that holds the
// processors' lease (stream.RunLeased): on one node, at once; scaled out, on one node at a
// time, the others standing by (their API forwards alarm commands over the bus). holder names
// this node: host and data directory, stable across restarts.
// Other processors that feed the engine (also) run with it, under the same lease.
func runAlarms(ctx context.Context, lg *stream.Log, holder string, svc *alarmproc.Service, d *notify.Deliverer, leader prometheus.Gauge, also ...func(context.Context) error) error {
	if svc == nil {
		return nil
	}
	defer svc.Close()
	return lg.RunLeased(ctx, "processors", holder, 0, func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			if err := svc.Run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("alarm processor: %w", err)
			}
			return nil
		})
		g.Go(func() error { return d.Run(gctx) })
		for _, run := range also {
			g.Go(func() error { return run(gctx) })
		}
		return g.Wait()
	}, func(held bool) {
		if held {
			leader.Set(1)
		} else {
			leader.Set(0)
		}
	})
}

// leaseHolder names this node in the processors' lease: host name and absolute data directory.
func leaseHolder(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	return host + ":" + dataDir
}

// newLeaderGauge registers vigil_processors_leader: 1 on the node running the processors.
func newLeaderGauge(reg prometheus.Registerer) (prometheus.Gauge, error) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vigil", Name: "processors_leader",
		Help: "1 while this node holds the processors' lease (alarm engine, outbox, clinical and cold-chain processors)."})
	if err := reg.Register(g); err != nil {
		return nil, fmt.Errorf("register vigil_processors_leader: %w", err)
	}
	return g, nil
}
