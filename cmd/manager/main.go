// Command manager runs the peering-operator controllers.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/filterstore"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/report"
	"github.com/peering-operator/peering-operator/internal/router/drivers"
	"github.com/peering-operator/peering-operator/internal/version"
	"github.com/peering-operator/peering-operator/internal/webhook"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peering-operator:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr   string
		secureMetrics bool
		probeAddr     string
		leaderElect   bool
		leaseDuration time.Duration
		renewDeadline time.Duration
		retryPeriod   time.Duration
		leaseNS       string
		apiQPS        float64
		apiBurst      int
		probeInterval time.Duration
		pdbURL        string
		pdbRate       float64
		pdbCacheFile  string
		pdbRefresh    time.Duration
		retry, resync time.Duration
		irrServers    string
		irrCooldown   time.Duration
		filterTTL     time.Duration
		maxShrink     float64
		maxLen4       int
		maxLen6       int
		minApply      time.Duration
		routerWorkers int
		waitForPeer   time.Duration
		drv           drivers.Options
		whHost        string
		whPort        int
		whCertDir     string
		webhooks      bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address of the metrics endpoint (e.g. :8443); 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticated and authorised by the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the health and readiness probes; 0 disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so only one replica acts at a time; the others keep their caches warm and serve the webhooks.")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 6*time.Second, "How long a standby waits after the leader's last renewal before it takes over.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 4*time.Second, "How long the leader keeps trying to renew before it steps down.")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", time.Second, "Time between attempts to acquire or renew the lease.")
	flag.Float64Var(&apiQPS, "kube-api-qps", 50, "Requests per second to the Kubernetes API server (client-side limit); every pinned request costs a few writes when it changes.")
	flag.IntVar(&apiBurst, "kube-api-burst", 100, "Burst above --kube-api-qps.")
	flag.StringVar(&leaseNS, "leader-elect-namespace", "", "Namespace of the leader-election Lease (default: the Pod's namespace; required outside a cluster).")
	flag.DurationVar(&probeInterval, "router-poll-interval", 30*time.Second, "Mean time between reads of each Router's session state (jittered ±20%).")
	flag.DurationVar(&minApply, "min-apply-interval", 2*time.Second, "Changes arriving within this interval are pushed to a router in one apply.")
	flag.DurationVar(&waitForPeer, "waiting-for-peer-after", 7*24*time.Hour, "How long after its approval a configured request whose sessions never came up shows Established=False reason WaitingForPeer (the peer has not configured its side); 0 never.")
	flag.IntVar(&routerWorkers, "router-workers", controllers.DefaultRouterWorkers, "Routers reconciled at once: a slow or unreachable router holds up one worker, not the others (one router is never reconciled twice at once).")
	enableDrivers := flag.String("enable-drivers", strings.Join(drivers.Proven, ","), "Router drivers to use (comma-separated, of "+strings.Join(drivers.All, ",")+"). junos, iosxr and eos are tested against recorded sessions only: enable them deliberately. Routers of other drivers are only probed.")
	flag.BoolVar(&drv.GoBGPPassive, "gobgp-passive-neighbors", false, "Configure GoBGP neighbors passive (the peers dial in). For labs with peers on loopback.")
	flag.DurationVar(&drv.GoBGPConnectRetry, "gobgp-connect-retry", 0, "GoBGP connect-retry timer for neighbors (0: GoBGP's 120s).")
	flag.StringVar(&pdbURL, "peeringdb-url", peeringdb.DefaultBaseURL, "PeeringDB API root. The API key, if any, comes from the PEERINGDB_API_KEY environment variable (mount it from a Secret).")
	flag.Float64Var(&pdbRate, "peeringdb-requests-per-minute", 0, "Requests per minute to PeeringDB; 0 means 90 % of PeeringDB's limit (18 anonymous, 36 with an API key) and at least 2 s apart; a rate set here is taken as is.")
	flag.StringVar(&pdbCacheFile, "peeringdb-cache-file", "", "File the PeeringDB cache is saved to and loaded from at start (.gz compresses), so a restart does not download everything again.")
	flag.DurationVar(&pdbRefresh, "peeringdb-refresh-interval", time.Hour, "Time between incremental PeeringDB refreshes.")
	flag.DurationVar(&retry, "retry-interval", 30*time.Second, "How soon an object waiting on PeeringDB is retried.")
	flag.DurationVar(&resync, "resync-interval", 10*time.Minute, "How often settled objects are re-validated against the refreshed cache (jittered).")
	flag.StringVar(&irrServers, "irr-servers", "rr.ntt.net:43,whois.radb.net:43", "IRRd whois servers (host:port), tried in order.")
	flag.DurationVar(&irrCooldown, "irr-cooldown", 30*time.Second, "How long an IRR server that did not answer (refused, unreachable, timed out) is skipped; doubled on each further failure, up to 4 times.")
	flag.DurationVar(&filterTTL, "filter-ttl", 4*time.Hour, "How long a built prefix filter is used before the IRR is asked again.")
	flag.Float64Var(&maxShrink, "filter-max-shrink", policy.DefaultMaxShrink, "Largest drop in a filter's prefixes (0..1) applied without a human; larger drops are held.")
	flag.IntVar(&maxLen4, "max-prefix-length-v4", 24, "Longest IPv4 prefix a filter accepts.")
	flag.IntVar(&maxLen6, "max-prefix-length-v6", 48, "Longest IPv6 prefix a filter accepts.")
	flag.BoolVar(&webhooks, "enable-webhooks", true, "Serve the admission webhooks (approval model, requester stamp). Only turn off for a local run without them installed.")
	flag.StringVar(&whHost, "webhook-host", "", "Address the webhook server binds to (default all).")
	flag.IntVar(&whPort, "webhook-port", 9443, "Port of the webhook server.")
	flag.StringVar(&whCertDir, "webhook-cert-dir", "", "Directory with tls.crt and tls.key for the webhook server (cert-manager mounts them); default controller-runtime's.")
	zapOpts := zap.Options{}
	reportPeriod := flag.String("report-period", "monthly", "How often a new PeeringReport starts (kubectl get peeringreports): monthly, weekly or a duration such as 24h.")
	reportInterval := flag.Duration("report-interval", time.Hour, "Time between snapshots of the current period's PeeringReport; it is written only when its numbers change.")
	reportTraffic := flag.String("report-traffic-file", "", "CSV of asn,bytes (your flow collector's top ASNs): PeeringReports then record the share of traffic peered.")
	peeringAPI := bindPeeringAPIFlags(flag.CommandLine)
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(peeringv1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		// HTTP/2 stays off: CVE-2023-44487 / CVE-2023-39325 (rapid reset).
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("failed to load a kubeconfig (set KUBECONFIG or run in a cluster): %w", err)
	}
	cfg.UserAgent = version.UserAgent()
	cfg.QPS, cfg.Burst = float32(apiQPS), apiBurst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		// Router credentials are read when needed, never cached: the
		// manager may only get Secrets (a cache would list and watch every
		// Secret in the cluster and keep them in memory).
		Client:                  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "peering-operator.peering.dev",
		LeaderElectionNamespace: leaseNS,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// A replica that stops (rollout, drain) hands the lease over at
		// once instead of letting the standby wait for it to expire.
		LeaderElectionReleaseOnCancel: true,
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{Host: whHost, Port: whPort, CertDir: whCertDir,
			TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}}),
	})
	if err != nil {
		return fmt.Errorf("failed to create the manager: %w", err)
	}
	pdbClient, err := peeringdb.New(peeringdb.Options{
		BaseURL: pdbURL, APIKey: strings.TrimSpace(os.Getenv("PEERINGDB_API_KEY")),
		UserAgent: version.UserAgent(), RequestsPerMinute: pdbRate,
		Logger: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("peeringdb"))),
	})
	if err != nil {
		return fmt.Errorf("failed to configure the PeeringDB client: %w", err)
	}
	drv.Enabled = strings.Split(*enableDrivers, ",")
	drv.Log = ctrl.Log.WithName("router")
	irrClient, err := irr.New(irr.Config{Servers: strings.Split(irrServers, ","), ClientID: version.UserAgent(), Cooldown: irrCooldown})
	if err != nil {
		return fmt.Errorf("failed to configure the IRR client: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	opts := controllers.Options{
		Filters: &controllers.FilterSource{
			IRR: irrClient, Cache: policy.NewFilterCache(filterTTL),
			Limits: policy.Limits{MaxLen4: maxLen4, MaxLen6: maxLen6}, MaxShrink: maxShrink,
		},
		Store:               controllers.PrefixListStore{Store: filterstore.New(mgr.GetClient(), mgr.GetAPIReader())},
		RouterProbeInterval: probeInterval, RouterWorkers: routerWorkers,
		PeeringDB: &controllers.PeeringDBSource{
			Cache: peeringdb.NewCache(pdbClient, peeringdb.CacheOptions{Path: pdbCacheFile,
				Logger: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("peeringdb-cache")))}),
			RefreshInterval: pdbRefresh,
		},
		RetryInterval:       retry,
		ResyncInterval:      resync,
		WaitingForPeerAfter: waitForPeer,
		Drivers:             drivers.Opener{Options: drv},
		MinApplyInterval:    minApply,
	}
	period, err := report.ParsePeriod(*reportPeriod)
	if err != nil {
		return fmt.Errorf("--report-period: %w", err)
	}
	opts.Report = &controllers.ReportRecorder{Period: period, Interval: *reportInterval, TrafficFile: *reportTraffic}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		return err
	}
	if webhooks {
		webhook.Register(mgr)
	}
	if err := peeringAPI.add(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add the health check: %w", err)
	}
	ready := healthz.Ping
	if webhooks {
		// A replica takes webhook traffic only once it serves it.
		ready = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return fmt.Errorf("failed to add the readiness check: %w", err)
	}
	log.Info("starting peering-operator", "version", version.Version)
	return mgr.Start(ctx)
}
