// Command vigil runs the Vigil IoMT platform and administers it.
//
//	vigil serve [flags]        run the platform (embedded NATS JetStream and SQLite by default)
//	vigil serve --demo         the same with a demo tenant and a simulated fleet
//	vigil migrate [flags]      apply database migrations and exit
//	vigil audit verify         check the audit trail's hash chain
//	vigil login | tenant | user | device ...   administer a running server through its API
//	vigil sim --tenant T [--mqtt URL]            drive a server with the simulated fleet
//	vigil version
//
// main.go is the only place that knows every package: it reads the configuration, builds each
// component with its dependencies and runs them under one errgroup.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/postgres"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "vigil:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: vigil <command> [flags]

commands:
  serve           run Vigil (add --demo for a demo fleet); see vigil serve -h
  migrate         apply database migrations and exit
  audit verify    verify the audit trail's hash chain
  login           log in to a server and print a token
  tenant create   create a tenant            (needs VIGIL_SERVER, VIGIL_TOKEN)
  user add        add a user to a tenant      (needs VIGIL_SERVER, VIGIL_TOKEN)
  device add      register a device           (needs VIGIL_SERVER, VIGIL_TOKEN)
  sim             run the simulated fleet against a server (HTTP, or MQTT with --mqtt)
  version         print the version
`

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		cfg, err := parseServe(rest, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "migrate":
		cfg, err := parseServe(rest, getenv, stderr)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, cfg, newLogger(stderr, cfg.LogLevel))
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "audit":
		if len(rest) == 0 || rest[0] != "verify" {
			return errors.New("usage: vigil audit verify [--data DIR | --database-url URL]")
		}
		return auditVerify(ctx, rest[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "vigil", buildVersion())
		return nil
	case "sim":
		return simCommand(ctx, rest, getenv, stdout, stderr)
	case "login", "tenant", "user", "device":
		return client(ctx, cmd, rest, getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func buildVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openStore opens PostgreSQL when a database URL is configured, else SQLite in the data dir.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, log)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return st, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "vigil.db"), log)
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	return st, nil
}

func auditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := audit.Verify(ctx, st)
	if err != nil {
		return err
	}
	if !rep.OK {
		fmt.Fprintln(stdout, rep.String())
		return errors.New("audit trail tampered")
	}
	fmt.Fprintln(stdout, rep.String())
	return nil
}
