package main

// The container image is FROM scratch: it has no /etc/ssl/certs. The
// fallback bundle (Mozilla's roots, compiled in) is used only when the
// system has no certificate pool of its own, so a host's or image's own CA
// configuration, private CAs included, still wins where there is one.
import _ "golang.org/x/crypto/x509roots/fallback"
