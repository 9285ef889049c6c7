package gitsource

import (
	"crypto/x509"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// useFallbackRoots gives the process Mozilla's roots, compiled in, for the
// case where the system has no certificate pool of its own: moor's container
// image is FROM scratch and has no /etc/ssl/certs. A host's or image's own
// CA configuration, private CAs included, still wins where there is one
// (x509.SetFallbackRoots). An HTTPS fetch of a repository is moor's only
// TLS client, so the roots are parsed before the first fetch rather than at
// start-up, where parsing them cost every command about 4 ms.
func useFallbackRoots() { x509.SetFallbackRoots(fallbackPool()) }

// fallbackPool parses the compiled-in roots.
func fallbackPool() *x509.CertPool {
	pool := x509.NewCertPool()
	for c := range bundle.Roots() {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			continue // a root this Go cannot parse cannot verify anything either
		}
		if c.Constraint != nil {
			pool.AddCertWithConstraint(cert, c.Constraint)
		} else {
			pool.AddCert(cert)
		}
	}
	return pool
}
