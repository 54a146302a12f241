package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestBridgeFromMosquittoAcrossKill: the real binary bridges a topic of this machine's
// Mosquitto; packs published while it is killed (-9) are delivered from its persistent session
// after the restart, and every pack is stored exactly once.
func TestBridgeFromMosquittoAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	addr := os.Getenv("VIGIL_TEST_MQTT")
	if addr == "" {
		t.Skip("set VIGIL_TEST_MQTT=127.0.0.1:1883 to test the bridge against a real Mosquitto")
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err != nil {
		t.Fatalf("Mosquitto at %s: %v", addr, err)
	} else {
		c.Close()
	}
	host, port, _ := net.SplitHostPort(addr)
	prefix := "vigil-e2e-" + randomHex()
	bridgeURL := fmt.Sprintf("mqtt://%s?topic=%s/{device}/senml&tenant=bridged&client_id=%s", addr, prefix, prefix)
	dir := t.TempDir()
	p := startVigil(t, dir, nil, "--bridge", bridgeURL)
	admin := loginAdmin(t, p.url)
	admin.must("POST", "/api/v1/tenants", map[string]string{"id": "bridged", "name": "Bridged"}, 201, nil)
	admin.must("POST", "/api/v1/tenants/bridged/devices", map[string]string{"id": "gw-bed-1", "model": "m", "kind": "monitor", "subject": "pat-b1"}, 201, nil)

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	pub := func(k int) {
		t.Helper()
		pack := hrPack("gw-bed-1", base.Add(time.Duration(k)*time.Second), 1, 60+k)
		out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", prefix+"/gw-bed-1/senml", "-m", string(pack)).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	count := func(a *api) int {
		var out struct {
			Points []struct{ V float64 } `json:"points"`
		}
		a.must("GET", fmt.Sprintf("/api/v1/tenants/bridged/subjects/pat-b1/readings?metric=hr&from=%s&to=%s",
			base.Add(-time.Minute).Format(time.RFC3339), base.Add(time.Hour).Format(time.RFC3339)), nil, 200, &out)
		return len(out.Points)
	}
	pub(0)
	waitFor(t, 15*time.Second, func() bool { return count(admin) == 1 })

	p.kill(t)
	for k := 1; k <= 3; k++ {
		pub(k) // Mosquitto queues them for the bridge's persistent session
	}
	p2 := startVigil(t, dir, nil, "--bridge", bridgeURL)
	admin2 := loginAdmin(t, p2.url)
	waitFor(t, 20*time.Second, func() bool { return count(admin2) >= 4 })
	time.Sleep(500 * time.Millisecond)
	if n := count(admin2); n != 4 {
		t.Fatalf("%d readings stored, want 4 (each once)", n)
	}
}
