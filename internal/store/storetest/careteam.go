package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// RunCareTeam runs the store.CareStore conformance suite against the backend that open
// creates; the store open returns must implement store.CareStore.
func RunCareTeam(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.CareStore)
	}{
		{"Assignments", testCareAssignments},
		{"OnCall", testOnCall},
		{"PolicyVersions", testAlarmPolicyVersions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			cs, ok := s.(store.CareStore)
			if !ok {
				t.Fatalf("%T does not implement store.CareStore", s)
			}
			tt.fn(t, cs)
		})
	}
}

func careIDs[T any](xs []T, id func(T) string) string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	return fmt.Sprint(out)
}

func testCareAssignments(t *testing.T, s store.CareStore) {
	ctx := t.Context()
	h := time.Hour
	add := func(a store.CareAssignment) {
		t.Helper()
		mustNoErr(t, "CreateCareAssignment "+a.ID, s.CreateCareAssignment(ctx, a))
	}
	add(store.CareAssignment{ID: "a1", Tenant: "acme", UserID: "nina", Role: store.CareAssigned, Subject: "p1", From: t0, To: t0.Add(8 * h)})
	add(store.CareAssignment{ID: "a2", Tenant: "acme", UserID: "olga", Role: store.CareAssigned, Subject: "p1", From: t0.Add(8 * h)})
	add(store.CareAssignment{ID: "c1", Tenant: "acme", UserID: "carl", Role: store.CareCharge, Unit: "ward-a", From: t0.Add(-h)})
	add(store.CareAssignment{ID: "x1", Tenant: "globex", UserID: "gus", Role: store.CareAssigned, Subject: "p1", From: t0})
	wantErr(t, "duplicate id", s.CreateCareAssignment(ctx, store.CareAssignment{ID: "a1", Tenant: "acme", UserID: "z", Role: store.CareBuddy, From: t0}), store.ErrConflict)

	id := func(a store.CareAssignment) string { return a.ID }
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-2 * h), "[]"},
		{t0, "[c1 a1]"},
		{t0.Add(8*h - time.Nanosecond), "[c1 a1]"},
		{t0.Add(8 * h), "[c1 a2]"}, // the end is exclusive, the start inclusive
		{time.Time{}, "[c1 a1 a2]"},
	} {
		got, err := s.CareAssignments(ctx, "acme", tc.at)
		mustNoErr(t, "CareAssignments", err)
		if g := careIDs(got, id); g != tc.want {
			t.Errorf("CareAssignments(acme, %v) = %s, want %s", tc.at, g, tc.want)
		}
	}
	got, err := s.CareAssignments(ctx, "acme", t0)
	mustNoErr(t, "CareAssignments", err)
	if a := got[1]; a.UserID != "nina" || a.Role != store.CareAssigned || a.Subject != "p1" || !a.From.Equal(t0) || !a.To.Equal(t0.Add(8*h)) {
		t.Errorf("round trip = %+v", a)
	}
	mustNoErr(t, "EndCareAssignment", s.EndCareAssignment(ctx, "acme", "c1", t0.Add(h)))
	got, _ = s.CareAssignments(ctx, "acme", t0.Add(2*h))
	if g := careIDs(got, id); g != "[a1]" {
		t.Errorf("after ending c1: %s, want [a1]", g)
	}
	wantErr(t, "EndCareAssignment of another tenant", s.EndCareAssignment(ctx, "globex", "a1", t0), store.ErrNotFound)
}

func testOnCall(t *testing.T, s store.CareStore) {
	ctx := t.Context()
	h := time.Hour
	mustNoErr(t, "CreateOnCall", s.CreateOnCall(ctx, store.OnCallShift{ID: "s1", Tenant: "acme", Ref: "physician/medical", UserID: "drx", From: t0, To: t0.Add(12 * h)}))
	mustNoErr(t, "CreateOnCall", s.CreateOnCall(ctx, store.OnCallShift{ID: "s2", Tenant: "acme", Ref: "physician/medical", UserID: "dry", From: t0.Add(12 * h), To: t0.Add(24 * h)}))
	mustNoErr(t, "CreateOnCall", s.CreateOnCall(ctx, store.OnCallShift{ID: "s3", Tenant: "globex", Ref: "rrt", UserID: "g", From: t0, To: t0.Add(24 * h)}))
	wantErr(t, "duplicate", s.CreateOnCall(ctx, store.OnCallShift{ID: "s1", Tenant: "acme", Ref: "ops", UserID: "o", From: t0, To: t0.Add(h)}), store.ErrConflict)
	id := func(s store.OnCallShift) string { return s.UserID }
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Nanosecond), "[]"},
		{t0, "[drx]"},
		{t0.Add(12 * h), "[dry]"},
		{t0.Add(24 * h), "[]"},
		{time.Time{}, "[drx dry]"},
	} {
		got, err := s.OnCall(ctx, "acme", tc.at)
		mustNoErr(t, "OnCall", err)
		if g := careIDs(got, id); g != tc.want {
			t.Errorf("OnCall(acme, %v) = %s, want %s", tc.at, g, tc.want)
		}
	}
	mustNoErr(t, "DeleteOnCall", s.DeleteOnCall(ctx, "acme", "s1"))
	wantErr(t, "DeleteOnCall again", s.DeleteOnCall(ctx, "acme", "s1"), store.ErrNotFound)
	wantErr(t, "DeleteOnCall of another tenant", s.DeleteOnCall(ctx, "acme", "s3"), store.ErrNotFound)
}

func testAlarmPolicyVersions(t *testing.T, s store.CareStore) {
	ctx := t.Context()
	doc := func(tenant string, v int, body string) store.AlarmPolicyDoc {
		return store.AlarmPolicyDoc{Tenant: tenant, Version: v, JSON: []byte(body), UpdatedBy: "admin", UpdatedAt: t0}
	}
	wantErr(t, "first save at version 2", s.SaveAlarmPolicies(ctx, doc("acme", 2, "[]")), store.ErrConflict)
	mustNoErr(t, "save v1", s.SaveAlarmPolicies(ctx, doc("acme", 1, `[{"id":"a"}]`)))
	wantErr(t, "save v1 again", s.SaveAlarmPolicies(ctx, doc("acme", 1, "[]")), store.ErrConflict)
	wantErr(t, "skip to v3", s.SaveAlarmPolicies(ctx, doc("acme", 3, "[]")), store.ErrConflict)
	mustNoErr(t, "save v2", s.SaveAlarmPolicies(ctx, doc("acme", 2, `[{"id":"b"}]`)))
	mustNoErr(t, "save globex v1", s.SaveAlarmPolicies(ctx, doc("globex", 1, `[]`)))
	got, err := s.AlarmPolicies(ctx)
	mustNoErr(t, "AlarmPolicies", err)
	if len(got) != 2 || got[0].Tenant != "acme" || got[0].Version != 2 || string(got[0].JSON) != `[{"id":"b"}]` ||
		got[0].UpdatedBy != "admin" || !got[0].UpdatedAt.Equal(t0) || got[1].Tenant != "globex" {
		t.Errorf("AlarmPolicies = %+v", got)
	}
}
