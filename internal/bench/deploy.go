package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// changedService is the service of the first-deploy stack (-services
// services) whose environment changes.
const changedService = 7

// changeResult is what changing one service cost a tool.
type changeResult struct {
	samples  []sample
	replaced []int // containers recreated, per change
}

// deployAndChange measures, per tool, the first deploy of -services
// independent services from nothing (a fresh state dir each time for
// moor), and then a change of one service's environment, comparing
// container IDs before and after; and the Engine floor of the first deploy.
func (b *bench) deployAndChange(ctx context.Context) error {
	n := b.opt.services
	dep := comparison{label: fmt.Sprintf("first deploy, %d services in 1 stack", n)}
	chg := comparison{label: fmt.Sprintf("one service of %d changed (environment)", n)}
	floor, err := b.deployFloor(ctx)
	if err != nil {
		return err
	}
	dep.floor = floor
	for _, t := range []tool{b.moorTool(b.name("deploy")), b.composeTool()} {
		d, c, err := b.deployOf(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if t.name == "moor" {
			dep.moor, chg.moor, b.rep.replacedMoor = d, c.samples, c.replaced
		} else {
			dep.compose, chg.compose, b.rep.replacedCompose = d, c.samples, c.replaced
		}
	}
	b.rep.deploy, b.rep.change, b.rep.services = dep, chg, n
	return nil
}

// deployFloor measures the Engine floor of the first deploy -deploys times.
func (b *bench) deployFloor(ctx context.Context) ([]sample, error) {
	cli, err := b.floorClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	var out []sample
	for i := range b.opt.deploys {
		b.logf("first deploy of %d services, Engine floor, %d/%d", b.opt.services, i+1, b.opt.deploys)
		if err := b.cleanup(ctx); err != nil {
			return nil, err
		}
		s, err := b.floorDeploy(ctx, cli, b.opt.services)
		if err != nil {
			return nil, err
		}
		if _, err := b.waitRunning(ctx, b.opt.services, time.Minute, b.name("floor")); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, b.cleanup(ctx)
}

func (b *bench) deployOf(ctx context.Context, t tool) ([]sample, changeResult, error) {
	var res changeResult
	dir := b.name("deploy")
	project := t.project(dir)
	r, err := b.newRepo(ctx, "deploy")
	if err != nil {
		return nil, res, err
	}
	rev := func(changed string) func(int) string {
		return func(i int) string {
			if i == changedService {
				return changed
			}
			return "0"
		}
	}
	if err := r.write(dir, plainServices(b.image, 0, b.opt.services, rev("0"))); err != nil {
		return nil, res, err
	}
	if err := r.commit(ctx, fmt.Sprintf("%d services", b.opt.services)); err != nil {
		return nil, res, err
	}
	var deploys []sample
	var state string
	for i := range b.opt.deploys {
		b.logf("first deploy of %d services, %s, %d/%d", b.opt.services, t.name, i+1, b.opt.deploys)
		if err := b.cleanup(ctx); err != nil {
			return nil, res, err
		}
		if state, err = b.dir("state"); err != nil {
			return nil, res, err
		}
		s, _, err := t.up(ctx, r.dir, state, []string{dir})
		if err != nil {
			return nil, res, err
		}
		if _, err := b.waitRunning(ctx, b.opt.services, time.Minute, project); err != nil {
			return nil, res, err
		}
		deploys = append(deploys, s)
	}
	defer b.cleanup(context.WithoutCancel(ctx))
	for c := 1; c <= b.opt.changes; c++ {
		b.logf("one service of %d changed, %s, %d/%d", b.opt.services, t.name, c, b.opt.changes)
		before, err := b.waitRunning(ctx, b.opt.services, time.Minute, project)
		if err != nil {
			return nil, res, err
		}
		if err := r.write(dir, plainServices(b.image, 0, b.opt.services, rev(strconv.Itoa(c)))); err != nil {
			return nil, res, err
		}
		if err := r.commit(ctx, fmt.Sprintf("svc%d: REV=%d", changedService, c)); err != nil {
			return nil, res, err
		}
		s, out, err := t.up(ctx, r.dir, state, []string{dir})
		if err != nil {
			return nil, res, err
		}
		after, err := b.waitRunning(ctx, b.opt.services, time.Minute, project)
		if err != nil {
			return nil, res, err
		}
		n := before.replaced(after)
		key := fmt.Sprintf("%s/svc%d/1", project, changedService)
		if before[key] == after[key] {
			return nil, res, fmt.Errorf("svc%d was not recreated:\n%s", changedService, out)
		}
		if n != 1 {
			b.logf("%s recreated %d containers for a change of one service:\n%s", t.name, n, out)
		}
		res.samples = append(res.samples, s)
		res.replaced = append(res.replaced, n)
	}
	return deploys, res, nil
}
