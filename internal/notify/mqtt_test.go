package notify

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

type fakeMQTT struct {
	mu      sync.Mutex
	fail    int // publishes that fail before one succeeds
	pubs    []string
	tenants []string
}

func (f *fakeMQTT) PublishAlarm(tenant string, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("broker stopping")
	}
	f.pubs = append(f.pubs, string(payload))
	f.tenants = append(f.tenants, tenant)
	return nil
}

// TestDeliverMQTT: with alarm.mqtt on, a notification is published for its tenant (retried
// like any channel until it succeeds); with it off and no other channel, it is skipped.
func TestDeliverMQTT(t *testing.T) {
	for _, on := range []bool{true, false} {
		settings := map[string]string{}
		if on {
			settings[SettingMQTT] = "true"
		}
		ob := newOutbox(settings, pending("n1"))
		pub := &fakeMQTT{fail: 1}
		clk := &clock{now: t0}
		d, err := New(Config{Outbox: ob, MQTT: pub, BaseBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxAttempts: 5, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		deliver(t, d)
		if !on {
			if it := ob.item(t, "n1"); it.Status != store.OutboxSkipped || len(pub.pubs) != 0 {
				t.Fatalf("alarm.mqtt off: status %s, %d publishes", it.Status, len(pub.pubs))
			}
			continue
		}
		if it := ob.item(t, "n1"); it.Status != store.OutboxPending || it.Attempts != 1 {
			t.Fatalf("after a failed publish: status %s, attempts %d", it.Status, it.Attempts)
		}
		clk.set(t0.Add(time.Second))
		deliver(t, d)
		if it := ob.item(t, "n1"); it.Status != store.OutboxSent {
			t.Fatalf("after the retry: status %s", it.Status)
		}
		if len(pub.pubs) != 1 || pub.tenants[0] != "acme" || pub.pubs[0] != string(pending("n1").Payload) {
			t.Fatalf("published %v for %v", pub.pubs, pub.tenants)
		}
	}
}
