// Package bridge subscribes to external MQTT brokers — a site gateway's Mosquitto, say — and
// ingests what arrives through the same decoding, durable append and de-duplication as Vigil's
// own listeners.
//
// A bridge holds a persistent session (clean session off, a fixed client id) and subscribes
// with QoS 1 and manual acknowledgement: a message is acknowledged to the external broker only
// after its readings are durable in Vigil's log, so a message that arrives while Vigil is down
// or whose append fails is delivered again by the external broker. A malformed pack, or one
// from a device that is unknown, revoked or of another tenant, is acknowledged (sending it
// again would not help), counted in a metric and logged. Each topic names its device through a
// {device} placeholder; the bridge ingests only for devices registered in its tenant.
//
// A Bridge is safe for concurrent use; Run owns its connection.
package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Config is one bridge.
type Config struct {
	Broker   string // tcp://host:port, ssl://host:port or ws://…, as paho takes it
	Username string
	Password string
	Topic    string // topic pattern with one {device} level, e.g. "site1/{device}/senml"
	Tenant   string // the tenant whose devices this bridge may ingest for
	ClientID string // persistent session id; default derived from broker, topic and tenant
}

// Parse reads a bridge URL: mqtt://[user:pass@]host[:port]?topic=PATTERN&tenant=ID[&client_id=ID]
// (mqtts:// for TLS, ws:// and wss:// for WebSocket). PATTERN has exactly one level that is
// "{device}"; it may use "+" and a final "#" elsewhere, written as they are (or %2B, %23).
func Parse(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("bridge %q: %w", redact(raw), err)
	}
	var c Config
	switch u.Scheme {
	case "mqtt", "tcp":
		c.Broker = "tcp://" + hostPort(u.Host, "1883")
	case "mqtts", "ssl", "tls":
		c.Broker = "ssl://" + hostPort(u.Host, "8883")
	case "ws", "wss":
		c.Broker = u.Scheme + "://" + u.Host + u.Path
	default:
		return Config{}, fmt.Errorf("bridge %q: scheme %q: want mqtt, mqtts, ws or wss", redact(raw), u.Scheme)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	// The query is split by hand: url.ParseQuery reads "+" as a space, and MQTT filters use "+"
	// and "#" (which url.Parse has already cut off as the fragment).
	query := u.RawQuery
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		query += "%23" + u.EscapedFragment()
	}
	for kv := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		val, err := url.PathUnescape(v)
		if err != nil {
			return Config{}, fmt.Errorf("bridge %q: %s: %w", redact(raw), k, err)
		}
		switch k {
		case "topic":
			c.Topic = val
		case "tenant":
			c.Tenant = val
		case "client_id":
			c.ClientID = val
		case "":
		default:
			return Config{}, fmt.Errorf("bridge %q: unknown parameter %q (want topic, tenant, client_id)", redact(raw), k)
		}
	}
	return c, c.Validate()
}

func hostPort(h, port string) string {
	if strings.Contains(h, ":") {
		return h
	}
	return h + ":" + port
}

// redact hides a password in a bridge URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Broker == "" {
		errs = append(errs, errors.New("broker address missing"))
	}
	if c.Tenant == "" {
		errs = append(errs, errors.New("tenant missing (?tenant=ID)"))
	}
	levels := strings.Split(c.Topic, "/")
	n := 0
	for i, l := range levels {
		switch {
		case l == "{device}":
			n++
		case l == "#" && i != len(levels)-1:
			errs = append(errs, fmt.Errorf("topic %q: # must be the last level", c.Topic))
		case strings.ContainsAny(l, "{}") || (strings.ContainsAny(l, "+#") && len(l) > 1):
			errs = append(errs, fmt.Errorf("topic %q: level %q is not valid", c.Topic, l))
		}
	}
	if n != 1 {
		errs = append(errs, fmt.Errorf("topic %q: want exactly one {device} level (?topic=site/{device}/senml)", c.Topic))
	}
	return errors.Join(errs...)
}

// filter is the subscription filter: the pattern with {device} as "+".
func (c Config) filter() string { return strings.ReplaceAll(c.Topic, "{device}", "+") }

// device extracts the device id from a topic that matched the filter.
func (c Config) device(topic string) (string, bool) {
	pl, tl := strings.Split(c.Topic, "/"), strings.Split(topic, "/")
	for i, l := range pl {
		if i >= len(tl) {
			return "", false
		}
		if l == "{device}" {
			return tl[i], tl[i] != ""
		}
	}
	return "", false
}

func (c Config) clientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	h := sha256.Sum256([]byte(c.Broker + "\x00" + c.Topic + "\x00" + c.Tenant))
	return "vigil-bridge-" + hex.EncodeToString(h[:6])
}

// contentType chooses the SenML media type from the topic's last level; "" lets the decoder
// sniff JSON or CBOR from the first byte.
func contentType(topic string) string {
	switch last := topic[strings.LastIndexByte(topic, '/')+1:]; last {
	case "senml", "senml-json":
		return "application/senml+json"
	case "senml-cbor":
		return "application/senml+cbor"
	}
	return ""
}

// Devices looks up registered devices.
type Devices interface {
	DeviceByID(ctx context.Context, id string) (store.Device, error)
}

// Ingester takes a device's payload into the log and returns once it is durable.
type Ingester interface {
	Ingest(ctx context.Context, transport string, dev ingest.Device, payload []byte, contentType string) (int, error)
}

