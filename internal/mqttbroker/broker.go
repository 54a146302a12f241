// Package mqttbroker is Vigil's embedded MQTT broker (MQTT 3.1.1 and 5, on mochi-mqtt v2): it
// authenticates devices (username = device id, password = device secret; or, on the TLS
// listener, a client certificate issued by the tenant's device CA, registering a device it does
// not know yet when the tenant enabled auto-provisioning) and users (username and an API token
// as password), enforces the topic ACL, and feeds every SenML pack a device
// publishes into ingest, answering a QoS 1 publish with PUBACK only after ingest returned, that
// is after the log has the readings on disk. It also records each device's connectivity in the
// registry, appends it to the log as "connected" readings (DEVICE_OFFLINE is decided from
// them) and announces it to the tenant's users. docs/mqtt.md is the operator's description.
//
// It does not relay device packs to other subscribers, keep broker sessions across restarts,
// nor bridge to other brokers. A Broker is safe for concurrent use; Run owns its goroutines.
package mqttbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Ingester decodes a device's pack and returns once its readings are durable
// (*ingest.Pipeline satisfies it).
type Ingester interface {
	Ingest(ctx context.Context, transport string, dev ingest.Device, payload []byte, contentType string) (int, error)
}

// StatusRecorder appends readings the broker itself observes about a device to the log, in
// the device's partition, returning once they are durable (*ingest.Pipeline satisfies it).
// When Config.Ingest implements it, the broker appends a "connected" reading
// (reading.Connectivity) each time a device's session opens or ends, from which the alarm
// engine decides DEVICE_OFFLINE; otherwise connectivity stays off the log.
type StatusRecorder interface {
	Record(ctx context.Context, dev ingest.Device, rs []reading.Reading) error
}

// Authenticator checks device secrets and users' API tokens (*auth.Service satisfies it).
type Authenticator interface {
	AuthenticateDevice(ctx context.Context, id, secret string) (store.Device, error)
	Authenticate(ctx context.Context, token string) (auth.Principal, error)
}

// ConnectionRecorder records a device's connectivity (store.Store satisfies it).
type ConnectionRecorder interface {
	SetDeviceConnection(ctx context.Context, tenant, id string, connected bool, at time.Time) error
}

// Config is the broker's configuration. Listener addresses that are empty are not opened.
type Config struct {
	TCPAddr string      // plain MQTT, e.g. 127.0.0.1:1884
	TLSAddr string      // MQTT over TLS (TLS required)
	WSAddr  string      // MQTT over WebSocket; wss when TLS is given for it
	TLS     *tls.Config // for TLSAddr
	WSTLS   *tls.Config // for WSAddr; nil: plain ws

	Ingest      Ingester
	Auth        Authenticator
	Connections ConnectionRecorder // may be nil: connectivity is then not recorded
	// Devices enables client-certificate authentication on the TLS listener (docs/mqtt.md,
	// "Client certificates"); nil: client certificates are neither requested nor used.
	Devices DeviceRegistry
	// Audit records auto-provisioned devices; required with Devices.
	Audit Auditor
	// CATTL is how long the tenants' device CAs are cached; default 10 s. A CA that is set
	// takes effect on the next connect it would verify; a CA removed, within CATTL.
	CATTL      time.Duration
	Registerer prometheus.Registerer
	Log        *slog.Logger
	Now        func() time.Time // default time.Now

	// IngestTimeout bounds one pack's decode and durable append; default 30 s. A pack that
	// times out is not acknowledged.
	IngestTimeout time.Duration
	// AuthTimeout bounds one CONNECT's credential check; default 10 s.
	AuthTimeout time.Duration
	// SessionExpiry caps how long a disconnected persistent session is kept; default 24 h.
	SessionExpiry time.Duration
}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg     Config
	log     *slog.Logger
	srv     *mqtt.Server
	hook    *hook
	conn    *connectivity
	certs   *certAuth // nil: client certificates are not used
	metrics *metrics
	addrs   map[string]net.Addr // listener id → bound address
	closing atomic.Bool         // Run is shutting down: disconnects from now on are the broker's own
}

// New opens the configured listeners (so an address in use fails here, not later) and prepares
// the broker; Run serves it.

// clientWritesPending bounds the messages queued for one MQTT client.
const clientWritesPending = 1024

