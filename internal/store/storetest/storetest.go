// Package storetest is the conformance suite every store.Store backend must pass: one set of
// sub-tests, with answers worked out by hand, run by each backend's own tests
// (store/sqlite, store/postgres).
//
// Each sub-test opens its own store, so sub-tests share no state; the suite itself starts no
// goroutine that outlives a sub-test.
package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Open returns a new, empty store that no other sub-test uses. The suite calls Migrate
// itself; Open registers the store's Close (and any clean-up) with t.Cleanup.
type Open func(t *testing.T) store.Store

// Run runs the conformance suite against the backend that open creates.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Migrate", testMigrate},
		{"Tenants", testTenants},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Devices", testDevices},
		{"DeviceConnection", testDeviceConnection},
		{"InsertReadingsIdempotent", testInsertIdempotent},
		{"Readings", testReadings},
		{"Buckets", testBuckets},
		{"BucketsAlignment", testBucketsAlignment},
		{"Latest", testLatest},
		{"LastSeen", testLastSeen},
		{"Subjects", testSubjects},
		{"TenantIsolation", testTenantIsolation},
		{"Audit", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			tt.fn(t, s)
		})
	}
}

// t0 is a whole minute, so that hand-computed 1-minute buckets start at t0 + k minutes.
var t0 = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

func mustNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want errors.Is(err, %v)", what, err, want)
	}
}

func addTenant(t *testing.T, s store.Store, id string) {
	t.Helper()
	mustNoErr(t, "CreateTenant "+id, s.CreateTenant(t.Context(), store.Tenant{ID: id, Name: "Tenant " + id, Created: t0}))
}

func addDevice(t *testing.T, s store.Store, tenant, id, subject string) {
	t.Helper()
	d := store.Device{ID: id, Tenant: tenant, Model: "M1", Serial: "S-" + id, Kind: "patient", Subject: subject,
		SecretHash: "$argon2id$x", Created: t0}
	mustNoErr(t, "CreateDevice "+id, s.CreateDevice(t.Context(), d))
}

// rd builds a valid numeric reading measured at t0+at and received one second later.
func rd(tenant, device, subject, metric string, at time.Duration, v float64) reading.Reading {
	m := t0.Add(at)
	return reading.Reading{
		ID: reading.NewID(tenant, device, metric, m), Tenant: tenant, Device: device, Subject: subject,
		Metric: metric, Kind: reading.Number, Value: v, Unit: "/min", Measured: m, Received: m.Add(time.Second),
	}
}

func insert(t *testing.T, s store.Store, rs ...reading.Reading) int {
	t.Helper()
	n, err := s.InsertReadings(t.Context(), rs)
	mustNoErr(t, "InsertReadings", err)
	return n
}

func testMigrate(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	for i := range 2 {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate again (%d): %v", i+1, err)
		}
	}
	if _, err := s.Tenant(ctx, "acme"); err != nil {
		t.Fatalf("Tenant after repeated Migrate: %v", err)
	}
	mustNoErr(t, "Ping", s.Ping(ctx))
}

