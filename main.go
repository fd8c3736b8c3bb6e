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
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/smartassist-exporter/smartassist_exporter/capacity"
	"github.com/smartassist-exporter/smartassist_exporter/collector"
	"github.com/smartassist-exporter/smartassist_exporter/config"
	"github.com/smartassist-exporter/smartassist_exporter/dashboards"
	"github.com/smartassist-exporter/smartassist_exporter/live"
	"github.com/smartassist-exporter/smartassist_exporter/metrics"
	"github.com/smartassist-exporter/smartassist_exporter/otlp"
	"github.com/smartassist-exporter/smartassist_exporter/simulator"
	"github.com/smartassist-exporter/smartassist_exporter/upstream"
)

const exporterName = "smartassist_exporter"

// The metric contract is what the collector hands conversations to.
var _ collector.Sink = (*metrics.Metrics)(nil)

// Exit statuses: 2 for a bad setting or argument (nothing was started), 1
// for a failure while running, 3 for a corrupt state file (an operator
// must move it aside: restarting does not help).
const (
	exitRuntime      = 1
	exitConfig       = 2
	exitCorruptState = 3
)

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
		return exitConfig
	}
	for _, a := range fs.Args() {
		// An empty argument is what docker compose passes for an unset
		// command; anything else is a mistake.
		if a != "" {
			fmt.Fprintf(stderr, "%s: unexpected argument %q: settings are SMARTASSIST_* environment variables\n", exporterName, a)
			return exitConfig
		}
	}
	if *showVersion {
		fmt.Fprintln(stderr, version.Print(exporterName))
		return 0
	}
	if *healthcheck {
		if err := checkHealth(ctx, os.Getenv(config.Var("LISTEN_ADDRESS"))); err != nil {
			fmt.Fprintf(stderr, "%s: unhealthy: %v\n", exporterName, err)
			return exitRuntime
		}
		return 0
	}

	cfg, err := config.Parse()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", exporterName, err)
		return exitConfig
	}
	var demoAPI *simulator.Demo
	if *demo {
		var cleanup func()
		if demoAPI, cleanup, err = startDemo(ctx, cfg); err != nil {
			fmt.Fprintf(stderr, "%s: starting the demo: %v\n", exporterName, err)
			return exitRuntime
		}
		defer cleanup()
	}
	err = cfg.Validate()
	if err == nil {
		err = otlp.CheckEnvironment()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", exporterName, err)
		return exitConfig
	}
	log := newLogger(cfg, stderr)
	for _, v := range config.UnknownVariables(os.Environ()) {
		log.Warn("ignoring unknown setting; check its spelling", "variable", v)
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	log.Info("starting", "version", version.Info(), "config", cfg)
	if demoAPI != nil {
		log.Info("demo mode: polling the built-in simulated SmartAssist API", "api", demoAPI.URL)
	}
	// Listen first: a taken port stops the exporter before it touches the
	// state.
	listener, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		log.Error("exiting", "err", fmt.Errorf("%s: %w", config.Var("LISTEN_ADDRESS"), err))
		return exitRuntime
	}
	if err := serve(ctx, cfg, listener, log); err != nil {
		if errors.Is(err, collector.ErrCorruptState) {
			log.Error("exiting: the state file is corrupt", "err", err)
			return exitCorruptState
		}
		log.Error("exiting", "err", err)
		return exitRuntime
	}
	log.Info("stopped")
	return 0
}

// newLogger logs as every Prometheus exporter does (promslog: the same
// line shape, levels and formats), to w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level, format := promslog.NewLevel(), promslog.NewFormat()
	// Validate already accepted both; promslog knows the same words.
	_ = level.Set(cfg.LogLevel)
	_ = format.Set(cfg.LogFormat)
	return promslog.New(&promslog.Config{Level: level, Format: format, Writer: w})
}

