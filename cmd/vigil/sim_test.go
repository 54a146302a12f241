package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSimCommandOverHTTP: `vigil sim` registers the fleet in a tenant through the API and its
// devices' readings arrive.
func TestSimCommandOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	p := startVigil(t, t.TempDir(), nil)
	admin := loginAdmin(t, p.url)
	admin.must("POST", "/api/v1/tenants", map[string]string{"name": "Sim Ward"}, 201, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	env := map[string]string{"VIGIL_SERVER": p.url, "VIGIL_TOKEN": admin.token}
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"sim", "--tenant", "sim-ward", "--beds", "2", "--home", "1", "--monitor-period", "200ms"},
		func(k string) string { return env[k] }, os.Stdin, &out, &errOut)
	if err != nil {
		t.Fatalf("vigil sim: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "sim: 12 devices in tenant sim-ward") {
		t.Fatalf("vigil sim said %q", out.String())
	}
	var devs struct {
		Devices []struct {
			ID       string     `json:"id"`
			LastSeen *time.Time `json:"last_seen"`
		} `json:"devices"`
	}
	admin.must("GET", "/api/v1/tenants/sim-ward/devices", nil, 200, &devs)
	if len(devs.Devices) != 12 {
		t.Fatalf("%d devices registered, want 12 (2 beds, a wearable and a cuff, 6 storage units, 2 trucks)", len(devs.Devices))
	}
	var pts struct {
		Points []struct{ V float64 } `json:"points"`
	}
	waitFor(t, 10*time.Second, func() bool {
		admin.must("GET", "/api/v1/tenants/sim-ward/subjects/patient-a01/readings?metric=hr", nil, 200, &pts)
		return len(pts.Points) >= 3
	})
	for _, pt := range pts.Points {
		if pt.V < 30 || pt.V > 220 {
			t.Fatalf("heart rate %v", pt.V)
		}
	}
}
