package reconcile

import (
	"fmt"
	"strings"
)

// BuildSpec is how moor builds a service's image on the host from the
// files of a revision (compose's build:), with the Engine's classic
// builder. It is content-addressed: Hash covers every file of the context
// (path, mode, content, after .dockerignore) and every setting, the image
// carries it (LabelBuildHash) and Image names it, so a revision that
// changes neither finds the image present and builds nothing, and one that
// changes either builds a new image and replaces the service's containers
// (their spec names Image).
type BuildSpec struct {
	// Image is the reference the service's containers run:
	// NAME:moor-<first 16 hex of Hash>, NAME being the repository of Tags[0].
	Image string
	// Tags are the other references the image gets: compose's name for it
	// (image:, else STACK-SERVICE) first, then build.tags.
	Tags []string
	// Hash is "sha256:<hex>" over ContextDigest and the settings below.
	Hash string
	// Root is the repository's directory (the snapshot), absolute, with
	// symlinks resolved; Context is the build context, a directory of it
	// (slash-separated, relative to Root, "." for Root itself). Nothing
	// outside Context is sent.
	Root    string
	Context string
	// ContextDigest is over the context's files as loaded; the build sends
	// them only if they still hash to it.
	ContextDigest string
	// Dockerfile is the Dockerfile's path in the context; with
	// DockerfileInline it is the name the inline text is sent under.
	Dockerfile       string
	DockerfileInline string            `json:",omitempty"`
	Args             map[string]string `json:",omitempty"`
	Target           string            `json:",omitempty"`
	Labels           map[string]string `json:",omitempty"`
	Network          string            `json:",omitempty"`
	ExtraHosts       []string          `json:",omitempty"`
	ShmSize          int64             `json:",omitempty"`
	NoCache          bool              `json:",omitempty"`
	Pull             bool              `json:",omitempty"`
}

// BuildTagPrefix starts the tag of Image: the tag that names a build.
const BuildTagPrefix = "moor-"

// BuildImage is the reference that names a build of hash in repository
// repo (a familiar name without tag, "web-api").
func BuildImage(repo, hash string) string {
	hex := strings.TrimPrefix(hash, "sha256:")
	if len(hex) > 16 {
		hex = hex[:16]
	}
	return fmt.Sprintf("%s:%s%s", repo, BuildTagPrefix, hex)
}

// built reports whether the image the service runs is present as the build
// it wants, and its ID: a build service's image must carry its hash.
func built(o map[string]string, hashes map[string]string, svc *Service) (string, bool) {
	id, ok := o[svc.Spec.Image]
	if !ok {
		return "", false
	}
	if svc.Build != nil && hashes[id] != svc.Build.Hash {
		return "", false
	}
	return id, true
}

// buildCause says why svc's image is built: its containers run another
// build (the context or the settings changed), or none.
func buildCause(svc *Service, have []Container, key string) string {
	for _, c := range have {
		if c.Image != svc.Spec.Image && strings.Contains(c.Image, ":"+BuildTagPrefix) {
			return "context or settings changed, wanted by " + key
		}
	}
	return "no image of this build, wanted by " + key
}

func buildOp(svc *Service, cause string) Op {
	return Op{Kind: OpBuild, Resource: svc.Spec.Image, Image: svc.Spec.Image, Cause: cause,
		Steps: []Step{{Kind: StepBuild, Image: svc.Spec.Image, Build: svc.Build}}}
}
