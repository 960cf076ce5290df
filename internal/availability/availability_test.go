package availability

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func stage(name string, subs *kargoapi.Subscriptions) *kargoapi.Stage {
	return &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kargoapi.StageSpec{Subscriptions: subs}}
}

type fopt func(*kargoapi.Freight)

func verifiedIn(s string) fopt {
	return func(f *kargoapi.Freight) {
		if f.Status.VerifiedIn == nil {
			f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{}
		}
		f.Status.VerifiedIn[s] = kargoapi.VerifiedStage{}
	}
}

func approvedFor(s string) fopt {
	return func(f *kargoapi.Freight) {
		f.Status.ApprovedFor = map[string]kargoapi.ApprovedStage{s: {}}
	}
}

func fr(name string, kind kargoapi.FreightOriginKind, origin string, age time.Duration, opts ...fopt) kargoapi.Freight {
	f := kargoapi.Freight{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Add(-age))},
		Alias:      name + "-alias",
		Origin:     &kargoapi.FreightOrigin{Kind: kind, Name: origin},
	}
	for _, o := range opts {
		o(&f)
	}
	return f
}

func TestCheck(t *testing.T) {
	test := stage("test", &kargoapi.Subscriptions{Warehouse: "wh"})
	uat := stage("uat", &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}})
	prod := stage("prod", &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}})
	own := stage("own", &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{}})
	cases := []struct {
		name string
		st   *kargoapi.Stage
		f    kargoapi.Freight
		ok   bool
		why  string
	}{
		{"warehouse freight to its stage", test, fr("a", kargoapi.FreightOriginWarehouse, "wh", 0), true, ""},
		{"other warehouse", test, fr("a", kargoapi.FreightOriginWarehouse, "other", 0), false, "comes from Warehouse other, not from Warehouse wh"},
		{"unverified to uat", uat, fr("a", kargoapi.FreightOriginWarehouse, "wh", 0), false, "is not verified in upstream Stage test and is not approved for uat"},
		{"verified in test to uat", uat, fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test")), true, ""},
		{"verified in test skips to prod", prod, fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test")), false, "promote it through uat first, or approve it for prod"},
		{"hotfix approved for prod", prod, fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test"), approvedFor("prod")), true, ""},
		{"own repos freight", own, fr("a", kargoapi.FreightOriginStage, "own", 0), true, ""},
		{"another stage's repos freight", own, fr("a", kargoapi.FreightOriginStage, "else", 0), false, "not discovered by Stage own's own subscriptions"},
		{"no subscriptions", stage("x", nil), fr("a", kargoapi.FreightOriginWarehouse, "wh", 0), false, "subscribes to nothing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := Check(tc.st, &tc.f, time.Now())
			require.Equal(t, tc.ok, ok)
			require.Contains(t, why, tc.why)
			require.Equal(t, tc.ok, Available(tc.st, &tc.f, time.Now()), "Available agrees with Check")
		})
	}
}

func TestListNewestFirstBounded(t *testing.T) {
	uat := stage("uat", &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test"}}})
	all := []kargoapi.Freight{
		fr("old", kargoapi.FreightOriginWarehouse, "wh", 3*time.Hour, verifiedIn("test")),
		fr("new", kargoapi.FreightOriginWarehouse, "wh", time.Hour, verifiedIn("test")),
		fr("unverified", kargoapi.FreightOriginWarehouse, "wh", 0),
		fr("mid", kargoapi.FreightOriginWarehouse, "wh", 2*time.Hour, approvedFor("uat")),
	}
	got := List(uat, all, 10, time.Now())
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	require.Equal(t, []string{"new", "mid", "old"}, ids)
	require.Len(t, List(uat, all, 2, time.Now()), 2)

	// Within one second, the discovered-at annotation decides.
	a := fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test"))
	b := fr("b", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test"))
	a.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2026-11-21T12:00:00.9Z"}
	b.Annotations = map[string]string{kargoapi.DiscoveredAtAnnotationKey: "2026-11-21T12:00:00.1Z"}
	got = List(uat, []kargoapi.Freight{b, a}, 10, time.Now())
	require.Equal(t, "a", got[0].ID)
}

// The bound is per origin: a Warehouse that publishes often does not push a
// quiet one's Freight out of the list, and Full says when an origin's
// share is full (older Freight of it may be available, unlisted).
func TestListBoundedPerOrigin(t *testing.T) {
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "test"},
		Spec: kargoapi.StageSpec{RequestedFreight: []kargoapi.FreightRequest{
			{Origin: kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "busy"}, Sources: kargoapi.FreightSources{Direct: true}},
			{Origin: kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "quiet"}, Sources: kargoapi.FreightSources{Direct: true}},
		}},
	}
	all := []kargoapi.Freight{fr("quiet-old", kargoapi.FreightOriginWarehouse, "quiet", 10*time.Hour)}
	for i := range 5 {
		all = append(all, fr(fmt.Sprintf("busy-%d", i), kargoapi.FreightOriginWarehouse, "busy", time.Duration(i)*time.Minute))
	}
	got := List(st, all, 3, time.Now())
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	require.Equal(t, []string{"busy-0", "busy-1", "busy-2", "quiet-old"}, ids, "newest first, three of busy, the one of quiet")
	require.True(t, Full(st, got, 3), "busy's share is full")
	require.False(t, Full(st, got[2:], 3))
	require.False(t, Full(st, List(st, all[:3], 3, time.Now()), 3))
}

