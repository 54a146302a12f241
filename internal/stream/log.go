package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by Append after Close has begun.
var ErrClosed = errors.New("stream: log is closed")

// embeddedMaxPayload is the embedded server's max_payload: room for a 1 MiB group plus headers.
const embeddedMaxPayload = 2 << 20

// Config configures the log. The zero value of every field but DataDir/URL picks its default.
type Config struct {
	// DataDir is the embedded JetStream store directory. Used only when URL is empty.
	DataDir string
	// URL of an external NATS server with JetStream, such as nats://127.0.0.1:4222. When set,
	// no server is embedded.
	URL string
	// StreamName is the JetStream stream (default "READINGS").
	StreamName string
	// SubjectPrefix starts every subject, <prefix>.<tenant>.<partition> (default "vigil.r").
	SubjectPrefix string
	// Partitions per tenant (default 8).
	Partitions int
	// Replicas of the stream (default 1; 3 when scaled out).
	Replicas int
	// MaxAge is how long the stream keeps a message (default 7 days).
	MaxAge time.Duration
	// DuplicateWindow is how long JetStream remembers message ids (default 2 minutes).
	DuplicateWindow time.Duration
	// MaxGroupBytes caps one log message (default 1 MiB, lowered to stay 64 KiB below the
	// server's max_payload). A pack larger than this is refused.
	MaxGroupBytes int
	// MaxPendingBytes caps the encoded packs waiting on one subject (default 16 MiB); Append
	// blocks while it is reached.
	MaxPendingBytes int
	// PublishTimeout bounds one publish, retries included (default 10 s).
	PublishTimeout time.Duration
	// WriterMaxReadings is the number of readings after which the store writer stops coalescing
	// messages into one insert (default 20,000). The writer coalesces only what is already
	// waiting, so batches grow only when it lags; then a bigger batch writes each series' leaf
	// page and its latest value once for more readings (with 1,000 devices, 20,000-reading
	// batches store about twice as fast as 5,000: BenchmarkInsertReadings).
	WriterMaxReadings int
	// WriterMaxAckPending is the store writer's consumer MaxAckPending (default 4096 messages).
	WriterMaxAckPending int
	// WriterRetryDelay is the delay before a message whose insert failed is redelivered
	// (default 2 s).
	WriterRetryDelay time.Duration
	// WriterAckWait is how long the server waits for the writer's ack before redelivering
	// (default 30 s).
	WriterAckWait time.Duration
	// LagInterval is how often the writer samples its consumer's pending count (default 5 s).
	LagInterval time.Duration
}