// Metrics are the bridges' Prometheus collectors.
type Metrics struct {
	Messages  *prometheus.CounterVec // by bridge and outcome
	Connected *prometheus.GaugeVec   // 1 while a bridge is connected
}

// NewMetrics creates the bridge metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_bridge_messages_total",
			Help: "Messages received from external brokers, by outcome (ingested, malformed, unknown_device, unavailable).",
		}, []string{"bridge", "outcome"}),
		Connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_bridge_connected",
			Help: "1 while the bridge is connected to its external broker.",
		}, []string{"bridge"}),
	}
	reg.MustRegister(m.Messages, m.Connected)
	return m
}

// Bridge is one subscription to an external broker.
type Bridge struct {
	cfg     Config
	devices Devices
	in      Ingester
	log     *slog.Logger
	metrics *Metrics
	name    string

	mu    sync.Mutex // guards cache
	cache map[string]cachedDevice

	unavailable chan struct{} // a message could not be made durable: reconnect for redelivery
}

type cachedDevice struct {
	dev     store.Device
	err     error
	expires time.Time
}

const cacheTTL = 5 * time.Second

// New returns a bridge; Run connects it.
func New(cfg Config, devices Devices, in Ingester, log *slog.Logger, m *Metrics) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bridge{cfg: cfg, devices: devices, in: in, log: log.With("bridge", cfg.clientID()),
		metrics: m, name: cfg.clientID(), cache: map[string]cachedDevice{}, unavailable: make(chan struct{}, 1)}, nil
}

// Run connects, subscribes and ingests until ctx is done, reconnecting with backoff when the
// external broker goes away or a message could not be made durable.
func (b *Bridge) Run(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	for {
		err := b.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.Warn("bridge session ended; reconnecting", "broker", b.cfg.Broker, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// session runs one connection until ctx is done or it fails.
func (b *Bridge) session(ctx context.Context) error {
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(b.cfg.Broker).
		SetClientID(b.cfg.clientID()).
		SetUsername(b.cfg.Username).
		SetPassword(b.cfg.Password).
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(false).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	// The subscription is part of the persistent session; handle what the broker resends on
	// connect (before Subscribe returns) with the same handler.
	opts.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { b.handle(ctx, m) })
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return fmt.Errorf("connect %s: %w", b.cfg.Broker, err)
	}
	defer c.Disconnect(250)
	if err := wait(ctx, c.Subscribe(b.cfg.filter(), 1, func(_ mqtt.Client, m mqtt.Message) { b.handle(ctx, m) })); err != nil {
		return fmt.Errorf("subscribe %s: %w", b.cfg.filter(), err)
	}
	b.metrics.Connected.WithLabelValues(b.name).Set(1)
	defer b.metrics.Connected.WithLabelValues(b.name).Set(0)
	b.log.Info("bridge connected", "broker", b.cfg.Broker, "topic", b.cfg.filter(), "tenant", b.cfg.Tenant)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-lost:
		return fmt.Errorf("connection lost: %w", err)
	case <-b.unavailable:
		return errors.New("log unavailable; reconnecting so the broker resends unacknowledged messages")
	}
}

func wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle ingests one message and acknowledges it unless it should be delivered again.
func (b *Bridge) handle(ctx context.Context, m mqtt.Message) {
	outcome := b.ingest(ctx, m)
	b.metrics.Messages.WithLabelValues(b.name, outcome).Inc()
	if outcome == "unavailable" {
		select {
		case b.unavailable <- struct{}{}:
		default:
		}
		return // no PUBACK: the broker sends it again after the reconnect
	}
	m.Ack()
}

func (b *Bridge) ingest(ctx context.Context, m mqtt.Message) string {
	id, ok := b.cfg.device(m.Topic())
	if !ok {
		b.log.Warn("bridge message without a device in its topic", "topic", m.Topic())
		return "unknown_device"
	}
	dev, err := b.device(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && (dev.Tenant != b.cfg.Tenant || dev.Revoked):
		b.log.Warn("bridge message for a device that is unknown, revoked or of another tenant", "device", id)
		return "unknown_device"
	case err != nil:
		b.log.Error("bridge device lookup", "device", id, "err", err)
		return "unavailable"
	}
	n, err := b.in.Ingest(ctx, "bridge", ingest.Device{Tenant: dev.Tenant, ID: dev.ID, Kind: dev.Kind, Subject: dev.Subject},
		m.Payload(), contentType(m.Topic()))
	var un *ingest.UnavailableError
	switch {
	case errors.As(err, &un), err != nil && ctx.Err() != nil:
		b.log.Warn("bridge message not durable; it will be redelivered", "device", id, "err", err)
		return "unavailable"
	case err != nil:
		b.log.Warn("bridge message rejected", "device", id, "reason", ingest.Reason(err), "err", err)
		return "malformed"
	}
	b.log.Debug("bridge message ingested", "device", id, "readings", n)
	return "ingested"
}

func (b *Bridge) device(ctx context.Context, id string) (store.Device, error) {
	now := time.Now()
	b.mu.Lock()
	c, ok := b.cache[id]
	b.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.dev, c.err
	}
	d, err := b.devices.DeviceByID(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return d, err // not cached: a transient failure
	}
	b.mu.Lock()
	if len(b.cache) > 10_000 {
		clear(b.cache)
	}
	b.cache[id] = cachedDevice{dev: d, err: err, expires: now.Add(cacheTTL)}
	b.mu.Unlock()
	return d, err
}