// Freight verified upstream becomes available downstream only once it has
// been verified there for the required soak time.
func TestSoakTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	prod := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: kargoapi.StageSpec{Subscriptions: &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{
			Name: "uat", RequiredSoakTime: &metav1.Duration{Duration: time.Hour},
		}}}},
	}
	verifiedAt := func(d time.Duration) kargoapi.Freight {
		at := metav1.NewTime(now.Add(-d))
		return kargoapi.Freight{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("f%d", d)},
			Status:     kargoapi.FreightStatus{VerifiedIn: map[string]kargoapi.VerifiedStage{"uat": {VerifiedAt: &at}}},
		}
	}
	young, old := verifiedAt(20*time.Minute), verifiedAt(61*time.Minute)

	ok, why := Check(prod, &young, now)
	require.False(t, ok)
	require.Contains(t, why, "soaked in uat for 20m0s of the required 1h0m0s (available in 40m0s)")
	ok, _ = Check(prod, &old, now)
	require.True(t, ok)

	next, soaking := NextSoakEnd(prod, []kargoapi.Freight{young, old}, now)
	require.True(t, soaking)
	require.Equal(t, now.Add(40*time.Minute), next)

	unknown := kargoapi.Freight{Status: kargoapi.FreightStatus{VerifiedIn: map[string]kargoapi.VerifiedStage{"uat": {}}}}
	ok, why = Check(prod, &unknown, now)
	require.False(t, ok)
	require.Contains(t, why, "re-verify it in uat")

	prod.Spec.Subscriptions.UpstreamStages[0].RequiredSoakTime = nil
	ok, _ = Check(prod, &young, now)
	require.True(t, ok, "without a soak time, verified is enough")
	ok, _ = Check(prod, &unknown, now)
	require.True(t, ok)
}

