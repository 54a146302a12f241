package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestContract walks the API contract the acceptance tests rely on, against the real binary.
func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	dir := t.TempDir()
	p := startVigil(t, dir, nil)

	anon := &api{t: t, base: p.url}
	if got := anon.do("POST", "/api/v1/login", map[string]string{"username": "admin", "password": "wrong password!"}, nil); got != 401 {
		t.Fatalf("wrong password: status %d, want 401", got)
	}
	if got := anon.do("GET", "/api/v1/tenants", nil, nil); got != 401 {
		t.Fatalf("no token: status %d, want 401", got)
	}
	admin := loginAdmin(t, p.url)

	var ten struct {
		ID string `json:"id"`
	}
	admin.must("POST", "/api/v1/tenants", map[string]string{"name": "St Elsewhere"}, 201, &ten)
	if ten.ID != "st-elsewhere" {
		t.Fatalf("tenant id %q, want st-elsewhere", ten.ID)
	}
	admin.must("POST", "/api/v1/tenants/"+ten.ID+"/users", map[string]string{"username": "nora", "password": "a long nurse password", "role": "nurse"}, 201, nil)
	var dev struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	admin.must("POST", "/api/v1/tenants/"+ten.ID+"/devices", map[string]string{"id": "ox-1", "model": "Oxi 9", "kind": "oximeter", "subject": "pat-1"}, 201, &dev)
	if dev.ID != "ox-1" || !strings.HasPrefix(dev.Secret, "vgd_") {
		t.Fatalf("device answer %+v", dev)
	}

	// The nurse reads but cannot administer.
	nurse := &api{t: t, base: p.url}
	var login struct {
		Token string `json:"token"`
	}
	nurse.must("POST", "/api/v1/login", map[string]string{"username": "nora", "password": "a long nurse password"}, 200, &login)
	nurse.token = login.Token
	if got := nurse.do("POST", "/api/v1/tenants/"+ten.ID+"/devices", map[string]string{"id": "x", "model": "m", "subject": "s"}, nil); got != 403 {
		t.Fatalf("nurse adds device: %d, want 403", got)
	}
	if got := nurse.do("GET", "/api/v1/tenants/"+ten.ID+"/users", nil, nil); got != 403 {
		t.Fatalf("nurse lists users: %d, want 403", got)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	cred := devCred{dev.ID, dev.Secret}
	post := func(ct string, body []byte, c devCred) (int, map[string]any) {
		req, _ := http.NewRequest("POST", p.url+"/api/v1/ingest", bytes.NewReader(body))
		req.SetBasicAuth(c.id, c.secret)
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	now := time.Now().UTC().Truncate(time.Second)
	good := fmt.Appendf(nil, `[{"bn":"ox-1:","bt":%d,"bu":"/","n":"spo2","v":0.94},{"n":"pr","u":"beat/min","v":87},{"n":"pi","v":0.0245}]`, now.Unix())
	if code, m := post("application/senml+json", good, cred); code != 202 || m["accepted"] != float64(3) {
		t.Fatalf("good pack: %d %v", code, m)
	}
	// Rejected whole: the second record is bad, so the first must not be stored either.
	bad := fmt.Appendf(nil, `[{"bn":"ox-1:","bt":%d,"bu":"/","n":"spo2","v":0.91},{"n":"pr","u":"mmHg","v":87}]`, now.Add(time.Second).Unix())
	code, m := post("application/senml+json", bad, cred)
	if code != 400 || m["record"] != float64(1) || !strings.Contains(fmt.Sprint(m["error"]), "record 1") {
		t.Fatalf("bad pack: %d %v", code, m)
	}
	if code, _ := post("text/plain", good, cred); code != 415 {
		t.Fatalf("text/plain: %d, want 415", code)
	}
	if code, _ := post("application/senml+json", bytes.Repeat([]byte(" "), 2<<20), cred); code != 413 {
		t.Fatalf("2 MiB pack: %d, want 413", code)
	}
	if code, _ := post("application/senml+json", good, devCred{"ox-1", "vgd_wrong"}); code != 401 {
		t.Fatalf("wrong secret: %d, want 401", code)
	}
	// Another device's name is refused: a device writes only its own readings.
	admin.must("POST", "/api/v1/tenants/"+ten.ID+"/devices", map[string]string{"id": "ox-2", "model": "Oxi 9", "kind": "oximeter", "subject": "pat-2"}, 201, nil)
	steal := fmt.Appendf(nil, `[{"bn":"ox-2:","bt":%d,"bu":"/","n":"spo2","v":0.5}]`, now.Unix())
	if code, _ := post("application/senml+json", steal, cred); code != 400 {
		t.Fatalf("pack for another device: %d, want 400", code)
	}

	q := func(metric, extra string) string {
		return fmt.Sprintf("/api/v1/tenants/%s/subjects/pat-1/readings?metric=%s&from=%s&to=%s%s", ten.ID, metric,
			now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339), extra)
	}
	var pts struct {
		Unit   string `json:"unit"`
		Points []struct {
			T time.Time `json:"t"`
			V float64   `json:"v"`
		} `json:"points"`
	}
	waitFor(t, 10*time.Second, func() bool {
		nurse.must("GET", q("spo2", ""), nil, 200, &pts)
		return len(pts.Points) > 0
	})
	if len(pts.Points) != 1 || pts.Points[0].V != 94 || pts.Unit != "%" || !pts.Points[0].T.Equal(now) {
		t.Fatalf("spo2 points %+v", pts)
	}
	var pr struct {
		Points []struct{ V float64 } `json:"points"`
	}
	nurse.must("GET", q("pr_spo2", ""), nil, 200, &pr)
	if len(pr.Points) != 1 || pr.Points[0].V != 87 {
		t.Fatalf("pr_spo2 points %+v", pr)
	}
	var bk struct {
		Buckets []struct {
			Min, Max, Mean float64
			Count          int
		} `json:"buckets"`
	}
	nurse.must("GET", q("spo2", "&step=1m"), nil, 200, &bk)
	if len(bk.Buckets) != 1 || bk.Buckets[0].Count != 1 || bk.Buckets[0].Mean != 94 {
		t.Fatalf("buckets %+v", bk)
	}
	var latest struct {
		Latest []struct {
			Metric string  `json:"metric"`
			V      float64 `json:"v"`
		} `json:"latest"`
	}
	nurse.must("GET", "/api/v1/tenants/"+ten.ID+"/subjects/pat-1/latest", nil, 200, &latest)
	if len(latest.Latest) != 3 {
		t.Fatalf("latest %+v", latest)
	}
	var devs struct {
		Devices []struct {
			ID       string     `json:"id"`
			LastSeen *time.Time `json:"last_seen"`
		} `json:"devices"`
	}
	nurse.must("GET", "/api/v1/tenants/"+ten.ID+"/devices", nil, 200, &devs)
	for _, d := range devs.Devices {
		if (d.ID == "ox-1") != (d.LastSeen != nil) {
			t.Fatalf("device %s last seen %v", d.ID, d.LastSeen)
		}
	}

	// Revoked device: 403.
	admin.must("POST", "/api/v1/tenants/"+ten.ID+"/devices/ox-1/revoke", nil, 200, nil)
	if code, _ := post("application/senml+json", good, cred); code != 403 {
		t.Fatalf("revoked device: %d, want 403", code)
	}

	// The audit trail verifies, then detects an edited row.
	p.kill(t)
	bin := vigilBinary(t)
	out, err := exec.Command(bin, "audit", "verify", "--data", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify on an intact trail: %v\n%s", err, out)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	// The schema refuses updates; someone with the database file can still drop the trigger.
	if _, err := db.Exec(`UPDATE audit SET actor = 'user:mallory' WHERE seq = 3`); err == nil {
		t.Fatal("the audit table accepted an UPDATE")
	}
	if _, err := db.Exec(`DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'user:mallory' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = exec.Command(bin, "audit", "verify", "--data", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "FAIL at seq 3") {
		t.Fatalf("audit verify after tampering with seq 3: err %v\n%s", err, out)
	}
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
