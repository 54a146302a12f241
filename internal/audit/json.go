package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// JSON returns v as compact JSON for an entry's Old or New, "" for nil.
//
// Callers pass redacted values: a struct or map holding only what an inspector may read, never
// a password, token, device secret or any hash of one. As a safety net, store.User,
// store.Token and store.Device (values or pointers) are written without PasswordHash, Hash,
// CSRF and SecretHash. Map keys come out sorted and HTML characters unescaped, so the same value
// always gives the same text. A value that cannot be encoded gives {"error":"…"} naming its
// type, so the entry is still written and the problem shows in the trail.
func JSON(v any) string {
	if v == nil {
		return ""
	}
	v = redact(v)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf(`{"error":%q}`, fmt.Sprintf("audit value of type %T cannot be encoded as JSON", v))
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
}

// Redacted views of the store records that carry credentials.
type (
	userView struct {
		ID           string     `json:"id"`
		Tenant       string     `json:"tenant"`
		Username     string     `json:"username"`
		Role         store.Role `json:"role"`
		Disabled     bool       `json:"disabled"`
		FailedLogins int        `json:"failed_logins"`
		LockedUntil  *time.Time `json:"locked_until,omitempty"`
	}
	tokenView struct {
		Kind    store.TokenKind `json:"kind"`
		UserID  string          `json:"user_id"`
		Tenant  string          `json:"tenant"`
		Expires time.Time       `json:"expires"`
		Revoked bool            `json:"revoked"`
	}
	deviceView struct {
		ID      string `json:"id"`
		Tenant  string `json:"tenant"`
		Model   string `json:"model"`
		Serial  string `json:"serial"`
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
		Revoked bool   `json:"revoked"`
	}
)

func redact(v any) any {
	switch r := v.(type) {
	case *store.User:
		if r == nil {
			return nil
		}
		return redact(*r)
	case *store.Token:
		if r == nil {
			return nil
		}
		return redact(*r)
	case *store.Device:
		if r == nil {
			return nil
		}
		return redact(*r)
	case store.User:
		u := userView{ID: r.ID, Tenant: r.Tenant, Username: r.Username, Role: r.Role,
			Disabled: r.Disabled, FailedLogins: r.FailedLogins}
		if !r.LockedUntil.IsZero() {
			t := r.LockedUntil.UTC()
			u.LockedUntil = &t
		}
		return u
	case store.Token:
		return tokenView{Kind: r.Kind, UserID: r.UserID, Tenant: r.Tenant, Expires: r.Expires.UTC(), Revoked: r.Revoked}
	case store.Device:
		return deviceView{ID: r.ID, Tenant: r.Tenant, Model: r.Model, Serial: r.Serial, Kind: r.Kind,
			Subject: r.Subject, Revoked: r.Revoked}
	}
	return v
}
