package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/devicecert"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func randomID(prefix string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

var (
	tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
)

// ---- health ----

func (a *API) healthz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if a.cfg.Ready != nil {
		if err := a.cfg.Ready(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// ---- login, tokens ----

type userJSON struct {
	ID       string     `json:"id"`
	Tenant   string     `json:"tenant"`
	Username string     `json:"username"`
	Role     store.Role `json:"role"`
	Disabled bool       `json:"disabled"`
	Locked   bool       `json:"locked,omitempty"`
	Created  time.Time  `json:"created"`
}

func (a *API) userJSON(u store.User) userJSON {
	return userJSON{ID: u.ID, Tenant: u.Tenant, Username: u.Username, Role: u.Role,
		Disabled: u.Disabled, Locked: u.LockedUntil.After(a.now()), Created: u.Created}
}

func (a *API) login(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Username == "" || in.Password == "" {
		return invalid("username and password are required")
	}
	res, err := a.cfg.Auth.Login(r.Context(), in.Username, in.Password, store.SessionToken)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			return errorf(http.StatusUnauthorized, "wrong username or password")
		}
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: res.Token, Path: "/", Expires: res.Expires,
		HttpOnly: true, Secure: a.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, map[string]any{
		"token": res.Token, "csrf": res.CSRF, "expires": res.Expires, "user": a.userJSON(res.User),
	})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if err := a.cfg.Auth.Logout(r.Context(), p); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	u, err := a.cfg.Store.User(r.Context(), p.Tenant, p.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.userJSON(u))
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tok, exp, err := a.cfg.Auth.IssueAPIToken(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires": exp})
	return nil
}

// ---- tenants ----

type tenantJSON struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Settings map[string]string `json:"settings"`
	Created  time.Time         `json:"created"`
}

func tenantOut(t store.Tenant) tenantJSON {
	if t.Settings == nil {
		t.Settings = map[string]string{}
	}
	return tenantJSON{ID: t.ID, Name: t.Name, Settings: t.Settings, Created: t.Created}
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ts, err := a.cfg.Store.Tenants(r.Context())
	if err != nil {
		return err
	}
	out := make([]tenantJSON, 0, len(ts))
	for _, t := range ts {
		if t.ID != store.ProviderTenant {
			out = append(out, tenantOut(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
	return nil
}

// slug makes a tenant id from a name: lower-case letters, digits and dashes.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 32 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 200 {
		return invalid("name is required (at most 200 characters)")
	}
	id := in.ID
	if id == "" {
		id = slug(in.Name)
		if id == "" {
			id = "t"
		}
	}
	if !tenantIDPattern.MatchString(id) || id == store.ProviderTenant {
		return invalid(fmt.Sprintf("tenant id %q: use 1-40 lower-case letters, digits and dashes (not %q)", id, store.ProviderTenant))
	}
	t := store.Tenant{ID: id, Name: in.Name, Settings: map[string]string{}, Created: a.now().UTC()}
	err := a.cfg.Store.CreateTenant(r.Context(), t)
	for i := 2; errors.Is(err, store.ErrConflict) && in.ID == "" && i < 100; i++ {
		t.ID = fmt.Sprintf("%s-%d", id, i)
		err = a.cfg.Store.CreateTenant(r.Context(), t)
	}
	if err != nil {
		return err
	}
	if err := a.record(r.Context(), p, t.ID, "tenant.create", "tenant:"+t.ID, nil, tenantOut(t)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tenantOut(t))
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	t, err := a.cfg.Store.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantOut(t))
	return nil
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	var in map[string]string
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if len(in) > 200 {
		return invalid("at most 200 settings")
	}
	for k, v := range in {
		if k == devicecert.SettingCA && v != "" { // MQTT client certificates (docs/mqtt.md)
			if _, err := devicecert.ParseCAs(v); err != nil {
				return invalid(fmt.Sprintf("setting %q: %v", k, err))
			}
			continue
		}
		if k == "" || len(k) > 100 || len(v) > 4000 {
			return invalid(fmt.Sprintf("setting %q: keys are 1-100 characters, values at most 4000", k))
		}
	}
	old, err := a.cfg.Store.Tenant(r.Context(), tenant)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.UpdateTenantSettings(r.Context(), tenant, in); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "tenant.settings", "tenant:"+tenant, old.Settings, in); err != nil {
		return err
	}
	old.Settings = in
	writeJSON(w, http.StatusOK, tenantOut(old))
	return nil
}

