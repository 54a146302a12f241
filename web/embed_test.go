package web

import (
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	js := strings.Repeat("console.log('vigil');", 100)
	h := NewHandler(fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Vigil console</title>")},
		"assets/app-abc1.js": {Data: []byte(js)},
		"favicon.svg":        {Data: []byte("<svg/>")},
	})
	for _, c := range []struct {
		path, wantBody, wantCache string
		wantCode                  int
	}{
		{"/", "Vigil console", "no-cache", 200},
		{"/subjects/patient-a01", "Vigil console", "no-cache", 200}, // a client route
		{"/assets/app-abc1.js", js, "public, max-age=31536000, immutable", 200},
		{"/favicon.svg", "<svg/>", "no-cache", 200},
		{"/assets/missing.js", "", "", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.wantCode {
			t.Errorf("GET %s: %d, want %d", c.path, rec.Code, c.wantCode)
			continue
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: CSP %q", c.path, got)
		}
		if c.wantCode != 200 {
			continue
		}
		if !strings.Contains(rec.Body.String(), c.wantBody) {
			t.Errorf("GET %s: body %.60q, want it to contain %.60q", c.path, rec.Body.String(), c.wantBody)
		}
		if got := rec.Header().Get("Cache-Control"); got != c.wantCache {
			t.Errorf("GET %s: Cache-Control %q, want %q", c.path, got, c.wantCache)
		}
	}

	req := httptest.NewRequest("GET", "/assets/app-abc1.js", nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Body.Len() >= len(js) {
		t.Fatalf("gzip: encoding %q, %d bytes for %d", rec.Header().Get("Content-Encoding"), rec.Body.Len(), len(js))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != js {
		t.Errorf("gunzipped body differs from the file")
	}
}

func TestHandlerWithoutBuildSaysHowToBuild(t *testing.T) {
	rec := httptest.NewRecorder()
	NewHandler(fstest.MapFS{".keep": {}}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "make web") {
		t.Errorf("unbuilt console: %d %q", rec.Code, rec.Body.String())
	}
}
