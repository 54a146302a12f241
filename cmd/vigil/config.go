package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of `vigil serve`. Defaults come from defaults(), then
// VIGIL_* environment variables, then flags.
type Config struct {
	DataDir        string
	HTTPAddr       string
	NATSURL        string
	NATSNamespace  string // distinguishes deployments sharing one NATS: stream READINGS_<NS>, subjects vigil.<ns>.r
	DatabaseURL    string
	TLSCert        string
	TLSKey         string
	Demo           bool
	DemoInterval   time.Duration
	DemoSeed       int64
	Partitions     int
	StreamReplicas int
	Retention      time.Duration
	LogLevel       string
	DebugAddr      string // net/http/pprof listener, loopback only; "" disables
	SMTPAddr       string // alarm e-mail relay host:port (STARTTLS required); "" disables e-mail
	SMTPFrom       string
	SMTPUser       string
	SMTPPassword   string   // VIGIL_SMTP_PASSWORD only, never a flag
	AdminPassword  string   // VIGIL_ADMIN_PASSWORD only, never a flag (it would show in ps)
	MQTTAddr       string   // plain MQTT (loopback only); "" disables
	MQTTTLSAddr    string   // MQTT over TLS; "" disables
	MQTTWSAddr     string   // MQTT over WebSocket (wss unless loopback); "" disables
	Bridges        []string // external MQTT brokers to ingest from (internal/bridge URLs)
}

func defaults() Config {
	return Config{
		DataDir:        "vigil-data",
		HTTPAddr:       "127.0.0.1:8080",
		DemoInterval:   5 * time.Second,
		DemoSeed:       1,
		Partitions:     8,
		StreamReplicas: 1,
		Retention:      7 * 24 * time.Hour,
		LogLevel:       "info",
	}
}

// envFlag describes one setting: its flag, its environment variable and its help.
type envFlag struct {
	name, env, help string
}

