package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/mqttbroker"
	"github.com/vigil-iomt/vigil/internal/store"
)

// validateMQTT checks the MQTT listener addresses: plain MQTT carries device secrets in clear,
// so like plain HTTP it may listen only on loopback.
func (c Config) validateMQTT() error {
	var errs []error
	for _, a := range []struct{ flag, addr string }{{"--mqtt", c.MQTTAddr}, {"--mqtt-tls", c.MQTTTLSAddr}, {"--mqtt-ws", c.MQTTWSAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.flag, a.addr, err))
		}
	}
	if c.MQTTAddr != "" && !isLoopback(c.MQTTAddr) {
		errs = append(errs, fmt.Errorf("--mqtt %q: plain MQTT only on loopback; use --mqtt-tls for other interfaces", c.MQTTAddr))
	}
	return errors.Join(errs...)
}

// newBroker builds the embedded MQTT broker, or returns nil when no MQTT listener is configured.
func newBroker(cfg Config, st store.Store, authn *auth.Service, trail *audit.Trail, pipe *ingest.Pipeline, reg prometheus.Registerer, log *slog.Logger) (*mqttbroker.Broker, error) {
	if cfg.MQTTAddr == "" && cfg.MQTTTLSAddr == "" && cfg.MQTTWSAddr == "" {
		return nil, nil
	}
	bc := mqttbroker.Config{
		TCPAddr: cfg.MQTTAddr, TLSAddr: cfg.MQTTTLSAddr, WSAddr: cfg.MQTTWSAddr,
		Ingest: pipe, Auth: authn, Connections: st, Registerer: reg, Log: log.With("component", "mqtt"),
		// Client certificates against the tenants' device CAs, with auto-provisioning audited.
		Devices: st, Audit: trail, // serve's one Trail, so every entry's time is ordered
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	if cfg.MQTTTLSAddr != "" || (cfg.MQTTWSAddr != "" && !isLoopback(cfg.MQTTWSAddr)) {
		tc, err := mqttTLS(cfg, dir)
		if err != nil {
			return nil, err
		}
		if cfg.MQTTTLSAddr != "" {
			bc.TLS = tc
		}
		if cfg.MQTTWSAddr != "" && !isLoopback(cfg.MQTTWSAddr) {
			bc.WSTLS = tc
		}
	}
	b, err := mqttbroker.New(bc)
	if err != nil {
		return nil, fmt.Errorf("mqtt broker: %w", err)
	}
	return b, nil
}

// mqttTLS returns the MQTT TLS configuration: --tls-cert/--tls-key, else the self-signed
// certificate in dir (made on first start, shared with HTTPS).
func mqttTLS(c Config, dir string) (*tls.Config, error) {
	certFile, keyFile := c.TLSCert, c.TLSKey
	if certFile == "" {
		certFile, keyFile = filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(certFile, keyFile); err != nil {
				return nil, err
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load MQTT TLS certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