func testTenants(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := store.Tenant{ID: "acme", Name: "Acme Hospital", Settings: map[string]string{"tz": "Europe/Zurich", "news2.scale": "1"}, Created: t0}
	mustNoErr(t, "CreateTenant", s.CreateTenant(ctx, want))
	mustNoErr(t, "CreateTenant globex", s.CreateTenant(ctx, store.Tenant{ID: "globex", Name: "Globex", Created: t0}))
	wantErr(t, "CreateTenant duplicate", s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Other"}), store.ErrConflict)

	got, err := s.Tenant(ctx, "acme")
	mustNoErr(t, "Tenant", err)
	if got.ID != want.ID || got.Name != want.Name || !got.Created.Equal(want.Created) || !mapsEqual(got.Settings, want.Settings) {
		t.Fatalf("Tenant(acme) = %+v, want %+v", got, want)
	}
	_, err = s.Tenant(ctx, "nope")
	wantErr(t, "Tenant(nope)", err, store.ErrNotFound)

	g, err := s.Tenant(ctx, "globex")
	mustNoErr(t, "Tenant globex", err)
	if len(g.Settings) != 0 {
		t.Fatalf("Tenant(globex).Settings = %v, want empty", g.Settings)
	}

	all, err := s.Tenants(ctx)
	mustNoErr(t, "Tenants", err)
	if ids := tenantIDs(all); !slices.Equal(ids, []string{"acme", "globex"}) {
		t.Fatalf("Tenants() = %v, want [acme globex]", ids)
	}

	mustNoErr(t, "UpdateTenantSettings", s.UpdateTenantSettings(ctx, "acme", map[string]string{"tz": "UTC"}))
	got, err = s.Tenant(ctx, "acme")
	mustNoErr(t, "Tenant after update", err)
	if !mapsEqual(got.Settings, map[string]string{"tz": "UTC"}) {
		t.Fatalf("settings after update = %v, want map[tz:UTC]", got.Settings)
	}
	wantErr(t, "UpdateTenantSettings(nope)", s.UpdateTenantSettings(ctx, "nope", nil), store.ErrNotFound)
}

func tenantIDs(ts []store.Tenant) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	alice := store.User{ID: "u1", Tenant: "acme", Username: "alice", Role: store.Nurse, PasswordHash: "$argon2id$a", Created: t0}
	mustNoErr(t, "CreateUser alice", s.CreateUser(ctx, alice))
	mustNoErr(t, "CreateUser bob", s.CreateUser(ctx, store.User{ID: "u2", Tenant: "globex", Username: "bob", Role: store.Admin, PasswordHash: "h", Created: t0}))
	mustNoErr(t, "CreateUser carol", s.CreateUser(ctx, store.User{ID: "u3", Tenant: "acme", Username: "carol", Role: store.Viewer, PasswordHash: "h", Created: t0}))

	wantErr(t, "CreateUser same ID", s.CreateUser(ctx, store.User{ID: "u1", Tenant: "acme", Username: "other", Role: store.Nurse}), store.ErrConflict)
	wantErr(t, "CreateUser same username in another tenant",
		s.CreateUser(ctx, store.User{ID: "u9", Tenant: "globex", Username: "alice", Role: store.Nurse}), store.ErrConflict)
	if err := s.CreateUser(ctx, store.User{ID: "u8", Tenant: "nope", Username: "zed", Role: store.Nurse}); err == nil {
		t.Fatal("CreateUser in a tenant that does not exist: no error")
	}

	got, err := s.User(ctx, "acme", "u1")
	mustNoErr(t, "User", err)
	if got != alice {
		t.Fatalf("User(acme, u1) = %+v, want %+v", got, alice)
	}
	_, err = s.User(ctx, "globex", "u1")
	wantErr(t, "User(globex, u1) across tenants", err, store.ErrNotFound)
	_, err = s.User(ctx, "acme", "nope")
	wantErr(t, "User(acme, nope)", err, store.ErrNotFound)

	byName, err := s.UserByName(ctx, "bob")
	mustNoErr(t, "UserByName", err)
	if byName.ID != "u2" || byName.Tenant != "globex" {
		t.Fatalf("UserByName(bob) = %s in %s, want u2 in globex", byName.ID, byName.Tenant)
	}
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, "UserByName(nobody)", err, store.ErrNotFound)

	list, err := s.Users(ctx, "acme")
	mustNoErr(t, "Users", err)
	var names []string
	for _, u := range list {
		names = append(names, u.Username)
	}
	if !slices.Equal(names, []string{"alice", "carol"}) {
		t.Fatalf("Users(acme) = %v, want [alice carol]", names)
	}

	upd := alice
	upd.Role, upd.PasswordHash, upd.Disabled, upd.FailedLogins, upd.LockedUntil = store.Clinician, "$argon2id$b", true, 3, t0.Add(30*time.Minute)
	upd.Username = "ignored" // not among the replaced fields
	mustNoErr(t, "UpdateUser", s.UpdateUser(ctx, upd))
	got, err = s.User(ctx, "acme", "u1")
	mustNoErr(t, "User after update", err)
	want := upd
	want.Username = "alice"
	if got != want {
		t.Fatalf("User after UpdateUser = %+v, want %+v", got, want)
	}
	// Clearing the lock stores the zero time again.
	upd.LockedUntil, upd.FailedLogins = time.Time{}, 0
	mustNoErr(t, "UpdateUser unlock", s.UpdateUser(ctx, upd))
	got, _ = s.User(ctx, "acme", "u1")
	if !got.LockedUntil.IsZero() || got.FailedLogins != 0 {
		t.Fatalf("after unlock LockedUntil = %v, FailedLogins = %d, want zero, 0", got.LockedUntil, got.FailedLogins)
	}

	cross := upd
	cross.Tenant, cross.Role = "globex", store.Admin
	wantErr(t, "UpdateUser across tenants", s.UpdateUser(ctx, cross), store.ErrNotFound)
	got, _ = s.User(ctx, "acme", "u1")
	if got.Role != store.Clinician {
		t.Fatalf("UpdateUser across tenants changed the role to %s", got.Role)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	mustNoErr(t, "CreateUser", s.CreateUser(ctx, store.User{ID: "u1", Tenant: "acme", Username: "alice", Role: store.Nurse, PasswordHash: "h"}))
	mustNoErr(t, "CreateUser", s.CreateUser(ctx, store.User{ID: "u2", Tenant: "acme", Username: "bob", Role: store.Nurse, PasswordHash: "h"}))
	sess := store.Token{Hash: "h1", Kind: store.SessionToken, UserID: "u1", Tenant: "acme", CSRF: "c1", Created: t0, Expires: t0.Add(8 * time.Hour)}
	for _, tok := range []store.Token{
		sess,
		{Hash: "h2", Kind: store.APIToken, UserID: "u1", Tenant: "acme", Created: t0},
		{Hash: "h3", Kind: store.APIToken, UserID: "u2", Tenant: "acme", Created: t0},
	} {
		mustNoErr(t, "CreateToken "+tok.Hash, s.CreateToken(ctx, tok))
	}
	wantErr(t, "CreateToken duplicate", s.CreateToken(ctx, store.Token{Hash: "h1", Kind: store.APIToken, UserID: "u2", Tenant: "acme"}), store.ErrConflict)

	got, err := s.Token(ctx, "h1")
	mustNoErr(t, "Token", err)
	if got != sess {
		t.Fatalf("Token(h1) = %+v, want %+v", got, sess)
	}
	got, err = s.Token(ctx, "h2")
	mustNoErr(t, "Token h2", err)
	if !got.Expires.IsZero() {
		t.Fatalf("Token(h2).Expires = %v, want zero", got.Expires)
	}
	_, err = s.Token(ctx, "nope")
	wantErr(t, "Token(nope)", err, store.ErrNotFound)

	wantErr(t, "RevokeToken across tenants", s.RevokeToken(ctx, "globex", "h1"), store.ErrNotFound)
	if got, _ := s.Token(ctx, "h1"); got.Revoked {
		t.Fatal("RevokeToken from another tenant revoked the token")
	}
	wantErr(t, "RevokeToken(nope)", s.RevokeToken(ctx, "acme", "nope"), store.ErrNotFound)
	mustNoErr(t, "RevokeToken", s.RevokeToken(ctx, "acme", "h1"))
	if got, _ := s.Token(ctx, "h1"); !got.Revoked {
		t.Fatal("Token(h1).Revoked = false after RevokeToken")
	}

	mustNoErr(t, "RevokeUserTokens across tenants", s.RevokeUserTokens(ctx, "globex", "u1"))
	if got, _ := s.Token(ctx, "h2"); got.Revoked {
		t.Fatal("RevokeUserTokens from another tenant revoked h2")
	}
	mustNoErr(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, "acme", "u1"))
	for hash, want := range map[string]bool{"h1": true, "h2": true, "h3": false} {
		got, err := s.Token(ctx, hash)
		mustNoErr(t, "Token "+hash, err)
		if got.Revoked != want {
			t.Errorf("after RevokeUserTokens(u1): Token(%s).Revoked = %v, want %v", hash, got.Revoked, want)
		}
	}
}

func testDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	want := store.Device{ID: "bed4-mon", Tenant: "acme", Model: "IntelliVue", Serial: "SN1", Kind: "patient",
		Subject: "P-1", SecretHash: "$argon2id$d", Created: t0}
	mustNoErr(t, "CreateDevice", s.CreateDevice(ctx, want))
	addDevice(t, s, "acme", "fridge-7", "FRIDGE-07")
	addDevice(t, s, "globex", "truck-1", "TRUCK-1")
	wantErr(t, "CreateDevice same ID in another tenant",
		s.CreateDevice(ctx, store.Device{ID: "bed4-mon", Tenant: "globex", Model: "x"}), store.ErrConflict)
	if err := s.CreateDevice(ctx, store.Device{ID: "orphan", Tenant: "nope"}); err == nil {
		t.Fatal("CreateDevice in a tenant that does not exist: no error")
	}

	got, err := s.Device(ctx, "acme", "bed4-mon")
	mustNoErr(t, "Device", err)
	if got != want {
		t.Fatalf("Device(acme, bed4-mon) = %+v, want %+v", got, want)
	}
	_, err = s.Device(ctx, "globex", "bed4-mon")
	wantErr(t, "Device across tenants", err, store.ErrNotFound)
	got, err = s.DeviceByID(ctx, "truck-1")
	mustNoErr(t, "DeviceByID", err)
	if got.Tenant != "globex" {
		t.Fatalf("DeviceByID(truck-1).Tenant = %s, want globex", got.Tenant)
	}
	_, err = s.DeviceByID(ctx, "nope")
	wantErr(t, "DeviceByID(nope)", err, store.ErrNotFound)

	list, err := s.Devices(ctx, "acme")
	mustNoErr(t, "Devices", err)
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{"bed4-mon", "fridge-7"}) {
		t.Fatalf("Devices(acme) = %v, want [bed4-mon fridge-7]", ids)
	}

	upd := want
	upd.Model, upd.Serial, upd.Kind, upd.Subject, upd.SecretHash, upd.Revoked = "MX40", "SN2", "oximeter", "P-2", "$argon2id$e", true
	mustNoErr(t, "UpdateDevice", s.UpdateDevice(ctx, upd))
	got, _ = s.Device(ctx, "acme", "bed4-mon")
	if got != upd {
		t.Fatalf("Device after UpdateDevice = %+v, want %+v", got, upd)
	}
	cross := upd
	cross.Tenant, cross.Model = "globex", "hijack"
	wantErr(t, "UpdateDevice across tenants", s.UpdateDevice(ctx, cross), store.ErrNotFound)
	if got, _ := s.Device(ctx, "acme", "bed4-mon"); got.Model != "MX40" {
		t.Fatalf("UpdateDevice across tenants changed the model to %s", got.Model)
	}
}

func testDeviceConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	addDevice(t, s, "acme", "bed4-mon", "P-1")
	up, down := t0.Add(time.Minute), t0.Add(2*time.Minute)

	mustNoErr(t, "SetDeviceConnection(connected)", s.SetDeviceConnection(ctx, "acme", "bed4-mon", true, up))
	got, err := s.Device(ctx, "acme", "bed4-mon")
	mustNoErr(t, "Device", err)
	if !got.Connected || !got.ConnectedAt.Equal(up) || !got.DisconnectedAt.IsZero() || !got.LastSeen.Equal(up) {
		t.Fatalf("after connect: Connected %v, ConnectedAt %v, DisconnectedAt %v, LastSeen %v; want true, %v, zero, %v",
			got.Connected, got.ConnectedAt, got.DisconnectedAt, got.LastSeen, up, up)
	}
	mustNoErr(t, "SetDeviceConnection(disconnected)", s.SetDeviceConnection(ctx, "acme", "bed4-mon", false, down))
	got, _ = s.Device(ctx, "acme", "bed4-mon")
	if got.Connected || !got.ConnectedAt.Equal(up) || !got.DisconnectedAt.Equal(down) || !got.LastSeen.Equal(down) {
		t.Fatalf("after disconnect: Connected %v, ConnectedAt %v, DisconnectedAt %v, LastSeen %v; want false, %v, %v, %v",
			got.Connected, got.ConnectedAt, got.DisconnectedAt, got.LastSeen, up, down, down)
	}
	// A reading received later than the disconnect moves LastSeen; an older connect event does not move it back.
	r := rd("acme", "bed4-mon", "P-1", "MDC_PULS_OXIM_SAT_O2", 5*time.Minute, 97)
	insert(t, s, r)
	mustNoErr(t, "SetDeviceConnection(old connect)", s.SetDeviceConnection(ctx, "acme", "bed4-mon", true, up))
	got, _ = s.Device(ctx, "acme", "bed4-mon")
	if !got.Connected || !got.LastSeen.Equal(r.Received) {
		t.Fatalf("after a reading received %v and a connect at %v: Connected %v, LastSeen %v; want true, %v",
			r.Received, up, got.Connected, got.LastSeen, r.Received)
	}

	wantErr(t, "SetDeviceConnection across tenants", s.SetDeviceConnection(ctx, "globex", "bed4-mon", false, down), store.ErrNotFound)
	if got, _ := s.Device(ctx, "acme", "bed4-mon"); !got.Connected {
		t.Fatal("SetDeviceConnection in another tenant disconnected the device")
	}
	wantErr(t, "SetDeviceConnection(unknown)", s.SetDeviceConnection(ctx, "acme", "nope", true, up), store.ErrNotFound)
}

func testInsertIdempotent(t *testing.T, s store.Store) {
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	if n := insert(t, s); n != 0 {
		t.Fatalf("InsertReadings(none) = %d, want 0", n)
	}
	a := rd("acme", "d1", "P-1", "hr", 0, 60)
	b := rd("acme", "d1", "P-1", "hr", time.Second, 61)
	c := rd("acme", "d1", "P-1", "hr", 2*time.Second, 62)
	if n := insert(t, s, a, b); n != 2 {
		t.Fatalf("InsertReadings(a, b) = %d, want 2", n)
	}
	if n := insert(t, s, a, b); n != 0 {
		t.Fatalf("InsertReadings(a, b) again = %d, want 0", n)
	}
	if n := insert(t, s, b, c, c); n != 1 {
		t.Fatalf("InsertReadings(b, c, c) = %d, want 1 (only c is new)", n)
	}
	// A batch larger than any internal chunk, half of it already stored.
	var big []reading.Reading
	for i := range 1000 {
		big = append(big, rd("acme", "d1", "P-1", "spo2", time.Duration(i)*time.Second, 95))
	}
	if n := insert(t, s, big[:500]...); n != 500 {
		t.Fatalf("InsertReadings(500 new) = %d, want 500", n)
	}
	if n := insert(t, s, big...); n != 500 {
		t.Fatalf("InsertReadings(1000, 500 stored) = %d, want 500", n)
	}
	pts, err := s.Readings(t.Context(), store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr"})
	mustNoErr(t, "Readings", err)
	if len(pts) != 3 {
		t.Fatalf("Readings(hr) = %d points, want 3", len(pts))
	}
	pts, err = s.Readings(t.Context(), store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "spo2"})
	mustNoErr(t, "Readings", err)
	if len(pts) != 1000 {
		t.Fatalf("Readings(spo2) = %d points, want 1000", len(pts))
	}
	if _, err := s.InsertReadings(t.Context(), []reading.Reading{{Device: "d1", Metric: "hr", Measured: t0}}); err == nil {
		t.Fatal("InsertReadings of a reading without a tenant: no error")
	}
}

