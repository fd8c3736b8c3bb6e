// Command smartassist_exporter polls Kore.ai SmartAssist's call-details API
// and serves contact-center metrics for Prometheus. main only wires the
// parts: config reads the environment, collector polls, metrics derives,
// simulator stands in for the API under -demo.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smartassist-exporter/smartassist_exporter/collector"
	"github.com/smartassist-exporter/smartassist_exporter/config"
	"github.com/smartassist-exporter/smartassist_exporter/dashboards"
	"github.com/smartassist-exporter/smartassist_exporter/metrics"
	"github.com/smartassist-exporter/smartassist_exporter/otlp"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

const exporterName = "smartassist_exporter"

// The metric contract is what the collector hands conversations to.
var _ collector.Sink = (*metrics.Metrics)(nil)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(exporterName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "serve metrics from a built-in simulated contact center (no account needed); SMARTASSIST_* settings still apply")
	showVersion := fs.Bool("version", false, "print the version and exit")
	healthcheck := fs.Bool("healthcheck", false, "check that an exporter runs at SMARTASSIST_LISTEN_ADDRESS (GET /healthz) and exit 0 if so, 1 if not; for container HEALTHCHECKs in images without curl")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [-demo] [-version] [-healthcheck]\n\nSettings come from SMARTASSIST_* environment variables; see README.md.\n\n", exporterName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, a := range fs.Args() {
		// An empty argument is what docker compose passes for an unset
		// command; anything else is a mistake.
		if a != "" {
			fmt.Fprintf(stderr, "%s: unexpected argument %q: settings are SMARTASSIST_* environment variables\n", exporterName, a)
			return 2
		}
	}
	if *showVersion {
		fmt.Fprintln(stderr, version.Print(exporterName))
		return 0
	}
	if *healthcheck {
		if err := checkHealth(ctx, os.Getenv(config.Var("LISTEN_ADDRESS"))); err != nil {
			fmt.Fprintf(stderr, "%s: unhealthy: %v\n", exporterName, err)
			return 1
		}
		return 0
	}

	var demoAPI *simulator.Demo
	if *demo {
		var cleanup func()
		var err error
		if demoAPI, cleanup, err = startDemo(ctx); err != nil {
			fmt.Fprintf(stderr, "%s: starting the demo: %v\n", exporterName, err)
			return 1
		}
		defer cleanup()
	}
	cfg, err := config.Load()
	if err == nil {
		err = otlp.CheckEnvironment()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", exporterName, err)
		return 2
	}
	log := newLogger(cfg, stderr)
	for _, v := range config.UnknownVariables(os.Environ()) {
		log.Warn("ignoring unknown setting; check its spelling", "variable", v)
	}
	log.Info("starting", "version", version.Info(), "config", cfg)
	if demoAPI != nil {
		log.Info("demo mode: polling the built-in simulated SmartAssist API", "api", demoAPI.URL)
	}
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("exiting", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.SlogLevel()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the poll loop and the HTTP server until ctx ends.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	state, err := collector.OpenState(cfg.StatePath)
	if err != nil {
		return err
	}
	defer state.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(exporterName),
	)
	sink := metrics.New(reg, metrics.Options{
		AgentMetrics: cfg.AgentMetrics, MaxChannels: cfg.MaxChannels, MaxQueues: cfg.MaxQueues,
		MaxDispositions: cfg.MaxDispositions, MaxCampaigns: cfg.MaxCampaigns, MaxStatuses: cfg.MaxStatuses,
		MaxAgents: cfg.MaxAgents,
	})
	var poller *collector.Poller
	selfMetrics := collector.NewMetrics(reg, cfg.APIRateLimit, cfg.PollInterval, func() time.Duration { return poller.Lag() })

	var tokens collector.TokenSource
	switch {
	case cfg.Token != "":
		tokens = collector.StaticToken(cfg.Token.Reveal())
	case cfg.ClientSecretFile != "":
		path := cfg.ClientSecretFile
		tokens = collector.NewMintedTokens(cfg.ClientID, func() (string, error) { return config.ReadSecretFile(path) })
	default:
		secret := cfg.ClientSecret.Reveal()
		tokens = collector.NewMintedTokens(cfg.ClientID, func() (string, error) { return secret, nil })
	}
	httpClient := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	client := collector.NewClient(collector.ClientConfig{
		BaseURL: cfg.BaseURL, AccountID: cfg.AccountID, StreamID: cfg.StreamID, Endpoint: cfg.Endpoint,
		TimezoneOffset: cfg.TimezoneOffset, RateLimit: cfg.APIRateLimit, RequestTimeout: cfg.RequestTimeout,
		UserAgent: exporterName + "/" + version.Version,
	}, httpClient, tokens, selfMetrics, log.With("component", "client"))
	poller = collector.NewPoller(client, state, sink, selfMetrics, collector.PollerConfig{
		Interval: cfg.PollInterval, Lookback: cfg.Lookback, RecentWindow: cfg.RecentWindow,
		FullScanInterval: cfg.FullScanInterval, SweepRequests: collector.SweepRequestsFor(cfg.APIRateLimit, cfg.PollInterval),
	}, log.With("component", "collector"))

	telemetry, err := otlp.Setup(ctx, reg, otlp.Identity{AccountID: cfg.AccountID, StreamID: cfg.StreamID}, log.With("component", "otlp"))
	if err != nil {
		return err
	}
	defer func() {
		// A final push, bounded so that SIGTERM still ends the process
		// within a few seconds when the receiver is down.
		flushCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := telemetry.Shutdown(flushCtx); err != nil {
			log.Warn("flushing OTLP at shutdown", "err", err)
		}
	}()

	server, err := newServer(reg, poller, log)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Var("LISTEN_ADDRESS"), err)
	}
	log.Info("listening", "address", listener.Addr().String(), "tls_and_auth_config", cfg.WebConfigFile)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		poller.Run(ctx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		systemd := false
		webConfig := cfg.WebConfigFile
		serveErr <- web.Serve(listener, server, &web.FlagConfig{
			WebListenAddresses: &[]string{cfg.ListenAddress}, WebSystemdSocket: &systemd, WebConfigFile: &webConfig,
		}, log.With("component", "web"))
	}()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	wg.Wait()
	return err
}

