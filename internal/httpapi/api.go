// Package httpapi serves Vigil's REST API: login and tokens, tenants, users, devices, the
// readings API, the live stream (server-sent events), the audit trail, HTTP ingest, health
// and metrics, and hands every other GET to the web console.
//
// Every route is declared once in (*API).Routes with the access it needs; the wrapper that
// registers it authenticates the caller and checks role and tenant before the handler runs,
// so a route cannot be added without an access rule. Handlers return errors, and WriteError
// is the only place an error becomes a status. An API is safe for concurrent use.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Access says who may call a route.
type Access int

// Kinds of access.
const (
	Public   Access = iota // anyone (login, health)
	DeviceA                // a device with HTTP Basic id:secret
	User                   // any logged-in user, acting on their own account
	Provider               // a user with Perm, not bound to a path tenant (provider level)
	Tenant                 // a user with Perm in the path's {tenant}
)

// Route is one entry of the route table.
type Route struct {
	Pattern string // net/http ServeMux pattern with method
	Access  Access
	Perm    auth.Permission // for Provider and Tenant access
	handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error
	Summary string // OpenAPI summary (routes not in the summaries map)
}

// Recorder appends to the audit trail.
type Recorder interface {
	Record(ctx context.Context, rec store.AuditRecord) error
}

// Ingester takes a device's payload into the log.
type Ingester interface {
	Ingest(ctx context.Context, transport string, dev ingest.Device, payload []byte, contentType string) (int, error)
}

// Config holds what the API needs from outside.
type Config struct {
	Store   store.Store
	Auth    *auth.Service
	Audit   Recorder
	Verify  func(ctx context.Context) (any, error) // audit chain verification, provider level
	Ingest  Ingester
	Metrics http.Handler                    // Prometheus handler for /metrics
	Ready   func(ctx context.Context) error // readiness of the log and store
	Log     *slog.Logger
	Now     func() time.Time
	// SecureCookies marks the session cookie Secure (set when serving TLS).
	SecureCookies bool
	// MaxIngestBytes caps an ingest body (default 1 MiB, the SenML pack limit).
	MaxIngestBytes int64
	// Live follows the log for GET /api/v1/stream (nil: the route answers 503).
	Live Follower
	// Registerer takes the API's own metrics (open live streams); nil: none.
	Registerer prometheus.Registerer
	// Alarms lists and commands alarms and feeds the live stream's alarm events (nil: the
	// alarm routes answer 503 and the stream sends no alarm events).
	Alarms Alarms
	// Care keeps the care team and on-call roster (nil: those routes answer 503).
	Care store.CareStore
	// Console serves the web console at / (every path that is not the API's); nil: 404.
	Console http.Handler
	// Clinical serves patient monitoring (docs/clinical.md); nil: those routes answer 503.
	Clinical Clinical
	// ColdChain serves the cold chain (docs/coldchain.md); nil: those routes answer 503.
	ColdChain ColdChain
}

// API is the HTTP API.
type API struct {
	cfg         Config
	log         *slog.Logger
	now         func() time.Time
	routes      []Route
	liveStreams prometheus.Gauge // nil without a Registerer
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxIngestBytes == 0 {
		cfg.MaxIngestBytes = 1 << 20
	}
	a := &API{cfg: cfg, log: cfg.Log, now: cfg.Now}
	if cfg.Registerer != nil {
		g, err := newLiveMetrics(cfg.Registerer)
		if err != nil {
			a.log.Warn("no live stream metrics", "err", err)
		}
		a.liveStreams = g
	}
	a.routes = a.table()
	a.routes = append(a.routes, a.clinicalRoutes()...)
	a.routes = append(a.routes, a.coldChainRoutes()...)
	return a
}

// Routes returns the route table (used by the tenant-isolation test).
func (a *API) Routes() []Route { return a.routes }