// serve runs the poll loop and the HTTP server until ctx ends or the server
// fails: a server that cannot serve stops the process at once, so that no
// conversation is counted where nobody can see it.
func serve(ctx context.Context, cfg *config.Config, listener net.Listener, log *slog.Logger) error {
	defer listener.Close()
	// A state file found damaged while running stops the process with
	// the corrupt-state exit status, like one found damaged at start.
	corrupt := make(chan error, 1)
	state, err := collector.OpenStateWith(cfg.StatePath, collector.StateOptions{
		Log:       log.With("component", "state"),
		OnCorrupt: func(err error) { corrupt <- err },
	})
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
	// Capacity planning (issue 11): fed by the metrics' queue entries,
	// computed at scrape.
	capacityEstimator, err := capacity.NewEstimator(cfg.CapacityOptions(), nil)
	if err != nil {
		return err
	}
	sink := metrics.New(reg, metrics.Options{
		AgentMetrics: cfg.AgentMetrics, MaxChannels: cfg.MaxChannels, MaxQueues: cfg.MaxQueues,
		MaxDispositions: cfg.MaxDispositions, MaxCampaigns: cfg.MaxCampaigns, MaxStatuses: cfg.MaxStatuses,
		MaxAgents: cfg.MaxAgents, Exemplars: cfg.Exemplars, NativeHistograms: cfg.NativeHistograms,
		Capacity: capacityEstimator,
	})
	up, err := newUpstream(cfg, reg, log)
	if err != nil {
		return err
	}
	// Before the poller: the live collector reserves its share of the
	// budget, and the poller plans each poll's re-reads with what is left.
	liveState := newLive(cfg, up, reg, log)
	// The capacity plan's staffing is the live agent counts (available +
	// busy per queue); with live state off, the staffed, predicted and gap
	// gauges are left out. (A nil *live.Collector must not become a
	// non-nil interface.)
	var staffing capacity.Staffing
	if liveState != nil {
		staffing = liveState
	}
	reg.MustRegister(capacity.NewCollector(capacityEstimator, staffing))
	poller := collector.New(collector.Options{
		Upstream: up,
		Client: collector.ClientConfig{AccountID: cfg.AccountID, StreamID: cfg.StreamID, Endpoint: cfg.Endpoint,
			TimezoneOffset: cfg.TimezoneOffset},
		State: state, Sink: sink, Registerer: reg,
		Poll: collector.PollerConfig{Interval: cfg.PollInterval, Lookback: cfg.Lookback, RecentWindow: cfg.RecentWindow,
			Tiers: collector.TiersWithPeriods(cfg.Recheck2hPeriod, cfg.Recheck1dPeriod, cfg.Recheck7dPeriod,
				func(tier string) bool { return cfg.IsSet("RECHECK_" + strings.ToUpper(tier) + "_PERIOD") })},
		UseOpenList: cfg.OpenList,
		Log:         log.With("component", "collector"),
	})

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

	handler, err := newHandler(reg, poller.Ready, log)
	if err != nil {
		return err
	}
	server := newServer(handler)
	log.Info("listening", "address", listener.Addr().String(), "tls_and_auth_config", cfg.WebConfigFile)

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var wg sync.WaitGroup
	wg.Go(func() { poller.Run(pollCtx) })
	if liveState != nil {
		wg.Go(func() { liveState.Run(pollCtx) })
	}
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
		// web.Serve returns only when the server failed: stop polling now.
		err = fmt.Errorf("the HTTP server stopped, so the exporter stops too (nothing it counts could be scraped): %w", err)
	case err = <-corrupt:
	}
	stopPolling()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	wg.Wait()
	return err
}

// newUpstream builds what every reader of the platform shares: one HTTP
// client, the JWT, the account's API budget and the request metrics.
func newUpstream(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*upstream.Client, error) {
	var tokens upstream.TokenSource
	switch {
	case cfg.Token != "":
		tokens = upstream.StaticToken(cfg.Token.Reveal())
	case cfg.ClientSecretFile != "":
		path := cfg.ClientSecretFile
		tokens = upstream.NewMintedTokens(cfg.ClientID, func() (string, error) { return config.ReadSecretFile(path) })
	default:
		secret := cfg.ClientSecret.Reveal()
		tokens = upstream.NewMintedTokens(cfg.ClientID, func() (string, error) { return secret, nil })
	}
	budget := upstream.NewBudget(cfg.APIRateLimit)
	endpoints := []string{cfg.Endpoint}
	if cfg.LivePollInterval() > 0 {
		endpoints = append(endpoints, live.Endpoints...)
	}
	requests := upstream.NewRequestMetrics(reg, cfg.APIRateLimit, endpoints...)
	httpClient := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	return upstream.New(upstream.Config{
		BaseURL: cfg.BaseURL, AccountID: cfg.AccountID, RequestTimeout: cfg.RequestTimeout,
		UserAgent: exporterName + "/" + version.Version,
	}, httpClient, tokens, budget, requests, log.With("component", "upstream"))
}

