package mqttbroker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// connectivity turns connection events into registry updates and retained announcements on
// ConnectivityTopic. Hooks only note the event (never blocking on the store); one goroutine,
// run, writes them in order. A device counts as connected while any of its connections is
// open, so a session takeover (new connection, then the old one's end) leaves it connected.
type connectivity struct {
	rec ConnectionRecorder // nil: not recorded
	srv *mqtt.Server
	log *slog.Logger

	mu      sync.Mutex     // guards open and pending
	open    map[string]int // device id → open connections
	pending []connEvent
	wake    chan struct{} // cap 1: pending has events
}

type connEvent struct {
	tenant, device string
	connected      bool
	at             time.Time
}

func newConnectivity(rec ConnectionRecorder, srv *mqtt.Server, log *slog.Logger) *connectivity {
	return &connectivity{rec: rec, srv: srv, log: log, open: map[string]int{}, wake: make(chan struct{}, 1)}
}

func (c *connectivity) connected(tenant, device string, at time.Time) {
	c.mu.Lock()
	c.open[device]++
	first := c.open[device] == 1
	if first {
		c.pending = append(c.pending, connEvent{tenant, device, true, at})
	}
	c.mu.Unlock()
	if first {
		c.signal()
	}
}

func (c *connectivity) disconnected(tenant, device string, at time.Time) {
	c.mu.Lock()
	c.open[device]--
	last := c.open[device] <= 0
	if last {
		delete(c.open, device)
		c.pending = append(c.pending, connEvent{tenant, device, false, at})
	}
	c.mu.Unlock()
	if last {
		c.signal()
	}
}

func (c *connectivity) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run writes pending events until stop is closed, then writes what is left (the disconnects
// of the broker's shutdown) with a short deadline.
func (c *connectivity) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-c.wake:
			// Not cancelled with ctx: the disconnects of a shutdown arrive just as ctx ends.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.flush(fctx)
			cancel()
		case <-stop:
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			c.flush(fctx)
			cancel()
			return
		}
	}
}

func (c *connectivity) flush(ctx context.Context) {
	c.mu.Lock()
	evs := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, e := range evs {
		if c.rec != nil {
			if err := c.rec.SetDeviceConnection(ctx, e.tenant, e.device, e.connected, e.at); err != nil {
				c.log.Warn("record device connectivity", "device", e.device, "tenant", e.tenant, "connected", e.connected, "err", err)
			}
		}
		body, _ := json.Marshal(struct {
			Device    string    `json:"device"`
			Connected bool      `json:"connected"`
			At        time.Time `json:"at"`
		}{e.device, e.connected, e.at.UTC()})
		if err := c.srv.Publish(ConnectivityTopic(e.tenant, e.device), body, true, 1); err != nil {
			c.log.Warn("announce device connectivity", "device", e.device, "tenant", e.tenant, "err", err)
		}
	}
}