func (a *API) table() []Route {
	return append([]Route{
		{Pattern: "GET /healthz", Access: Public, handler: a.healthz},
		{Pattern: "GET /readyz", Access: Public, handler: a.readyz},
		{Pattern: "GET /api/v1/openapi.json", Access: Public, handler: a.openapi},
		{Pattern: "POST /api/v1/login", Access: Public, handler: a.login},

		{Pattern: "POST /api/v1/ingest", Access: DeviceA, handler: nil}, // served by ingestHTTP

		{Pattern: "POST /api/v1/logout", Access: User, handler: a.logout},
		{Pattern: "GET /api/v1/me", Access: User, handler: a.me},
		{Pattern: "POST /api/v1/tokens", Access: User, handler: a.createToken},
		{Pattern: "GET /api/v1/stream", Access: User, handler: a.stream},

		{Pattern: "GET /api/v1/tenants", Access: Provider, Perm: auth.PermTenantsManage, handler: a.listTenants},
		{Pattern: "POST /api/v1/tenants", Access: Provider, Perm: auth.PermTenantsManage, handler: a.createTenant},
		{Pattern: "GET /api/v1/audit/verify", Access: Provider, Perm: auth.PermTenantsManage, handler: a.verifyAudit},

		{Pattern: "GET /api/v1/tenants/{tenant}", Access: Tenant, Perm: auth.PermDevicesRead, handler: a.getTenant},
		{Pattern: "PUT /api/v1/tenants/{tenant}/settings", Access: Tenant, Perm: auth.PermSettingsManage, handler: a.putSettings},

		{Pattern: "GET /api/v1/tenants/{tenant}/users", Access: Tenant, Perm: auth.PermUsersManage, handler: a.listUsers},
		{Pattern: "POST /api/v1/tenants/{tenant}/users", Access: Tenant, Perm: auth.PermUsersManage, handler: a.createUser},
		{Pattern: "PATCH /api/v1/tenants/{tenant}/users/{user}", Access: Tenant, Perm: auth.PermUsersManage, handler: a.patchUser},
		{Pattern: "POST /api/v1/tenants/{tenant}/users/{user}/revoke-tokens", Access: Tenant, Perm: auth.PermUsersManage, handler: a.revokeUserTokens},

		{Pattern: "GET /api/v1/tenants/{tenant}/devices", Access: Tenant, Perm: auth.PermDevicesRead, handler: a.listDevices},
		{Pattern: "POST /api/v1/tenants/{tenant}/devices", Access: Tenant, Perm: auth.PermDevicesManage, handler: a.createDevice},
		{Pattern: "GET /api/v1/tenants/{tenant}/devices/{device}", Access: Tenant, Perm: auth.PermDevicesRead, handler: a.getDevice},
		{Pattern: "PATCH /api/v1/tenants/{tenant}/devices/{device}", Access: Tenant, Perm: auth.PermDevicesManage, handler: a.patchDevice},
		{Pattern: "POST /api/v1/tenants/{tenant}/devices/{device}/rotate", Access: Tenant, Perm: auth.PermDevicesManage, handler: a.rotateDevice},
		{Pattern: "POST /api/v1/tenants/{tenant}/devices/{device}/revoke", Access: Tenant, Perm: auth.PermDevicesManage, handler: a.revokeDevice},

		{Pattern: "GET /api/v1/tenants/{tenant}/subjects", Access: Tenant, Perm: auth.PermReadingsRead, handler: a.listSubjects},
		{Pattern: "GET /api/v1/tenants/{tenant}/subjects/{subject}/latest", Access: Tenant, Perm: auth.PermReadingsRead, handler: a.latest},
		{Pattern: "GET /api/v1/tenants/{tenant}/subjects/{subject}/readings", Access: Tenant, Perm: auth.PermReadingsRead, handler: a.readings},

		{Pattern: "GET /api/v1/tenants/{tenant}/alarms", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.listAlarms},
		{Pattern: "GET /api/v1/tenants/{tenant}/alarms/{alarm}", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.getAlarm},
		{Pattern: "POST /api/v1/tenants/{tenant}/alarms/{alarm}/ack", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.alarmCommand(alarm.ActAcknowledge)},
		{Pattern: "POST /api/v1/tenants/{tenant}/alarms/{alarm}/silence", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.alarmCommand(alarm.ActAlarmPause)},
		{Pattern: "POST /api/v1/tenants/{tenant}/alarms/{alarm}/escalate", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.alarmCommand(alarm.ActEscalate)},
		{Pattern: "POST /api/v1/tenants/{tenant}/alarms/{alarm}/resolve", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.alarmCommand(alarm.ActCancel)},
		{Pattern: "POST /api/v1/tenants/{tenant}/alarms/{alarm}/assessment", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.alarmCommand(alarm.ActAssess)},
		{Pattern: "GET /api/v1/tenants/{tenant}/subjects/{subject}/alarms", Access: Tenant, Perm: auth.PermAlarmsRead, handler: a.subjectAlarms},

		{Pattern: "GET /api/v1/tenants/{tenant}/audit", Access: Tenant, Perm: auth.PermAuditRead, handler: a.listAudit},
	}, a.careRoutes()...)
}

