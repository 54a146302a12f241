package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/sim"
	"github.com/vigil-iomt/vigil/internal/store"
)

const demoTenant = "demo"

// auditor records audit entries.
type auditor interface {
	Record(ctx context.Context, rec store.AuditRecord) error
}

// runDemo provisions the demo tenant, its users and devices (rotating the devices' secrets,
// since only their hashes are kept), prints how to log in, and runs the simulated fleet
// against this server's own HTTP ingest.
func runDemo(ctx context.Context, cfg Config, st store.Store, trail auditor, baseURL string, tlsCfg *tls.Config, stdout io.Writer, log *slog.Logger) error {
	now := time.Now().UTC()
	rec := func(action, target string) error {
		return trail.Record(ctx, store.AuditRecord{Tenant: demoTenant, Actor: "system:demo", Action: action, Target: target})
	}
	if _, err := st.Tenant(ctx, demoTenant); errors.Is(err, store.ErrNotFound) {
		if err := st.CreateTenant(ctx, store.Tenant{ID: demoTenant, Name: "Demo Hospital", Settings: map[string]string{}, Created: now}); err != nil {
			return err
		}
		if err := rec("tenant.create", "tenant:"+demoTenant); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: tenant %q at %s\n", demoTenant, baseURL)
	for _, u := range []struct {
		name string
		role store.Role
	}{{"demo-admin", store.Admin}, {"demo-nurse", store.Nurse}, {"demo-clinician", store.Clinician}, {"demo-qa", store.QA}} {
		if _, err := st.UserByName(ctx, u.name); err == nil {
			fmt.Fprintf(stdout, "demo: user %s (%s) exists; its password is unchanged\n", u.name, u.role)
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		pw, _ := auth.NewSecret("")
		pw = pw[:20]
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		id := "u_" + u.name
		if err := st.CreateUser(ctx, store.User{ID: id, Tenant: demoTenant, Username: u.name, Role: u.role, PasswordHash: hash, Created: now}); err != nil {
			return err
		}
		if err := rec("user.create", "user:"+id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo: log in as %s (%s) with password %s\n", u.name, u.role, pw)
	}
	fleet := sim.NewFleet(sim.Config{Seed: cfg.DemoSeed, Start: now, MonitorPeriod: cfg.DemoInterval})
	if err := seedClinical(ctx, st, fleet, now, rec, stdout); err != nil {
		return err
	}
	if err := seedColdChain(ctx, st, trail, stdout); err != nil {
		return err
	}
	for _, d := range fleet.Devices {
		secret, hash := auth.NewSecret("vgd_")
		d.Secret = secret
		sd, err := st.Device(ctx, demoTenant, d.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			sd = store.Device{ID: d.ID, Tenant: demoTenant, Model: d.Model, Kind: d.Kind, Subject: d.Subject, SecretHash: hash, Created: now}
			if err := st.CreateDevice(ctx, sd); err != nil {
				return fmt.Errorf("demo device %s: %w", d.ID, err)
			}
			if err := rec("device.create", "device:"+d.ID); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			sd.SecretHash, sd.Revoked = hash, false
			if err := st.UpdateDevice(ctx, sd); err != nil {
				return err
			}
			if err := rec("device.rotate_secret", "device:"+d.ID); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "demo: %d simulated devices (bedside monitors every %s); bed 07 deteriorates from +%s, the pharmacy fridge door opens at +%s, ward fridge 2 loses power at +%s, truck 2's cooling fails at +%s\n",
		len(fleet.Devices), cfg.DemoInterval, sim.DeteriorationStart, sim.DoorOpenAt, sim.PowerCutAt, sim.CoolingFailsAt)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsCfg != nil && len(tlsCfg.Certificates) > 0 {
		pool := x509.NewCertPool()
		for _, der := range tlsCfg.Certificates[0].Certificate {
			if c, err := x509.ParseCertificate(der); err == nil {
				pool.AddCert(c)
			}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var sender sim.Sender = sim.HTTPSender{Client: client, BaseURL: baseURL}
	if cfg.MQTTAddr != "" {
		// With an MQTT listener the fleet connects as devices do: each with its own
		// credentials, QoS 1.
		host, port, _ := net.SplitHostPort(cfg.MQTTAddr)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		ms := &sim.MQTTSender{Broker: "tcp://" + net.JoinHostPort(host, port)}
		defer ms.Close()
		sender = ms
		fmt.Fprintf(stdout, "demo: devices publish over MQTT to %s\n", ms.Broker)
	}
	return fleet.Run(ctx, sender, log)
}
