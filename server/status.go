package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/moor-dev/moor/controller"
)

// minTokenLen is the shortest API token accepted: long enough that
// guessing it over the network is hopeless.
const minTokenLen = 16

// status serves every source's report as of its last run. What containers
// and health checks printed (a failed candidate's last output, which may
// show secrets) is withheld unless the request carries the API token:
//
//	no Authorization header          200, output withheld
//	Authorization: Bearer TOKEN      200, in full
//	any other Authorization header   401 (a wrong token, another scheme,
//	                                 or no token configured)
//
// A client that sends a token is told when it is wrong, rather than given
// less than it asked for without a word.
func status(sources []*controller.Controller, token []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Vary", "Authorization")
		full, err := authorized(r, token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="moor", error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		reports := []*controller.SourceReport{}
		for _, ctl := range sources {
			rep := ctl.Report()
			if rep == nil {
				continue
			}
			if !full {
				rep = rep.WithoutOutput()
			}
			reports = append(reports, rep)
		}
		json.NewEncoder(w).Encode(map[string]any{"sources": reports})
	}
}

// authorized reports whether r carries the API token, in constant time.
// A request without an Authorization header is not, and that is no error.
func authorized(r *http.Request, token []byte) (bool, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false, nil
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false, errors.New(`malformed Authorization header, want "Bearer TOKEN"`)
	}
	if token == nil {
		return false, errors.New("no API token is configured (api.token_file)")
	}
	// Compare digests: ConstantTimeCompare returns at once on a length
	// mismatch, which would tell the caller how long the token is.
	got, want := sha256.Sum256([]byte(strings.TrimSpace(cred))), sha256.Sum256(token)
	if !hmac.Equal(got[:], want[:]) {
		return false, errors.New("wrong API token")
	}
	return true, nil
}