// Handler returns the API's HTTP handler, including /metrics.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes {
		if rt.Access == DeviceA {
			mux.Handle(rt.Pattern, http.HandlerFunc(a.ingestHTTP))
			continue
		}
		mux.Handle(rt.Pattern, a.wrap(rt))
	}
	if a.cfg.Metrics != nil {
		mux.Handle("GET /metrics", a.cfg.Metrics)
	}
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, a.log, errNotFound)
	}))
	if a.cfg.Console != nil {
		// "/" and not "GET /": a method pattern on "/" would conflict with "/api/" above.
		mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				WriteError(w, r, a.log, errorf(http.StatusMethodNotAllowed, "method not allowed"))
				return
			}
			a.cfg.Console.ServeHTTP(w, r)
		}))
	}
	return securityHeaders(mux)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// wrap authenticates and authorises per the route's access before calling its handler.
func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p auth.Principal
		if rt.Access != Public {
			var err error
			p, err = a.principal(r)
			if err != nil {
				WriteError(w, r, a.log, err)
				return
			}
		}
		switch rt.Access {
		case Provider:
			if !auth.Allowed(p, p.Tenant, rt.Perm) {
				WriteError(w, r, a.log, errForbidden)
				return
			}
		case Tenant:
			tenant := r.PathValue("tenant")
			if !auth.Allowed(p, tenant, rt.Perm) {
				WriteError(w, r, a.log, errForbidden)
				return
			}
			if tenant == store.ProviderTenant && rt.Perm != auth.PermUsersManage && rt.Perm != auth.PermAuditRead {
				WriteError(w, r, a.log, errNotFound)
				return
			}
			if _, err := a.cfg.Store.Tenant(r.Context(), tenant); err != nil {
				WriteError(w, r, a.log, err)
				return
			}
		}
		if err := rt.handler(w, r, p); err != nil {
			WriteError(w, r, a.log, err)
		}
	})
}

const (
	sessionCookie = "vigil_session"
	csrfHeader    = "X-CSRF-Token"
)

// principal authenticates the request by bearer token or session cookie. A cookie-authenticated
// request that changes state must carry the session's CSRF token in X-CSRF-Token.
func (a *API) principal(r *http.Request) (auth.Principal, error) {
	if id, secret, ok := r.BasicAuth(); ok {
		// A device credential is valid only for ingest.
		_, err := a.cfg.Auth.AuthenticateDevice(r.Context(), id, secret)
		if err == nil || errors.Is(err, auth.ErrDeviceRevoked) {
			return auth.Principal{}, errorf(http.StatusForbidden, "devices may only use the ingest API")
		}
		return auth.Principal{}, errUnauthenticated
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return auth.Principal{}, errUnauthenticated
		}
		return a.cfg.Auth.Authenticate(r.Context(), strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.Principal{}, errUnauthenticated
	}
	p, err := a.cfg.Auth.Authenticate(r.Context(), c.Value)
	if err != nil {
		return auth.Principal{}, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if p.CSRF == "" || !constantTimeEqual(r.Header.Get(csrfHeader), p.CSRF) {
			return auth.Principal{}, errorf(http.StatusForbidden, "missing or wrong CSRF token (send the X-CSRF-Token header from login)")
		}
	}
	return p, nil
}

// decode reads a JSON body of at most 64 KiB into v, rejecting unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body too large")
		}
		return invalid(fmt.Sprintf("invalid JSON body: %v", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("invalid JSON body: trailing data after the object")
	}
	return nil
}

func (a *API) record(ctx context.Context, p auth.Principal, tenant, action, target string, old, new any) error {
	rec := store.AuditRecord{
		Tenant: tenant,
		Actor:  "user:" + p.UserID,
		Action: action,
		Target: target,
	}
	if old != nil {
		rec.Old = jsonString(old)
	}
	if new != nil {
		rec.New = jsonString(new)
	}
	if err := a.cfg.Audit.Record(ctx, rec); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}
