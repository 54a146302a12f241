package httpapi

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/vigil-iomt/vigil/internal/auth"
)

// summaries documents each route for the OpenAPI document; a test checks every route has one.
var summaries = map[string]string{
	"GET /healthz":                                             "Liveness: 200 while the process runs.",
	"GET /readyz":                                              "Readiness: 200 when the log and the store answer.",
	"GET /api/v1/openapi.json":                                 "This document.",
	"POST /api/v1/login":                                       "Log in with {username, password}; returns {token, csrf, expires, user} and sets the session cookie.",
	"POST /api/v1/ingest":                                      "A device posts one SenML pack (application/senml+json or application/senml+cbor), HTTP Basic device-id:secret. 202 after the pack is durable in the log; 400 names the record and field; 413 over 1 MiB; 415 other media types.",
	"POST /api/v1/logout":                                      "Revoke the current token and clear the session cookie.",
	"GET /api/v1/me":                                           "The logged-in user.",
	"POST /api/v1/tokens":                                      "Issue a long-lived API token for the logged-in user.",
	"GET /api/v1/stream":                                       "Server-sent events of the caller's tenant (a provider admin adds ?tenant=ID): event reading {readings:[{device, subject, metric, value|text, unit, time}]} with id = log sequence of the batch's newest message; event devices {full, now, devices:[{id, subject, kind, online, last_seen, interval_ms, battery?, signal?}]}; heartbeat comments every 15 s; resume with Last-Event-ID.",
	"GET /api/v1/tenants":                                      "List tenants (provider admin).",
	"POST /api/v1/tenants":                                     "Create a tenant {name[, id]} (provider admin); returns {id}.",
	"GET /api/v1/audit/verify":                                 "Verify the whole audit hash chain; reports the first tampered entry (provider admin).",
	"GET /api/v1/tenants/{tenant}":                             "A tenant and its settings.",
	"PUT /api/v1/tenants/{tenant}/settings":                    "Replace the tenant's settings (admin).",
	"GET /api/v1/tenants/{tenant}/users":                       "List users (admin).",
	"POST /api/v1/tenants/{tenant}/users":                      "Create a user {username, password, role} (admin).",
	"PATCH /api/v1/tenants/{tenant}/users/{user}":              "Change role, disable/enable, set password, unlock {role?, disabled?, password?, unlock?} (admin).",
	"POST /api/v1/tenants/{tenant}/users/{user}/revoke-tokens": "Revoke all of a user's sessions and API tokens (admin).",
	"GET /api/v1/tenants/{tenant}/devices":                     "List devices with last-seen.",
	"POST /api/v1/tenants/{tenant}/devices":                    "Register a device {id, model, serial?, kind?, subject}; returns its secret once (admin, operator).",
	"GET /api/v1/tenants/{tenant}/devices/{device}":            "One device.",
	"PATCH /api/v1/tenants/{tenant}/devices/{device}":          "Change model, serial, kind or subject (admin, operator).",
	"POST /api/v1/tenants/{tenant}/devices/{device}/rotate":    "Issue a new device secret, shown once; the old one stops working (admin, operator).",
	"POST /api/v1/tenants/{tenant}/devices/{device}/revoke":    "Revoke the device: its credentials are refused (admin, operator).",
	"GET /api/v1/tenants/{tenant}/subjects":                    "Subjects (patients, assets) that have readings.",
	"GET /api/v1/tenants/{tenant}/subjects/{subject}/latest":   "Latest value of every metric of a subject.",
	"GET /api/v1/tenants/{tenant}/subjects/{subject}/readings": "Readings of one metric: ?metric=&from=&to= (RFC 3339) gives raw points; &step=1m gives buckets {t, min, max, mean, count}.",
	"GET /api/v1/tenants/{tenant}/alarms":                      "The tenant's alarms: ?state=active (default; active, latched, acknowledged) or all, &subject=, &priority= (minimum), &limit= (≤ 10000); high priority first, then oldest.",
	"GET /api/v1/tenants/{tenant}/alarms/{alarm}":              "One alarm with its history of transitions.",
	"POST /api/v1/tenants/{tenant}/alarms/{alarm}/ack":         "Acknowledge an alarm ({\"reason\"?}); nurses and clinicians (operators for technical alarms).",
	"POST /api/v1/tenants/{tenant}/alarms/{alarm}/silence":     "Alarm pause of the alarm's subject ({\"duration\":\"2m\",\"reason\"}; above 3 min a reason is required, max 10 min).",
	"POST /api/v1/tenants/{tenant}/alarms/{alarm}/escalate":    "Escalate to the next tier now ({\"reason\"} required).",
	"POST /api/v1/tenants/{tenant}/alarms/{alarm}/resolve":     "Resolve (cancel) an alarm by hand with {\"note\"} (admin).",
	"POST /api/v1/tenants/{tenant}/alarms/{alarm}/assessment":  "Record \"assessment done\" on a NEWS2 alert ({\"note\"?}); stops its assessment timer (alarms.md §7). Physicians with access to the patient and RRT/outreach only; audited.",
	"GET /api/v1/tenants/{tenant}/subjects/{subject}/alarms":   "A subject's alarm history (all states unless ?state=active).",
	"GET /api/v1/tenants/{tenant}/care-assignments":            "Care-team assignments active ?at= (RFC 3339, default now; all for every one): assigned and buddy nurses of patients, charge and unit nurses of units.",
	"POST /api/v1/tenants/{tenant}/care-assignments":           "Assign a user to a patient (role assigned or buddy, subject) or a unit (role charge or unit, unit) from from (default now) until to (optional). Audited.",
	"POST /api/v1/tenants/{tenant}/care-assignments/{id}/end":  "End a care-team assignment now. Audited.",
	"GET /api/v1/tenants/{tenant}/oncall":                      "On-call shifts active ?at= (default now; all for every one).",
	"POST /api/v1/tenants/{tenant}/oncall":                     "Put a user on call for ref (e.g. physician/medical, rrt, ops, ops-lead) from from until to. Audited.",
	"DELETE /api/v1/tenants/{tenant}/oncall/{id}":              "Remove an on-call shift. Audited.",
	"GET /api/v1/tenants/{tenant}/alarm-policies":              "The tenant's escalation policies (versioned) and the built-in defaults.",
	"PUT /api/v1/tenants/{tenant}/alarm-policies":              "Replace the tenant's escalation policies: {version (the one shown), policies}; 409 when somebody saved in between, 400 naming every problem. Audited.",
	"GET /api/v1/tenants/{tenant}/audit":                       "The tenant's audit trail entries after ?after=SEQ (admin, qa), at most ?limit= (≤ 1000), optionally only ?action= (exact) and ?target= (prefix); a filtered request reads at most 50,000 entries and then answers with next (the SEQ to continue after).",
}

var wildcard = regexp.MustCompile(`\{([a-z]+)\}`)

func (a *API) openapi(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	paths := map[string]map[string]any{}
	for _, rt := range a.routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		summary := summaries[rt.Pattern]
		if summary == "" {
			summary = rt.Summary
		}
		op := map[string]any{"summary": summary}
		var params []map[string]any
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch rt.Access {
		case Public:
			op["security"] = []any{}
		case DeviceA:
			op["security"] = []any{map[string]any{"deviceBasic": []string{}}}
		default:
			op["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}}
			if rt.Perm != "" {
				op["x-vigil-permission"] = string(rt.Perm)
			}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Vigil API", "version": "v1"},
		"paths":   paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer":      map[string]string{"type": "http", "scheme": "bearer"},
			"session":     map[string]string{"type": "apiKey", "in": "cookie", "name": sessionCookie},
			"deviceBasic": map[string]string{"type": "http", "scheme": "basic"},
		}},
	})
	return nil
}
