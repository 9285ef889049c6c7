// Command compat measures how much of a corpus of real compose files moor
// accepts: for every compose file under the given directories that
// docker compose v2 accepts (docker compose config -q), it runs moor's
// loader with the rules of moor validate, and prints the acceptance rate
// and a table of the reasons for the rest, as Markdown ready to paste
// into docs/compat.md.
//
//	go run ./internal/compat [-compose PATH] [-j N] [-v] [-hash] DIR...
//
// Each DIR is one collection (a repository checked out): a stack may read
// files anywhere in its collection. Stacks are loaded one at a time, not as
// one repository: the examples of a collection are not deployed together,
// so host ports and container names they share are not conflicts here.
//
// -hash also compares, for every service of a stack both accept, the
// com.docker.compose.config-hash moor labels its containers with and the
// hash of docker compose config --hash: equal, docker compose up -d
// leaves moor's containers alone. (config --hash keeps an env_file in what
// it hashes, up drops it: a service with one differs here alone.)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/moor-dev/moor/compose"
	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/reconcile"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home, _ := os.UserHomeDir()
	composeBin := fs.String("compose", filepath.Join(home, ".docker", "cli-plugins", "docker-compose"), "docker compose v2 binary (build one with ./scripts/compose-v2)")
	jobs := fs.Int("j", 4, "files checked at once")
	verbose := fs.Bool("v", false, "list every file moor refuses, with its errors")
	hash := fs.Bool("hash", false, "compare each accepted service's config hash with docker compose config --hash")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// compose-go warns through the global logrus logger (an obsolete
	// version: field); the figures are what is measured here.
	logrus.SetOutput(io.Discard)
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: compat [-compose PATH] [-j N] [-v] [-hash] DIR...")
		return 2
	}
	if _, err := os.Stat(*composeBin); err != nil {
		fmt.Fprintf(stderr, "compat: docker compose v2: %v (build it with ./scripts/compose-v2, or pass -compose)\n", err)
		return 2
	}
	var results []result
	for _, dir := range fs.Args() {
		files, err := composeFiles(dir)
		if err != nil {
			fmt.Fprintf(stderr, "compat: %v\n", err)
			return 2
		}
		results = append(results, check(ctx, *composeBin, dir, files, *jobs, *hash)...)
	}
	fmt.Fprintf(stdout, "Measured %s on moor %s with %s:\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), moorRevision(), composeVersion(ctx, *composeBin))
	fmt.Fprintf(stdout, "    go run ./internal/compat %s\n\n", strings.Join(args, " "))
	report(stdout, fs.Args(), results, *verbose)
	return 0
}

// result is the verdict on one compose file.
type result struct {
	corpus string // the DIR it was found under
	file   string // relative to corpus
	// composeErr is why docker compose refused it ("" accepted).
	composeErr string
	// moorErr is the error of moor's loader ("" accepted), when compose
	// accepted it.
	moorErr string
	// warnings are the stack's warnings, when moor accepted it.
	warnings []string
	// hashed counts the services whose config hashes were compared (-hash);
	// hashDiffer names those where moor's and compose's differ.
	hashed     int
	hashDiffer []string
}

// composeFiles lists the compose files under dir that moor would read as
// a stack's (absolute): the names of compose.FileNames, the first of them
// in a directory that holds several (moor refuses that directory; compose
// reads the first).
func composeFiles(dir string) ([]string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	byDir := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		i := slices.Index(compose.FileNames, d.Name())
		if d.IsDir() || i < 0 {
			return nil
		}
		if prev, ok := byDir[filepath.Dir(p)]; !ok || i < slices.Index(compose.FileNames, filepath.Base(prev)) {
			byDir[filepath.Dir(p)] = p
		}
		return nil
	})
	var files []string
	for _, f := range byDir {
		files = append(files, f)
	}
	slices.Sort(files)
	return files, err
}

func check(ctx context.Context, composeBin, corpus string, files []string, jobs int, hash bool) []result {
	out := make([]result, len(files))
	sem := make(chan struct{}, max(jobs, 1))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			abs, _ := filepath.Abs(corpus)
			rel, _ := filepath.Rel(abs, f)
			r := result{corpus: corpus, file: filepath.ToSlash(rel)}
			if r.composeErr = composeConfig(ctx, composeBin, f); r.composeErr == "" {
				var st *reconcile.Stack
				if r.moorErr, st = moorLoad(ctx, corpus, f); st != nil {
					r.warnings = st.Warnings
					if hash {
						r.hashed, r.hashDiffer = compareHashes(ctx, composeBin, f, st)
					}
				}
			}
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}

// composeConfig runs docker compose config -q on file, with no variables
// but the stack's .env (moor never reads its own environment either).
func composeConfig(ctx context.Context, bin, file string) string {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", file, "--project-directory", filepath.Dir(file), "config", "-q")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.Contains(l, "level=warning") {
				lines = append(lines, l)
			}
		}
		msg := strings.TrimSpace(strings.Join(lines, "\n"))
		if msg == "" {
			msg = err.Error()
		}
		return msg
	}
	return ""
}

// compareHashes compares the config hash moor computes for each service of
// st with docker compose config --hash of file, and returns how many it
// compared and the services where they differ. A service whose hash needs
// another's container ID (a shared namespace) is not compared.
func compareHashes(ctx context.Context, bin, file string, st *reconcile.Stack) (int, []string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", file, "--project-directory", filepath.Dir(file), "-p", st.Name, "config", "--hash", "*")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.Output()
	if err != nil {
		return 0, []string{fmt.Sprintf("(docker compose config --hash: %v)", err)}
	}
	byCompose := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if name, hash, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			byCompose[name] = hash
		}
	}
	var n int
	var differ []string
	for _, name := range slices.Sorted(maps.Keys(st.Services)) {
		h := st.Services[name].Compose.Hash
		if h == "" {
			continue
		}
		n++
		if h != byCompose[name] {
			differ = append(differ, name)
		}
	}
	return n, differ
}

// moorLoad loads the stack of file as moor validate does, the corpus being
// its repository: the error ("" accepted), or the stack.
func moorLoad(ctx context.Context, corpus, file string) (string, *reconcile.Stack) {
	repo, err := filepath.Abs(corpus)
	if err != nil {
		return err.Error(), nil
	}
	stacks, err := compose.Discover(filepath.Dir(file))
	if err != nil {
		return err.Error(), nil
	}
	for _, sd := range stacks {
		if filepath.Dir(sd.File) != filepath.Dir(file) {
			continue
		}
		sd.Repo = repo
		st, err := compose.LoadStack(ctx, sd, compose.Options{Limits: compose.Limits{Replicas: config.DefaultMaxReplicas}})
		if err != nil {
			return err.Error(), nil
		}
		return "", st
	}
	return fmt.Sprintf("moor does not find %s as a stack's compose file", filepath.Base(file)), nil
}

// moorRevision is the commit of the working copy being measured, with
// "+changes" when it has uncommitted changes.
func moorRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "(unknown commit)"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += "+changes"
	}
	return rev
}

func composeVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version", "--short").Output()
	if err != nil {
		return "docker compose (unknown version)"
	}
	return "docker compose " + strings.TrimSpace(string(out))
}
