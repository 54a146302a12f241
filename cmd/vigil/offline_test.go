package main

import (
	"net"
	"net/url"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// TestDeviceOfflineOverMQTT: a device's MQTT connection dies without a DISCONNECT; after more
// than 30 s the real binary lists DEVICE_OFFLINE (MEDIUM) for it, and its reconnect clears it.
// (About 35 s: the alarm waits for the log clock.)
func TestDeviceOfflineOverMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary for more than 30 s")
	}
	mqttAddr := freePort(t)
	p := startVigil(t, t.TempDir(), nil, "--mqtt", mqttAddr)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "Offline Ward", 1, "monitor")
	d := devs[0]

	// The client dials through a connection the test can cut.
	conns := make(chan net.Conn, 4)
	connect := func() mqtt3.Client {
		t.Helper()
		opts := mqtt3.NewClientOptions().AddBroker("tcp://"+mqttAddr).SetClientID(d.id).SetUsername(d.id).
			SetPassword(d.secret).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
			SetWill("vigil/v1/"+d.id+"/status", "offline", 1, false).
			SetCustomOpenConnectionFn(func(_ *url.URL, _ mqtt3.ClientOptions) (net.Conn, error) {
				c, err := net.Dial("tcp", mqttAddr)
				if err == nil {
					conns <- c
				}
				return c, err
			})
		c := mqtt3.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", d.id, tok.Error())
		}
		return c
	}
	c := connect()
	conn := <-conns

	type alarmView struct {
		Code, Device, Priority, State string
		RaisedAt                      time.Time `json:"raised_at"`
	}
	list := func() []alarmView {
		var out struct {
			Alarms []alarmView `json:"alarms"`
		}
		admin.must("GET", "/api/v1/tenants/"+tenant+"/alarms", nil, 200, &out)
		return out.Alarms
	}
	// The broker appends connect and loss in that order; no need to wait between them.
	lost := time.Now()
	conn.Close() // no DISCONNECT: the session is lost, the will is sent
	var got []alarmView
	waitAlarm(t, "DEVICE_OFFLINE", 45*time.Second, func() bool { got = list(); return len(got) > 0 })
	if seen := time.Since(lost); seen < 30*time.Second {
		t.Fatalf("alarms %+v listed %v after the loss, before 30 s", got, seen)
	}
	a := got[0]
	if len(got) != 1 || a.Code != "DEVICE_OFFLINE" || a.Device != d.id || a.Priority != "medium" || a.State != "active" {
		t.Fatalf("alarms %+v, want one active medium DEVICE_OFFLINE of %s", got, d.id)
	}
	if off := a.RaisedAt.Sub(lost); off < 30*time.Second || off > 31*time.Second {
		t.Errorf("raised %v after the loss, want 30 s (loss + 30 s)", off)
	}
	c.Disconnect(0)

	connect()
	waitAlarm(t, "DEVICE_OFFLINE cleared by the reconnect", 10*time.Second, func() bool { return len(list()) == 0 })
}
