package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/store"
)

// careRoutes are the care team (who is assigned to which patient or unit), the on-call roster
// and the tenant's escalation policies (alarms.md §10): what decides who an alarm reaches.
func (a *API) careRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/tenants/{tenant}/care-assignments", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.listCare},
		{Pattern: "POST /api/v1/tenants/{tenant}/care-assignments", Access: Tenant, Perm: auth.PermPatientsManage, handler: a.createCare},
		{Pattern: "POST /api/v1/tenants/{tenant}/care-assignments/{id}/end", Access: Tenant, Perm: auth.PermPatientsManage, handler: a.endCare},
		{Pattern: "GET /api/v1/tenants/{tenant}/oncall", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.listOnCall},
		{Pattern: "POST /api/v1/tenants/{tenant}/oncall", Access: Tenant, Perm: auth.PermAlarmsManage, handler: a.createOnCall},
		{Pattern: "DELETE /api/v1/tenants/{tenant}/oncall/{id}", Access: Tenant, Perm: auth.PermAlarmsManage, handler: a.deleteOnCall},
		{Pattern: "GET /api/v1/tenants/{tenant}/alarm-policies", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.getPolicies},
		{Pattern: "PUT /api/v1/tenants/{tenant}/alarm-policies", Access: Tenant, Perm: auth.PermAlarmsManage, handler: a.putPolicies},
	}
}

func (a *API) careStore() (store.CareStore, error) {
	if a.cfg.Care == nil {
		return nil, errorf(http.StatusServiceUnavailable, "the care team is not available on this server")
	}
	return a.cfg.Care, nil
}

// atParam reads ?at= (RFC 3339; "all" for every entry; default now).
func (a *API) atParam(r *http.Request) (time.Time, error) {
	switch s := r.URL.Query().Get("at"); s {
	case "":
		return a.now().UTC(), nil
	case "all":
		return time.Time{}, nil
	default:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return t, invalid("at must be an RFC 3339 time or \"all\"")
		}
		return t, nil
	}
}

// userInTenant checks that id is an enabled user of tenant (a roster naming a stranger would
// route alarms nowhere).
func (a *API) userInTenant(r *http.Request, tenant, id string) error {
	u, err := a.cfg.Store.User(r.Context(), tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("user_id: no such user in this tenant")
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return invalid("user_id: the user is disabled")
	}
	return nil
}

func (a *API) listCare(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	at, err := a.atParam(r)
	if err != nil {
		return err
	}
	list, err := cs.CareAssignments(r.Context(), r.PathValue("tenant"), at)
	if err != nil {
		return err
	}
	if list == nil {
		list = []store.CareAssignment{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

type careIn struct {
	UserID  string    `json:"user_id"`
	Role    string    `json:"role"`
	Subject string    `json:"subject"`
	Unit    string    `json:"unit"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

func (a *API) createCare(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	var in careIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c := store.CareAssignment{ID: randomID("ca_"), Tenant: tenant, UserID: in.UserID, Role: store.CareRole(in.Role),
		Subject: in.Subject, Unit: in.Unit, From: in.From.UTC(), To: in.To.UTC()}
	switch {
	case !c.Role.Valid():
		return invalid("role must be assigned, buddy, charge or unit")
	case (c.Role == store.CareAssigned || c.Role == store.CareBuddy) && c.Subject == "":
		return invalid("subject: an assigned or buddy nurse is assigned to a patient")
	case (c.Role == store.CareCharge || c.Role == store.CareUnit) && c.Unit == "":
		return invalid("unit: a charge or unit nurse is assigned to a unit")
	case !c.To.IsZero() && !c.To.After(c.From):
		return invalid("to must be after from")
	}
	if in.From.IsZero() {
		c.From = a.now().UTC()
	}
	if err := a.userInTenant(r, tenant, c.UserID); err != nil {
		return err
	}
	if err := cs.CreateCareAssignment(r.Context(), c); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "care.assign", "care:"+c.ID, nil, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) endCare(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	at := a.now().UTC()
	if err := cs.EndCareAssignment(r.Context(), tenant, id, at); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "care.end", "care:"+id, nil, map[string]time.Time{"to": at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listOnCall(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	at, err := a.atParam(r)
	if err != nil {
		return err
	}
	list, err := cs.OnCall(r.Context(), r.PathValue("tenant"), at)
	if err != nil {
		return err
	}
	if list == nil {
		list = []store.OnCallShift{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

type onCallIn struct {
	Ref    string    `json:"ref"`
	UserID string    `json:"user_id"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

func (a *API) createOnCall(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	var in onCallIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case in.Ref == "" || len(in.Ref) > 64:
		return invalid("ref: the role and service on call, e.g. physician/medical, rrt or ops (1-64 characters)")
	case in.From.IsZero() || in.To.IsZero() || !in.To.After(in.From):
		return invalid("from and to are required and to must be after from")
	}
	if err := a.userInTenant(r, tenant, in.UserID); err != nil {
		return err
	}
	sh := store.OnCallShift{ID: randomID("oc_"), Tenant: tenant, Ref: in.Ref, UserID: in.UserID, From: in.From.UTC(), To: in.To.UTC()}
	if err := cs.CreateOnCall(r.Context(), sh); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "oncall.create", "oncall:"+sh.ID, nil, sh); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sh)
	return nil
}

func (a *API) deleteOnCall(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cs, err := a.careStore()
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	if err := cs.DeleteOnCall(r.Context(), tenant, id); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "oncall.delete", "oncall:"+id, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) getPolicies(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	svc, err := a.alarmSvc()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, svc.Policies(r.PathValue("tenant")))
	return nil
}

type policiesIn struct {
	Version  int                   `json:"version"` // the version shown (0 when none); saved as version + 1
	Policies []alarmproc.PolicyDoc `json:"policies"`
}

func (a *API) putPolicies(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	svc, err := a.alarmSvc()
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	var in policiesIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	old := svc.Policies(tenant)
	err = svc.SavePolicies(r.Context(), tenant, in.Version+1, in.Policies, p.UserID, a.now().UTC())
	switch {
	case errors.Is(err, alarmproc.ErrInvalidPolicy):
		return invalid(err.Error())
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, "the policies changed since version "+strconv.Itoa(in.Version)+"; reload and try again")
	case err != nil:
		return err
	}
	now := svc.Policies(tenant)
	if err := a.record(r.Context(), p, tenant, "alarm.policies", "alarm-policies:"+tenant, old.Policies, now.Policies); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, now)
	return nil
}
