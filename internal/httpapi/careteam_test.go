package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// TestCareTeamAPI: nurses assign nurses to patients and units within their tenant, the list
// answers by time, an ended assignment drops out, and only admins manage the on-call roster.
func TestCareTeamAPI(t *testing.T) {
	f := newFixture(t)
	base := "/api/v1/tenants/ta"
	nurse := f.users["ta-nurse"]
	from := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	var c store.CareAssignment
	f.call(t, "ta-nurse", "POST", base+"/care-assignments", map[string]any{"user_id": nurse, "role": "assigned", "subject": "ta-subj", "from": from}, 201, &c)
	if c.ID == "" || c.Tenant != "ta" || c.UserID != nurse || c.Role != store.CareAssigned || !c.From.Equal(from) {
		t.Fatalf("created %+v", c)
	}
	for _, bad := range []map[string]any{
		{"user_id": nurse, "role": "boss", "subject": "ta-subj"},
		{"user_id": nurse, "role": "assigned"},                        // no patient
		{"user_id": nurse, "role": "charge"},                          // no unit
		{"user_id": f.users["tb-nurse"], "role": "unit", "unit": "w"}, // another tenant's user
		{"user_id": nurse, "role": "unit", "unit": "w", "from": from, "to": from},
	} {
		if code, body := f.do(t, "ta-nurse", "POST", base+"/care-assignments", bad); code != 400 {
			t.Errorf("POST %v: %d %s, want 400", bad, code, body)
		}
	}
	if code, _ := f.do(t, "ta-viewer", "POST", base+"/care-assignments", map[string]any{"user_id": nurse, "role": "unit", "unit": "w"}); code != 403 {
		t.Errorf("viewer assigning: %d, want 403", code)
	}
	var list []store.CareAssignment
	f.call(t, "ta-viewer", "GET", base+"/care-assignments", nil, 200, &list)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("active assignments %+v, want [%s]", list, c.ID)
	}
	f.call(t, "ta-viewer", "GET", base+"/care-assignments?at="+from.Add(-time.Minute).Format(time.RFC3339), nil, 200, &list)
	if len(list) != 0 {
		t.Errorf("before it started: %+v", list)
	}
	f.call(t, "ta-nurse", "POST", base+"/care-assignments/"+c.ID+"/end", nil, 204, nil)
	f.call(t, "ta-viewer", "GET", base+"/care-assignments", nil, 200, &list)
	if len(list) != 0 {
		t.Errorf("after ending: %+v", list)
	}
	f.call(t, "ta-viewer", "GET", base+"/care-assignments?at=all", nil, 200, &list)
	if len(list) != 1 || list[0].To.IsZero() {
		t.Errorf("all: %+v, want the ended assignment with its end", list)
	}

	shift := map[string]any{"ref": "physician/medical", "user_id": f.users["ta-clinician"], "from": from, "to": from.Add(12 * time.Hour)}
	if code, _ := f.do(t, "ta-nurse", "POST", base+"/oncall", shift); code != 403 {
		t.Errorf("nurse editing the roster: %d, want 403", code)
	}
	var sh store.OnCallShift
	f.call(t, "ta-admin", "POST", base+"/oncall", shift, 201, &sh)
	var shifts []store.OnCallShift
	f.call(t, "ta-nurse", "GET", base+"/oncall", nil, 200, &shifts)
	if len(shifts) != 1 || shifts[0].Ref != "physician/medical" {
		t.Fatalf("on call %+v", shifts)
	}
	f.call(t, "ta-admin", "DELETE", base+"/oncall/"+sh.ID, nil, 204, nil)
	f.call(t, "ta-admin", "DELETE", base+"/oncall/"+sh.ID, nil, 404, nil)

	var trail struct{ Entries []struct{ Action string } }
	f.call(t, "ta-admin", "GET", base+"/audit", nil, 200, &trail)
	seen := map[string]bool{}
	for _, e := range trail.Entries {
		seen[e.Action] = true
	}
	for _, want := range []string{"care.assign", "care.end", "oncall.create", "oncall.delete"} {
		if !seen[want] {
			t.Errorf("no %s in the audit trail", want)
		}
	}
}

// TestAuditFilters: the audit trail answers only entries of one action and of targets with a
// prefix, in sequence order, continuing after ?after=.
func TestAuditFilters(t *testing.T) {
	f := newFixture(t)
	base := "/api/v1/tenants/ta"
	nurse := f.users["ta-nurse"]
	for i := range 3 {
		f.call(t, "ta-nurse", "POST", base+"/care-assignments", map[string]any{"user_id": nurse, "role": "unit", "unit": fmt.Sprintf("w%d", i)}, 201, nil)
	}
	type entry struct {
		Seq            int64
		Action, Target string
	}
	var all struct{ Entries []entry }
	f.call(t, "ta-admin", "GET", base+"/audit?limit=1000", nil, 200, &all)
	var want []entry
	for _, e := range all.Entries {
		if e.Action == "care.assign" {
			want = append(want, e)
		}
	}
	if len(want) != 3 || len(all.Entries) <= 3 {
		t.Fatalf("trail %+v", all.Entries)
	}
	var got struct{ Entries []entry }
	f.call(t, "ta-admin", "GET", base+"/audit?action=care.assign", nil, 200, &got)
	if fmt.Sprint(got.Entries) != fmt.Sprint(want) {
		t.Errorf("action filter: %+v, want %+v", got.Entries, want)
	}
	f.call(t, "ta-admin", "GET", base+"/audit?action=care.assign&limit=1&after="+fmt.Sprint(want[0].Seq), nil, 200, &got)
	if len(got.Entries) != 1 || got.Entries[0] != want[1] {
		t.Errorf("after the first, one: %+v, want %+v", got.Entries, want[1])
	}
	f.call(t, "ta-admin", "GET", base+"/audit?target=user:", nil, 200, &got)
	for _, e := range got.Entries {
		if !strings.HasPrefix(e.Target, "user:") {
			t.Errorf("target filter let %+v through", e)
		}
	}
	if len(got.Entries) == 0 {
		t.Error("target filter matched nothing")
	}
}