func (c *Config) setDefaults() {
	setDefault(&c.StreamName, "READINGS")
	setDefault(&c.SubjectPrefix, "vigil.r")
	setDefault(&c.Partitions, 8)
	setDefault(&c.Replicas, 1)
	setDefault(&c.MaxAge, 7*24*time.Hour)
	setDefault(&c.DuplicateWindow, 2*time.Minute)
	setDefault(&c.MaxGroupBytes, 1<<20)
	setDefault(&c.MaxPendingBytes, 16<<20)
	setDefault(&c.PublishTimeout, 10*time.Second)
	setDefault(&c.WriterMaxReadings, 20_000)
	setDefault(&c.WriterMaxAckPending, 4096)
	setDefault(&c.WriterRetryDelay, 2*time.Second)
	setDefault(&c.WriterAckWait, 30*time.Second)
	setDefault(&c.LagInterval, 5*time.Second)
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("stream: one of DataDir and URL is required"))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("stream: partitions %d is negative", c.Partitions))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("stream: replicas %d is outside 1..5", c.Replicas))
	}
	if c.MaxGroupBytes < 0 || c.MaxPendingBytes < 0 {
		errs = append(errs, errors.New("stream: MaxGroupBytes and MaxPendingBytes must not be negative"))
	}
	if c.MaxPendingBytes > 0 && c.MaxGroupBytes > c.MaxPendingBytes {
		errs = append(errs, fmt.Errorf("stream: MaxGroupBytes %d exceeds MaxPendingBytes %d", c.MaxGroupBytes, c.MaxPendingBytes))
	}
	for _, tok := range [...]struct{ name, v string }{{"stream name", c.StreamName}, {"subject prefix", c.SubjectPrefix}} {
		for _, r := range tok.v {
			if r == ' ' || r == '*' || r == '>' || (r == '.' && tok.name == "stream name") {
				errs = append(errs, fmt.Errorf("stream: %s %q contains %q", tok.name, tok.v, r))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Log is the readings log. Create it with Open.
type Log struct {
	cfg     Config
	log     *slog.Logger
	srv     *server.Server // nil with an external server
	nc      *nats.Conn
	js      jetstream.JetStream
	metrics *metrics

	// closing is cancelled by Close: it ends publishes that still wait for a retry.
	closing context.Context
	cancel  context.CancelFunc

	mu     sync.Mutex        // guards the fields below
	lanes  map[laneKey]*lane // by tenant and partition
	closed bool

	appends sync.WaitGroup // one per Append in progress; Add only under mu while !closed
	lanesW  sync.WaitGroup // one per running runLane goroutine
}

// Open starts (or connects to) the NATS server and creates or updates the stream.
func Open(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{cfg: cfg, log: log, lanes: make(map[laneKey]*lane)}
	opts := []nats.Option{
		nats.Name("vigil"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }),
	}
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		l.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		l.shutdownServer()
		return nil, fmt.Errorf("stream: connect to nats %q: %w", url, err)
	}
	l.nc = nc
	if lim := int(nc.MaxPayload()) - 64<<10; l.cfg.MaxGroupBytes > lim {
		l.cfg.MaxGroupBytes = max(lim, 64<<10)
	}
	l.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(cfg.PublishTimeout))
	if err != nil {
		l.closeConn()
		return nil, fmt.Errorf("stream: jetstream context: %w", err)
	}
	if err := l.ensureStream(ctx); err != nil {
		l.closeConn()
		return nil, err
	}
	l.metrics, err = newMetrics(reg, cfg.StreamName)
	if err != nil {
		l.closeConn()
		return nil, err
	}
	l.closing, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return l, nil
}

func startEmbedded(dir string, log *slog.Logger) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "vigil",
		JetStream:  true,
		StoreDir:   dir,
		// Durable means on disk: JetStream fsyncs every write before acknowledging it
		// (filestore.go: msgBlock.flushPendingMsgsLocked syncs when SyncAlways is set).
		SyncAlways: true,
		DontListen: true, // clients connect in process only
		NoSigs:     true,
		MaxPayload: embeddedMaxPayload,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: embedded nats server in %s: %w", dir, err)
	}
	srv.SetLoggerV2(serverLogger{log.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("stream: embedded nats server in %s not ready after 30s", dir)
	}
	return srv, nil
}

func (l *Log) ensureStream(ctx context.Context) error {
	sc := jetstream.StreamConfig{
		Name:        l.cfg.StreamName,
		Description: "Vigil readings: <prefix>.<tenant>.<partition>",
		Subjects:    []string{l.cfg.SubjectPrefix + ".*.*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    l.cfg.Replicas,
		MaxAge:      l.cfg.MaxAge,
		Duplicates:  l.cfg.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     -1,
		MaxBytes:    -1,
	}
	if _, err := l.js.CreateOrUpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("stream: create or update stream %s: %w", l.cfg.StreamName, err)
	}
	return nil
}

// Ready reports whether the log can take appends: connected, and the stream answers.
func (l *Log) Ready(ctx context.Context) error {
	if st := l.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("stream: nats connection is %s", st)
	}
	if _, err := l.js.Stream(ctx, l.cfg.StreamName); err != nil {
		return fmt.Errorf("stream: stream %s: %w", l.cfg.StreamName, err)
	}
	return nil
}

// Close refuses new appends, waits for the groups in flight to be published (or to fail), and
// closes the connection and the embedded server. Stop RunWriter (cancel its context) first.
func (l *Log) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.appends.Wait()
	l.lanesW.Wait()
	l.cancel()
	l.closeConn()
}

func (l *Log) closeConn() {
	if l.nc != nil {
		l.nc.Close()
	}
	l.shutdownServer()
}

func (l *Log) shutdownServer() {
	if l.srv != nil {
		l.srv.Shutdown()
		l.srv.WaitForShutdown()
	}
}

// serverLogger sends the embedded server's log to slog.
type serverLogger struct{ log *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.log.Info(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.log.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.log.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.log.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.log.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.log.Debug(fmt.Sprintf(format, v...)) }
