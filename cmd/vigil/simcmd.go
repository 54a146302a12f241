package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/sim"
)

// simCommand runs the demo fleet simulator against any Vigil server: it registers the fleet's
// devices in a tenant through the API (or rotates their secrets if they exist) and sends their
// readings over HTTP or, with --mqtt, over MQTT.
func simCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vigil sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr(getenv, "VIGIL_SERVER", "http://127.0.0.1:8080"), "Vigil API URL ($VIGIL_SERVER)")
	tenant := fs.String("tenant", "", "tenant to register the fleet in (required)")
	broker := fs.String("mqtt", "", "send over MQTT to this broker (tcp://host:port or ssl://host:port) instead of HTTP")
	insecure := fs.Bool("insecure", false, "accept any TLS certificate (self-signed test servers only)")
	seed := fs.Int64("seed", 1, "simulator seed")
	period := fs.Duration("monitor-period", 5*time.Second, "bedside monitor send interval")
	beds := fs.Int("beds", 12, "ward beds")
	home := fs.Int("home", 8, "home patients")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token := getenv("VIGIL_TOKEN")
	if *tenant == "" || token == "" {
		return errors.New("vigil sim needs --tenant and VIGIL_TOKEN (an admin's or operator's token, from vigil login)")
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: *insecure} //nolint:gosec // opt-in, for self-signed test servers
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	httpc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	c := &apiClient{server: strings.TrimRight(*server, "/"), token: token, http: httpc}
	fleet := sim.NewFleet(sim.Config{Seed: *seed, Start: time.Now(), Beds: *beds, HomePatients: *home, MonitorPeriod: *period})
	for _, d := range fleet.Devices {
		var out struct {
			Secret string `json:"secret"`
		}
		base := "/api/v1/tenants/" + *tenant + "/devices"
		err := c.do(ctx, "POST", base+"/"+d.ID+"/rotate", nil, &out)
		if err != nil && strings.Contains(err.Error(), "404") {
			err = c.do(ctx, "POST", base, map[string]string{"id": d.ID, "model": d.Model, "kind": d.Kind, "subject": d.Subject}, &out)
		}
		if err != nil {
			return fmt.Errorf("register %s: %w", d.ID, err)
		}
		d.Secret = out.Secret
	}
	var s sim.Sender = sim.HTTPSender{Client: httpc, BaseURL: c.server}
	how := "HTTP " + c.server
	if *broker != "" {
		ms := &sim.MQTTSender{Broker: *broker, TLS: tlsCfg}
		defer ms.Close()
		s, how = ms, "MQTT "+*broker
	}
	fmt.Fprintf(stdout, "sim: %d devices in tenant %s sending over %s (seed %d); Ctrl-C stops\n", len(fleet.Devices), *tenant, how, *seed)
	err := fleet.Run(ctx, s, newLogger(stderr, "info"))
	if ctx.Err() != nil {
		return nil // stopped
	}
	return err
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