func New(cfg Config) (*Broker, error) {
	if cfg.Ingest == nil || cfg.Auth == nil || cfg.Registerer == nil {
		return nil, errors.New("mqttbroker: Ingest, Auth and Registerer are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IngestTimeout <= 0 {
		cfg.IngestTimeout = 30 * time.Second
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if cfg.SessionExpiry <= 0 {
		cfg.SessionExpiry = 24 * time.Hour
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, fmt.Errorf("mqttbroker: TLS listener %s without a TLS configuration", cfg.TLSAddr)
	}
	if cfg.Devices != nil && cfg.Audit == nil {
		return nil, errors.New("mqttbroker: Devices (client certificates) needs Audit for auto-provisioning")
	}
	if cfg.CATTL <= 0 {
		cfg.CATTL = 10 * time.Second
	}
	if cfg.Devices != nil && cfg.TLS != nil && cfg.TLS.ClientAuth == tls.NoClientCert {
		// Request, not require: devices without a certificate authenticate by secret. The chain
		// is verified at CONNECT against the device's tenant's CA (the handshake still checks
		// that the client holds the certificate's key).
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.ClientAuth = tls.RequestClientCert
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1 // QoS 2 is downgraded to 1: PUBACK after the durable append is the guarantee
	caps.MaximumSessionExpiryInterval = uint32(cfg.SessionExpiry / time.Second)
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	// Outbound messages waiting for one client (commands to a device, events to a subscribed
	// integration): mochi's default of 8,192 allocates a 64 KiB queue per connection, most of
	// the memory of 10,000 idle devices. A client more than 1,024 messages behind is dropped
	// from, as mochi does at any bound (counted in vigil_mqtt_dropped_total and logged).
	caps.MaximumClientWritesPending = clientWritesPending
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true, // the broker itself publishes connectivity and, later, commands
		Logger:       slog.New(redactingHandler{cfg.Log.Handler()}),
	})
	b := &Broker{cfg: cfg, log: cfg.Log, srv: srv, metrics: newMetrics(cfg.Registerer), addrs: map[string]net.Addr{}}
	status, _ := cfg.Ingest.(StatusRecorder)
	b.conn = newConnectivity(cfg.Connections, status, srv, cfg.Log)
	b.hook = &hook{b: b}
	if cfg.Devices != nil {
		b.certs = &certAuth{reg: cfg.Devices, audit: cfg.Audit, ttl: cfg.CATTL, log: cfg.Log}
	}
	if err := srv.AddHook(b.hook, nil); err != nil {
		return nil, fmt.Errorf("mqttbroker: add hook: %w", err)
	}
	var opened []net.Listener
	closeAll := func() {
		for _, l := range opened {
			l.Close()
		}
	}
	for _, l := range []struct {
		id, addr string
		tls      *tls.Config
	}{{"tcp", cfg.TCPAddr, nil}, {"tls", cfg.TLSAddr, cfg.TLS}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("mqttbroker: listen %s (%s): %w", l.addr, l.id, err)
		}
		opened = append(opened, ln)
		b.addrs[l.id] = ln.Addr()
		if l.tls != nil {
			ln = tls.NewListener(ln, l.tls)
		}
		if err := srv.AddListener(&netListener{id: l.id, ln: ln}); err != nil {
			closeAll()
			return nil, fmt.Errorf("mqttbroker: add listener %s: %w", l.id, err)
		}
	}
	if cfg.WSAddr != "" {
		if err := srv.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: cfg.WSAddr, TLSConfig: cfg.WSTLS})); err != nil {
			closeAll()
			return nil, fmt.Errorf("mqttbroker: websocket listener %s: %w", cfg.WSAddr, err)
		}
	}
	return b, nil
}

// Addr returns the bound address of listener "tcp" or "tls", or nil if it is not configured.
func (b *Broker) Addr(listener string) net.Addr { return b.addrs[listener] }

// Run serves MQTT until ctx is cancelled, then disconnects every client and returns. Packs
// being ingested when ctx ends are not acknowledged.
func (b *Broker) Run(ctx context.Context) error {
	b.hook.setContext(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the connectivity writer; ends after the last client is gone
		defer wg.Done()
		b.conn.run(ctx, stop)
	}()
	shutdown := func() error {
		b.closing.Store(true)
		err := b.srv.Close()
		b.srv.Listeners.ClientsWg.Wait() // every client's OnDisconnect has run
		close(stop)
		wg.Wait()
		return err
	}
	if err := b.srv.Serve(); err != nil {
		return errors.Join(fmt.Errorf("mqttbroker: serve: %w", err), shutdown())
	}
	b.log.Info("mqtt broker started", "tcp", addrString(b.addrs["tcp"]), "tls", addrString(b.addrs["tls"]), "ws", b.cfg.WSAddr)
	<-ctx.Done()
	return shutdown()
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// netListener serves mochi clients from an already bound net.Listener (plain or TLS), so that
// New reports a busy address and tests can bind port 0 and learn the port.
type netListener struct {
	id string
	ln net.Listener

	mu     sync.Mutex // guards closed
	closed bool
}

func (l *netListener) ID() string                { return l.id }
func (l *netListener) Address() string           { return l.ln.Addr().String() }
func (l *netListener) Protocol() string          { return "tcp" }
func (l *netListener) Init(_ *slog.Logger) error { return nil }

func (l *netListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			_ = establish(l.id, conn) // mochi logs the connection's end itself
		}()
	}
}

func (l *netListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	closeClients(l.id)
	l.ln.Close()
}

// redactingHandler drops the attributes mochi attaches that carry payloads ("packet", "will"),
// so that no reading or patient data reaches the log.
type redactingHandler struct{ h slog.Handler }

func (r redactingHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "packet", "will", "pk":
		default:
			out.AddAttrs(a)
		}
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return redactingHandler{r.h.WithAttrs(as)}
}
func (r redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{r.h.WithGroup(name)}
}

// PublishAlarm publishes an alarm notification of tenant on AlarmTopic with QoS 1 through the
// broker's inline client (delivered to the tenant's subscribed users and integrations).
func (b *Broker) PublishAlarm(tenant string, payload []byte) error {
	if err := b.srv.Publish(AlarmTopic(tenant), payload, false, 1); err != nil {
		return fmt.Errorf("mqtt: publish alarm notification for tenant %s: %w", tenant, err)
	}
	return nil
}
