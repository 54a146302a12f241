package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client runs the admin subcommands, which call a running server's API. The server is
// VIGIL_SERVER (default http://127.0.0.1:8080) and the token VIGIL_TOKEN (from vigil login).
// Passwords are read from the environment or standard input, never from flags.
func client(ctx context.Context, cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	server := getenv("VIGIL_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	server = strings.TrimRight(server, "/")
	c := &apiClient{server: server, token: getenv("VIGIL_TOKEN"), http: &http.Client{Timeout: 30 * time.Second}}
	readPassword := func(env string) (string, error) {
		if pw := getenv(env); pw != "" {
			return pw, nil
		}
		fmt.Fprintf(stderr, "password (or set %s): ", env)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	sub := ""
	if cmd != "login" {
		if len(args) == 0 {
			return fmt.Errorf("usage: vigil %s <subcommand> (see vigil help)", cmd)
		}
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("vigil "+cmd+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch cmd + " " + sub {
	case "login ":
		user := fs.String("user", "admin", "username")
		if err := fs.Parse(args); err != nil {
			return err
		}
		pw, err := readPassword("VIGIL_PASSWORD")
		if err != nil {
			return err
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := c.do(ctx, "POST", "/api/v1/login", map[string]string{"username": *user, "password": pw}, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "export VIGIL_TOKEN=%s\n", out.Token)
		return nil
	case "tenant create":
		name := fs.String("name", "", "tenant name")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return c.print(ctx, stdout, "POST", "/api/v1/tenants", map[string]string{"name": *name})
	case "tenant list":
		return c.print(ctx, stdout, "GET", "/api/v1/tenants", nil)
	case "user add":
		tenant := fs.String("tenant", "", "tenant id")
		name := fs.String("username", "", "username")
		role := fs.String("role", "viewer", "admin, clinician, nurse, qa, operator or viewer")
		if err := fs.Parse(args); err != nil {
			return err
		}
		pw, err := readPassword("VIGIL_NEW_PASSWORD")
		if err != nil {
			return err
		}
		return c.print(ctx, stdout, "POST", "/api/v1/tenants/"+*tenant+"/users",
			map[string]string{"username": *name, "password": pw, "role": *role})
	case "device add":
		tenant := fs.String("tenant", "", "tenant id")
		id := fs.String("id", "", "device id")
		model := fs.String("model", "", "model")
		kind := fs.String("kind", "", "device kind (monitor, oximeter, environment, ...)")
		subject := fs.String("subject", "", "patient or asset the device is bound to")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return c.print(ctx, stdout, "POST", "/api/v1/tenants/"+*tenant+"/devices",
			map[string]string{"id": *id, "model": *model, "kind": *kind, "subject": *subject})
	case "device list":
		tenant := fs.String("tenant", "", "tenant id")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return c.print(ctx, stdout, "GET", "/api/v1/tenants/"+*tenant+"/devices", nil)
	}
	return fmt.Errorf("unknown command: vigil %s %s", cmd, sub)
}

type apiClient struct {
	server, token string
	http          *http.Client
}

func (c *apiClient) print(ctx context.Context, stdout io.Writer, method, path string, body any) error {
	var out json.RawMessage
	if err := c.do(ctx, method, path, body, &out); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return err
	}
	fmt.Fprintln(stdout, buf.String())
	return nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errors.New("server answered with invalid JSON")
	}
	return nil
}