// newLive builds the live queue and agent state collector on the shared
// upstream client, or nil when SMARTASSIST_LIVE_INTERVAL is off. It is also
// the capacity package's Staffing (agents available + busy per queue).
func newLive(cfg *config.Config, up *upstream.Client, reg prometheus.Registerer, log *slog.Logger) *live.Collector {
	interval := cfg.LivePollInterval()
	if interval <= 0 {
		log.Info("live queue and agent state is off (SMARTASSIST_LIVE_INTERVAL)")
		return nil
	}
	return live.New(live.Options{
		Upstream: up, AccountID: cfg.AccountID, StreamID: cfg.StreamID,
		Interval: interval, Source: cfg.LiveSource, BudgetShare: config.LiveBudgetShare,
		MaxQueues: cfg.MaxQueues, MaxChannels: cfg.MaxChannels,
		Registerer: reg, Log: log.With("component", "live"),
	})
}

// HTTP server limits, as trusted exporters set them: a client that never
// sends its headers, never reads its answer or keeps a connection idle is
// dropped, and at most maxScrapesInFlight /metrics requests are served at
// once (more are answered 503 at once instead of piling up goroutines and
// memory).
const (
	readHeaderTimeout  = 10 * time.Second
	readTimeout        = 30 * time.Second
	writeTimeout       = 2 * time.Minute
	idleTimeout        = 2 * time.Minute
	maxHeaderBytes     = 64 << 10
	maxScrapesInFlight = 40 // node_exporter's --web.max-requests default
)

func newServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
}

// newHandler serves /metrics (from the registry only: a scrape never calls
// the platform), the dashboards, /healthz, /readyz and the landing page.
func newHandler(reg *prometheus.Registry, ready func() bool, log *slog.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry: reg,
		// OpenMetrics only for scrapers that ask for it (Prometheus does);
		// it is the text format that carries exemplars. Others get the
		// classic text format, the same with or without exemplars.
		EnableOpenMetrics:   true,
		MaxRequestsInFlight: maxScrapesInFlight,
	})))
	// The bundled Grafana dashboards, ready to import.
	mux.Handle("/dashboards/", http.StripPrefix("/dashboards/", http.FileServerFS(dashboards.Files)))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
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
	return mux, nil
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
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback health probe, see above
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

// startDemo starts the simulated API and fills in the settings the user did
// not set so that the exporter polls it, with a throwaway state file. It
// changes the typed configuration only, never the process environment.
func startDemo(ctx context.Context, cfg *config.Config) (api *simulator.Demo, cleanup func(), err error) {
	// History to serve: the lookback plus a margin, so the backfill finds
	// conversations at its very start.
	api, err = simulator.StartDemo(ctx, cfg.Lookback+30*time.Minute)
	if err != nil {
		return nil, nil, err
	}
	stateDir, err := os.MkdirTemp("", "smartassist-demo-")
	if err != nil {
		api.Close()
		return nil, nil, err
	}
	unset := func(name string) bool { return !cfg.IsSet(name) }
	if unset("BASE_URL") {
		cfg.BaseURL = api.URL
	}
	if unset("ACCOUNT_ID") {
		cfg.AccountID = api.AccountID
	}
	if unset("STREAM_ID") {
		cfg.StreamID = api.StreamID
	}
	if unset("CLIENT_ID") && unset("CLIENT_SECRET") && unset("CLIENT_SECRET_FILE") && unset("TOKEN") {
		cfg.ClientID, cfg.ClientSecret = api.ClientID, config.Secret(api.ClientSecret)
	}
	if unset("POLL_INTERVAL") {
		cfg.PollInterval = 5 * time.Second
	}
	if unset("LIVE_INTERVAL") {
		cfg.LiveInterval = config.OptionalInterval(5 * time.Second)
	}
	if unset("API_RATE_LIMIT") {
		cfg.APIRateLimit = 500
	}
	if unset("AGENT_METRICS") {
		cfg.AgentMetrics = true
	}
	if unset("STATE_PATH") {
		cfg.StatePath = filepath.Join(stateDir, "state.db")
	}
	return api, func() {
		api.Close()
		_ = os.RemoveAll(stateDir)
	}, nil
}

func init() { fillVersion() }

// fillVersion takes the version from the Go toolchain's build information
// when no -ldflags set it (go build, go run, go install): the module version
// and the VCS revision and time.
func fillVersion() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if version.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if version.Revision == "" {
				version.Revision = s.Value
			}
		case "vcs.time":
			if version.BuildDate == "" {
				version.BuildDate = s.Value
			}
		}
	}
}