func testReadings(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	addDevice(t, s, "acme", "d2", "P-1")
	txt := rd("acme", "d2", "P-1", "hr", 20*time.Second, 0)
	txt.Kind, txt.Text, txt.Unit, txt.Flags = reading.String, "lead off", "", reading.Implausible|reading.TimeRelative
	sum := rd("acme", "d1", "P-1", "hr", 10*time.Second, 72.5)
	sum.Sum, sum.HasSum = 1234.5, true
	// Inserted out of order; another subject and metric that must not appear.
	insert(t, s,
		rd("acme", "d1", "P-1", "hr", 30*time.Second, 75),
		txt, sum,
		rd("acme", "d1", "P-1", "hr", -time.Second, 70),
		rd("acme", "d1", "P-1", "spo2", 10*time.Second, 97),
		rd("acme", "d1", "P-2", "hr", 10*time.Second, 99),
		rd("acme", "d1", "P-1", "hr", time.Minute, 80),
	)
	q := store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr", From: t0, To: t0.Add(time.Minute)}
	pts, err := s.Readings(ctx, q)
	mustNoErr(t, "Readings", err)
	// From is inclusive (t0-1s is out), To exclusive (t0+60s is out).
	want := []store.Point{
		{Measured: t0.Add(10 * time.Second), Received: t0.Add(11 * time.Second), Device: "d1", Metric: "hr", Kind: reading.Number, Value: 72.5, Unit: "/min"},
		{Measured: t0.Add(20 * time.Second), Received: t0.Add(21 * time.Second), Device: "d2", Metric: "hr", Kind: reading.String, Text: "lead off", Flags: reading.Implausible | reading.TimeRelative},
		{Measured: t0.Add(30 * time.Second), Received: t0.Add(31 * time.Second), Device: "d1", Metric: "hr", Kind: reading.Number, Value: 75, Unit: "/min"},
	}
	if !pointsEqual(pts, want) {
		t.Fatalf("Readings(%+v) =\n%+v\nwant\n%+v", q, pts, want)
	}
	for _, p := range pts {
		if p.Measured.Location() != time.UTC {
			t.Fatalf("Measured %v not in UTC", p.Measured)
		}
	}
	q.From = t0.Add(-time.Second)
	q.Limit = 2
	pts, err = s.Readings(ctx, q)
	mustNoErr(t, "Readings with limit", err)
	if len(pts) != 2 || pts[0].Value != 70 || pts[1].Value != 72.5 {
		t.Fatalf("Readings(limit 2) = %+v, want the points of 70 and 72.5", pts)
	}
	pts, err = s.Readings(ctx, store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr", From: t0.Add(2 * time.Minute), To: t0.Add(3 * time.Minute)})
	mustNoErr(t, "Readings empty range", err)
	if len(pts) != 0 {
		t.Fatalf("Readings(empty range) = %d points, want 0", len(pts))
	}
}

func pointsEqual(a, b []store.Point) bool {
	return slices.EqualFunc(a, b, func(x, y store.Point) bool {
		return x.Measured.Equal(y.Measured) && x.Received.Equal(y.Received) && x.Device == y.Device &&
			x.Metric == y.Metric && x.Kind == y.Kind && x.Value == y.Value && x.Text == y.Text && x.Unit == y.Unit && x.Flags == y.Flags
	})
}

func testBuckets(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	addDevice(t, s, "acme", "d2", "P-1")
	str := rd("acme", "d2", "P-1", "hr", 15*time.Second, 1000)
	str.Kind, str.Text = reading.String, "artefact"
	boo := rd("acme", "d2", "P-1", "hr", 16*time.Second, 1)
	boo.Kind = reading.Bool
	insert(t, s,
		rd("acme", "d1", "P-1", "hr", -time.Second, 500), // before From
		rd("acme", "d1", "P-1", "hr", 0, 60),
		rd("acme", "d1", "P-1", "hr", 30*time.Second, 70),
		rd("acme", "d2", "P-1", "hr", 30*time.Second, 71),
		rd("acme", "d1", "P-1", "hr", 59*time.Second+999*time.Millisecond, 80),
		str, boo, // not numeric: not counted
		rd("acme", "d1", "P-1", "hr", time.Minute, 90),
		rd("acme", "d1", "P-1", "hr", 5*time.Minute+30*time.Second, 100),
		rd("acme", "d1", "P-1", "hr", 5*time.Minute+45*time.Second, 50),
		rd("acme", "d1", "P-1", "hr", 10*time.Minute, 400), // at To: excluded
		rd("acme", "d1", "P-1", "rr", 30*time.Second, 16),  // other metric
		rd("acme", "d1", "P-2", "hr", 30*time.Second, 200), // other subject
	)
	q := store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr", From: t0, To: t0.Add(10 * time.Minute)}
	got, err := s.Buckets(ctx, q, time.Minute)
	mustNoErr(t, "Buckets", err)
	want := []store.Bucket{
		{Start: t0, Min: 60, Max: 80, Mean: 70.25, Count: 4}, // (60+70+71+80)/4
		{Start: t0.Add(time.Minute), Min: 90, Max: 90, Mean: 90, Count: 1},
		{Start: t0.Add(5 * time.Minute), Min: 50, Max: 100, Mean: 75, Count: 2},
	}
	checkBuckets(t, "Buckets(1 min)", got, want)

	// From not on a bucket boundary: buckets stay aligned to the epoch; only points >= From count.
	q.From = t0.Add(20 * time.Second)
	got, err = s.Buckets(ctx, q, 5*time.Minute)
	mustNoErr(t, "Buckets", err)
	want = []store.Bucket{
		// 09:25:00–09:30:00 holds 70, 71, 80 (>= 09:26:20) and 90 (09:27:00).
		{Start: time.Date(2025, 3, 14, 9, 25, 0, 0, time.UTC), Min: 70, Max: 90, Mean: 77.75, Count: 4},
		// 09:30:00–09:35:00 holds 100 (09:31:30) and 50 (09:31:45).
		{Start: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC), Min: 50, Max: 100, Mean: 75, Count: 2},
	}
	checkBuckets(t, "Buckets(5 min, From 09:26:20)", got, want)

	if _, err := s.Buckets(ctx, q, 0); err == nil {
		t.Fatal("Buckets with step 0: no error")
	}
}

