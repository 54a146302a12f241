package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestScaledOut runs two nodes of the real binary on this machine's NATS JetStream and
// PostgreSQL (no embedded engines): a pack posted to node A is acknowledged after the external
// log has it, and node B serves it from the shared store. Exactly one node holds the
// processors' lease; an alarm raised by a reading shows on both, and the node without the
// engine forwards a nurse's acknowledgement to the one with it.
func TestScaledOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	natsURL, pgURL := os.Getenv("VIGIL_TEST_NATS"), os.Getenv("VIGIL_TEST_POSTGRES")
	if natsURL == "" || pgURL == "" {
		t.Skip("set VIGIL_TEST_NATS and VIGIL_TEST_POSTGRES to run the scaled-out test")
	}
	ns := "t" + randomHex()
	schema := "vigil_scaleout_" + ns
	conn, err := pgx.Connect(t.Context(), pgURL)
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
		if nc, err := nats.Connect(natsURL); err == nil {
			if js, err := jetstream.New(nc); err == nil {
				_ = js.DeleteStream(context.Background(), "READINGS_"+strings.ToUpper(ns))
			}
			nc.Close()
		}
	})
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	args := []string{"--nats-url", natsURL, "--nats-namespace", ns, "--database-url", u.String()}

	a := startVigil(t, t.TempDir(), nil, args...)
	admin := loginAdmin(t, a.url)
	tenant, devs := setupTenant(t, admin, "Scaled Out", 1, "monitor")
	b := startVigil(t, t.TempDir(), nil, args...)
	adminB := loginAdmin(t, b.url) // the same provider admin: the store is shared

	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	if code, err := postPack(http.DefaultClient, a.url, devs[0], hrPack(devs[0].id, t0, 5, 70), ""); err != nil || code != 202 {
		t.Fatalf("post to node A: %d %v", code, err)
	}
	var out struct {
		Points []struct{ V float64 } `json:"points"`
	}
	path := fmt.Sprintf("/api/v1/tenants/%s/subjects/%s-subj-000/readings?metric=hr&from=%s&to=%s", tenant, tenant,
		t0.Add(-time.Minute).Format(time.RFC3339), t0.Add(time.Minute).Format(time.RFC3339))
	waitFor(t, 20*time.Second, func() bool {
		adminB.must("GET", path, nil, 200, &out)
		return len(out.Points) == 5
	})
	for i, p := range out.Points {
		if p.V != float64(70+i) {
			t.Fatalf("point %d = %v, want %d", i, p.V, 70+i)
		}
	}

	var leaderURL, standbyURL string
	waitFor(t, 20*time.Second, func() bool {
		la, lb := metricValue(t, a.url, "vigil_processors_leader"), metricValue(t, b.url, "vigil_processors_leader")
		switch {
		case la == 1 && lb == 0:
			leaderURL, standbyURL = a.url, b.url
		case la == 0 && lb == 1:
			leaderURL, standbyURL = b.url, a.url
		default:
			return false
		}
		return true
	})
	t1 := time.Now().Truncate(time.Second)
	pack := fmt.Appendf(nil, `[{"bn":"%s:","bt":%d,"bu":"beat/min","n":"hr","t":-8,"v":190}`, devs[0].id, t1.Unix())
	for k := -7; k <= 0; k++ { // 9 s of HR 190: past the alarm delay
		pack = fmt.Appendf(pack, `,{"n":"hr","t":%d,"v":190}`, k)
	}
	pack = append(pack, ']')
	if code, err := postPack(http.DefaultClient, standbyURL, devs[0], pack, ""); err != nil || code != 202 {
		t.Fatalf("post to the standby node: %d %v", code, err)
	}
	type alarmList struct {
		Alarms []struct{ ID, Code, State string } `json:"alarms"`
	}
	adminOf := map[string]*api{a.url: admin, b.url: adminB}
	var list alarmList
	for _, node := range []string{leaderURL, standbyURL} {
		waitFor(t, 20*time.Second, func() bool {
			adminOf[node].must("GET", "/api/v1/tenants/"+tenant+"/alarms", nil, 200, &list)
			return len(list.Alarms) == 1 && list.Alarms[0].Code == "HR_EXTREME_HIGH"
		})
	}
	nurse := map[string]string{"username": "scaled-nurse", "password": "a long enough password", "role": "nurse"}
	admin.must("POST", "/api/v1/tenants/"+tenant+"/users", nurse, 201, nil)
	nurseB := &api{t: t, base: standbyURL}
	var tok struct {
		Token string `json:"token"`
	}
	nurseB.must("POST", "/api/v1/login", map[string]string{"username": nurse["username"], "password": nurse["password"]}, 200, &tok)
	nurseB.token = tok.Token
	var acked struct{ State, AcknowledgedBy string }
	nurseB.must("POST", "/api/v1/tenants/"+tenant+"/alarms/"+list.Alarms[0].ID+"/ack", nil, 200, &acked)
	if acked.State != "acknowledged" {
		t.Fatalf("acknowledged through the standby node: %+v", acked)
	}
	waitFor(t, 10*time.Second, func() bool {
		adminOf[leaderURL].must("GET", "/api/v1/tenants/"+tenant+"/alarms", nil, 200, &list)
		return len(list.Alarms) == 1 && list.Alarms[0].State == "acknowledged"
	})
}
