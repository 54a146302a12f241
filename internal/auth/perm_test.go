package auth

import (
	"fmt"
	"testing"

	"github.com/vigil-iomt/vigil/internal/store"
)

// TestAllowed covers every role × permission × own/other tenant. The expectations are written
// out by hand from the brief: tenants.manage provider-admin only; users.manage and
// settings.manage admin; devices.manage admin and operator; audit.read admin and qa;
// readings.read and devices.read every role; provider-admin everything in every tenant.
// Alarms (alarms.md §6, coarse): alarms.read every clinical/ops role and viewer, not qa;
// alarms.act nurse, clinician, operator (biomed acknowledges technical alarms); alarms.manage
// admin. Patients (issue 7): patients.read and patients.manage admin, clinician, nurse;
// observations.write clinician and nurse. Cold chain (issue 8): coldchain.read admin, operator,
// qa, viewer; coldchain.manage admin and operator; qa.release qa only (the QA unit decides).
// prescriber (news2.md §4.3, setting a patient's SpO2 scale): clinician only.
func TestAllowed(t *testing.T) {
	const (
		Y = true
		N = false
	)
	// Columns: tenants.manage, users.manage, devices.manage, settings.manage, readings.read,
	// audit.read, devices.read, alarms.read, alarms.act, alarms.manage, patients.read,
	// patients.manage, observations.write, coldchain.read, coldchain.manage, qa.release,
	// prescriber — the order of Permissions.
	own := map[store.Role][17]bool{
		store.ProviderAdmin: {Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y},
		store.Admin:         {N, Y, Y, Y, Y, Y, Y, Y, N, Y, Y, Y, N, Y, Y, N, N},
		store.Operator:      {N, N, Y, N, Y, N, Y, Y, Y, N, N, N, N, Y, Y, N, N},
		store.QA:            {N, N, N, N, Y, Y, Y, N, N, N, N, N, N, Y, N, Y, N},
		store.Clinician:     {N, N, N, N, Y, N, Y, Y, Y, N, Y, Y, Y, N, N, N, Y},
		store.Nurse:         {N, N, N, N, Y, N, Y, Y, Y, N, Y, Y, Y, N, N, N, N},
		store.Viewer:        {N, N, N, N, Y, N, Y, Y, N, N, N, N, N, Y, N, N, N},
	}
	other := map[store.Role][17]bool{
		store.ProviderAdmin: {Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y},
		store.Admin:         {},
		store.Operator:      {},
		store.QA:            {},
		store.Clinician:     {},
		store.Nurse:         {},
		store.Viewer:        {},
	}
	wantPerms := []Permission{"tenants.manage", "users.manage", "devices.manage", "settings.manage",
		"readings.read", "audit.read", "devices.read", "alarms.read", "alarms.act", "alarms.manage",
		"patients.read", "patients.manage", "observations.write", "coldchain.read", "coldchain.manage", "qa.release",
		"prescriber"}
	if fmt.Sprint(Permissions) != fmt.Sprint(wantPerms) {
		t.Fatalf("Permissions = %v, want %v", Permissions, wantPerms)
	}
	roles := []store.Role{store.ProviderAdmin, store.Admin, store.Operator, store.QA, store.Clinician, store.Nurse, store.Viewer}
	cases := 0
	for _, role := range roles {
		p := Principal{UserID: "u1", Tenant: "acme", Role: role}
		ownTenant, otherTenant := "acme", "beta"
		if role == store.ProviderAdmin {
			p.Tenant, ownTenant = store.ProviderTenant, store.ProviderTenant
		}
		for i, perm := range wantPerms {
			if got := Allowed(p, ownTenant, perm); got != own[role][i] {
				t.Errorf("Allowed(%s of %s, %s, %s) = %v, want %v", role, p.Tenant, ownTenant, perm, got, own[role][i])
			}
			if got := Allowed(p, otherTenant, perm); got != other[role][i] {
				t.Errorf("Allowed(%s of %s, %s, %s) = %v, want %v", role, p.Tenant, otherTenant, perm, got, other[role][i])
			}
			cases += 2
		}
	}
	if cases != 7*17*2 {
		t.Errorf("covered %d cases, want 238", cases)
	}
}

func TestAllowedRefusals(t *testing.T) {
	tests := []struct {
		name   string
		p      Principal
		tenant string
		perm   Permission
	}{
		{"provider-admin role outside the provider tenant", Principal{UserID: "u1", Tenant: "acme", Role: store.ProviderAdmin}, "acme", PermReadingsRead},
		{"unknown permission", Principal{UserID: "u1", Tenant: store.ProviderTenant, Role: store.ProviderAdmin}, "acme", "readings.write"},
		{"unknown role", Principal{UserID: "u1", Tenant: "acme", Role: "root"}, "acme", PermReadingsRead},
		{"empty tenant", Principal{UserID: "u1", Tenant: "", Role: store.Admin}, "", PermReadingsRead},
		{"zero principal", Principal{}, "acme", PermReadingsRead},
	}
	for _, tt := range tests {
		if Allowed(tt.p, tt.tenant, tt.perm) {
			t.Errorf("%s: Allowed = true, want false", tt.name)
		}
	}
}

func TestCanAssignRole(t *testing.T) {
	provider := Principal{UserID: "p1", Tenant: store.ProviderTenant, Role: store.ProviderAdmin}
	admin := Principal{UserID: "a1", Tenant: "acme", Role: store.Admin}
	operator := Principal{UserID: "o1", Tenant: "acme", Role: store.Operator}
	tests := []struct {
		p      Principal
		tenant string
		role   store.Role
		want   bool
	}{
		{provider, store.ProviderTenant, store.ProviderAdmin, true},
		{provider, "acme", store.Admin, true},
		{provider, "acme", store.ProviderAdmin, false}, // provider admins live only in the provider tenant
		{provider, store.ProviderTenant, store.Admin, false},
		{admin, "acme", store.Admin, true},
		{admin, "acme", store.Viewer, true},
		{admin, "acme", store.ProviderAdmin, false},
		{admin, store.ProviderTenant, store.ProviderAdmin, false},
		{admin, "beta", store.Viewer, false},
		{admin, "acme", "root", false},
		{operator, "acme", store.Viewer, false},
	}
	for _, tt := range tests {
		if got := CanAssignRole(tt.p, tt.tenant, tt.role); got != tt.want {
			t.Errorf("CanAssignRole(%s of %s, %s, %s) = %v, want %v", tt.p.Role, tt.p.Tenant, tt.tenant, tt.role, got, tt.want)
		}
	}
}
