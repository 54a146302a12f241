package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/notify"
	"github.com/vigil-iomt/vigil/internal/stream"
	"github.com/vigil-iomt/vigil/web"
)

// serve runs Vigil until ctx is cancelled or a component fails.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := newLogger(stderr, cfg.LogLevel)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	streamName, subjects := "", ""
	if ns := cfg.NATSNamespace; ns != "" {
		streamName, subjects = "READINGS_"+strings.ToUpper(ns), "vigil."+ns+".r"
	}
	lg, err := stream.Open(ctx, stream.Config{
		StreamName:    streamName,
		SubjectPrefix: subjects,
		DataDir:       filepath.Join(cfg.DataDir, "nats"),
		URL:           cfg.NATSURL,
		Partitions:    cfg.Partitions,
		Replicas:      cfg.StreamReplicas,
		MaxAge:        cfg.Retention,
	}, log, reg)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer lg.Close()

	trail := audit.New(st, time.Now, log)
	authn := auth.NewService(st, trail, time.Now, log, auth.Options{})
	generated, err := authn.EnsureProviderAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("provider admin: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(stdout, "created provider admin: username admin, password %s (shown once; set VIGIL_ADMIN_PASSWORD to choose it)\n", generated)
	}

	pipe := ingest.NewPipeline(lg, time.Now, ingest.NewMetrics(reg))
	tlsCfg, tlsNote, err := tlsConfig(cfg, filepath.Join(cfg.DataDir, "tls"))
	if err != nil {
		return err
	}
	broker, err := newBroker(cfg, st, authn, trail, pipe, reg, log)
	if err != nil {
		return err
	}
	bridges, err := newBridges(cfg, st, pipe, reg, log)
	if err != nil {
		return err
	}
	var alarmMQTT notify.MQTTPublisher // no typed nil: the channel is off without a broker
	if broker != nil {
		alarmMQTT = broker
	}
	clin, err := newClinical(ctx, st, lg, log)
	if err != nil {
		return err
	}
	alarms, outbox, err := newAlarms(ctx, cfg, st, lg, alarmMQTT, reg, log, clin.Attributor())
	if err != nil {
		return err
	}
	if alarms != nil {
		pipe.PaceBy(alarms) // acknowledgements wait while alarm evaluation lags (alarmproc.PaceBound)
	}
	cold, err := newColdChain(ctx, cfg, st, lg, alarms, trail, authn.Options(), reg, log)
	if err != nil {
		return err
	}
	if alarms != nil {
		alarms.SetIntervals(cold) // NO_DATA judges cold-chain sensors by their logging interval
	}
	api := httpapi.New(httpapi.Config{
		Alarms: alarmsAPI(alarms),
		Care:   careStore(st),
		Store:  st,
		Auth:   authn,
		Audit:  trail,
		Verify: func(ctx context.Context) (any, error) { return audit.Verify(ctx, st) },
		Ingest: pipe,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			Registry: reg, ErrorLog: slogErrorLog{log},
		}),
		Ready: func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return errors.Join(lg.Ready(ctx), st.Ping(ctx))
		},
		Log:           log,
		SecureCookies: tlsCfg != nil,
		Live:          lg,
		Registerer:    reg,
		Console:       web.Handler(),
		Clinical:      clinicalAPI(clin, alarms),
		ColdChain:     coldChainAPI(cold),
	})

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	baseURL := fmt.Sprintf("%s://%s", scheme, ln.Addr().String())
	selfURL := baseURL // how this process reaches itself (the demo fleet)
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		selfURL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, tcp.Port)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	g.Go(func() error {
		if err := lg.RunWriter(gctx, st); err != nil && gctx.Err() == nil {
			return fmt.Errorf("store writer: %w", err)
		}
		return nil
	})
	leader, err := newLeaderGauge(reg)
	if err != nil {
		return err
	}
	g.Go(func() error {
		return runAlarms(gctx, lg, leaseHolder(cfg.DataDir), alarms, outbox, leader, clinicalRun(clin), cold.Run)
	})
	if broker != nil {
		g.Go(func() error { return broker.Run(gctx) })
	}
	if cfg.DebugAddr != "" {
		g.Go(func() error { return serveDebug(gctx, cfg.DebugAddr) })
	}
	for _, b := range bridges {
		g.Go(func() error {
			if err := b.Run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("bridge: %w", err)
			}
			return nil
		})
	}
	if cfg.Demo {
		g.Go(func() error {
			if err := runDemo(gctx, cfg, st, trail, selfURL, tlsCfg, stdout, log); err != nil && gctx.Err() == nil {
				return fmt.Errorf("demo: %w", err)
			}
			return nil
		})
	}
	log.Info("vigil started", "version", buildVersion(), "addr", ln.Addr().String(), "tls", tlsCfg != nil,
		"log", logKind(cfg), "store", storeKind(cfg))
	if tlsNote != "" {
		log.Warn("tls", "note", tlsNote)
	}
	fmt.Fprintf(stdout, "vigil listening on %s\n", baseURL)
	err = g.Wait()
	log.Info("vigil stopped")
	return err
}

func logKind(cfg Config) string {
	if cfg.NATSURL != "" {
		return "external NATS"
	}
	return "embedded NATS"
}

func storeKind(cfg Config) string {
	if cfg.DatabaseURL != "" {
		return "postgresql"
	}
	return "sqlite"
}

// slogErrorLog adapts slog to promhttp's error logger.
type slogErrorLog struct{ log *slog.Logger }

func (l slogErrorLog) Println(v ...any) { l.log.Error("metrics", "err", fmt.Sprint(v...)) }

var _ promhttp.Logger = slogErrorLog{}
