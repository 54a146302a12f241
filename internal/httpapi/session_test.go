package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// TestSessionCookieNeedsCSRF: the console's cookie authenticates reads, but a state change
// made with the cookie alone (as a cross-site form would) is refused without the CSRF token.
func TestSessionCookieNeedsCSRF(t *testing.T) {
	f := newFixture(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	body, _ := json.Marshal(map[string]string{"username": "ta-admin", "password": pw})
	resp, err := c.Post(f.srv.URL+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.CSRF == "" {
		t.Fatalf("login: %d, csrf %q", resp.StatusCode, login.CSRF)
	}
	get, _ := c.Get(f.srv.URL + "/api/v1/me")
	get.Body.Close()
	if get.StatusCode != 200 {
		t.Fatalf("GET /me with the cookie: %d", get.StatusCode)
	}
	newDevice := func(csrf, id string) int {
		req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/tenants/ta/devices", strings.NewReader(`{"id":"`+id+`","model":"m","subject":"s"}`))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := newDevice("", "csrf-1"); code != 403 {
		t.Fatalf("cookie without CSRF token: %d, want 403", code)
	}
	if code := newDevice("wrong", "csrf-2"); code != 403 {
		t.Fatalf("cookie with a wrong CSRF token: %d, want 403", code)
	}
	if code := newDevice(login.CSRF, "csrf-3"); code != 201 {
		t.Fatalf("cookie with the CSRF token: %d, want 201", code)
	}
	// Logout revokes the session: the cookie no longer works.
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/logout", nil)
	req.Header.Set("X-CSRF-Token", login.CSRF)
	out, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != 204 {
		t.Fatalf("logout: %d", out.StatusCode)
	}
	code, _ := f.do(t, "", "GET", "/api/v1/me", nil)
	if code != 401 {
		t.Fatalf("after logout: %d, want 401", code)
	}
}

// TestLockoutAndRevocation: five wrong passwords lock the account (even the right password is
// then refused), an admin unlocks it, and disabling a user revokes their tokens at once.
func TestLockoutAndRevocation(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		code, _ := f.do(t, "", "POST", "/api/v1/login", map[string]string{"username": "ta-nurse", "password": "not the password"})
		if want := 401; i < 4 && code != want {
			t.Fatalf("failure %d: %d, want %d", i+1, code, want)
		}
	}
	code, b := f.do(t, "", "POST", "/api/v1/login", map[string]string{"username": "ta-nurse", "password": pw})
	if code != 403 || !strings.Contains(string(b), "locked") {
		t.Fatalf("right password on a locked account: %d %s, want 403 locked", code, b)
	}
	f.call(t, "ta-admin", "PATCH", "/api/v1/tenants/ta/users/"+f.users["ta-nurse"], map[string]any{"unlock": true}, 200, nil)
	f.tokens["ta-nurse"] = f.login(t, "ta-nurse")

	f.call(t, "ta-nurse", "GET", "/api/v1/me", nil, 200, nil)
	f.call(t, "ta-admin", "PATCH", "/api/v1/tenants/ta/users/"+f.users["ta-nurse"], map[string]any{"disabled": true}, 200, nil)
	if code, _ := f.do(t, "ta-nurse", "GET", "/api/v1/me", nil); code != 401 {
		t.Fatalf("disabled user's token: %d, want 401", code)
	}
	// Short passwords are refused with the policy's reason.
	code, b = f.do(t, "ta-admin", "POST", "/api/v1/tenants/ta/users", map[string]any{"username": "shorty", "password": "short", "role": "viewer"})
	if code != 400 || !strings.Contains(string(b), "password") {
		t.Fatalf("short password: %d %s, want 400 naming the password", code, b)
	}
	// The audit trail has the failed logins and the lock.
	var au struct {
		Entries []struct{ Action string } `json:"entries"`
	}
	f.call(t, "ta-admin", "GET", "/api/v1/tenants/ta/audit?limit=1000", nil, 200, &au)
	seen := map[string]int{}
	for _, e := range au.Entries {
		seen[e.Action]++
	}
	if seen["login.fail"] < 4 || seen["login.locked"] < 1 || seen["user.update"] < 2 {
		t.Fatalf("audit actions %v", seen)
	}
}
