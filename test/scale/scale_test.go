package scale

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/apiserver"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/webhookreceiver"
)

// size is what the benchmark creates; the installation is the
// default, and SCALE_PROJECTS, SCALE_WAREHOUSES, SCALE_STAGES,
// SCALE_FREIGHT and SCALE_PROMOTIONS override it.
type size struct {
	projects, warehouses, stages, freight, promotions int
}

func sizeFromEnv(b *testing.B, s size) size {
	for name, v := range map[string]*int{
		"SCALE_PROJECTS": &s.projects, "SCALE_WAREHOUSES": &s.warehouses, "SCALE_STAGES": &s.stages,
		"SCALE_FREIGHT": &s.freight, "SCALE_PROMOTIONS": &s.promotions,
	} {
		if raw := os.Getenv(name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a positive number", name, raw)
			}
			*v = n
		}
	}
	if s.warehouses < s.projects || s.stages < s.projects {
		b.Fatalf("%+v: every project needs a Warehouse and a Stage", s)
	}
	return s
}

// parallel runs do(i) for i in [0, n) on workers goroutines and fails b
// with the first error.
func parallel(b *testing.B, n, workers int, do func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// createRetrying creates o, retrying what a loaded API server answers
// with "try again" (timeouts, throttling), and takes an existing object
// as created.
func createRetrying(ctx context.Context, o client.Object) error {
	var err error
	for range 10 {
		err = env.Admin.Create(ctx, o)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTooManyRequests(err) && !apierrors.IsInternalError(err) {
			return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
}

func project(i int) string { return fmt.Sprintf("scale-%03d", i) }

// BenchmarkScale creates an installation of the given size through the API
// with the controller running, then measures it: run it once
// (-benchtime=1x) with KARGO_BIN naming the built binary; SCALE_PROFILES
// names a folder for the controller's profiles, SCALE_REPORT a file for
// the Markdown table of results, and SCALE_CONTROLLER_ENV variables for the
// controller's process alone.
func BenchmarkScale(b *testing.B) {
	bin := os.Getenv("KARGO_BIN")
	if bin == "" {
		b.Fatal("KARGO_BIN must name the built kargo binary (hack/bench-scale.sh builds it)")
	}
	sz := sizeFromEnv(b, size{projects: 100, warehouses: 1000, stages: 2000, freight: 50000, promotions: 10000})
	profiles := os.Getenv("SCALE_PROFILES")
	ctx := context.Background()
	var rows [][2]string
	row := func(what, measured string) {
		rows = append(rows, [2]string{what, measured})
		b.Log(what + ": " + measured)
	}

	gs := gitserver.New(b)
	gs.CreateRepo("mono")
	files := map[string]string{}
	for w := range sz.warehouses {
		files[fmt.Sprintf("apps/app-%d/values.yaml", w)] = "replicas: 1\n"
	}
	gs.Commit(b, "mono", "main", files, "all apps")
	ctl := newController(b, bin, gs.Host())
	ctl.start(b)
	cpu0 := ctl.cpu(b)
	secret := []byte("scale-secret")
	start := time.Now()
	createProjects(b, sz, secret)
	row(fmt.Sprintf("create %d Projects (and their namespaces)", sz.projects), time.Since(start).Round(time.Millisecond).String())
	start = time.Now()
	createWarehouses(b, sz, gs.RepoURL("mono"))
	row(fmt.Sprintf("create %d Warehouses", sz.warehouses), rate(sz.warehouses, time.Since(start)))
	start = time.Now()
	createStages(b, sz, gs.RepoURL("mono"))
	row(fmt.Sprintf("create %d Stages (and an Application each)", sz.stages), rate(sz.stages, time.Since(start)))

	// Freight: f from the Warehouse of Stage f%S, so that every Stage can
	// be promoted.
	freightName := make([]string, sz.freight)
	start = time.Now()
	writes0 := ctl.writes(b)
	parallel(b, sz.freight, 8, func(f int) error {
		s := f % sz.stages
		fr := objects.Freight(project(s%sz.projects), objects.FromWarehouse(warehouseOf(sz, s)), objects.Image("registry.example.com/app", fmt.Sprintf("1.0.%d", f)))
		fr.Alias = fmt.Sprintf("scale-%d", f)
		freightName[f] = fr.Name
		return createRetrying(ctx, fr)
	})
	row(fmt.Sprintf("create %d Freight through admission (8 clients)", sz.freight), rate(sz.freight, time.Since(start)))
	// What the controller wrote meanwhile: the Stages' availableFreight,
	// mostly (no Warehouse found anything and no Promotion ran).
	row("controller writes while the Freight were created, per Freight", fmt.Sprintf("%.2f", (ctl.writes(b)-writes0)/float64(sz.freight)))

	// Promotions: p into Stage p%S of Freight the Stage may take.
	start = time.Now()
	cpuBefore := ctl.cpu(b)
	writes0 = ctl.writes(b)
	profileDone := make(chan struct{})
	go func() {
		defer close(profileDone)
		ctl.profile(b, profiles, "cpu-promotions.pprof", 30*time.Second)
	}()
	parallel(b, sz.promotions, 8, func(p int) error {
		s := p % sz.stages
		f := s + sz.stages*((p/sz.stages)%max(1, sz.freight/sz.stages))
		return createRetrying(ctx, objects.Promotion(project(s%sz.projects), fmt.Sprintf("p-%d", p), stageName(s), freightName[f%sz.freight]))
	})
	created := time.Since(start)
	row(fmt.Sprintf("create %d Promotions (8 clients)", sz.promotions), rate(sz.promotions, created))
	waitPromotions(b, sz.promotions, time.Duration(sz.promotions)*200*time.Millisecond+5*time.Minute)
	row(fmt.Sprintf("%d Promotions created → all ended", sz.promotions), fmt.Sprintf("%s (%.1f/s; controller CPU %s)",
		time.Since(start).Round(time.Second), float64(sz.promotions)/time.Since(start).Seconds(), (ctl.cpu(b)-cpuBefore).Round(time.Millisecond)))
	<-profileDone
	steadyIn := ctl.steady(b, 10*time.Minute)
	row("controller writes per Promotion (created → ended, and the Stage passes after)", fmt.Sprintf("%.2f", (ctl.writes(b)-writes0)/float64(sz.promotions)))
	row("then to steady state (every work queue empty)", steadyIn.Round(time.Millisecond).String())
	row("controller CPU for everything above", (ctl.cpu(b) - cpu0).Round(time.Millisecond).String())
	stages := &kargoapi.StageList{}
	if err := env.Admin.List(ctx, stages); err != nil {
		b.Fatal(err)
	}
	healthy := 0
	for i := range stages.Items {
		if h := stages.Items[i].Status.Health; h != nil && h.Status == kargoapi.HealthStateHealthy {
			healthy++
		}
	}
	if healthy < sz.stages {
		b.Fatalf("%d of %d Stages are Healthy; stage-0: %+v", healthy, sz.stages, stages.Items[0].Status)
	}

	idle := idleWindow(b)
	measureIdle := func(label string) { measureIdle(b, ctl, idle, label, row) }
	measureIdle(fmt.Sprintf("idle %s, Applications from the cache", idle))
	ctl.profile(b, profiles, "heap-idle.pprof", 0)

	// A page of 500 Freight, as the UI's and CLI's lists ask for one.
	var lat []time.Duration
	for range 100 {
		list := &kargoapi.FreightList{}
		t0 := time.Now()
		if err := env.Admin.List(ctx, list, client.Limit(500)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	row("list a page of 500 Freight (all projects), p50 / p99 of 100", fmt.Sprintf("%s / %s", ms(lat[49]), ms(lat[98])))
	lat = lat[:0]
	for range 100 {
		list := &kargoapi.FreightList{}
		t0 := time.Now()
		if err := env.Admin.List(ctx, list, client.InNamespace(project(0)), client.Limit(500)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	row(fmt.Sprintf("list a page of 500 Freight of one project (%d Freight), p50 / p99 of 100", sz.freight/sz.projects), fmt.Sprintf("%s / %s", ms(lat[49]), ms(lat[98])))
	// The same page as the CLI and the UI ask for it: from kargo's API
	// server, which serves lists from its own cache.
	kargoAPIList(b, sz, row)
	watchLatency(b, sz, row)

	// Webhook → Freight under this load: a push to one Warehouse's folder.
	webhookToFreight(b, gs, ctl, secret, row)
	// Promotion latency under this load: one at a time into stage-0.
	promotionLatency(b, sz, freightName, row)

	// Restart: stop the controller and start it again as installed, then
	// once more reading Applications live as before the cache.
	for _, mode := range []struct {
		label, idle string
		flags       []string
	}{
		{"restart", fmt.Sprintf("idle %s after the restart, Applications from the cache", idle), nil},
		{"restart with --argocd-live-health", fmt.Sprintf("idle %s, Applications read live (--argocd-live-health, as before the cache)", idle), []string{"--argocd-live-health"}},
	} {
		ctl.stop(b)
		start = time.Now()
		ctl.start(b, mode.flags...)
		readyIn := time.Since(start)
		steadyIn = ctl.steady(b, 10*time.Minute)
		row(mode.label+": process start → ready (caches synced, webhooks serving) / → steady state (every work queue empty)", fmt.Sprintf("%s / %s",
			readyIn.Round(time.Millisecond), (readyIn+steadyIn).Round(time.Millisecond)))
		measureIdle(mode.idle)
		ctl.profile(b, profiles, "heap-after-"+strings.ReplaceAll(mode.label, " ", "-")+".pprof", 0)
	}

	writeReport(b, fmt.Sprintf("what (%d projects, %d Warehouses, %d Stages, %d Freight, %d Promotions)",
		sz.projects, sz.warehouses, sz.stages, sz.freight, sz.promotions), rows)
}

// createProjects creates sz.projects Projects, waits for their
// namespaces, gives each the webhook receiver's Secret, and creates the
// argocd namespace of the Stages' Applications.
func createProjects(b *testing.B, sz size, secret []byte) {
	ctx := context.Background()
	parallel(b, sz.projects, 8, func(i int) error {
		return createRetrying(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: project(i)}})
	})
	parallel(b, sz.projects, 8, func(i int) error {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ns := &corev1.Namespace{}
			err := env.Admin.Get(ctx, client.ObjectKey{Name: project(i)}, ns)
			if err == nil && ns.Labels[kargoapi.ProjectLabelKey] == kargoapi.LabelTrueValue {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("project %s has no namespace: %v", project(i), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return createRetrying(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: webhookreceiver.SecretName, Namespace: project(i)},
			Data:       map[string][]byte{webhookreceiver.SecretKey: secret},
		})
	})
	if err := createRetrying(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}); err != nil {
		b.Fatal(err)
	}
}

// createWarehouses creates Warehouse app-w in project w%P for every w,
// each on its own folder of repository repoURL, polled at the default
// interval.
func createWarehouses(b *testing.B, sz size, repoURL string) {
	parallel(b, sz.warehouses, 8, func(w int) error {
		return createRetrying(context.Background(), &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Namespace: project(w % sz.projects), Name: fmt.Sprintf("app-%d", w)},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{
				RepoURL: kargoapi.GitRepoURL(repoURL), Branch: "main",
				IncludePaths: []string{fmt.Sprintf("apps/app-%d/", w)},
			}}}},
		})
	})
}

