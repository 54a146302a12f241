package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cc "github.com/vigil-iomt/vigil/internal/coldchainproc"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// newColdChain is the cold-chain service of the test fixture (API only, no processor).
func newColdChain(t *testing.T, st *sqlite.Store, rec cc.Recorder) *cc.Service {
	t.Helper()
	kr, err := esign.NewKeyring(esign.Key{ID: "k1", Secret: []byte("a test signing key of 32 bytes or more")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cc.New(t.Context(), cc.Config{Store: st, Audit: rec, Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestColdChainRoles: viewers and QA read, operators and admins manage, QA alone signs,
// nurses and clinicians get 403 everywhere; then a QA release over HTTP with its error codes.
func TestColdChainRoles(t *testing.T) {
	f := newFixture(t)
	base := "/api/v1/tenants/ta/coldchain"
	f.call(t, "ta-operator", "POST", base+"/sites", map[string]any{"id": "s1", "name": "Site", "timezone": "Europe/Berlin"}, 201, nil)
	f.call(t, "ta-admin", "POST", base+"/units", map[string]any{"id": "u1", "site": "s1", "name": "Fridge", "kind": "fridge",
		"limits":  map[string]any{"low_c": 2, "high_c": 8, "hysteresis_c": 0.3, "alarm_delay_s": 900, "interval_s": 300},
		"sensors": []map[string]any{{"device": "ta-dev"}}}, 201, nil)
	f.call(t, "ta-operator", "POST", base+"/products", map[string]any{"id": "P1", "name": "Vaccine", "limits": map[string]any{"low_c": 2, "high_c": 8},
		"risk": "high", "budget_rules": []map[string]any{{"id": "A", "kind": "cumulative-in-band", "band": map[string]any{"lo_c": 8, "hi_c": 25, "lo_open": true}, "limit_s": 259200}}}, 201, nil)
	f.call(t, "ta-operator", "POST", base+"/lots", map[string]any{"id": "L1", "number": "LOT-1", "product": "P1", "quantity": 10,
		"location": map[string]any{"kind": "unit", "id": "u1"}}, 201, nil)
	for _, u := range []string{"ta-viewer", "ta-qa", "ta-operator", "ta-admin"} {
		for _, p := range []string{"/units", "/units/u1", "/lots/L1", "/products", "/sites", "/shipments", "/mapping-studies", "/units/u1/mkt", "/lots/L1/review"} {
			f.call(t, u, "GET", base+p, nil, 200, nil)
		}
	}
	for _, u := range []string{"ta-nurse", "ta-clinician"} {
		for _, p := range []string{"/units", "/lots/L1", "/lots/L1/review", "/lots/L1/report.pdf"} {
			if code, _ := f.do(t, u, "GET", base+p, nil); code != 403 {
				t.Errorf("GET %s as %s: %d, want 403", p, u, code)
			}
		}
	}
	for _, u := range []string{"ta-viewer", "ta-qa", "ta-nurse"} {
		if code, _ := f.do(t, u, "POST", base+"/sites", map[string]any{"id": "s2", "name": "x"}); code != 403 {
			t.Errorf("POST sites as %s: %d, want 403", u, code)
		}
	}
	if code, b := f.do(t, "ta-operator", "POST", base+"/units", map[string]any{"id": "u2", "site": "s1", "name": "x", "kind": "cupboard",
		"limits": map[string]any{"low_c": 8, "high_c": 2, "interval_s": 0}, "sensors": []any{}}); code != 400 ||
		!strings.Contains(string(b), "kind") || !strings.Contains(string(b), "limits") || !strings.Contains(string(b), "interval_s") {
		t.Errorf("invalid unit: %d %s, want 400 naming kind, limits and interval_s", code, b)
	}

	// Quarantine, then sign: the admin may not; QA must give user id and password.
	f.call(t, "ta-operator", "PATCH", base+"/lots/L1", map[string]any{"quantity": 9, "reason": "recount"}, 200, nil)
	var rv cc.Review
	f.call(t, "ta-qa", "GET", base+"/lots/L1/review", nil, 200, &rv)
	if rv.Status != "available" || rv.CanSign || rv.SignatureState != "none" || len(rv.ReportSHA256) != 64 {
		t.Fatalf("review of an available lot: %+v", rv)
	}
	sign := func(user string, body map[string]any) (int, map[string]any) {
		code, b := f.do(t, user, "POST", base+"/lots/L1/sign", body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return code, m
	}
	body := map[string]any{"meaning": "Rejected", "user_id": "ta-qa", "password": pw, "reason": "r",
		"as_of": rv.AsOf.Format(time.RFC3339Nano), "report_sha256": rv.ReportSHA256}
	if code, _ := sign("ta-admin", body); code != 403 {
		t.Errorf("admin signing: %d, want 403", code)
	}
	if code, m := sign("ta-qa", body); code != 409 || m["code"] != "state" {
		t.Errorf("signing an available lot: %d %v, want 409 state", code, m)
	}
	body["password"] = "wrong"
	if code, m := sign("ta-qa", body); code != 401 || m["code"] != "wrong_password" || m["failures"] != 1.0 {
		t.Errorf("wrong password: %d %v, want 401 wrong_password, failures 1", code, m)
	}
}

// TestColdChainReleaseOverHTTP walks a shipment through pack, dispatch and receive, then
// releases it as QA: the dialog's error codes, the signature, and the exports.
func TestColdChainReleaseOverHTTP(t *testing.T) {
	f := newFixture(t)
	base := "/api/v1/tenants/ta/coldchain"
	for _, s := range []string{"a", "b"} {
		f.call(t, "ta-operator", "POST", base+"/sites", map[string]any{"id": s, "name": s, "timezone": "Europe/Berlin"}, 201, nil)
	}
	f.call(t, "ta-operator", "POST", base+"/units", map[string]any{"id": "u1", "site": "a", "name": "Fridge", "kind": "fridge",
		"limits": map[string]any{"low_c": 2, "high_c": 8, "hysteresis_c": 0.3, "interval_s": 300}, "sensors": []map[string]any{{"device": "ta-dev"}}}, 201, nil)
	f.call(t, "ta-operator", "POST", base+"/products", map[string]any{"id": "P1", "name": "Vaccine", "limits": map[string]any{"low_c": 2, "high_c": 8}}, 201, nil)
	f.call(t, "ta-operator", "POST", base+"/lots", map[string]any{"id": "L1", "number": "LOT-1", "product": "P1", "quantity": 10,
		"location": map[string]any{"kind": "unit", "id": "u1"}}, 201, nil)
	f.call(t, "ta-operator", "POST", base+"/shipments", map[string]any{"id": "S1", "lane": map[string]any{"id": "ab", "origin": "a", "destination": "b"},
		"limits": map[string]any{"low_c": 2, "high_c": 8, "hysteresis_c": 0.3, "interval_s": 600}, "lots": []string{"L1"}}, 201, nil)
	if code, b := f.do(t, "ta-operator", "POST", base+"/shipments/S1/transition", map[string]any{"action": "receive"}); code != 409 || !strings.Contains(string(b), `"transition"`) {
		t.Fatalf("receive a CREATED shipment: %d %s, want 409 transition", code, b)
	}
	for _, act := range []string{"pack", "dispatch", "receive"} {
		f.call(t, "ta-operator", "POST", base+"/shipments/S1/transition", map[string]any{"action": act, "reason": act}, 200, nil)
	}
	var rv cc.Review
	f.call(t, "ta-qa", "GET", base+"/shipments/S1/review", nil, 200, &rv)
	if !rv.CanSign || !rv.Requirement.UserID {
		t.Fatalf("review %+v, want signable, user id required", rv)
	}
	body := map[string]any{"meaning": "Approved for release", "password": pw, "reason": "clean record",
		"as_of": rv.AsOf.Format(time.RFC3339Nano), "report_sha256": rv.ReportSHA256}
	if code, b := f.do(t, "ta-qa", "POST", base+"/shipments/S1/sign", body); code != 400 || !strings.Contains(string(b), "user_id_required") {
		t.Fatalf("first signing without user id: %d %s, want 400 user_id_required", code, b)
	}
	body["user_id"] = "ta-qa"
	var res cc.SignResult
	f.call(t, "ta-qa", "POST", base+"/shipments/S1/sign", body, 201, &res)
	if res.State != "RELEASED" || res.Signature.State != "valid" || !strings.Contains(res.Signature.Manifestation, "ta-qa") ||
		!strings.Contains(res.Signature.Manifestation, "Approved for release") {
		t.Fatalf("sign result %+v", res)
	}
	code, b := f.do(t, "ta-viewer", "GET", base+"/shipments/S1/report.pdf", nil)
	if code != 200 || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("report.pdf: %d, %d bytes, want a PDF", code, len(b))
	}
	if code, b := f.do(t, "ta-viewer", "GET", base+"/shipments/S1/report.csv", nil); code != 200 || !strings.HasPrefix(string(b), "measured_utc,") {
		t.Errorf("report.csv: %d %.60s", code, b)
	}
	if code, _ := f.do(t, "ta-viewer", "GET", base+"/shipments/S1/audit.csv", nil); code != 403 {
		t.Errorf("audit.csv as viewer: %d, want 403", code)
	}
	code, b = f.do(t, "ta-qa", "GET", base+"/shipments/S1/audit.csv", nil)
	if code != 200 || !strings.Contains(string(b), "shipment.release") || !strings.Contains(string(b), "coldchain.sign") {
		t.Errorf("audit.csv as QA: %d %s, want the release and signature entries", code, b)
	}
}
