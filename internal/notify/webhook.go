package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/store"
)

// Tenant settings read by the webhook channel.
const (
	SettingWebhookURL    = "alarm.webhook_url"    // one URL, or several separated by spaces or commas
	SettingWebhookSecret = "alarm.webhook_secret" // HMAC-SHA256 key of X-Vigil-Signature
)

// Headers of a webhook POST.
const (
	HeaderSignature = "X-Vigil-Signature"       // "sha256=" + hex HMAC-SHA256 of the body
	HeaderID        = "X-Vigil-Notification-Id" // the deterministic notification id
)

// Outbox is what the Deliverer needs from the store.
type Outbox interface {
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error)
	UpdateOutbox(ctx context.Context, it store.OutboxItem) error
	OutboxPending(ctx context.Context) (int, time.Time, error)
	Tenant(ctx context.Context, id string) (store.Tenant, error)
}

// Config configures a Deliverer. Zero values take the defaults in brackets.
type Config struct {
	Outbox      Outbox
	Client      *http.Client // [10 s timeout]
	Logger      *slog.Logger // [discard]
	Registerer  prometheus.Registerer
	Poll        time.Duration // how often the outbox is read [200 ms]
	BaseBackoff time.Duration // first retry delay, doubled per attempt [1 s]
	MaxBackoff  time.Duration // [5 min]
	MaxAttempts int           // after this many failed attempts an item is dead [8]
	Now         func() time.Time
	// SMTP is the relay of the e-mail channel; nil: no e-mail (alarm.email_to is ignored).
	SMTP *SMTP
	// MQTT publishes notifications for tenants whose setting alarm.mqtt is "true" (the
	// embedded broker's tenant alarm topic); nil: no MQTT channel.
	MQTT MQTTPublisher
}

// Deliverer delivers the outbox.
type Deliverer struct {
	cfg                Config
	log                *slog.Logger
	sent, failed, dead prometheus.Counter
	lag                prometheus.Gauge
}

// New returns a Deliverer.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Deliverer{cfg: cfg, log: cfg.Logger}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vigil", Subsystem: "notifications", Name: name, Help: help})
	}
	d.sent = counter("sent_total", "Notifications delivered (2xx).")
	d.failed = counter("failed_total", "Failed delivery attempts (retried).")
	d.dead = counter("dead_total", "Notifications given up after the maximum attempts.")
	d.lag = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vigil", Subsystem: "notifications", Name: "outbox_lag_seconds",
		Help: "Age of the oldest pending notification (0: none pending)."})
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{d.sent, d.failed, d.dead, d.lag} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("notify: register metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Run delivers due items until ctx ends; store errors are logged and retried at the next poll.
func (d *Deliverer) Run(ctx context.Context) error {
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		if err := d.Deliver(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("notification outbox pass failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Deliver makes one pass over the due items.
func (d *Deliverer) Deliver(ctx context.Context) error {
	now := d.cfg.Now()
	items, err := d.cfg.Outbox.DueOutbox(ctx, now, 100)
	if err != nil {
		return err
	}
	settings := map[string]map[string]string{}
	for _, it := range items {
		st, ok := settings[it.Tenant]
		if !ok {
			t, err := d.cfg.Outbox.Tenant(ctx, it.Tenant)
			if err != nil {
				return fmt.Errorf("notify: settings of tenant %s: %w", it.Tenant, err)
			}
			st = t.Settings
			settings[it.Tenant] = st
		}
		urls := list(st[SettingWebhookURL])
		var mailTo []string
		if d.cfg.SMTP != nil {
			mailTo = list(st[SettingEmailTo])
		}
		mqttOn := d.cfg.MQTT != nil && st[SettingMQTT] == "true"
		if len(urls) == 0 && len(mailTo) == 0 && !mqttOn {
			it.Status = store.OutboxSkipped
		} else if err := d.send(ctx, urls, st[SettingWebhookSecret], mailTo, mqttOn, it); err != nil {
			it.Attempts++
			it.LastError = err.Error()
			if it.Attempts >= d.cfg.MaxAttempts {
				it.Status = store.OutboxDead
				d.dead.Inc()
				d.log.Error("notification dead after retries", "notification", it.ID, "tenant", it.Tenant,
					"alarm", it.AlarmID, "attempts", it.Attempts, "err", err)
			} else {
				d.failed.Inc()
				it.NextAttempt = d.cfg.Now().Add(d.backoff(it.Attempts))
				d.log.Warn("notification delivery failed; will retry", "notification", it.ID, "tenant", it.Tenant,
					"attempts", it.Attempts, "retry_at", it.NextAttempt, "err", err)
			}
		} else {
			it.Attempts++
			it.Status, it.LastError = store.OutboxSent, ""
			d.sent.Inc()
		}
		if err := d.cfg.Outbox.UpdateOutbox(ctx, it); err != nil {
			return err
		}
	}
	n, oldest, err := d.cfg.Outbox.OutboxPending(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		d.lag.Set(0)
	} else {
		d.lag.Set(max(d.cfg.Now().Sub(oldest).Seconds(), 0))
	}
	return nil
}

func (d *Deliverer) backoff(attempts int) time.Duration {
	b := d.cfg.BaseBackoff
	for i := 1; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.cfg.MaxBackoff)
}

// list splits a setting of values separated by commas or spaces.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// send delivers it on every channel the tenant configured: webhooks, then e-mail, then MQTT. All must
// succeed; after a failure the item is retried on all of them, and receivers dedupe by the
// notification id (header X-Vigil-Notification-Id in both).
func (d *Deliverer) send(ctx context.Context, urls []string, secret string, mailTo []string, mqttOn bool, it store.OutboxItem) error {
	if len(urls) > 0 {
		if err := d.post(ctx, urls, secret, it); err != nil {
			return err
		}
	}
	if len(mailTo) > 0 {
		if err := d.cfg.SMTP.send(ctx, it.ID, mailTo, it.Payload, d.cfg.Now()); err != nil {
			return fmt.Errorf("e-mail: %w", err)
		}
	}
	if mqttOn {
		if err := d.cfg.MQTT.PublishAlarm(it.Tenant, it.Payload); err != nil {
			return err
		}
	}
	return nil
}

// MQTTPublisher publishes a tenant's alarm notification on its MQTT topic.
type MQTTPublisher interface {
	PublishAlarm(tenant string, payload []byte) error
}

// SettingMQTT enables the MQTT channel for a tenant ("true").
const SettingMQTT = "alarm.mqtt"

// Sign returns the X-Vigil-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends it to every URL; all must answer 2xx.
func (d *Deliverer) post(ctx context.Context, urls []string, secret string, it store.OutboxItem) error {
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(it.Payload))
		if err != nil {
			return fmt.Errorf("webhook %s: %w", u, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderID, it.ID)
		req.Header.Set(HeaderSignature, Sign(secret, it.Payload))
		resp, err := d.cfg.Client.Do(req)
		if err != nil {
			return fmt.Errorf("webhook post: %w", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("webhook answered %s", resp.Status)
		}
	}
	return nil
}