// parseServe parses serve's flags, with VIGIL_* variables as the defaults they override.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := defaults()
	fs := flag.NewFlagSet("vigil serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, f envFlag) {
		if v := getenv(f.env); v != "" {
			*p = v
		}
		fs.StringVar(p, f.name, *p, f.help+" ($"+f.env+")")
	}
	var errs []error
	num := func(p *int, f envFlag) {
		if v := getenv(f.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer", f.env, v))
			}
			*p = n
		}
		fs.IntVar(p, f.name, *p, f.help+" ($"+f.env+")")
	}
	dur := func(p *time.Duration, f envFlag) {
		if v := getenv(f.env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not a duration", f.env, v))
			}
			*p = d
		}
		fs.DurationVar(p, f.name, *p, f.help+" ($"+f.env+")")
	}
	str(&c.DataDir, envFlag{"data", "VIGIL_DATA", "data directory (SQLite database, embedded JetStream, TLS files)"})
	str(&c.HTTPAddr, envFlag{"http", "VIGIL_HTTP", "HTTP(S) listen address for the API and console"})
	str(&c.NATSURL, envFlag{"nats-url", "VIGIL_NATS_URL", "external NATS JetStream URL (default: embedded server in DATA/nats)"})
	str(&c.NATSNamespace, envFlag{"nats-namespace", "VIGIL_NATS_NAMESPACE", "separates Vigil deployments that share one NATS cluster (letters, digits; default none)"})
	str(&c.DatabaseURL, envFlag{"database-url", "VIGIL_DATABASE_URL", "PostgreSQL URL (default: SQLite in DATA/vigil.db)"})
	str(&c.TLSCert, envFlag{"tls-cert", "VIGIL_TLS_CERT", "TLS certificate file (PEM)"})
	str(&c.TLSKey, envFlag{"tls-key", "VIGIL_TLS_KEY", "TLS private key file (PEM)"})
	str(&c.MQTTAddr, envFlag{"mqtt", "VIGIL_MQTT", "plain MQTT listen address, loopback only, e.g. 127.0.0.1:1884 (default: off)"})
	str(&c.MQTTTLSAddr, envFlag{"mqtt-tls", "VIGIL_MQTT_TLS", "MQTT over TLS listen address (--tls-cert/--tls-key, else self-signed)"})
	str(&c.MQTTWSAddr, envFlag{"mqtt-ws", "VIGIL_MQTT_WS", "MQTT over WebSocket listen address (TLS unless loopback)"})
	str(&c.LogLevel, envFlag{"log-level", "VIGIL_LOG_LEVEL", "debug, info, warn or error"})
	str(&c.SMTPAddr, envFlag{"smtp-addr", "VIGIL_SMTP_ADDR", "SMTP relay for alarm e-mail, host:port (STARTTLS required; default: off)"})
	str(&c.SMTPFrom, envFlag{"smtp-from", "VIGIL_SMTP_FROM", "sender address of alarm e-mail"})
	str(&c.SMTPUser, envFlag{"smtp-user", "VIGIL_SMTP_USER", "SMTP username (password in $VIGIL_SMTP_PASSWORD)"})
	c.SMTPPassword = getenv("VIGIL_SMTP_PASSWORD")
	str(&c.DebugAddr, envFlag{"debug-addr", "VIGIL_DEBUG_ADDR", "profiling listener (/debug/pprof), loopback only (default: off)"})
	num(&c.Partitions, envFlag{"partitions", "VIGIL_PARTITIONS", "log partitions per tenant"})
	num(&c.StreamReplicas, envFlag{"stream-replicas", "VIGIL_STREAM_REPLICAS", "JetStream replicas (3 on a cluster)"})
	dur(&c.Retention, envFlag{"retention", "VIGIL_RETENTION", "how long the log keeps readings"})
	dur(&c.DemoInterval, envFlag{"demo-interval", "VIGIL_DEMO_INTERVAL", "how often each demo device posts"})
	c.Bridges = strings.Fields(getenv("VIGIL_BRIDGES"))
	fs.Func("bridge", "ingest from an external MQTT broker: mqtt://[user:pass@]host[:port]?topic=site/{device}/senml&tenant=ID (repeatable; $VIGIL_BRIDGES, space-separated)", func(v string) error {
		c.Bridges = append(c.Bridges, v)
		return nil
	})
	if v := getenv("VIGIL_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("VIGIL_DEMO=%q: not a boolean", v))
		}
		c.Demo = b
	}
	fs.BoolVar(&c.Demo, "demo", c.Demo, "provision a demo tenant and run a simulated fleet ($VIGIL_DEMO)")
	fs.Int64Var(&c.DemoSeed, "demo-seed", c.DemoSeed, "seed of the demo simulator")
	c.AdminPassword = getenv("VIGIL_ADMIN_PASSWORD")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate reports every configuration problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data: required"))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: %w", c.HTTPAddr, err))
	}
	errs = append(errs, c.validateMQTT(), c.validateBridges())
	if c.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.SMTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("--smtp-addr %q: %w", c.SMTPAddr, err))
		}
		if c.SMTPFrom == "" {
			errs = append(errs, errors.New("--smtp-from: required with --smtp-addr"))
		}
	}
	if c.DebugAddr != "" && !isLoopback(c.DebugAddr) {
		errs = append(errs, fmt.Errorf("--debug-addr %q: loopback only", c.DebugAddr))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	for _, r := range c.NATSNamespace {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			errs = append(errs, fmt.Errorf("--nats-namespace %q: lower-case letters and digits only", c.NATSNamespace))
			break
		}
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("--partitions %d: want 1 to 1024", c.Partitions))
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("--stream-replicas %d: want 1 to 5", c.StreamReplicas))
	}
	if c.Retention < time.Hour {
		errs = append(errs, fmt.Errorf("--retention %s: at least 1h", c.Retention))
	}
	if c.DemoInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--demo-interval %s: at least 100ms", c.DemoInterval))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}