func newServer(reg *prometheus.Registry, poller *collector.Poller, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry:          reg,
		EnableOpenMetrics: true,
	})))
	// The bundled Grafana dashboards, ready to import.
	mux.Handle("/dashboards/", http.StripPrefix("/dashboards/", http.FileServerFS(dashboards.Files)))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !poller.Ready() {
			http.Error(w, "first poll not finished", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        exporterName,
		Description: "Prometheus exporter for Kore.ai SmartAssist contact centers",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/dashboards/", Text: "Dashboards", Description: "Grafana dashboards to import"},
			{Address: "/healthz", Text: "Health", Description: "the process is alive"},
			{Address: "/readyz", Text: "Readiness", Description: "the first poll has finished"},
		},
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, nil
}

// checkHealth asks a running exporter's /healthz on the loopback side of
// its listen address, over HTTP or, when it serves TLS, HTTPS.
func checkHealth(ctx context.Context, listen string) error {
	if listen == "" {
		listen = config.DefaultListenAddress
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("%s: %w", config.Var("LISTEN_ADDRESS"), err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// The certificate names the service, not 127.0.0.1; this only asks
	// whether the process answers.
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec
	client := &http.Client{Transport: transport}
	var lastErr error
	for _, scheme := range []string{"http", "https"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort("127.0.0.1", port)+"/healthz", nil)
		resp, err := client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
			// 401: basic auth is on, so the server is up.
			return nil
		}
		lastErr = fmt.Errorf("GET /healthz: %s", resp.Status)
	}
	return lastErr
}

// startDemo starts the simulated API and fills in the settings the user
// did not set so that the exporter polls it, with a throwaway state file.
func startDemo(ctx context.Context) (api *simulator.Demo, cleanup func(), err error) {
	lookback := 2 * time.Hour
	if d, err := time.ParseDuration(os.Getenv(config.Var("LOOKBACK"))); err == nil && d > 0 {
		lookback = d
	}
	api, err = simulator.StartDemo(ctx, lookback+30*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	stateDir, err := os.MkdirTemp("", "smartassist-demo-")
	if err != nil {
		api.Close()
		return nil, nil, err
	}
	defaults := map[string]string{
		"BASE_URL": api.URL, "ACCOUNT_ID": api.AccountID, "STREAM_ID": api.StreamID,
		"CLIENT_ID": api.ClientID, "CLIENT_SECRET": api.ClientSecret,
		"POLL_INTERVAL": "5s", "FULL_SCAN_INTERVAL": "1m", "API_RATE_LIMIT": "500",
		"AGENT_METRICS": "true", "STATE_PATH": filepath.Join(stateDir, "state.db"),
	}
	for k, v := range defaults {
		if _, set := os.LookupEnv(config.Var(k)); !set {
			os.Setenv(config.Var(k), v)
		}
	}
	return api, func() {
		api.Close()
		_ = os.RemoveAll(stateDir)
	}, nil
}