func testBucketsAlignment(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	at := func(unix int64, v float64) reading.Reading {
		r := rd("acme", "d1", "P-1", "temp", 0, v)
		r.Measured = time.Unix(unix, 0).UTC()
		r.Received = r.Measured
		r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
		return r
	}
	// 1,700,000,000 s = 2023-11-14T22:13:20Z; 1,700,000,000 / 420 = 4,047,619.05, so with a
	// 7-minute step its bucket starts at 4,047,619 × 420 = 1,699,999,980 s = 22:13:00Z and the
	// next at 1,700,000,400 s = 22:20:00Z.
	// Before the epoch: -30 s (1969-12-31T23:59:30Z) falls in the 1-minute bucket at -60 s.
	insert(t, s, at(1_699_999_980, 4), at(1_700_000_000, 5), at(1_700_000_399, 6), at(1_700_000_400, 8),
		at(-30, 2), at(-61, 3))
	got, err := s.Buckets(ctx, store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "temp",
		From: time.Unix(1_699_999_000, 0), To: time.Unix(1_700_001_000, 0)}, 7*time.Minute)
	mustNoErr(t, "Buckets", err)
	checkBuckets(t, "Buckets(7 min)", got, []store.Bucket{
		{Start: time.Date(2023, 11, 14, 22, 13, 0, 0, time.UTC), Min: 4, Max: 6, Mean: 5, Count: 3},
		{Start: time.Date(2023, 11, 14, 22, 20, 0, 0, time.UTC), Min: 8, Max: 8, Mean: 8, Count: 1},
	})
	got, err = s.Buckets(ctx, store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "temp",
		From: time.Unix(-3600, 0), To: time.Unix(3600, 0)}, time.Minute)
	mustNoErr(t, "Buckets before epoch", err)
	checkBuckets(t, "Buckets(1 min, before epoch)", got, []store.Bucket{
		{Start: time.Date(1969, 12, 31, 23, 58, 0, 0, time.UTC), Min: 3, Max: 3, Mean: 3, Count: 1},
		{Start: time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), Min: 2, Max: 2, Mean: 2, Count: 1},
	})
}

func checkBuckets(t *testing.T, what string, got, want []store.Bucket) {
	t.Helper()
	ok := slices.EqualFunc(got, want, func(a, b store.Bucket) bool {
		return a.Start.Equal(b.Start) && a.Min == b.Min && a.Max == b.Max && a.Count == b.Count &&
			a.Mean-b.Mean < 1e-9 && b.Mean-a.Mean < 1e-9
	})
	if !ok {
		t.Fatalf("%s =\n%+v\nwant\n%+v", what, got, want)
	}
}

func testLatest(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	addDevice(t, s, "acme", "d2", "P-1")
	insert(t, s, rd("acme", "d1", "P-1", "hr", 10*time.Second, 70), rd("acme", "d1", "P-1", "spo2", 10*time.Second, 97))
	// An older reading arriving later must not replace the newer latest.
	insert(t, s, rd("acme", "d1", "P-1", "hr", 5*time.Second, 65))
	// Within one batch the newest wins, whatever its position.
	insert(t, s, rd("acme", "d2", "P-1", "spo2", 20*time.Second, 95), rd("acme", "d2", "P-1", "spo2", 30*time.Second, 94),
		rd("acme", "d2", "P-1", "spo2", 25*time.Second, 93))
	got, err := s.Latest(ctx, "acme", "P-1")
	mustNoErr(t, "Latest", err)
	want := []store.Point{
		{Measured: t0.Add(10 * time.Second), Received: t0.Add(11 * time.Second), Device: "d1", Metric: "hr", Kind: reading.Number, Value: 70, Unit: "/min"},
		{Measured: t0.Add(30 * time.Second), Received: t0.Add(31 * time.Second), Device: "d2", Metric: "spo2", Kind: reading.Number, Value: 94, Unit: "/min"},
	}
	if !pointsEqual(got, want) {
		t.Fatalf("Latest(acme, P-1) =\n%+v\nwant\n%+v", got, want)
	}
	// A newer reading replaces it, also from another device.
	insert(t, s, rd("acme", "d2", "P-1", "hr", time.Minute, 88))
	got, _ = s.Latest(ctx, "acme", "P-1")
	if len(got) != 2 || got[0].Value != 88 || got[0].Device != "d2" {
		t.Fatalf("Latest after a newer hr = %+v, want hr 88 from d2 first", got)
	}
	got, err = s.Latest(ctx, "acme", "P-9")
	mustNoErr(t, "Latest(P-9)", err)
	if len(got) != 0 {
		t.Fatalf("Latest(P-9) = %+v, want none", got)
	}
}

