package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Follower follows a tenant's readings in the log: fn gets every log message appended after
// stream sequence afterSeq (0: only new ones) with its sequence, until ctx is done or fn fails.
// *stream.Log implements it.
type Follower interface {
	Follow(ctx context.Context, tenant string, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error
}

// Timing of the live stream (GET /api/v1/stream).
const (
	liveFlushEvery     = 250 * time.Millisecond // readings are batched into one event this long
	liveMaxBatch       = 2000                   // or until this many are waiting
	liveHeartbeatEvery = 15 * time.Second       // a comment line keeps proxies from closing the stream
	liveStatusEvery    = 5 * time.Second        // device status changes are sent this often
	liveReauthEvery    = 30 * time.Second       // the session is checked again this often
)

// expectedInterval is a device's assumed reporting interval until two readings show its own.
func expectedInterval(kind string) time.Duration {
	switch kind {
	case "bp_monitor", "glucometer", "scale", "thermometer": // spot-check devices
		return time.Hour
	}
	return 2 * time.Minute
}

// liveDevice is one device's status as the stream tracks it.
type liveDevice struct {
	ID       string   `json:"id"`
	Subject  string   `json:"subject"`
	Kind     string   `json:"kind"`
	Model    string   `json:"model"`
	Revoked  bool     `json:"revoked"`
	Online   bool     `json:"online"`
	LastSeen *int64   `json:"last_seen"`         // Unix ms of the latest reading received, or null
	Interval int64    `json:"interval_ms"`       // the reporting interval the status is judged by
	Battery  *float64 `json:"battery,omitempty"` // %, when the device reports it
	Signal   *float64 `json:"signal,omitempty"`  // RSSI (dBm) or signal quality, when reported
	lastSeen time.Time
	gap      time.Duration // latest gap between two receptions, 0 until known
	changed  bool
}

func (d *liveDevice) interval() time.Duration {
	if d.gap > 0 {
		return d.gap
	}
	return expectedInterval(d.Kind)
}

// update recomputes Online and the JSON fields at now and marks the device changed when its
// status changed.
func (d *liveDevice) update(now time.Time) {
	online := !d.lastSeen.IsZero() && !d.Revoked && now.Sub(d.lastSeen) <= 2*d.interval()+5*time.Second
	if online != d.Online {
		d.Online = online
		d.changed = true
	}
	d.Interval = d.interval().Milliseconds()
	if !d.lastSeen.IsZero() {
		ms := d.lastSeen.UnixMilli()
		d.LastSeen = &ms
	}
}

// liveReading is one reading as the stream sends it.
type liveReading struct {
	Device  string   `json:"device"`
	Subject string   `json:"subject"`
	Metric  string   `json:"metric"`
	Value   *float64 `json:"value,omitempty"`
	Text    string   `json:"text,omitempty"`
	Unit    string   `json:"unit,omitempty"`
	Time    int64    `json:"time"` // measured, Unix ms
}

type liveMsg struct {
	seq uint64
	rs  []reading.Reading
}

// liveTenant returns the tenant a live stream of p is for: p's own, or for a provider admin
// the ?tenant= one (which anyone else may only name when it is their own).
func liveTenant(p auth.Principal, r *http.Request) (string, error) {
	tenant := p.Tenant
	if q := r.URL.Query().Get("tenant"); q != "" {
		tenant = q
	}
	if tenant == store.ProviderTenant {
		return "", invalid("a provider admin streams one tenant at a time: add ?tenant=ID")
	}
	if !auth.Allowed(p, tenant, auth.PermReadingsRead) {
		return "", errForbidden
	}
	return tenant, nil
}

// stream serves GET /api/v1/stream: server-sent events with the tenant's readings (event
// "reading", id = the log sequence of the newest message in the batch) and device status
// (event "devices": all devices first, then those whose status changed). A reconnecting
// client sends Last-Event-ID (or ?last_event_id=) and resumes after that sequence.
func (a *API) stream(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if a.cfg.Live == nil {
		return errorf(http.StatusServiceUnavailable, "the live stream is not available on this server")
	}
	tenant, err := liveTenant(p, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.cfg.Store.Tenant(ctx, tenant); err != nil {
		return err
	}
	var afterSeq uint64
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if last != "" {
		if afterSeq, err = strconv.ParseUint(last, 10, 64); err != nil {
			return invalid(fmt.Sprintf("Last-Event-ID %q is not a log sequence number", last))
		}
	}
	devs, err := a.cfg.Store.Devices(ctx, tenant)
	if err != nil {
		return err
	}
	now := a.now()
	devices := make(map[string]*liveDevice, len(devs))
	for _, d := range devs {
		ld := &liveDevice{ID: d.ID, Subject: d.Subject, Kind: d.Kind, Model: d.Model, Revoked: d.Revoked, lastSeen: d.LastSeen}
		ld.update(now)
		devices[d.ID] = ld
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan liveMsg, 64)
	followErr := make(chan error, 1)
	go func() {
		followErr <- a.cfg.Live.Follow(ctx, tenant, afterSeq, func(seq uint64, rs []reading.Reading) error {
			select {
			case msgs <- liveMsg{seq, rs}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	if a.liveStreams != nil {
		a.liveStreams.Inc()
		defer a.liveStreams.Dec()
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Alarms: subscribe first, then send the current ones, so no change falls in between (a
	// change may arrive twice; the console keys alarms by id). Alarm events carry no id: they
	// need no replay, since a reconnect sends the current alarms again, and so Last-Event-ID
	// stays the log sequence of the readings.
	var alarmCh <-chan alarmproc.View
	var current []alarmproc.View
	if a.cfg.Alarms != nil {
		var unsub func()
		alarmCh, unsub = a.cfg.Alarms.Subscribe(tenant)
		defer unsub()
		if current, err = a.cfg.Alarms.Active(ctx, tenant, "", 0, maxAlarmList); err != nil {
			a.log.WarnContext(ctx, "live stream: current alarms", "tenant", tenant, "err", err)
		}
	}
	var buf bytes.Buffer
	buf.WriteString("retry: 2000\n\n")
	writeDevices(&buf, devices, true, now)
	for _, v := range current {
		writeAlarm(&buf, v)
	}
	if err := send(rc, w, &buf); err != nil {
		return nil // the client went away
	}

	flush := time.NewTicker(liveFlushEvery)
	defer flush.Stop()
	heartbeat := time.NewTicker(liveHeartbeatEvery)
	defer heartbeat.Stop()
	status := time.NewTicker(liveStatusEvery)
	defer status.Stop()
	reauth := time.NewTicker(liveReauthEvery)
	defer reauth.Stop()
	var (
		batch   []liveReading
		lastSeq uint64
	)
	emit := func() error {
		if len(batch) == 0 {
			return nil
		}
		fmt.Fprintf(&buf, "id: %d\nevent: reading\ndata: ", lastSeq)
		b, _ := json.Marshal(map[string]any{"readings": batch})
		buf.Write(b)
		buf.WriteString("\n\n")
		batch = batch[:0]
		return send(rc, w, &buf)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-followErr:
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				a.log.WarnContext(ctx, "live stream: follow failed", "tenant", tenant, "err", err)
			}
			_ = emit()
			return nil // the client reconnects with Last-Event-ID
		case m := <-msgs:
			lastSeq = m.seq
			for _, rd := range m.rs {
				if rd.Tenant != tenant { // the log's filter already ensures it; never trust it alone
					continue
				}
				batch = appendLive(batch, rd)
				trackDevice(devices, rd)
			}
			if len(batch) >= liveMaxBatch {
				if err := emit(); err != nil {
					return nil
				}
			}
		case <-flush.C:
			if err := emit(); err != nil {
				return nil
			}
		case <-status.C:
			writeDevices(&buf, devices, false, a.now())
			if err := send(rc, w, &buf); err != nil {
				return nil
			}
		case v, ok := <-alarmCh:
			if !ok {
				_ = emit()
				return nil // too slow for the alarm feed: the client reconnects and gets the current alarms
			}
			if v.Tenant != tenant {
				continue
			}
			writeAlarm(&buf, v)
			if err := send(rc, w, &buf); err != nil {
				return nil
			}
		case <-heartbeat.C:
			buf.WriteString(": heartbeat\n\n")
			if err := send(rc, w, &buf); err != nil {
				return nil
			}
		case <-reauth.C:
			if _, err := a.principal(r); err != nil {
				buf.WriteString("event: expired\ndata: {}\n\n")
				_ = send(rc, w, &buf)
				return nil
			}
		}
	}
}

func appendLive(batch []liveReading, rd reading.Reading) []liveReading {
	lr := liveReading{Device: rd.Device, Subject: rd.Subject, Metric: rd.Metric, Unit: rd.Unit, Time: rd.Measured.UnixMilli()}
	switch rd.Kind {
	case reading.Number, reading.Bool:
		v := rd.Value
		lr.Value = &v
	case reading.String:
		lr.Text = rd.Text
	default:
		return batch // raw data blocks are not for the console
	}
	return append(batch, lr)
}

// trackDevice notes that rd was received from its device.
func trackDevice(devices map[string]*liveDevice, rd reading.Reading) {
	d := devices[rd.Device]
	if d == nil {
		d = &liveDevice{ID: rd.Device, Subject: rd.Subject}
		devices[rd.Device] = d
		d.changed = true
	}
	if rd.Received.After(d.lastSeen) {
		// The reporting interval is the latest gap between two receptions (readings of one
		// pack share a reception time); a change by half or more is news for the console.
		if gap := rd.Received.Sub(d.lastSeen); !d.lastSeen.IsZero() && gap >= 500*time.Millisecond {
			if d.gap == 0 || gap > d.gap*3/2 || gap < d.gap*2/3 {
				d.changed = true
			}
			d.gap = gap
		}
		d.lastSeen = rd.Received // the console shows it from the reading events themselves
	}
	if rd.Kind == reading.Number {
		v := rd.Value
		switch rd.Metric {
		case "battery":
			d.Battery, d.changed = &v, true
		case "rssi", "signal":
			d.Signal, d.changed = &v, true
		}
	}
}

// writeDevices writes a "devices" event: every device when full, else those changed since the
// last event (none: nothing is written).
func writeDevices(buf *bytes.Buffer, devices map[string]*liveDevice, full bool, now time.Time) {
	list := make([]*liveDevice, 0, len(devices))
	for _, d := range devices {
		d.update(now)
		if full || d.changed {
			list = append(list, d)
		}
		d.changed = false
	}
	if len(list) == 0 {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, _ := json.Marshal(map[string]any{"full": full, "now": now.UnixMilli(), "devices": list})
	buf.WriteString("event: devices\ndata: ")
	buf.Write(b)
	buf.WriteString("\n\n")
}

// writeAlarm writes an "alarm" event with the alarm's JSON (no id: see stream).
func writeAlarm(buf *bytes.Buffer, v alarmproc.View) {
	b, _ := json.Marshal(v)
	buf.WriteString("event: alarm\ndata: ")
	buf.Write(b)
	buf.WriteString("\n\n")
}

// send writes buf to the client and flushes it.
func send(rc *http.ResponseController, w http.ResponseWriter, buf *bytes.Buffer) error {
	if buf.Len() == 0 {
		return nil
	}
	_, err := w.Write(buf.Bytes())
	buf.Reset()
	if err != nil {
		return err
	}
	return rc.Flush()
}

// newLiveMetrics registers the gauge of open live streams.
func newLiveMetrics(reg prometheus.Registerer) (prometheus.Gauge, error) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "vigil", Subsystem: "http", Name: "live_streams",
		Help: "Open live streams (GET /api/v1/stream)."})
	if err := reg.Register(g); err != nil {
		return nil, fmt.Errorf("httpapi: register live stream metrics: %w", err)
	}
	return g, nil
}
