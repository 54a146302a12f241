package httpapi_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// TestAssessmentRoute: POST …/alarms/{alarm}/assessment records "assessment done" on a NEWS2
// alert (alarms.md §6, §7). Only a physician (clinician with access to the patient) or
// RRT/outreach may; a nurse, an operator, an admin and a viewer are refused with 403 and the
// timer keeps running; the recorded assessment stops the timer, shows in the alarm's history
// and is in the audit trail. A non-NEWS2 alarm answers 400.
func TestAssessmentRoute(t *testing.T) {
	ctx := t.Context()
	lg := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), lg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	trail := audit.New(st, time.Now, lg)
	authn := auth.NewService(st, trail, time.Now, lg, auth.Options{})
	if _, err := authn.EnsureProviderAdmin(ctx, pw); err != nil {
		t.Fatal(err)
	}
	svc, err := alarmproc.New(ctx, alarmproc.Config{Log: idleLog{}, Store: st, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-ran })

	h := httpapi.New(httpapi.Config{Store: st, Auth: authn, Audit: trail, Log: lg, Alarms: svc}).Handler()
	var tok struct{ Token string }
	mustServe(t, h, "", "POST", "/api/v1/login", map[string]string{"username": "admin", "password": pw}, 200, &tok)
	mustServe(t, h, tok.Token, "POST", "/api/v1/tenants", map[string]string{"id": "ward", "name": "Ward"}, 201, nil)
	tokens := map[store.Role]string{}
	for _, role := range []store.Role{store.Admin, store.Clinician, store.Nurse, store.Operator, store.Viewer} {
		name := "w-" + string(role)
		mustServe(t, h, tok.Token, "POST", "/api/v1/tenants/ward/users", map[string]any{"username": name, "password": pw, "role": role}, 201, nil)
		var u struct{ Token string }
		mustServe(t, h, "", "POST", "/api/v1/login", map[string]string{"username": name, "password": pw}, 200, &u)
		tokens[role] = u.Token
	}

	at := time.Now().Add(-time.Second)
	news2 := alarm.Condition{Tenant: "ward", Subject: "pat1", Metric: "news2", Code: alarm.NEWS2High, Kind: alarm.Advisory,
		Priority: alarm.High, Latching: true, Status: alarm.StatusPresent, At: at, Onset: at, Value: 7}
	hr := alarm.Condition{Tenant: "ward", Subject: "pat1", Device: "d1", Metric: "hr", Code: alarm.HRExtremeHigh, Kind: alarm.Physiological,
		Priority: alarm.High, Latching: true, Status: alarm.StatusPresent, At: at, Onset: at, Value: 180, Limit: 150, UCUM: "/min"}
	if err := svc.Apply(ctx, []alarm.Condition{news2, hr}); err != nil {
		t.Fatal(err)
	}
	news2ID := alarm.AlarmID(news2.DedupKey(), at).String()
	hrID := alarm.AlarmID(hr.DedupKey(), at).String()
	path := "/api/v1/tenants/ward/alarms/" + news2ID + "/assessment"

	var v alarmproc.View
	mustServe(t, h, tokens[store.Clinician], "GET", "/api/v1/tenants/ward/alarms/"+news2ID, nil, 200, &v)
	if v.AssessmentDueAt == nil || v.AssessmentDueAt.Sub(at.UTC()) != 30*time.Minute {
		t.Fatalf("NEWS2_HIGH assessment due %v, want 30 min after %v", v.AssessmentDueAt, at)
	}
	for _, role := range []store.Role{store.Nurse, store.Operator, store.Admin, store.Viewer} {
		if rec := serve(t, h, tokens[role], "POST", path, map[string]string{"note": "x"}); rec.Code != 403 {
			t.Errorf("assessment by a %s: %d %s, want 403", role, rec.Code, rec.Body.Bytes())
		}
	}
	v = alarmproc.View{}
	mustServe(t, h, tokens[store.Clinician], "GET", "/api/v1/tenants/ward/alarms/"+news2ID, nil, 200, &v)
	if v.AssessmentDueAt == nil {
		t.Fatal("a refused assessment stopped the timer")
	}
	if rec := serve(t, h, tokens[store.Clinician], "POST", "/api/v1/tenants/ward/alarms/"+hrID+"/assessment", nil); rec.Code != 400 {
		t.Errorf("assessment on HR_EXTREME_HIGH: %d %s, want 400", rec.Code, rec.Body.Bytes())
	}

	v = alarmproc.View{} // a fresh value: Unmarshal leaves fields the answer omits
	mustServe(t, h, tokens[store.Clinician], "POST", path, map[string]string{"note": "reviewed, plan made"}, 200, &v)
	if v.AssessmentDueAt != nil || v.State != "active" || v.History[len(v.History)-1].Action != "assessment_recorded" {
		t.Errorf("after the assessment: due %v, state %s, last step %+v; want no deadline, still active, assessment_recorded",
			v.AssessmentDueAt, v.State, v.History[len(v.History)-1])
	}
	var trailOut struct {
		Entries []struct{ Action, Target, Actor string }
	}
	mustServe(t, h, tokens[store.Admin], "GET", "/api/v1/tenants/ward/audit?action=alarm.assess", nil, 200, &trailOut)
	if len(trailOut.Entries) != 1 || trailOut.Entries[0].Target != "alarm:"+news2ID {
		t.Errorf("audit entries for alarm.assess: %+v, want one on alarm:%s", trailOut.Entries, news2ID)
	}
}
