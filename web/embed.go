// Package web serves Vigil's web console: the single-page application built from web/src by
// Vite (npm ci && npm run build, or make web) into web/dist, embedded in the binary.
//
// Handler serves the build at /: files under /assets/ carry a content hash in their names and
// are cached for a year; every other path that is not a file is a client route and gets
// index.html. Every answer carries a Content-Security-Policy that allows only this origin.
// Text files are gzipped once at start-up and sent compressed to clients that accept it.
// A checkout where the console was never built still compiles: the handler then serves a page
// saying how to build it. A Handler is safe for concurrent use.
package web

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// CSP is the Content-Security-Policy of every console response: scripts, styles and
// connections from this origin only, no framing, no plugins.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const notBuilt = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Vigil</title>
<body style="font-family:sans-serif;margin:3rem"><h1>Vigil</h1>
<p>The console is not built into this binary: run <code>make web</code> (or <code>make build</code>) and rebuild.</p>
<p>The API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></body></html>`

type file struct {
	body, gz []byte
	ctype    string
}

// Handler returns the console's handler for the embedded build.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub cannot fail on it
	}
	return NewHandler(sub)
}

// NewHandler returns a handler serving the console build in fsys (index.html at its root).
func NewHandler(fsys fs.FS) http.Handler {
	files := map[string]*file{}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(p), ".") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		f := &file{body: b, ctype: mime.TypeByExtension(path.Ext(p))}
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
		if compressible(p) && len(b) > 512 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			zw.Close()
			if buf.Len() < len(b) {
				f.gz = buf.Bytes()
			}
		}
		files["/"+p] = f
		return nil
	})
	index := files["/index.html"]
	if index == nil {
		index = &file{body: []byte(notBuilt), ctype: "text/html; charset=utf-8"}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		p := path.Clean("/" + r.URL.Path)
		f, ok := files[p]
		switch {
		case ok && strings.HasPrefix(p, "/assets/"):
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		case ok && p != "/index.html":
			h.Set("Cache-Control", "no-cache")
		case path.Ext(p) != "" && p != "/index.html":
			http.NotFound(w, r) // a missing file, not a client route
			return
		default:
			f = index
			h.Set("Cache-Control", "no-cache")
		}
		h.Set("Content-Type", f.ctype)
		h.Add("Vary", "Accept-Encoding")
		body := f.body
		if f.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			h.Set("Content-Encoding", "gzip")
			body = f.gz
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func compressible(p string) bool {
	switch path.Ext(p) {
	case ".js", ".css", ".html", ".svg", ".json", ".map", ".txt":
		return true
	}
	return false
}