func TestConcerns(t *testing.T) {
	test := stage("test", &kargoapi.Subscriptions{Warehouse: "wh"})
	uat := stage("uat", &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "test", RequiredSoakTime: &metav1.Duration{Duration: time.Hour}}}})
	prod := stage("prod", &kargoapi.Subscriptions{UpstreamStages: []kargoapi.StageSubscription{{Name: "uat"}}})
	fresh := fr("a", kargoapi.FreightOriginWarehouse, "wh", 0)
	require.True(t, Concerns(test, &fresh), "new Freight of the Warehouse")
	require.False(t, Concerns(uat, &fresh), "not verified upstream")
	require.False(t, Concerns(prod, &fresh))
	soaking := fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, verifiedIn("test"))
	soaking.Status.VerifiedIn["test"] = kargoapi.VerifiedStage{VerifiedAt: &metav1.Time{Time: time.Now()}}
	ok, _ := Check(uat, &soaking, time.Now())
	require.False(t, ok, "still soaking")
	require.True(t, Concerns(uat, &soaking), "available once it has soaked")
	approved := fr("a", kargoapi.FreightOriginWarehouse, "wh", 0, approvedFor("prod"))
	require.True(t, Concerns(prod, &approved))
}

func requesting(name string, reqs ...kargoapi.FreightRequest) *kargoapi.Stage {
	return &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kargoapi.StageSpec{RequestedFreight: reqs}}
}

func request(warehouse string, direct bool, strategy kargoapi.AvailabilityStrategy, soak time.Duration, stages ...string) kargoapi.FreightRequest {
	r := kargoapi.FreightRequest{
		Origin:  kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: warehouse},
		Sources: kargoapi.FreightSources{Direct: direct, Stages: stages, AvailabilityStrategy: strategy},
	}
	if soak > 0 {
		r.Sources.RequiredSoakTime = &metav1.Duration{Duration: soak}
	}
	return r
}

func verifiedAt(s string, at time.Time) fopt {
	return func(f *kargoapi.Freight) {
		if f.Status.VerifiedIn == nil {
			f.Status.VerifiedIn = map[string]kargoapi.VerifiedStage{}
		}
		t := metav1.NewTime(at)
		f.Status.VerifiedIn[s] = kargoapi.VerifiedStage{VerifiedAt: &t}
	}
}

// A Stage that requests several origins takes each from its own sources,
// and Freight of an origin it does not request from none of them, not even
// approved.
func TestCheckRequestedFreight(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	test := requesting("test", request("api", true, "", 0), request("web", true, "", 0), request("config", false, "", 0, "dev"))
	uat := requesting("uat", request("api", false, kargoapi.AvailabilityStrategyAll, 0, "test", "perf"), request("web", false, "", 0, "test", "perf"))
	soaking := requesting("prod", request("api", false, kargoapi.AvailabilityStrategyAll, time.Hour, "test", "perf"))
	wh := kargoapi.FreightOriginWarehouse
	cases := []struct {
		name string
		st   *kargoapi.Stage
		f    kargoapi.Freight
		ok   bool
		why  string
	}{
		{"direct from the first origin", test, fr("a", wh, "api", 0), true, ""},
		{"direct from the second origin", test, fr("a", wh, "web", 0), true, ""},
		{"origin requested only through upstreams", test, fr("a", wh, "config", 0), false, "is not verified in upstream Stage dev"},
		{"origin through its upstream", test, fr("a", wh, "config", 0, verifiedIn("dev")), true, ""},
		{"verified upstream for another origin's Stage only", test, fr("a", wh, "other", 0, verifiedIn("dev")), false, "comes from Warehouse other, which Stage test does not request (it requests Freight from Warehouse api, Warehouse web, Warehouse config)"},
		{"approved but of an origin not requested", test, fr("a", wh, "other", 0, approvedFor("test")), false, "does not request"},
		{"approved, of a requested origin", uat, fr("a", wh, "api", 0, approvedFor("uat")), true, ""},
		{"All: verified in one of two", uat, fr("a", wh, "api", 0, verifiedIn("test")), false, "must be verified in every upstream Stage (availabilityStrategy All) and is not verified in perf"},
		{"All: verified in both", uat, fr("a", wh, "api", 0, verifiedIn("test"), verifiedIn("perf")), true, ""},
		{"OneOf: verified in one of two", uat, fr("a", wh, "web", 0, verifiedIn("perf")), true, ""},
		{"OneOf: verified in none", uat, fr("a", wh, "web", 0), false, "is not verified in upstream Stage test or perf"},
		{"All with soak: one still soaking", soaking, fr("a", wh, "api", 0, verifiedAt("test", now.Add(-2*time.Hour)), verifiedAt("perf", now.Add(-10*time.Minute))), false, "still soaking: it has soaked in perf for 10m0s of the required 1h0m0s"},
		{"All with soak: both soaked", soaking, fr("a", wh, "api", 0, verifiedAt("test", now.Add(-2*time.Hour)), verifiedAt("perf", now.Add(-61*time.Minute))), true, ""},
		{"no origin", test, kargoapi.Freight{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, false, "comes from no known origin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := Check(tc.st, &tc.f, now)
			require.Equal(t, tc.ok, ok, why)
			require.Contains(t, why, tc.why)
			require.Equal(t, tc.ok, Available(tc.st, &tc.f, now), "Available agrees with Check")
		})
	}
	end, soakingNow := NextSoakEnd(soaking, []kargoapi.Freight{fr("a", wh, "api", 0, verifiedAt("perf", now.Add(-10*time.Minute)))}, now)
	require.True(t, soakingNow)
	require.Equal(t, now.Add(50*time.Minute), end)
	_, soakingNow = NextSoakEnd(soaking, []kargoapi.Freight{fr("a", wh, "web", 0, verifiedAt("perf", now.Add(-10*time.Minute)))}, now)
	require.False(t, soakingNow, "Freight of an origin the Stage does not request never becomes available by soaking")
}

