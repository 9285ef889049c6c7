package reconcile_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// BenchmarkNoopPlan measures moor's own time for a no-op run on a converged
// host: observe (the fake: no engine time) and plan, with 100 services in
// 10 stacks. Recorded in BENCHMARKS.md.
//
//	go test -run '^$' -bench NoopPlan -benchmem ./reconcile/
func BenchmarkNoopPlan(b *testing.B) {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:app1")
	d := &reconcile.Desired{Source: "prod", Revision: "main@sha1:1", Stacks: map[string]*reconcile.Stack{}}
	for s := 0; s < 10; s++ {
		name := fmt.Sprintf("stack%d", s)
		st := &reconcile.Stack{Name: name, Services: map[string]*reconcile.Service{},
			Networks: map[string]*reconcile.NetworkSpec{"default": {Key: "default", Name: name + "_default"}}}
		for i := 0; i < 10; i++ {
			sv := svc(fmt.Sprintf("svc%d", i), "app:1", 1, "A=1", fmt.Sprintf("N=%d", i))
			sv.Spec.Networks = []reconcile.NetworkAttachment{{Name: name + "_default"}}
			sv.Hash = sv.Spec.Hash()
			st.Services[sv.Name] = sv
		}
		d.Stacks[name] = st
	}
	ctx := context.Background()
	obs, _ := f.Observe(ctx)
	executor(f).Apply(ctx, reconcile.MakePlan(d, obs, reconcile.Constraints{}))
	b.ResetTimer()
	for b.Loop() {
		obs, err := f.Observe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if p := reconcile.MakePlan(d, obs, reconcile.Constraints{}); !p.Empty() {
			b.Fatalf("not converged:\n%s", p)
		}
	}
}
