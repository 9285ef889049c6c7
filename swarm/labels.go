package swarm

import "github.com/moor-dev/moor/reconcile"

// Labels docker stack deploy sets, which `docker stack ls/ps/services`
// read: moor sets them as the CLI does.
const (
	// LabelNamespace is the stack a service, network, config or secret
	// belongs to.
	LabelNamespace = "com.docker.stack.namespace"
	// LabelImage is the image a service was deployed with, on the service.
	LabelImage = "com.docker.stack.image"
)

// moor's own labels, the same keys as on one host (reconcile/labels.go):
// moor.stack, moor.source, moor.owner on every object; moor.service,
// moor.revision and moor.config-hash on services.
const (
	labelStack    = reconcile.LabelStack
	labelService  = reconcile.LabelService
	labelSource   = reconcile.LabelSource
	labelOwner    = reconcile.LabelOwner
	labelRevision = reconcile.LabelRevision
	labelHash     = reconcile.LabelConfigHash
	// labelDigest is the content digest of a config or secret, whose name
	// carries its first twelve hex digits.
	labelDigest = "moor.digest"
)