// Every subscriptions form comes to one Request that holds Freight of any
// origin; requestedFreight to one per origin.
func TestRequests(t *testing.T) {
	soak := &metav1.Duration{Duration: time.Hour}
	wh := kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: "wh"}
	own := kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginStage, Name: "own"}
	require.Equal(t, []Request{{Direct: &wh}}, Requests(stage("test", &kargoapi.Subscriptions{Warehouse: "wh"})))
	require.Equal(t, []Request{{Direct: &own}}, Requests(stage("own", &kargoapi.Subscriptions{Repos: &kargoapi.RepoSubscriptions{}})))
	ups := []kargoapi.StageSubscription{{Name: "test", RequiredSoakTime: soak}}
	require.Equal(t, []Request{{Upstreams: ups}}, Requests(stage("uat", &kargoapi.Subscriptions{UpstreamStages: ups})))
	require.Equal(t, []Request{{}}, Requests(stage("x", nil)))

	st := requesting("uat", request("wh", true, kargoapi.AvailabilityStrategyAll, time.Hour, "a", "b"))
	require.Equal(t, []Request{{Origin: &wh, Direct: &wh, All: true, Upstreams: []kargoapi.StageSubscription{{Name: "a", RequiredSoakTime: soak}, {Name: "b", RequiredSoakTime: soak}}}}, Requests(st))
	require.Equal(t, []string{"a", "b"}, UpstreamStages(st))
}

// NewestPerRequest finds the newest available Freight of each origin, so
// that one origin's stream of new Freight cannot hide another's.
func TestNewestPerRequest(t *testing.T) {
	test := requesting("test", request("api", true, "", 0), request("web", true, "", 0))
	wh := kargoapi.FreightOriginWarehouse
	all := []kargoapi.Freight{
		fr("api-old", wh, "api", 3*time.Hour), fr("api-new", wh, "api", 2*time.Hour),
		fr("web-1", wh, "web", 4*time.Hour),
		fr("other", wh, "other", 0),
	}
	keep := func(*kargoapi.Freight) bool { return true }
	got := NewestPerRequest(test, all, time.Now(), keep)
	require.Len(t, got, 2)
	require.Equal(t, "api-new", got[0].Name)
	require.Equal(t, "web-1", got[1].Name)
	require.Equal(t, "api-new", Newest(test, all, time.Now(), keep).Name)
}
