package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-iomt/vigil/internal/httpapi"
)

// TestConsoleServesEverythingButTheAPI: with a console, / and client routes reach it, while
// /api/… stays the API (a JSON 404 for unknown API paths) and the console takes no POST.
func TestConsoleServesEverythingButTheAPI(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console "+r.URL.Path) })
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Console: console}).Handler())
	defer srv.Close()
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "console /"},
		{"GET", "/subjects/patient-a01", 200, "console /subjects/patient-a01"},
		{"GET", "/api/v1/nope", 404, `"error"`},
		{"GET", "/healthz", 200, `"ok"`},
		{"POST", "/", 405, `"error"`},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", c.method, c.path, resp.StatusCode, b, c.code, c.body)
		}
	}
}
