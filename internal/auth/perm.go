package auth

import "github.com/vigil-iomt/vigil/internal/store"

// Permission names one kind of action a principal may take in a tenant.
type Permission string

// Permissions that exist now. Who holds which is in rolePerms.
const (
	PermTenantsManage  Permission = "tenants.manage"  // create tenants: provider-admin only
	PermUsersManage    Permission = "users.manage"    // create, change, disable users; others' tokens
	PermDevicesManage  Permission = "devices.manage"  // register, rotate, revoke devices
	PermSettingsManage Permission = "settings.manage" // tenant settings
	PermReadingsRead   Permission = "readings.read"
	PermAuditRead      Permission = "audit.read"
	PermDevicesRead    Permission = "devices.read"
	// Alarms: the coarse gate; the alarm package decides the fine rules (care-team capacity,
	// alarm kind and state, spec alarms.md §6).
	PermAlarmsRead   Permission = "alarms.read"   // list alarms and their history
	PermAlarmsAct    Permission = "alarms.act"    // acknowledge, decline, escalate, pause
	PermAlarmsManage Permission = "alarms.manage" // cancel alarms, escalation policies
	// Patient monitoring (issue 7): reading a patient's record is audited by the handler.
	PermPatientsRead   Permission = "patients.read"      // patients, encounters, wards, beds, NEWS2, RPM
	PermPatientsManage Permission = "patients.manage"    // admit, transfer, discharge, assign devices, enrol in RPM
	PermObservations   Permission = "observations.write" // manual observations (ACVPU, oxygen, vitals), review time
	// PermPrescriber is news2.md §4.3's "prescriber": a clinical decision-maker who may set a
	// patient's SpO2 scale (Scale 2 for confirmed hypercapnic respiratory failure). Clinicians.
	PermPrescriber Permission = "prescriber"
	// Cold chain (issue 8).
	PermColdChainRead   Permission = "coldchain.read"   // sites, units, products, lots, shipments, reports
	PermColdChainManage Permission = "coldchain.manage" // create and change them
	PermQARelease       Permission = "qa.release"       // release or reject a lot or shipment with an e-signature
)

// Permissions lists every permission, for tables and tests.
var Permissions = []Permission{
	PermTenantsManage, PermUsersManage, PermDevicesManage, PermSettingsManage,
	PermReadingsRead, PermAuditRead, PermDevicesRead,
	PermAlarmsRead, PermAlarmsAct, PermAlarmsManage,
	PermPatientsRead, PermPatientsManage, PermObservations,
	PermColdChainRead, PermColdChainManage, PermQARelease,
	PermPrescriber,
}

// rolePerms says what each tenant role may do inside its own tenant. ProviderAdmin is not
// listed: it may do everything, in every tenant (see Allowed).
var rolePerms = map[store.Role][]Permission{
	store.Admin: {PermUsersManage, PermDevicesManage, PermSettingsManage, PermReadingsRead, PermAuditRead, PermDevicesRead,
		PermAlarmsRead, PermAlarmsManage, PermPatientsRead, PermPatientsManage, PermColdChainRead, PermColdChainManage},
	store.Operator: {PermDevicesManage, PermReadingsRead, PermDevicesRead, PermAlarmsRead, PermAlarmsAct,
		PermColdChainRead, PermColdChainManage},
	store.QA: {PermReadingsRead, PermAuditRead, PermDevicesRead, PermColdChainRead, PermQARelease},
	store.Clinician: {PermReadingsRead, PermDevicesRead, PermAlarmsRead, PermAlarmsAct,
		PermPatientsRead, PermPatientsManage, PermObservations, PermPrescriber},
	store.Nurse: {PermReadingsRead, PermDevicesRead, PermAlarmsRead, PermAlarmsAct,
		PermPatientsRead, PermPatientsManage, PermObservations},
	store.Viewer: {PermReadingsRead, PermDevicesRead, PermAlarmsRead, PermColdChainRead},
}

// Allowed reports whether p may use perm in tenant. A provider admin (role ProviderAdmin in
// store.ProviderTenant) may do everything in every tenant; everyone else acts only in their
// own tenant and only with a permission their role has. Unknown roles and permissions, and an
// empty tenant, are refused.
func Allowed(p Principal, tenant string, perm Permission) bool {
	if tenant == "" || p.UserID == "" {
		return false
	}
	if p.Role == store.ProviderAdmin {
		// The role counts only where provider admins live, so that a tenant admin who managed to
		// grant it inside their own tenant gains nothing. Provider admins hold every permission.
		return p.Tenant == store.ProviderTenant && known(perm)
	}
	if p.Tenant != tenant {
		return false
	}
	for _, q := range rolePerms[p.Role] {
		if q == perm {
			return true
		}
	}
	return false
}

func known(perm Permission) bool {
	for _, q := range Permissions {
		if q == perm {
			return true
		}
	}
	return false
}

// CanAssignRole reports whether p may give role r to a user of tenant. Only provider admins
// create provider admins, and only in store.ProviderTenant, which holds no other roles; any
// other valid role needs PermUsersManage in that tenant. Handlers creating or changing users
// must check it, or a tenant admin could make themselves a provider admin.
func CanAssignRole(p Principal, tenant string, r store.Role) bool {
	switch {
	case !r.Valid():
		return false
	case r == store.ProviderAdmin || tenant == store.ProviderTenant:
		return r == store.ProviderAdmin && tenant == store.ProviderTenant &&
			p.Role == store.ProviderAdmin && p.Tenant == store.ProviderTenant
	}
	return Allowed(p, tenant, PermUsersManage)
}
