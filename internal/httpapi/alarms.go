package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Alarms is the alarm service the API reads and commands: *alarmproc.Service implements it.
type Alarms interface {
	Active(ctx context.Context, tenant, subject string, minPriority alarm.Priority, limit int) ([]alarmproc.View, error)
	All(ctx context.Context, tenant, subject string, minPriority alarm.Priority, limit int) ([]alarmproc.View, error)
	Get(ctx context.Context, tenant string, id alarm.ID) (alarmproc.View, error)
	Do(ctx context.Context, cmd alarm.Command) (alarmproc.View, error)
	Subscribe(tenant string) (<-chan alarmproc.View, func())
	Relation(ctx context.Context, tenant, userID string, id alarm.ID) (alarm.Relation, error)
	Policies(tenant string) alarmproc.PoliciesView
	SavePolicies(ctx context.Context, tenant string, version int, docs []alarmproc.PolicyDoc, by string, at time.Time) error
}

const maxAlarmList = 10000

func (a *API) alarmSvc() (Alarms, error) {
	if a.cfg.Alarms == nil {
		return nil, errorf(http.StatusServiceUnavailable, "alarms are not available on this server")
	}
	return a.cfg.Alarms, nil
}

// listAlarms serves GET /api/v1/tenants/{tenant}/alarms?state=active|all&subject=&priority=&limit=.
func (a *API) listAlarms(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.alarmList(w, r, r.URL.Query().Get("subject"))
}

// subjectAlarms serves GET /api/v1/tenants/{tenant}/subjects/{subject}/alarms (all states).
func (a *API) subjectAlarms(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.alarmList(w, r, r.PathValue("subject"))
}

func (a *API) alarmList(w http.ResponseWriter, r *http.Request, subject string) error {
	svc, err := a.alarmSvc()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var minP alarm.Priority
	if p := q.Get("priority"); p != "" {
		if err := minP.UnmarshalText([]byte(strings.ToUpper(p))); err != nil {
			return invalid("priority must be high, medium or low")
		}
	}
	limit := 1000
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxAlarmList {
			return invalid("limit must be 1–10000")
		}
		limit = n
	}
	state := q.Get("state")
	if state == "" {
		state = "active"
		if r.PathValue("subject") != "" {
			state = "all"
		}
	}
	tenant := r.PathValue("tenant")
	var list []alarmproc.View
	switch state {
	case "active":
		list, err = svc.Active(r.Context(), tenant, subject, minP, limit)
	case "all":
		list, err = svc.All(r.Context(), tenant, subject, minP, limit)
	default:
		return invalid("state must be active or all")
	}
	if err != nil {
		return err
	}
	if list == nil {
		list = []alarmproc.View{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": list})
	return nil
}

func alarmID(r *http.Request) (alarm.ID, error) {
	var id alarm.ID
	if err := id.UnmarshalText([]byte(r.PathValue("alarm"))); err != nil {
		return id, errNotFound
	}
	return id, nil
}

// getAlarm serves GET /api/v1/tenants/{tenant}/alarms/{alarm}: the alarm with its history.
func (a *API) getAlarm(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	svc, err := a.alarmSvc()
	if err != nil {
		return err
	}
	id, err := alarmID(r)
	if err != nil {
		return err
	}
	v, err := svc.Get(r.Context(), r.PathValue("tenant"), id)
	if err != nil {
		return alarmError(err)
	}
	if v.History == nil {
		v.History = []alarmproc.Step{}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

type alarmCommandBody struct {
	Reason   string `json:"reason"`
	Note     string `json:"note"`
	Duration string `json:"duration"`
}

// alarmCommand serves POST …/alarms/{alarm}/{ack|silence|escalate|resolve|assessment}.
func (a *API) alarmCommand(act alarm.Action) func(http.ResponseWriter, *http.Request, auth.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		svc, err := a.alarmSvc()
		if err != nil {
			return err
		}
		id, err := alarmID(r)
		if err != nil {
			return err
		}
		// The route's gate is alarms.read; acting needs alarms.act (resolve: alarms.manage),
		// and the alarm package then decides by capacity, kind and state.
		need := auth.PermAlarmsAct
		if act == alarm.ActCancel {
			need = auth.PermAlarmsManage
		}
		if !auth.Allowed(p, r.PathValue("tenant"), need) {
			return errForbidden
		}
		var body alarmCommandBody
		if r.ContentLength != 0 {
			if err := decode(w, r, &body); err != nil {
				return err
			}
		}
		tenant := r.PathValue("tenant")
		// The capacity comes from the user's role and care-team relation to the alarm's
		// patient and unit (alarms.md §6); in a tenant without a care team every nurse counts
		// as assigned and every clinician as treating physician.
		rel, err := svc.Relation(r.Context(), tenant, p.UserID, id)
		if err != nil {
			return err
		}
		cmd := alarm.Command{Action: act, AlarmID: id, Reason: body.Reason, Note: body.Note,
			Actor: alarm.Actor{UserID: p.UserID, Tenant: tenant, Capacity: alarm.CapacityOf(p.Role, rel)}}
		switch act {
		case alarm.ActAlarmPause:
			if body.Duration != "" {
				if cmd.Duration, err = time.ParseDuration(body.Duration); err != nil || cmd.Duration <= 0 {
					return invalid("duration must be a Go duration such as \"2m\"")
				}
			}
		case alarm.ActEscalate:
			if body.Reason == "" {
				return invalid("escalate needs a reason")
			}
		case alarm.ActCancel: // resolve by hand
			if body.Note == "" {
				return invalid("resolve needs a note")
			}
			cmd.Reason = "RESOLVED_BY_USER"
		}
		v, err := svc.Do(r.Context(), cmd)
		if err != nil {
			return alarmError(err)
		}
		rec := store.AuditRecord{Tenant: tenant, Actor: "user:" + p.UserID, Action: "alarm." + string(act),
			Target: "alarm:" + id.String(), Reason: firstOf(body.Reason, body.Note), New: jsonString(map[string]any{"state": v.State})}
		if err := a.cfg.Audit.Record(r.Context(), rec); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// alarmError maps the alarm package's errors to statuses.
func alarmError(err error) error {
	switch {
	case errors.Is(err, alarm.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Message: "your role may not do this to this alarm", Err: err}
	case errors.Is(err, alarm.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: "not found", Err: err}
	case errors.Is(err, alarm.ErrInvalidTransition):
		return &Error{Status: http.StatusConflict, Message: "not allowed in the alarm's current state", Err: err}
	case errors.Is(err, alarm.ErrReasonRequired):
		return &Error{Status: http.StatusBadRequest, Message: "a reason is required", Err: err}
	case errors.Is(err, alarm.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Message: "invalid alarm command", Err: err}
	}
	return err
}