// warehouseOf is the Warehouse Stage s subscribes to: one of its project.
func warehouseOf(sz size, s int) string {
	perProject := (sz.warehouses - s%sz.projects + sz.projects - 1) / sz.projects
	return fmt.Sprintf("app-%d", s%sz.projects+sz.projects*((s/sz.projects)%perProject))
}

func stageName(s int) string { return fmt.Sprintf("stage-%d", s) }

// createStages creates Stage stage-s in project s%P for every s,
// subscribed to warehouseOf(s) and following the health of an Application
// of its own (Healthy and Synced), which its promotion process names but
// does not run (no Argo CD runs here).
func createStages(b *testing.B, sz size, repoURL string) {
	ctx := context.Background()
	parallel(b, sz.stages, 8, func(s int) error {
		ns, name := project(s%sz.projects), stageName(s)
		app := &unstructured.Unstructured{}
		app.SetGroupVersionKind(argocdv1.GroupVersion.WithKind("Application"))
		app.SetNamespace("argocd")
		app.SetName(ns + "-" + name)
		app.SetAnnotations(map[string]string{kargoapi.AuthorizedStageAnnotationKey: ns + ":" + name})
		app.Object["spec"] = map[string]any{
			"project":     "default",
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
			"source":      map[string]any{"repoURL": repoURL, "path": "apps", "targetRevision": "main"},
		}
		app.Object["status"] = map[string]any{"health": map[string]any{"status": "Healthy"}, "sync": map[string]any{"status": "Synced"}}
		if err := createRetrying(ctx, app); err != nil {
			return err
		}
		argo, _ := json.Marshal(map[string]any{"apps": []map[string]string{{"name": ns + "-" + name, "namespace": "argocd"}}})
		st := objects.Stage(ns, name, objects.SubscribesTo(warehouseOf(sz, s)))
		st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
			{Uses: "compose-output", Config: &kargoapi.StepConfig{Raw: []byte(`{"promoted":true}`)}},
			{Uses: "argocd-update", If: "${{ false }}", Config: &kargoapi.StepConfig{Raw: argo}},
		}}}
		return createRetrying(ctx, st)
	})
}