func testLastSeen(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addDevice(t, s, "acme", "d1", "P-1")
	addDevice(t, s, "acme", "d2", "P-1")
	lastSeen := func(id string) time.Time {
		t.Helper()
		d, err := s.Device(ctx, "acme", id)
		mustNoErr(t, "Device "+id, err)
		return d.LastSeen
	}
	if ls := lastSeen("d1"); !ls.IsZero() {
		t.Fatalf("LastSeen before any reading = %v, want zero", ls)
	}
	insert(t, s, rd("acme", "d1", "P-1", "hr", 40*time.Second, 70), rd("acme", "d1", "P-1", "hr", 10*time.Second, 70))
	if ls, want := lastSeen("d1"), t0.Add(41*time.Second); !ls.Equal(want) {
		t.Fatalf("LastSeen(d1) = %v, want %v", ls, want)
	}
	// An older batch (a replay) does not move it back.
	insert(t, s, rd("acme", "d1", "P-1", "hr", 20*time.Second, 70))
	if ls, want := lastSeen("d1"), t0.Add(41*time.Second); !ls.Equal(want) {
		t.Fatalf("LastSeen(d1) after an older reading = %v, want %v", ls, want)
	}
	if ls := lastSeen("d2"); !ls.IsZero() {
		t.Fatalf("LastSeen(d2) = %v, want zero: it sent nothing", ls)
	}
	insert(t, s, rd("acme", "d1", "P-1", "hr", time.Minute, 70))
	if ls, want := lastSeen("d1"), t0.Add(61*time.Second); !ls.Equal(want) {
		t.Fatalf("LastSeen(d1) after a newer reading = %v, want %v", ls, want)
	}
}

func testSubjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	addDevice(t, s, "acme", "d1", "")
	addDevice(t, s, "globex", "g1", "")
	insert(t, s, rd("acme", "d1", "P-2", "hr", 0, 1), rd("acme", "d1", "P-1", "hr", 0, 1), rd("acme", "d1", "P-1", "rr", 0, 1),
		rd("acme", "d1", "FRIDGE-07", "temp", 0, 4), rd("globex", "g1", "P-3", "hr", 0, 1))
	got, err := s.Subjects(ctx, "acme")
	mustNoErr(t, "Subjects", err)
	if want := []string{"FRIDGE-07", "P-1", "P-2"}; !slices.Equal(got, want) {
		t.Fatalf("Subjects(acme) = %v, want %v", got, want)
	}
	got, err = s.Subjects(ctx, "initech")
	mustNoErr(t, "Subjects(initech)", err)
	if len(got) != 0 {
		t.Fatalf("Subjects(initech) = %v, want none", got)
	}
}

// testTenantIsolation uses the same subject and metric names in two tenants.
func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	addTenant(t, s, "acme")
	addTenant(t, s, "globex")
	addDevice(t, s, "acme", "a-mon", "P-1")
	addDevice(t, s, "globex", "g-mon", "P-1")
	insert(t, s, rd("acme", "a-mon", "P-1", "hr", 0, 60), rd("globex", "g-mon", "P-1", "hr", 0, 120),
		rd("globex", "g-mon", "P-1", "hr", time.Second, 121))
	q := store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "hr", From: t0, To: t0.Add(time.Hour)}
	pts, err := s.Readings(ctx, q)
	mustNoErr(t, "Readings", err)
	if len(pts) != 1 || pts[0].Value != 60 || pts[0].Device != "a-mon" {
		t.Fatalf("Readings(acme) = %+v, want only acme's 60", pts)
	}
	bs, err := s.Buckets(ctx, q, time.Hour)
	mustNoErr(t, "Buckets", err)
	if len(bs) != 1 || bs[0].Count != 1 || bs[0].Max != 60 {
		t.Fatalf("Buckets(acme) = %+v, want one bucket with acme's 60", bs)
	}
	lat, err := s.Latest(ctx, "acme", "P-1")
	mustNoErr(t, "Latest", err)
	if len(lat) != 1 || lat[0].Value != 60 {
		t.Fatalf("Latest(acme, P-1) = %+v, want acme's 60", lat)
	}
	lat, _ = s.Latest(ctx, "globex", "P-1")
	if len(lat) != 1 || lat[0].Value != 121 {
		t.Fatalf("Latest(globex, P-1) = %+v, want globex's 121", lat)
	}
	pts, _ = s.Readings(ctx, store.ReadingQuery{Tenant: "initech", Subject: "P-1", Metric: "hr"})
	if len(pts) != 0 {
		t.Fatalf("Readings(initech) = %+v, want none", pts)
	}
	// A reading is keyed by tenant too: the same device, metric and time in another tenant is a
	// different reading.
	other := rd("globex", "a-mon", "P-1", "hr", 0, 61)
	if n := insert(t, s, other); n != 1 {
		t.Fatalf("InsertReadings(same device/metric/time, other tenant) = %d, want 1", n)
	}
	if pts, _ := s.Readings(ctx, q); len(pts) != 1 || pts[0].Value != 60 {
		t.Fatalf("Readings(acme) after globex insert = %+v, want only 60", pts)
	}
}