// ---- users ----

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	us, err := a.cfg.Store.Users(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, a.userJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

// checkRole says whether p may give role in tenant: provider-admin only in the provider
// tenant (and only by a provider admin); no other role there.
func checkRole(p auth.Principal, tenant string, role store.Role) error {
	if !role.Valid() {
		return invalid(fmt.Sprintf("role %q: want one of provider-admin, admin, clinician, nurse, qa, operator, viewer", role))
	}
	if (role == store.ProviderAdmin) != (tenant == store.ProviderTenant) {
		return invalid("provider-admin is the only role of the provider tenant, and exists only there")
	}
	if role == store.ProviderAdmin && p.Role != store.ProviderAdmin {
		return errForbidden
	}
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	var in struct {
		Username string     `json:"username"`
		Password string     `json:"password"`
		Role     store.Role `json:"role"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if !usernamePattern.MatchString(in.Username) {
		return invalid("username: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
	}
	if err := checkRole(p, tenant, in.Role); err != nil {
		return err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return invalid(err.Error())
	}
	u := store.User{ID: randomID("u_"), Tenant: tenant, Username: in.Username, Role: in.Role,
		PasswordHash: hash, Created: a.now().UTC()}
	if err := a.cfg.Store.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, "username already taken")
		}
		return err
	}
	if err := a.record(r.Context(), p, tenant, "user.create", "user:"+u.ID, nil, a.userJSON(u)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.userJSON(u))
	return nil
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	var in struct {
		Role     *store.Role `json:"role"`
		Disabled *bool       `json:"disabled"`
		Password *string     `json:"password"`
		Unlock   bool        `json:"unlock"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := a.cfg.Store.User(r.Context(), tenant, r.PathValue("user"))
	if err != nil {
		return err
	}
	old := a.userJSON(u)
	revoke := false
	if in.Role != nil {
		if err := checkRole(p, tenant, *in.Role); err != nil {
			return err
		}
		revoke = revoke || u.Role != *in.Role
		u.Role = *in.Role
	}
	if in.Disabled != nil {
		if *in.Disabled && u.ID == p.UserID {
			return invalid("you cannot disable yourself")
		}
		revoke = revoke || *in.Disabled
		u.Disabled = *in.Disabled
	}
	if in.Password != nil {
		hash, err := auth.HashPassword(*in.Password)
		if err != nil {
			return invalid(err.Error())
		}
		u.PasswordHash = hash
		revoke = true
	}
	if in.Unlock {
		u.FailedLogins = 0
		u.LockedUntil = time.Time{}
	}
	if err := a.cfg.Store.UpdateUser(r.Context(), u); err != nil {
		return err
	}
	if revoke {
		if err := a.cfg.Store.RevokeUserTokens(r.Context(), tenant, u.ID); err != nil {
			return err
		}
	}
	newJ := a.userJSON(u)
	type change struct {
		userJSON
		PasswordChanged bool `json:"password_changed,omitempty"`
	}
	if err := a.record(r.Context(), p, tenant, "user.update", "user:"+u.ID, old, change{newJ, in.Password != nil}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newJ)
	return nil
}

func (a *API) revokeUserTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	u, err := a.cfg.Store.User(r.Context(), tenant, r.PathValue("user"))
	if err != nil {
		return err
	}
	if err := a.cfg.Store.RevokeUserTokens(r.Context(), tenant, u.ID); err != nil {
		return err
	}
	if err := a.record(r.Context(), p, tenant, "user.revoke_tokens", "user:"+u.ID, nil, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- devices ----

type deviceJSON struct {
	ID       string     `json:"id"`
	Tenant   string     `json:"tenant"`
	Model    string     `json:"model"`
	Serial   string     `json:"serial"`
	Kind     string     `json:"kind"`
	Subject  string     `json:"subject"`
	Revoked  bool       `json:"revoked"`
	Created  time.Time  `json:"created"`
	LastSeen *time.Time `json:"last_seen"`
	// MQTT connectivity: whether a connection is open, and the latest connect and disconnect.
	Connected      bool       `json:"connected"`
	ConnectedAt    *time.Time `json:"connected_at,omitempty"`
	DisconnectedAt *time.Time `json:"disconnected_at,omitempty"`
	Secret         string     `json:"secret,omitempty"` // only when created or rotated
}

func deviceOut(d store.Device) deviceJSON {
	out := deviceJSON{ID: d.ID, Tenant: d.Tenant, Model: d.Model, Serial: d.Serial, Kind: d.Kind,
		Subject: d.Subject, Revoked: d.Revoked, Created: d.Created}
	if !d.LastSeen.IsZero() {
		t := d.LastSeen
		out.LastSeen = &t
	}
	out.Connected = d.Connected
	if !d.ConnectedAt.IsZero() {
		t := d.ConnectedAt
		out.ConnectedAt = &t
	}
	if !d.DisconnectedAt.IsZero() {
		t := d.DisconnectedAt
		out.DisconnectedAt = &t
	}
	return out
}

// Device kinds understood by the metric mapping (senml.md §4).
var deviceKinds = map[string]bool{
	"": true, "patient": true, "monitor": true, "oximeter": true, "bp_monitor": true, "thermometer": true,
	"wearable": true, "glucometer": true, "scale": true, "environment": true, "gateway": true,
}

type deviceIn struct {
	ID      *string `json:"id"`
	Model   *string `json:"model"`
	Serial  *string `json:"serial"`
	Kind    *string `json:"kind"`
	Subject *string `json:"subject"`
}

func (in deviceIn) apply(d *store.Device) error {
	set := func(dst *string, src *string, field string, max int) error {
		if src == nil {
			return nil
		}
		if len(*src) > max {
			return invalid(fmt.Sprintf("%s: at most %d characters", field, max))
		}
		*dst = strings.TrimSpace(*src)
		return nil
	}
	if err := errors.Join(set(&d.Model, in.Model, "model", 100), set(&d.Serial, in.Serial, "serial", 100),
		set(&d.Kind, in.Kind, "kind", 40), set(&d.Subject, in.Subject, "subject", 200)); err != nil {
		return err
	}
	if !deviceKinds[d.Kind] {
		return invalid(fmt.Sprintf("kind %q: want patient, monitor, oximeter, bp_monitor, thermometer, wearable, glucometer, scale, environment or gateway", d.Kind))
	}
	return nil
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ds, err := a.cfg.Store.Devices(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceOut(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

func (a *API) createDevice(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	var in deviceIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ID == nil || !deviceIDPattern.MatchString(*in.ID) {
		return invalid("id: 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	d := store.Device{ID: *in.ID, Tenant: tenant, Created: a.now().UTC()}
	if err := in.apply(&d); err != nil {
		return err
	}
	secret, hash := auth.NewSecret("vgd_")
	d.SecretHash = hash
	if err := a.cfg.Store.CreateDevice(r.Context(), d); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, "device id already registered")
		}
		return err
	}
	if err := a.record(r.Context(), p, tenant, "device.create", "device:"+d.ID, nil, deviceOut(d)); err != nil {
		return err
	}
	out := deviceOut(d)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	d, err := a.cfg.Store.Device(r.Context(), r.PathValue("tenant"), r.PathValue("device"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceOut(d))
	return nil
}

func (a *API) patchDevice(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	var in deviceIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ID != nil {
		return invalid("id cannot be changed")
	}
	d, err := a.cfg.Store.Device(r.Context(), tenant, r.PathValue("device"))
	if err != nil {
		return err
	}
	old := deviceOut(d)
	if err := in.apply(&d); err != nil {
		return err
	}
	if err := a.cfg.Store.UpdateDevice(r.Context(), d); err != nil {
		return err
	}
	a.cfg.Auth.InvalidateDevice(d.ID)
	if err := a.record(r.Context(), p, tenant, "device.update", "device:"+d.ID, old, deviceOut(d)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceOut(d))
	return nil
}

func (a *API) rotateDevice(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	d, err := a.cfg.Store.Device(r.Context(), tenant, r.PathValue("device"))
	if err != nil {
		return err
	}
	secret, hash := auth.NewSecret("vgd_")
	d.SecretHash = hash
	d.Revoked = false
	if err := a.cfg.Store.UpdateDevice(r.Context(), d); err != nil {
		return err
	}
	a.cfg.Auth.InvalidateDevice(d.ID)
	if err := a.record(r.Context(), p, tenant, "device.rotate_secret", "device:"+d.ID, nil, nil); err != nil {
		return err
	}
	out := deviceOut(d)
	out.Secret = secret
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) revokeDevice(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	tenant := r.PathValue("tenant")
	d, err := a.cfg.Store.Device(r.Context(), tenant, r.PathValue("device"))
	if err != nil {
		return err
	}
	d.Revoked = true
	if err := a.cfg.Store.UpdateDevice(r.Context(), d); err != nil {
		return err
	}
	a.cfg.Auth.InvalidateDevice(d.ID)
	if err := a.record(r.Context(), p, tenant, "device.revoke", "device:"+d.ID, nil, nil); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceOut(d))
	return nil
}

// ---- readings ----

type pointJSON struct {
	T      time.Time `json:"t"`
	V      *float64  `json:"v,omitempty"`
	VS     string    `json:"vs,omitempty"`
	VB     *bool     `json:"vb,omitempty"`
	Metric string    `json:"metric,omitempty"`
	Unit   string    `json:"unit,omitempty"`
	Device string    `json:"device,omitempty"`
	Flags  []string  `json:"flags,omitempty"`
}

func flagNames(f reading.Flags) []string {
	var out []string
	for _, n := range []struct {
		f    reading.Flags
		name string
	}{{reading.TimeRelative, "time_relative"}, {reading.Implausible, "implausible"},
		{reading.Unmapped, "unmapped"}, {reading.Control, "control"}} {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func pointOut(p store.Point, withMetric bool) pointJSON {
	out := pointJSON{T: p.Measured, Flags: flagNames(p.Flags)}
	switch p.Kind {
	case reading.Number:
		v := p.Value
		out.V = &v
	case reading.Bool:
		b := p.Value != 0
		out.VB = &b
	default:
		out.VS = p.Text
	}
	if withMetric {
		out.Metric, out.Unit, out.Device = p.Metric, p.Unit, p.Device
	}
	return out
}

func (a *API) listSubjects(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ss, err := a.cfg.Store.Subjects(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	if ss == nil {
		ss = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"subjects": ss})
	return nil
}

func (a *API) latest(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	ps, err := a.cfg.Store.Latest(r.Context(), r.PathValue("tenant"), r.PathValue("subject"))
	if err != nil {
		return err
	}
	out := make([]pointJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, pointOut(p, true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"subject": r.PathValue("subject"), "latest": out})
	return nil
}

const maxBuckets = 100_000

func (a *API) readings(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" {
		return invalid("metric is required, e.g. ?metric=hr")
	}
	now := a.now()
	to := now
	var from time.Time
	var err error
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return invalid(fmt.Sprintf("to: %q is not an RFC 3339 time", s))
		}
	}
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return invalid(fmt.Sprintf("from: %q is not an RFC 3339 time", s))
		}
	} else {
		from = to.Add(-time.Hour)
	}
	if !from.Before(to) {
		return invalid("from must be before to")
	}
	limit := 10_000
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100_000 {
			return invalid("limit: an integer from 1 to 100000")
		}
	}
	rq := store.ReadingQuery{Tenant: r.PathValue("tenant"), Subject: r.PathValue("subject"),
		Metric: metric, From: from, To: to, Limit: limit}
	unit := ""
	if m, ok := reading.LookupMetric(metric); ok {
		unit = m.Unit
	}
	out := map[string]any{"subject": rq.Subject, "metric": metric, "unit": unit, "from": from, "to": to}
	if s := q.Get("step"); s != "" {
		step, err := time.ParseDuration(s)
		if err != nil || step < time.Second {
			return invalid(fmt.Sprintf("step: %q is not a duration of at least 1s (e.g. 1m, 15m, 1h)", s))
		}
		if to.Sub(from)/step > maxBuckets {
			return invalid(fmt.Sprintf("step: %s gives more than %d buckets; use a larger step", s, maxBuckets))
		}
		bs, err := a.cfg.Store.Buckets(r.Context(), rq, step)
		if err != nil {
			return err
		}
		type bucketJSON struct {
			T     time.Time `json:"t"`
			Min   float64   `json:"min"`
			Max   float64   `json:"max"`
			Mean  float64   `json:"mean"`
			Count int       `json:"count"`
		}
		list := make([]bucketJSON, 0, len(bs))
		for _, b := range bs {
			list = append(list, bucketJSON{b.Start.UTC(), b.Min, b.Max, b.Mean, b.Count})
		}
		out["step"] = step.String()
		out["buckets"] = list
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	ps, err := a.cfg.Store.Readings(r.Context(), rq)
	if err != nil {
		return err
	}
	list := make([]pointJSON, 0, len(ps))
	for _, p := range ps {
		if unit == "" {
			unit = p.Unit
			out["unit"] = unit
		}
		list = append(list, pointOut(p, false))
	}
	out["points"] = list
	out["truncated"] = len(ps) >= limit
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ---- audit ----

type auditJSON struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Tenant   string    `json:"tenant"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Reason   string    `json:"reason,omitempty"`
	Old      string    `json:"old,omitempty"`
	New      string    `json:"new,omitempty"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	var after int64
	limit := 200
	var err error
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return invalid("after: a non-negative sequence number")
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return invalid("limit: an integer from 1 to 1000")
		}
	}
	action, target := q.Get("action"), q.Get("target")
	out := make([]auditJSON, 0, min(limit, 256))
	// With filters, scan the trail in pages up to auditScanMax entries per request; "next" says
	// where a further request continues when the scan stopped before the end.
	var next int64
	for scanned := 0; len(out) < limit; {
		recs, err := a.cfg.Store.Audit(r.Context(), r.PathValue("tenant"), after, 1000)
		if err != nil {
			return err
		}
		for _, e := range recs {
			after = e.Seq
			if (action == "" || e.Action == action) && strings.HasPrefix(e.Target, target) {
				out = append(out, auditJSON{e.Seq, e.Time.UTC(), e.Tenant, e.Actor, e.Action, e.Target, e.Reason, e.Old, e.New, e.PrevHash, e.Hash})
				if len(out) == limit {
					break
				}
			}
		}
		scanned += len(recs)
		if len(recs) < 1000 {
			break
		}
		if scanned >= auditScanMax && len(out) < limit {
			next = after
			break
		}
	}
	resp := map[string]any{"entries": out}
	if next > 0 {
		resp["next"] = next
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// auditScanMax bounds the entries one filtered audit request reads.
const auditScanMax = 50000

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	if a.cfg.Verify == nil {
		return errNotFound
	}
	rep, err := a.cfg.Verify(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