// waitPromotions waits until n Promotions have ended.
func waitPromotions(b *testing.B, n int, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		list := &kargoapi.PromotionList{}
		if err := env.Admin.List(context.Background(), list); err != nil {
			b.Fatal(err)
		}
		ended, phases := 0, map[kargoapi.PromotionPhase]int{}
		for i := range list.Items {
			phases[list.Items[i].Status.Phase]++
			if list.Items[i].Status.Phase.IsTerminal() {
				ended++
			}
		}
		if ended >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d Promotions ended after %s: %v", ended, n, within, phases)
		}
		time.Sleep(2 * time.Second)
	}
}

func webhookToFreight(b *testing.B, gs *gitserver.Server, ctl *controller, secret []byte, row func(string, string)) {
	ctx := context.Background()
	ns, wh := project(0), "app-0"
	lastCommit := func() string {
		w := &kargoapi.Warehouse{}
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: wh}, w); err != nil {
			b.Fatal(err)
		}
		if w.Status.LastFreight == nil {
			return ""
		}
		f := &kargoapi.Freight{}
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: w.Status.LastFreight.Name}, f); err != nil {
			return ""
		}
		if len(f.Commits) == 0 {
			return ""
		}
		return f.Commits[0].ID
	}
	var lat []time.Duration
	for i := range 10 {
		commit := gs.Commit(b, "mono", "main", map[string]string{"apps/app-0/values.yaml": fmt.Sprintf("replicas: %d\n", i+2)}, "bump")
		push := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"clone_url":%q}}`, commit, gs.RepoURL("mono")))
		req, err := http.NewRequest(http.MethodPost, "http://"+ctl.receiver+"/webhooks/"+ns+"/github", bytes.NewReader(push))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set(webhookreceiver.SignatureHeader, "sha256="+hex.EncodeToString(webhookreceiver.Sign(secret, push)))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("the receiver answered %s", resp.Status)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for lastCommit() != commit {
			if time.Now().After(deadline) {
				b.Fatalf("no Freight of %s two minutes after the push", commit)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	row(fmt.Sprintf("webhook received → Freight, one Warehouse of %s's, p50 / worst of 10", ns), fmt.Sprintf("%s / %s", ms(lat[4]), ms(lat[9])))
}

func promotionLatency(b *testing.B, sz size, freightName []string, row func(string, string)) {
	ctx := context.Background()
	ns := project(0)
	var lat []time.Duration
	for i := range 10 {
		// Freight of stage-0's Warehouse, alternating so each promotion
		// changes something.
		f := freightName[(i%max(1, sz.freight/sz.stages))*sz.stages%sz.freight]
		p := objects.Promotion(ns, fmt.Sprintf("latency-%d", i), "stage-0", f)
		start := time.Now()
		if err := env.Admin.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got := &kargoapi.Promotion{}
			if err := env.Admin.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
				b.Fatal(err)
			}
			if got.Status.Phase.IsTerminal() {
				if got.Status.Phase != kargoapi.PromotionPhaseSucceeded {
					b.Fatalf("Promotion %s: %s %s", p.Name, got.Status.Phase, got.Status.Message)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("Promotion %s did not end in two minutes: %+v", p.Name, got.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	row("Promotion created → Succeeded (stage-0, two steps), p50 / worst of 10", fmt.Sprintf("%s / %s", ms(lat[4]), ms(lat[9])))
}

func rate(n int, d time.Duration) string {
	return fmt.Sprintf("%s (%.1f/s)", d.Round(time.Millisecond), float64(n)/d.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// idleWindow is how long the idle measurements last: SCALE_IDLE, else a
// minute.
func idleWindow(b *testing.B) time.Duration {
	if raw := os.Getenv("SCALE_IDLE"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil {
			b.Fatalf("SCALE_IDLE=%q: %v", raw, err)
		}
		return d
	}
	return time.Minute
}

// measureIdle measures the controller while nobody changes anything for
// idle: the Application GETs the API server served, the controller's
// writes, its CPU and its RSS.
func measureIdle(b *testing.B, ctl *controller, idle time.Duration, label string, row func(string, string)) {
	writes := func() float64 { return ctl.writes(b) }
	gets := func() float64 {
		return apiserverMetric(b, "apiserver_request_total", `resource="applications"`, `verb="GET"`)
	}
	w0, g0, c0 := writes(), gets(), ctl.cpu(b)
	time.Sleep(idle)
	w1, g1, c1 := writes(), gets(), ctl.cpu(b)
	row(label+": Application GETs per second", fmt.Sprintf("%.2f", (g1-g0)/idle.Seconds()))
	row(label+": controller writes per minute", fmt.Sprintf("%.1f", (w1-w0)/idle.Minutes()))
	row(label+": controller CPU", fmt.Sprintf("%.1f%% of one core", 100*float64(c1-c0)/float64(idle)))
	row(label+": controller RSS", fmt.Sprintf("%.0f MB", ctl.rssMB(b)))
}

// BenchmarkArgoCDHealthReads measures what following the health of
// SCALE_HEALTH_STAGES Stages (2,000 unless set) of 20 projects and 100
// Warehouses costs the API server: Application GETs per second with the controller reading them
// from its watch, then, restarted with --argocd-live-health, live as
// before. Each Stage is given a current Freight the way the Promotion
// controller records one (a status write), since it is only then that
// health is followed; promoting each Stage through a Promotion measures
// the same and takes far longer on a loaded machine.
func BenchmarkArgoCDHealthReads(b *testing.B) {
	bin := os.Getenv("KARGO_BIN")
	if bin == "" {
		b.Fatal("KARGO_BIN must name the built kargo binary (hack/bench-scale.sh builds it)")
	}
	sz := size{projects: 20, warehouses: 100, stages: 2000, freight: 1, promotions: 1}
	if raw := os.Getenv("SCALE_HEALTH_STAGES"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < sz.projects {
			b.Fatalf("SCALE_HEALTH_STAGES=%q: want a number of at least %d", raw, sz.projects)
		}
		sz.stages = n
	}
	ctx := context.Background()
	var rows [][2]string
	row := func(what, measured string) {
		rows = append(rows, [2]string{what, measured})
		b.Log(what + ": " + measured)
	}
	gs := gitserver.New(b)
	gs.CreateRepo("mono")
	gs.Commit(b, "mono", "main", map[string]string{"apps/README": "apps\n"}, "apps")
	ctl := newController(b, bin, gs.Host())
	ctl.start(b)
	createProjects(b, sz, []byte("scale-secret"))
	createWarehouses(b, sz, gs.RepoURL("mono"))
	start := time.Now()
	createStages(b, sz, gs.RepoURL("mono"))
	row(fmt.Sprintf("create %d Stages (and an Application each)", sz.stages), rate(sz.stages, time.Since(start)))
	freightOf := map[string]*kargoapi.Freight{}
	for w := range sz.warehouses {
		name := fmt.Sprintf("app-%d", w)
		f := objects.Freight(project(w%sz.projects), objects.FromWarehouse(name), objects.Image("registry.example.com/app", "1.0.0"))
		f.Alias = "health-" + name
		if err := createRetrying(ctx, f); err != nil {
			b.Fatal(err)
		}
		freightOf[name] = f
	}
	start = time.Now()
	parallel(b, sz.stages, 8, func(s int) error {
		f := freightOf[warehouseOf(sz, s)]
		st := &kargoapi.Stage{}
		if err := env.Admin.Get(ctx, client.ObjectKey{Namespace: project(s % sz.projects), Name: stageName(s)}, st); err != nil {
			return err
		}
		patch := client.MergeFrom(st.DeepCopy())
		st.Status.CurrentFreight = &kargoapi.SimpleFreight{ID: f.Name, Alias: f.Alias, Origin: f.Origin, Images: f.Images}
		return env.Admin.Status().Patch(ctx, st, patch)
	})
	row(fmt.Sprintf("give %d Stages a current Freight (status writes)", sz.stages), rate(sz.stages, time.Since(start)))
	kubetestEventually(b, 10*time.Minute, "every Stage is Healthy", func() (bool, string) {
		list := &kargoapi.StageList{}
		if err := env.Admin.List(ctx, list); err != nil {
			return false, err.Error()
		}
		healthy := 0
		for i := range list.Items {
			if h := list.Items[i].Status.Health; h != nil && h.Status == kargoapi.HealthStateHealthy {
				healthy++
			}
		}
		return healthy == sz.stages, fmt.Sprintf("%d of %d Healthy", healthy, sz.stages)
	})
	ctl.steady(b, 10*time.Minute)
	idle := idleWindow(b)
	measureIdle(b, ctl, idle, fmt.Sprintf("%d Stages, idle %s, Applications from the cache", sz.stages, idle), row)
	ctl.stop(b)
	ctl.start(b, "--argocd-live-health")
	ctl.steady(b, 10*time.Minute)
	measureIdle(b, ctl, idle, fmt.Sprintf("%d Stages, idle %s, Applications read live (--argocd-live-health, as before the cache)", sz.stages, idle), row)
	writeReport(b, fmt.Sprintf("what (%d projects, %d Warehouses, %d Stages following one Application each)", sz.projects, sz.warehouses, sz.stages), rows)
}

// kubetestEventually polls cond every half second until it holds or
// within has passed, which fails b with what cond last said.
func kubetestEventually(b *testing.B, within time.Duration, what string, cond func() (bool, string)) {
	b.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: not true after %s; last seen: %s", what, within, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeReport writes rows as a Markdown table into SCALE_REPORT, when set,
// after what is already there.
func writeReport(b *testing.B, heading string, rows [][2]string) {
	path := os.Getenv("SCALE_REPORT")
	if path == "" {
		return
	}
	var buf bytes.Buffer
	if old, err := os.ReadFile(path); err == nil && len(old) > 0 {
		buf.Write(old)
		buf.WriteString("\n")
	}
	fmt.Fprintf(&buf, "| %s | measured |\n|---|---|\n", heading)
	for _, r := range rows {
		fmt.Fprintf(&buf, "| %s | %s |\n", r[0], r[1])
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
}

// kargoAPIList starts kargo's API server (in this process, as a cluster
// install runs it: its own identity and role) on the installation, and
// measures how long it takes to be ready and a page of 500 of project
// scale-000's Freight as `kargo get freight` and the UI ask for it, as the
// admin user.
func kargoAPIList(b *testing.B, sz size, row func(string, string)) {
	start := time.Now()
	srv, err := apiserver.Start(env, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			b.Log(err)
		}
	}()
	row(fmt.Sprintf("kargo's API server: start → ready (its cache of %d Freight filled)", sz.freight), time.Since(start).Round(time.Millisecond).String())
	url := srv.URL + "/api/v1/projects/" + project(0) + "/freight?limit=500"
	var lat []time.Duration
	var size, items int
	for range 100 {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+kubetest.Token("admin"))
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %s %v %.200s", url, resp.Status, err, raw)
		}
		var l apitypes.List
		if err := json.Unmarshal(raw, &l); err != nil {
			b.Fatal(err)
		}
		size, items = len(raw), len(l.Items)
	}
	slices.Sort(lat)
	row(fmt.Sprintf("kargo's API server: a page of %d Freight of one project (%.0f KiB), as the CLI and UI list them, p50 / p99 of 100", items, float64(size)/1024),
		fmt.Sprintf("%s / %s", ms(lat[49]), ms(lat[98])))
}

// watchLatency measures how long a write takes to reach a client that
// watches every Freight of the installation, as the controller and kargo's
// API server do: 20 Freight created one at a time, each timed from the
// create call to its ADDED event.
func watchLatency(b *testing.B, sz size, row func(string, string)) {
	ctx := context.Background()
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	list := &kargoapi.FreightList{}
	if err := env.Admin.List(ctx, list, client.Limit(1)); err != nil {
		b.Fatal(err)
	}
	w, err := watcher.Watch(ctx, &kargoapi.FreightList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var lat, after []time.Duration
	for i := range 20 {
		s := i % sz.stages
		f := objects.Freight(project(s%sz.projects), objects.FromWarehouse(warehouseOf(sz, s)), objects.Image("registry.example.com/watched", fmt.Sprintf("1.0.%d", i)))
		f.Alias = fmt.Sprintf("watched-%d", i)
		start := time.Now()
		if err := env.Admin.Create(ctx, f); err != nil {
			b.Fatal(err)
		}
		created := time.Now()
		deadline := time.After(time.Minute)
	seen:
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("the watch of Freight ended")
				}
				if got, isFreight := ev.Object.(*kargoapi.Freight); isFreight && got.Name == f.Name {
					break seen
				}
			case <-deadline:
				b.Fatalf("no watch event for Freight %s a minute after it was created", f.Name)
			}
		}
		lat, after = append(lat, time.Since(start)), append(after, time.Since(created))
	}
	slices.Sort(lat)
	slices.Sort(after)
	row(fmt.Sprintf("watch of all %d Freight: create called → the watcher's event, p50 / worst of 20 (of which after the create returned)", sz.freight),
		fmt.Sprintf("%s / %s (%s / %s)", ms(lat[9]), ms(lat[19]), ms(after[9]), ms(after[19])))
}
