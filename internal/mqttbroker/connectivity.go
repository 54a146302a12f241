package mqttbroker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/reading"
)

// connectivity turns connection events into registry updates, "connected" readings on the
// log (reading.Connectivity, for DEVICE_OFFLINE) and retained announcements on
// ConnectivityTopic. Hooks only note the event (never blocking on the store or the log); one
// goroutine, run, writes them in order. A device counts as connected while any of its
// connections is open, so a session takeover (new connection, then the old one's end) leaves
// it connected.
type connectivity struct {
	rec    ConnectionRecorder // nil: not recorded
	status StatusRecorder     // nil: no connectivity readings
	srv    *mqtt.Server
	log    *slog.Logger

	mu      sync.Mutex     // guards open and pending
	open    map[string]int // device id → open connections
	pending []connEvent
	wake    chan struct{} // cap 1: pending has events
}

type connEvent struct {
	dev       ingest.Device
	connected bool
	why       string    // a reading.Conn* reason
	logged    bool      // appended to the log as a "connected" reading
	at        time.Time // server time
}

func newConnectivity(rec ConnectionRecorder, status StatusRecorder, srv *mqtt.Server, log *slog.Logger) *connectivity {
	return &connectivity{rec: rec, status: status, srv: srv, log: log, open: map[string]int{}, wake: make(chan struct{}, 1)}
}

func (c *connectivity) connected(dev ingest.Device, at time.Time) {
	c.mu.Lock()
	c.open[dev.ID]++
	first := c.open[dev.ID] == 1
	if first {
		c.pending = append(c.pending, connEvent{dev: dev, connected: true, why: reading.ConnOpened, logged: true, at: at})
	}
	c.mu.Unlock()
	if first {
		c.signal()
	}
}

// disconnected notes the end of one of dev's connections: why is reading.ConnClosed or
// reading.ConnLost; logged false (the broker's own shutdown) keeps it off the log.
func (c *connectivity) disconnected(dev ingest.Device, why string, logged bool, at time.Time) {
	c.mu.Lock()
	c.open[dev.ID]--
	last := c.open[dev.ID] <= 0
	if last {
		delete(c.open, dev.ID)
		c.pending = append(c.pending, connEvent{dev: dev, why: why, logged: logged, at: at})
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
		tenant, device := e.dev.Tenant, e.dev.ID
		if c.rec != nil {
			if err := c.rec.SetDeviceConnection(ctx, tenant, device, e.connected, e.at); err != nil {
				c.log.Warn("record device connectivity", "device", device, "tenant", tenant, "connected", e.connected, "err", err)
			}
		}
		if c.status != nil && e.logged {
			r := reading.Connectivity(tenant, device, e.dev.Subject, e.connected, e.why, e.at)
			if err := c.status.Record(ctx, e.dev, []reading.Reading{r}); err != nil {
				c.log.Warn("append device connectivity to the log", "device", device, "tenant", tenant, "connected", e.connected, "err", err)
			}
		}
		body, _ := json.Marshal(struct {
			Device    string    `json:"device"`
			Connected bool      `json:"connected"`
			At        time.Time `json:"at"`
		}{device, e.connected, e.at.UTC()})
		if err := c.srv.Publish(ConnectivityTopic(tenant, device), body, true, 1); err != nil {
			c.log.Warn("announce device connectivity", "device", device, "tenant", tenant, "err", err)
		}
	}
}
