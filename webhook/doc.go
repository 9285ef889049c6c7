// Package webhook turns a forge's push notification into an immediate poll of
// one source.
//
// # Webhooks carry no desired state
//
// The Git repository is the only source of truth. A hook never says what to
// run; it only says "look now", and the caller answers by polling the source
// exactly as its timer would have. That is why this package needs no replay
// protection, no ordering and no delivery guarantee: a replayed or reordered
// hook costs at most one extra poll (which the caller coalesces with any
// pending one, and acts on at most once a second: see
// controller.TriggerGap), and a lost hook costs the wait until the next
// scheduled poll. A forged hook that somehow passed verification could do
// no more than a replayed one.
//
// # Verify before parsing
//
// Every request is answered from cheap checks first, and the JSON decoder only
// sees bodies whose signature is valid:
//
//  1. method (405), then provider and source in the path (404) — without
//     reading the body;
//  2. the credential header is present and well formed (401); GitLab's token
//     is compared here too, since it does not depend on the body;
//  3. the declared Content-Length (413) — still without reading; then a
//     place among the MaxReading bodies read at once (503, unread, when
//     there is none); then the body through http.MaxBytesReader, so at most
//     MaxBody+1 bytes are ever read, into a buffer that grows as bytes
//     arrive and is taken from the MaxBuffered bytes all requests share
//     (503 when they are spent);
//  4. the HMAC-SHA256 of the body, compared in constant time (401);
//  5. only then the event header and the payload's "ref".
//
// An unauthenticated caller thus costs a map lookup, at most MaxBody bytes and
// one HMAC; the payload parser, the only code that interprets attacker-chosen
// structure, is reachable only with the secret. Many callers together cost at
// most MaxReading bodies being read and MaxBuffered bytes (8 and 2 MiB by
// default), however many connections they open and however slowly they
// send: a body that stalls holds its place until the server's read timeout.
//
// # Providers and status codes
//
// The handler serves POST /hooks/{provider}/{source}:
//
//	github   X-Hub-Signature-256: sha256=<hex>   X-GitHub-Event: push | ping
//	gitea    X-Gitea-Signature: <hex>            X-Gitea-Event: push
//	         (Forgejo's X-Forgejo-Signature / X-Forgejo-Event are accepted too)
//	gitlab   X-Gitlab-Token: <secret>            X-Gitlab-Event: Push Hook | Tag Push Hook
//	generic  X-Moor-Signature: sha256=<hex>      body {"ref": "refs/heads/main"}, ref optional
//
// Answers, all with a JSON body:
//
//	202 {"triggered": SOURCE}  valid push to the ref the source follows
//	200 {"pong": SOURCE}       GitHub ping with a valid signature
//	202 {"ignored": ...}       valid hook for an event that is not a push
//	400 {"error": ...}         malformed JSON, no ref, missing event header
//	401 {"error": ...}         missing, malformed or wrong signature or token
//	404 {"error": ...}         unknown provider, or source that takes no hooks
//	405 {"error": ...}         not POST
//	413 {"error": ...}         body larger than MaxBody
//	422 {"error": ...}         push to a ref the source does not follow
//	503 {"error": ...}         too many bodies being read at once, or the
//	                           bytes they may hold are spent; Retry-After: 5
package webhook