// Seal is the audit seal the suite uses: SHA-256 over netstrings of the record's fields
// (part11.md §5.3 style), so that tests can recompute each hash.
func Seal(r store.AuditRecord) string {
	h := sha256.New()
	for _, f := range []string{r.PrevHash, strconv.FormatInt(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano), r.Tenant,
		r.Actor, r.Action, r.Target, r.Reason, r.Old, r.New} {
		fmt.Fprintf(h, "%d:%s,", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := []store.AuditRecord{
		{Time: t0, Tenant: "acme", Actor: "user:u1", Action: "threshold.update", Target: "zone:FRIDGE-07", Reason: "SOP-CC-012", Old: `{"upper":8}`, New: `{"upper":7.5}`},
		{Time: t0.Add(time.Minute), Tenant: "globex", Actor: "device:g1", Action: "ingest.batch", Target: "device:g1", New: `{"count":3}`},
		{Time: t0.Add(2*time.Minute + 123456789), Tenant: "acme", Actor: "system", Action: "login.fail", Target: "user:u2"},
		{Time: t0.Add(3 * time.Minute), Tenant: "", Actor: "user:root", Action: "tenant.create", Target: "tenant:globex"},
	}
	var out []store.AuditRecord
	prev := ""
	for i, r := range in {
		got, err := s.AppendAudit(ctx, r, Seal)
		mustNoErr(t, "AppendAudit", err)
		if got.Seq != int64(i+1) || got.PrevHash != prev || got.Hash != Seal(got) || !got.Time.Equal(r.Time) || got.Action != r.Action {
			t.Fatalf("AppendAudit(#%d) = seq %d prev %q hash %q, want seq %d prev %q hash %q", i+1, got.Seq, got.PrevHash, got.Hash, i+1, prev, Seal(got))
		}
		prev = got.Hash
		out = append(out, got)
	}
	all, err := s.Audit(ctx, "", 0, 0)
	mustNoErr(t, "Audit(all)", err)
	if !auditEqual(all, out) {
		t.Fatalf("Audit(all) =\n%+v\nwant\n%+v", all, out)
	}
	acme, err := s.Audit(ctx, "acme", 0, 0)
	mustNoErr(t, "Audit(acme)", err)
	if !auditEqual(acme, []store.AuditRecord{out[0], out[2]}) {
		t.Fatalf("Audit(acme) = %+v, want seq 1 and 3", acme)
	}
	page, err := s.Audit(ctx, "", 1, 2)
	mustNoErr(t, "Audit(after 1, limit 2)", err)
	if !auditEqual(page, out[1:3]) {
		t.Fatalf("Audit(after 1, limit 2) = %+v, want seq 2 and 3", page)
	}
	acme, _ = s.Audit(ctx, "acme", 1, 0)
	if len(acme) != 1 || acme[0].Seq != 3 {
		t.Fatalf("Audit(acme, after 1) = %+v, want seq 3 only", acme)
	}
	// A zero time is filled in by the store.
	got, err := s.AppendAudit(ctx, store.AuditRecord{Actor: "system", Action: "selfcheck"}, Seal)
	mustNoErr(t, "AppendAudit without time", err)
	if got.Time.IsZero() || got.Seq != 5 || got.PrevHash != prev {
		t.Fatalf("AppendAudit without time = %+v, want a time, seq 5 and prev %s", got, prev)
	}
}

func auditEqual(a, b []store.AuditRecord) bool {
	return slices.EqualFunc(a, b, func(x, y store.AuditRecord) bool {
		xt, yt := x.Time, y.Time
		x.Time, y.Time = time.Time{}, time.Time{}
		return xt.Equal(yt) && x == y
	})
}

func testAuditConcurrent(t *testing.T, s store.Store) {
	const writers, each = 4, 25
	appendMany(t, []store.Store{s}, writers, each)
	checkChain(t, s, writers*each)
}

// AuditAcrossStores appends concurrently through two stores open on the same database (as
// two processes would) and checks that the chain has no gap or fork. Both stores must be
// migrated and their audit trail empty.
func AuditAcrossStores(t *testing.T, a, b store.Store) {
	t.Helper()
	const writers, each = 4, 25
	appendMany(t, []store.Store{a, b}, writers, each)
	checkChain(t, a, writers*each)
}

func appendMany(t *testing.T, stores []store.Store, writers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				_, err := s.AppendAudit(t.Context(), store.AuditRecord{Time: t0, Tenant: "acme", Actor: fmt.Sprintf("user:w%d", w),
					Action: "test.append", Target: strconv.Itoa(i)}, Seal)
				if err != nil {
					errs <- fmt.Errorf("writer %d append %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func checkChain(t *testing.T, s store.Store, n int) {
	t.Helper()
	recs, err := s.Audit(t.Context(), "", 0, n+10)
	mustNoErr(t, "Audit", err)
	if len(recs) != n {
		t.Fatalf("Audit() = %d entries, want %d", len(recs), n)
	}
	prev := ""
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d, want %d (gap or duplicate)", i, r.Seq, i+1)
		}
		if r.PrevHash != prev {
			t.Fatalf("seq %d prev = %q, want %q (hash of seq %d)", r.Seq, r.PrevHash, prev, r.Seq-1)
		}
		if h := Seal(r); r.Hash != h {
			t.Fatalf("seq %d hash = %q, recomputed %q", r.Seq, r.Hash, h)
		}
		prev = r.Hash
	}
}
